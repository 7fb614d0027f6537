package console

import (
	"net/http"
	"strings"
)

// texts are the console's words in one language, by key.
type texts map[string]string

// get returns the text of key, or the key when there is none (a missing
// translation shows, rather than an empty label).
func (t texts) get(key string) string {
	if s, ok := t[key]; ok {
		return s
	}
	if s, ok := english[key]; ok {
		return s
	}
	return key
}

// textsFor picks the session user's language, else the browser's.
func textsFor(ss *session, r *http.Request) texts {
	lang := ""
	if ss != nil {
		lang = ss.Lang
	}
	if lang == "" && r != nil {
		lang = r.Header.Get("Accept-Language")
	}
	if strings.HasPrefix(strings.ToLower(strings.TrimSpace(lang)), "de") {
		return german
	}
	return english
}

var english = texts{
	"lang":              "en",
	"product":           "pbxgate console",
	"skip":              "Skip to content",
	"signIn":            "Sign in",
	"signInTitle":       "Sign in to the console",
	"signInHint":        "Admins and owners sign in with their login and the password they set from the welcome mail.",
	"tenant":            "Tenant",
	"login":             "Login",
	"password":          "Password",
	"badSignIn":         "The tenant, login or password is not right, or this account may not use the console.",
	"tooMany":           "Too many failed sign-ins. Wait a minute and try again.",
	"tooManyTitle":      "Too many attempts",
	"signOut":           "Sign out",
	"signedIn":          "Signed in as",
	"linkTitle":         "Sign in with a one-time link",
	"linkHint":          "This link works once, for ten minutes.",
	"badLinkTitle":      "This link is not valid",
	"badLink":           "The link may have been used already, or it has expired. Ask for a new one.",
	"signedOutTitle":    "Signed out",
	"signedOut":         "Your session has ended. Sign in again.",
	"formExpiredTitle":  "The form has expired",
	"formExpired":       "Reload the page and try again.",
	"notFoundTitle":     "Not found",
	"notFound":          "There is no such user in this tenant.",
	"users":             "Users",
	"search":            "Search",
	"searchHint":        "Name, email, login or extension",
	"status":            "Status",
	"kind":              "Kind",
	"source":            "Source",
	"any":               "Any",
	"active":            "Active",
	"inactive":          "Inactive",
	"showSystem":        "Show system users",
	"filter":            "Filter",
	"addUser":           "+ Add User",
	"name":              "Name",
	"email":             "Email",
	"extension":         "Extension",
	"role":              "Role",
	"noUsers":           "No users match.",
	"shown":             "%d of %d users",
	"previous":          "Previous",
	"next":              "Next",
	"firstName":         "First name",
	"lastName":          "Last name",
	"passwordMode":      "Password",
	"autoGenerate":      "Auto-Generate (a welcome mail with a set-password link)",
	"manual":            "Manual",
	"answerMode":        "Answer calls with",
	"answerApps":        "Apps",
	"answerPhoneNumber": "Phone number",
	"answerIPPhone":     "IP phone",
	"answerNone":        "Will not answer",
	"backupNumber":      "Backup number",
	"forwardNumber":     "Phone number",
	"forwardHint":       "Calls ring this number when answering with a phone number.",
	"location":          "Location",
	"save":              "Save",
	"cancel":            "Cancel",
	"fixErrors":         "Please correct the fields marked below.",
	"profile":           "Profile",
	"routing":           "Answering rules",
	"advanced":          "Advanced",
	"ownedBy":           "Managed by %s (external id %s): these fields are read-only here.",
	"ownedByNoID":       "Managed by %s: these fields are read-only here.",
	"explainTitle":      "Where does a call ring, and why?",
	"explainAt":         "At",
	"explainFrom":       "From number",
	"explainState":      "While the user is",
	"available":         "available",
	"busy":              "busy",
	"offline":           "offline",
	"dnd":               "on do not disturb",
	"explain":           "Explain",
	"delete":            "Delete user",
	"deleteTitle":       "Delete %s?",
	"deleteGoes":        "This deletes the user with their phones and memberships.",
	"deleteRefs":        "These refer to the user and will be changed:",
	"deleteNoRefs":      "Nothing else refers to this user.",
	"deleteConfirm":     "Delete",
	"deleted":           "%s was deleted.",
	"created":           "%s was created.",
	"devices":           "Phones",
	"numbers":           "Numbers",
	"none":              "None",
	"permissions":       "Permissions",
	"permission":        "Permission",
	"value":             "Value",
	"from":              "Where it comes from",
	"addDevice":         "Add phone extension",
	"sipId":             "SIP user",
	"label":             "Label",
	"secretOnce":        "The SIP password of %s, shown only now: enter it in the phone.",
}

