package smtp_test

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/smtp"
)

const testLink = "https://pbx.example.net/set-password?token=Q2hhbmdlTWVfdGhpc19pc19hX3Rlc3RfdG9rZW4&u=42"

func welcomeData(lang string) smtp.WelcomeData {
	return smtp.WelcomeData{
		Tenant:      "Müller & Söhne",
		DisplayName: "Jürgen Weiß",
		GivenName:   "Jürgen",
		Login:       "jweiss@mueller.example",
		Extension:   "204",
		Link:        testLink,
		ExpiresAt:   time.Date(2025, 3, 24, 14, 5, 0, 0, time.FixedZone("CET", 3600)),
		Language:    lang,
	}
}

func mustTemplates(t *testing.T, dir string) *smtp.Templates {
	t.Helper()
	tpl, err := smtp.NewTemplates(dir)
	require.NoError(t, err)
	return tpl
}

func TestTemplatesLanguageSelection(t *testing.T) {
	tpl := mustTemplates(t, "")
	tests := []struct {
		lang        string
		wantLang    string
		wantSubject string
	}{
		{"de", "de", "Ihr neues Konto für die Telefonanlage bei Müller & Söhne"},
		{"de-AT", "de", "Ihr neues Konto für die Telefonanlage bei Müller & Söhne"},
		{"de_CH.UTF-8", "de", "Ihr neues Konto für die Telefonanlage bei Müller & Söhne"},
		{"en-GB", "en", "Your new phone system account at Müller & Söhne"},
		{"fr", "en", "Your new phone system account at Müller & Söhne"},
		{"", "en", "Your new phone system account at Müller & Söhne"},
		{"../../etc", "en", "Your new phone system account at Müller & Söhne"},
	}
	for _, tt := range tests {
		t.Run(tt.lang, func(t *testing.T) {
			c, err := tpl.Welcome("", welcomeData(tt.lang))
			require.NoError(t, err)
			assert.Equal(t, tt.wantLang, c.Language)
			assert.Equal(t, tt.wantSubject, c.Subject)
		})
	}
}

func TestTemplatesWelcomeContent(t *testing.T) {
	tpl := mustTemplates(t, "")
	c, err := tpl.Welcome("", welcomeData("de-AT"))
	require.NoError(t, err)

	assert.Contains(t, c.Text, "Hallo Jürgen,")
	assert.Contains(t, c.Text, "Anmeldename:  jweiss@mueller.example")
	assert.Contains(t, c.Text, "Durchwahl:    204")
	assert.Contains(t, c.Text, "\n"+testLink+"\n", "raw link on its own line")
	assert.Contains(t, c.Text, "gültig bis 24. März 2025, 14:05 CET")

	assert.Contains(t, c.HTML, `<html lang="de">`)
	// The link is a real <a> button and is also shown as text; & is
	// escaped as HTML requires.
	escaped := strings.ReplaceAll(testLink, "&", "&amp;")
	assert.Contains(t, c.HTML, `<a href="`+escaped+`" style="display:inline-block;`)
	assert.Contains(t, c.HTML, `>`+escaped+`</a>`)
	assert.Contains(t, c.HTML, "Willkommen bei Müller &amp; Söhne")

	en, err := tpl.Welcome("", welcomeData("en"))
	require.NoError(t, err)
	assert.Contains(t, en.Text, "valid until 24 March 2025, 14:05 CET")
	assert.Equal(t, "en", en.Message(smtp.Address{Address: "a@example.com"}).Headers["Content-Language"])

	// Without extension and given name.
	d := welcomeData("en")
	d.Extension, d.GivenName = "", ""
	c, err = tpl.Welcome("", d)
	require.NoError(t, err)
	assert.NotContains(t, c.Text, "Extension")
	assert.NotContains(t, c.HTML, "Extension")
	assert.Contains(t, c.Text, "Hello Jürgen Weiß,")
}

