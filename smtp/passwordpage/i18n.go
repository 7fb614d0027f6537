package passwordpage

import (
	"strings"
)

// text is every string of the page in one language.
type text struct {
	Lang string

	TitleWelcome, TitleReset string
	IntroWelcome, IntroReset string
	Login                    string
	NewPassword              string
	PasswordHint             string // %d: minimum length
	Confirm                  string
	Submit                   string

	ErrRequired     string
	ErrMismatch     string
	ErrTooShort     string // %d: minimum length
	ErrTooLong      string // %d: maximum bytes
	ErrSameAsLogin  string
	ErrOnlySpaces   string
	ErrCommon       string
	ErrPolicy       string // %s: the library's reason, in English
	AttemptsLeft    string // %d: attempts
	AttemptsLeftOne string

	DoneTitle, DoneBody, DoneHint, SignIn string // DoneBody %s: login

	InvalidTitle, InvalidBody, InvalidHint string

	FormExpiredTitle, FormExpiredBody, FormAgain string

	TooManyTitle, TooManyBody string

	ErrorTitle, ErrorBody string
}

var english = &text{
	Lang:         "en",
	TitleWelcome: "Set up your account",
	TitleReset:   "Set a new password",
	IntroWelcome: "Choose the password for your phone system account.",
	IntroReset:   "Choose a new password for your phone system account.",
	Login:        "Login",
	NewPassword:  "New password",
	PasswordHint: "At least %d characters. A passphrase of several words is easy to remember and hard to guess.",
	Confirm:      "Repeat the password",
	Submit:       "Set password",

	ErrRequired:     "Enter a password.",
	ErrMismatch:     "The passwords do not match. Type the same password twice.",
	ErrTooShort:     "The password is too short: use at least %d characters.",
	ErrTooLong:      "The password is too long: use at most %d characters (fewer with accented or non-Latin letters).",
	ErrSameAsLogin:  "The password must not be your login.",
	ErrOnlySpaces:   "The password must not consist of spaces only.",
	ErrCommon:       "This password is too common or too easy to guess (a well-known password, a word or name, a keyboard pattern or a sequence). A few unrelated words make a strong password.",
	ErrPolicy:       "The password is not accepted: it %s.",
	AttemptsLeft:    "%d attempts left before this link stops working.",
	AttemptsLeftOne: "1 attempt left before this link stops working.",

	DoneTitle: "Your password is set",
	DoneBody:  "You can now sign in as %s with your new password.",
	DoneHint:  "The link in your email has been used and no longer works.",
	SignIn:    "Go to sign-in",

	InvalidTitle: "This link is not valid",
	InvalidBody:  "The link may have been used already, or it has expired. Each link works only once and for a limited time.",
	InvalidHint:  "Ask your administrator to send you a new one.",

	FormExpiredTitle: "Please try again",
	FormExpiredBody:  "The form could not be accepted because it was opened in another window or too long ago. Nothing was changed.",
	FormAgain:        "Open the form again",

	TooManyTitle: "Too many attempts",
	TooManyBody:  "Please wait a minute, then try again.",

	ErrorTitle: "Something went wrong",
	ErrorBody:  "Nothing was changed. Please try again in a few minutes.",
}