var german = texts{
	"lang":              "de",
	"product":           "pbxgate-Konsole",
	"skip":              "Zum Inhalt springen",
	"signIn":            "Anmelden",
	"signInTitle":       "An der Konsole anmelden",
	"signInHint":        "Admins und Owner melden sich mit ihrem Login und dem Passwort an, das sie über die Willkommens-Mail gesetzt haben.",
	"tenant":            "Mandant",
	"login":             "Login",
	"password":          "Passwort",
	"badSignIn":         "Mandant, Login oder Passwort stimmen nicht, oder dieses Konto darf die Konsole nicht nutzen.",
	"tooMany":           "Zu viele fehlgeschlagene Anmeldungen. Warten Sie eine Minute und versuchen Sie es erneut.",
	"tooManyTitle":      "Zu viele Versuche",
	"signOut":           "Abmelden",
	"signedIn":          "Angemeldet als",
	"linkTitle":         "Mit einem Einmal-Link anmelden",
	"linkHint":          "Dieser Link funktioniert einmal, zehn Minuten lang.",
	"badLinkTitle":      "Dieser Link ist ungültig",
	"badLink":           "Der Link wurde vielleicht schon benutzt oder ist abgelaufen. Fordern Sie einen neuen an.",
	"signedOutTitle":    "Abgemeldet",
	"signedOut":         "Ihre Sitzung ist beendet. Melden Sie sich erneut an.",
	"formExpiredTitle":  "Das Formular ist abgelaufen",
	"formExpired":       "Laden Sie die Seite neu und versuchen Sie es erneut.",
	"notFoundTitle":     "Nicht gefunden",
	"notFound":          "Diesen Benutzer gibt es in diesem Mandanten nicht.",
	"users":             "Benutzer",
	"search":            "Suchen",
	"searchHint":        "Name, E-Mail, Login oder Durchwahl",
	"status":            "Status",
	"kind":              "Art",
	"source":            "Quelle",
	"any":               "Alle",
	"active":            "Aktiv",
	"inactive":          "Inaktiv",
	"showSystem":        "Systembenutzer zeigen",
	"filter":            "Filtern",
	"addUser":           "+ Benutzer hinzufügen",
	"name":              "Name",
	"email":             "E-Mail",
	"extension":         "Durchwahl",
	"role":              "Rolle",
	"noUsers":           "Keine Benutzer gefunden.",
	"shown":             "%d von %d Benutzern",
	"previous":          "Zurück",
	"next":              "Weiter",
	"firstName":         "Vorname",
	"lastName":          "Nachname",
	"passwordMode":      "Passwort",
	"autoGenerate":      "Automatisch (Willkommens-Mail mit Link zum Setzen des Passworts)",
	"manual":            "Manuell",
	"answerMode":        "Anrufe annehmen mit",
	"answerApps":        "Apps",
	"answerPhoneNumber": "Telefonnummer",
	"answerIPPhone":     "IP-Telefon",
	"answerNone":        "Nimmt nicht an",
	"backupNumber":      "Ausweichnummer",
	"forwardNumber":     "Telefonnummer",
	"forwardHint":       "Anrufe klingeln bei dieser Nummer, wenn mit einer Telefonnummer angenommen wird.",
	"location":          "Standort",
	"save":              "Speichern",
	"cancel":            "Abbrechen",
	"fixErrors":         "Bitte korrigieren Sie die markierten Felder.",
	"profile":           "Profil",
	"routing":           "Anrufregeln",
	"advanced":          "Erweitert",
	"ownedBy":           "Verwaltet von %s (externe ID %s): diese Felder sind hier schreibgeschützt.",
	"ownedByNoID":       "Verwaltet von %s: diese Felder sind hier schreibgeschützt.",
	"explainTitle":      "Wo klingelt ein Anruf, und warum?",
	"explainAt":         "Zeitpunkt",
	"explainFrom":       "Von Nummer",
	"explainState":      "Während der Benutzer",
	"available":         "erreichbar ist",
	"busy":              "besetzt ist",
	"offline":           "offline ist",
	"dnd":               "nicht stören will",
	"explain":           "Erklären",
	"delete":            "Benutzer löschen",
	"deleteTitle":       "%s löschen?",
	"deleteGoes":        "Der Benutzer wird mit seinen Telefonen und Mitgliedschaften gelöscht.",
	"deleteRefs":        "Diese verweisen auf den Benutzer und werden geändert:",
	"deleteNoRefs":      "Nichts anderes verweist auf diesen Benutzer.",
	"deleteConfirm":     "Löschen",
	"deleted":           "%s wurde gelöscht.",
	"created":           "%s wurde angelegt.",
	"devices":           "Telefone",
	"numbers":           "Nummern",
	"none":              "Keine",
	"permissions":       "Berechtigungen",
	"permission":        "Berechtigung",
	"value":             "Wert",
	"from":              "Herkunft",
	"addDevice":         "Telefon-Nebenstelle hinzufügen",
	"sipId":             "SIP-Benutzer",
	"label":             "Bezeichnung",
	"secretOnce":        "Das SIP-Passwort von %s, nur jetzt sichtbar: tragen Sie es im Telefon ein.",
}

// mergeTexts adds a page group's texts to a language's table. A key that
// is already there is a programming error (one page's word would silently
// replace another's), so it panics when the package loads.
func mergeTexts(into, from texts) {
	for k, v := range from {
		if _, dup := into[k]; dup {
			panic("console: text " + k + " is defined twice")
		}
		into[k] = v
	}
}