func TestTemplatesEscapeHTML(t *testing.T) {
	tpl := mustTemplates(t, "")
	d := welcomeData("en")
	d.GivenName = `<script>alert(1)</script>`
	d.Tenant = `"><img src=x onerror=alert(1)>`
	c, err := tpl.Welcome("", d)
	require.NoError(t, err)
	assert.NotContains(t, c.HTML, "<script>")
	assert.NotContains(t, c.HTML, "<img")
	assert.Contains(t, c.HTML, "&lt;script&gt;")

	d = welcomeData("en")
	d.Link = "javascript:alert(1)"
	_, err = tpl.Welcome("", d)
	assert.ErrorContains(t, err, "link: must be an absolute http(s) URL")
}

func TestTemplatesValidateData(t *testing.T) {
	tpl := mustTemplates(t, "")
	_, err := tpl.Welcome("", smtp.WelcomeData{})
	require.Error(t, err)
	assert.Equal(t, "render welcome mail: login: required\nlink: required\nexpiresAt: required", err.Error())
	_, err = tpl.Reset("", smtp.ResetData{Login: "a", Link: "/relative"})
	assert.EqualError(t, err, "render reset mail: link: must be an absolute http(s) URL\nexpiresAt: required")
}

// secretLike matches a label for a credential followed by a value, in
// English or German: "Password: x", "PIN = 1234", "SIP secret: ...".
var secretLike = regexp.MustCompile(`(?i)(password|passwort|kennwort|pin|secret|geheimnis|sip[- ]?(user|auth)|auth[- ]?name)\s*[:=]`)

func TestTemplatesNeverShowSecrets(t *testing.T) {
	// The data types cannot carry a secret: no field looks like one.
	for _, v := range []any{smtp.WelcomeData{}, smtp.ResetData{}, smtp.TestData{}} {
		typ := reflect.TypeOf(v)
		for i := 0; i < typ.NumField(); i++ {
			assert.NotRegexp(t, `(?i)pass|pwd|secret|pin|token|sip|ha1|credential`, typ.Field(i).Name, "%s.%s", typ.Name(), typ.Field(i).Name)
		}
	}

	// And no rendered mail shows something labelled like one.
	tpl := mustTemplates(t, "")
	for _, lang := range []string{"en", "de"} {
		w, err := tpl.Welcome("acme", welcomeData(lang))
		require.NoError(t, err)
		r, err := tpl.Reset("acme", smtp.ResetData{Tenant: "Acme", GivenName: "Anna", Login: "anna", Link: testLink, ExpiresAt: time.Now(), Language: lang})
		require.NoError(t, err)
		x, err := tpl.Test("acme", smtp.TestData{Tenant: "Acme", Via: "mail.example.com:587 (starttls)", Language: lang})
		require.NoError(t, err)
		for _, c := range []smtp.Content{w, r, x} {
			for part, s := range map[string]string{"subject": c.Subject, "text": c.Text, "html": c.HTML} {
				assert.NotRegexp(t, secretLike, s, "%s %s %s", lang, c.Subject, part)
			}
		}
	}
}

func TestTemplatesTestMail(t *testing.T) {
	tpl := mustTemplates(t, "")
	c, err := tpl.Test("", smtp.TestData{Via: "relay:587 (starttls)", SentAt: time.Date(2025, 1, 2, 3, 4, 0, 0, time.UTC), Language: "de"})
	require.NoError(t, err)
	assert.Equal(t, "pbxgate-Testnachricht", c.Subject)
	assert.Contains(t, c.Text, "gesendet am 2. Januar 2025, 03:04 UTC über relay:587 (starttls)")
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
}