var german = &text{
	Lang:         "de",
	TitleWelcome: "Konto einrichten",
	TitleReset:   "Neues Passwort festlegen",
	IntroWelcome: "Wählen Sie das Passwort für Ihr Konto der Telefonanlage.",
	IntroReset:   "Wählen Sie ein neues Passwort für Ihr Konto der Telefonanlage.",
	Login:        "Anmeldename",
	NewPassword:  "Neues Passwort",
	PasswordHint: "Mindestens %d Zeichen. Ein Satz aus mehreren Wörtern ist leicht zu merken und schwer zu erraten.",
	Confirm:      "Passwort wiederholen",
	Submit:       "Passwort festlegen",

	ErrRequired:     "Geben Sie ein Passwort ein.",
	ErrMismatch:     "Die Passwörter stimmen nicht überein. Geben Sie zweimal dasselbe Passwort ein.",
	ErrTooShort:     "Das Passwort ist zu kurz: Verwenden Sie mindestens %d Zeichen.",
	ErrTooLong:      "Das Passwort ist zu lang: Verwenden Sie höchstens %d Zeichen (weniger bei Umlauten und Sonderzeichen).",
	ErrSameAsLogin:  "Das Passwort darf nicht Ihr Anmeldename sein.",
	ErrOnlySpaces:   "Das Passwort darf nicht nur aus Leerzeichen bestehen.",
	ErrCommon:       "Dieses Passwort ist zu verbreitet oder zu leicht zu erraten (ein bekanntes Passwort, ein Wort oder Name, ein Tastaturmuster oder eine Folge). Einige voneinander unabhängige Wörter ergeben ein starkes Passwort.",
	ErrPolicy:       "Das Passwort wird nicht akzeptiert (%s).",
	AttemptsLeft:    "Noch %d Versuche, bevor dieser Link ungültig wird.",
	AttemptsLeftOne: "Noch 1 Versuch, bevor dieser Link ungültig wird.",

	DoneTitle: "Ihr Passwort ist festgelegt",
	DoneBody:  "Sie können sich jetzt als %s mit Ihrem neuen Passwort anmelden.",
	DoneHint:  "Der Link in Ihrer E-Mail ist damit verbraucht und funktioniert nicht mehr.",
	SignIn:    "Zur Anmeldung",

	InvalidTitle: "Dieser Link ist ungültig",
	InvalidBody:  "Der Link wurde vielleicht schon verwendet oder ist abgelaufen. Jeder Link funktioniert nur einmal und nur für begrenzte Zeit.",
	InvalidHint:  "Bitten Sie Ihre Administration um einen neuen Link.",

	FormExpiredTitle: "Bitte versuchen Sie es erneut",
	FormExpiredBody:  "Das Formular konnte nicht angenommen werden, weil es in einem anderen Fenster oder vor zu langer Zeit geöffnet wurde. Es wurde nichts geändert.",
	FormAgain:        "Formular neu öffnen",

	TooManyTitle: "Zu viele Versuche",
	TooManyBody:  "Bitte warten Sie eine Minute und versuchen Sie es dann erneut.",

	ErrorTitle: "Etwas ist schiefgegangen",
	ErrorBody:  "Es wurde nichts geändert. Bitte versuchen Sie es in ein paar Minuten erneut.",
}

// languages are the page's languages by primary subtag.
var languages = map[string]*text{"en": english, "de": german}

// pick returns the texts for the user's language tag (BCP 47, e.g.
// "de-AT"), else for the browser's Accept-Language, else English.
func pick(userLang, acceptLanguage string) *text {
	if t := lookup(userLang); t != nil {
		return t
	}
	best, bestQ := (*text)(nil), -1.0
	for i, part := range strings.Split(acceptLanguage, ",") {
		if i >= 20 {
			break
		}
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			q = parseQ(v)
		}
		if t := lookup(tag); t != nil && q > bestQ && q > 0 {
			best, bestQ = t, q
		}
	}
	if best != nil {
		return best
	}
	return english
}

// lookup finds the texts for a tag's primary subtag.
func lookup(tag string) *text {
	tag = strings.ToLower(strings.TrimSpace(tag))
	if i := strings.IndexAny(tag, "-_"); i >= 0 {
		tag = tag[:i]
	}
	return languages[tag]
}

// parseQ reads a quality value ("0.8"); anything odd counts as 0.
func parseQ(s string) float64 {
	if s == "1" || strings.HasPrefix(s, "1.") {
		return 1
	}
	if !strings.HasPrefix(s, "0") {
		return 0
	}
	q, scale := 0.0, 0.1
	for _, r := range strings.TrimPrefix(strings.TrimPrefix(s, "0"), ".") {
		if r < '0' || r > '9' || scale < 0.0001 {
			return 0
		}
		q += float64(r-'0') * scale
		scale /= 10
	}
	return q
}