func TestTemplatesTenantOverride(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"README.md":                       "ignored",
		"acme/welcome.de.subject.tmpl":    "Willkommen bei {{.Tenant}},\n{{.GivenName}}!",
		"acme/welcome.de.txt.tmpl":        "Servus {{.GivenName}}: {{.Link}}",
		"acme/welcome.de.html.tmpl":       `<p>Servus <a href="{{.Link}}">{{.GivenName}}</a></p>`,
		"acme/welcome.de-at.subject.tmpl": "Grüß Gott {{.GivenName}}",
		"acme/welcome.de-at.txt.tmpl":     "Grüß Gott {{.Link}}",
		"acme/welcome.de-at.html.tmpl":    `<p>Grüß Gott</p>`,
		"acme/.hidden.tmpl":               "ignored",
		"other/reset.en.subject.tmpl":     "Other reset",
		"other/reset.en.txt.tmpl":         "{{.Link}}",
		"other/reset.en.html.tmpl":        "<p>{{.Link}}</p>",
	})
	tpl := mustTemplates(t, dir)

	c, err := tpl.Welcome("acme", welcomeData("de"))
	require.NoError(t, err)
	assert.Equal(t, "Willkommen bei Müller & Söhne, Jürgen!", c.Subject, "subject folded to one line")
	assert.Equal(t, "Servus Jürgen: "+testLink+"\n", c.Text)

	c, err = tpl.Welcome("acme", welcomeData("de-AT"))
	require.NoError(t, err)
	assert.Equal(t, "Grüß Gott Jürgen", c.Subject)
	assert.Equal(t, "de-at", c.Language)

	// acme has no English welcome: the embedded one is used.
	c, err = tpl.Welcome("acme", welcomeData("en"))
	require.NoError(t, err)
	assert.Equal(t, "Your new phone system account at Müller & Söhne", c.Subject)

	// Another tenant does not see acme's templates.
	c, err = tpl.Welcome("other", welcomeData("de"))
	require.NoError(t, err)
	assert.Equal(t, "Ihr neues Konto für die Telefonanlage bei Müller & Söhne", c.Subject)
	// An overridden English beats nothing for a French user.
	r, err := tpl.Reset("other", smtp.ResetData{Login: "a", Link: testLink, ExpiresAt: time.Now(), Language: "fr"})
	require.NoError(t, err)
	assert.Equal(t, "Other reset", r.Subject)
}

func TestTemplatesOverrideErrors(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"acme/welcome.de.subject.tmpl": "x",
		"acme/welcome.de.txt.tmpl":     "x",
		"acme/welcome.DE.html.tmpl":    "x",
		"acme/welcome.fr.body.tmpl":    "x",
		"acme/reset.en.subject.tmpl":   "{{.Nope",
		"acme/reset.en.txt.tmpl":       "x",
		"acme/reset.en.html.tmpl":      "x",
	})
	_, err := smtp.NewTemplates(dir)
	require.Error(t, err)
	msg := err.Error()
	for _, want := range []string{
		"acme/welcome.DE.html.tmpl: not a template file name",
		"acme/welcome.fr.body.tmpl: part \"body\" is not subject, txt or html",
		"acme: welcome.de needs all of .subject.tmpl, .txt.tmpl and .html.tmpl",
		"parse acme/reset.en.subject.tmpl",
	} {
		assert.Contains(t, msg, want)
	}

	_, err = smtp.NewTemplates(filepath.Join(dir, "missing"))
	assert.ErrorContains(t, err, "read template directory")
}

func TestTemplatesUnknownFieldFailsAtRender(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"acme/welcome.en.subject.tmpl": "x",
		"acme/welcome.en.txt.tmpl":     "{{.Password}}",
		"acme/welcome.en.html.tmpl":    "x",
	})
	tpl := mustTemplates(t, dir)
	_, err := tpl.Welcome("acme", welcomeData("en"))
	assert.ErrorContains(t, err, "can't evaluate field Password")
}

// TestWelcomeSignInURL: with the tenant's sign-in URL the welcome mail
// says where to sign in, in both parts and both languages; without one it
// says nothing about it.
func TestWelcomeSignInURL(t *testing.T) {
	tpl := mustTemplates(t, "")
	for lang, line := range map[string]string{"en": "Then sign in here:", "de": "Danach melden Sie sich hier an:"} {
		d := welcomeData(lang)
		d.SignInURL = "https://mueller.pbx.example.com/"
		c, err := tpl.Welcome("", d)
		require.NoError(t, err)
		assert.Contains(t, c.Text, line+" https://mueller.pbx.example.com/", lang)
		assert.Contains(t, c.HTML, `<a href="https://mueller.pbx.example.com/"`, lang)
		c, err = tpl.Welcome("", welcomeData(lang))
		require.NoError(t, err)
		assert.NotContains(t, c.Text, line, lang)
	}
}
