package passwordpage_test

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/internal/webdriver"
	"github.com/pbxgate/pbxgate/pbxusers"
	"github.com/pbxgate/pbxgate/smtp"
	"github.com/pbxgate/pbxgate/smtp/passwordpage"
	"github.com/pbxgate/pbxgate/smtp/smtptest"
)

// TestBrowserSetPasswordFromWelcomeMail runs the whole path in a real
// headless Chromium driven through ChromeDriver (package
// smtp/internal/webdriver): a user is created, the outbox worker sends the
// welcome mail over STARTTLS to the in-process SMTP server, the browser
// opens the link from the received mail on the page served by an
// httptest server on 127.0.0.1, tries a weak password, sets a good one,
// and finds the link used up; a second user's link expires unused.
//
// It needs Debian's chromium and chromium-driver (.ci/run installs them):
//
//	apt-get install chromium chromium-driver
//	go test ./smtp/passwordpage/ -run Browser -v
//
// and skips, naming the packages, without them.
func TestBrowserSetPasswordFromWelcomeMail(t *testing.T) {
	wd := webdriver.Start(t)
	e := newPageEnv(t, passwordpage.Options{})
	srv := smtptest.Start(t, smtptest.Options{TLS: true})
	relay, err := smtp.NewRelay(smtp.RelayConfig{
		Host: srv.Host(), Port: srv.Port(), RootCAFile: srv.CAFile(t), HeloName: "pbxgate.test",
		From: smtp.Address{Name: "Müller & Söhne PBX", Address: "pbx@mueller.example"},
	}, testLogger(t))
	require.NoError(t, err)
	t.Cleanup(func() { relay.Close() })
	tmpl, err := smtp.NewTemplates("")
	require.NoError(t, err)
	worker, err := smtp.NewWorker(e.dir, relay, tmpl, smtp.WorkerOptions{
		PublicURL: e.srv.URL, Logger: testLogger(t), Now: e.clock.Now,
	})
	require.NoError(t, err)
	ctx := context.Background()
	linkRE := regexp.MustCompile(regexp.QuoteMeta(e.srv.URL) + `/setup/pbxs_[a-z0-9]+\.[A-Za-z0-9_-]{43}`)

	// The welcome mail as received by the SMTP server.
	_, err = e.dir.CreateUser(ctx, e.tenant.ID, pbxusers.User{
		UserName: "jweiss", Name: pbxusers.Name{Given: "Jürgen", Family: "Weiß"}, Language: "de",
		Emails: []pbxusers.Email{{Value: "jweiss@mueller.example", Primary: true}},
	})
	require.NoError(t, err)
	st, err := worker.Drain(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, st.Sent)
	mails := srv.Messages()
	require.Len(t, mails, 1)
	require.True(t, mails[0].TLS)
	p := mails[0].Parse(t)
	link := linkRE.FindString(p.Text)
	require.NotEmpty(t, link, "no link in:\n%s", p.Text)
	assert.Contains(t, p.HTML, `href="`+link+`"`)

	// The form, in German, styled (the CSP lets the inline style in).
	wd.Navigate(t, link)
	assert.Contains(t, wd.Title(t), "Konto einrichten")
	assert.Equal(t, "Konto einrichten", wd.Find(t, "h1").Text(t))
	assert.Equal(t, "de", wd.Script(t, "return document.documentElement.lang"))
	assert.Equal(t, "rgb(11, 87, 208)", wd.Script(t, "return getComputedStyle(document.querySelector('button')).backgroundColor"))
	assert.Equal(t, "jweiss", wd.Find(t, "#login").Attribute(t, "value"))
	assert.Equal(t, "Neues Passwort", wd.Script(t, "return document.getElementById('password').labels[0].textContent"))

	// A weak password: the error is shown next to the field, tied to it,
	// and the field has the focus.
	wd.Find(t, "#password").SendKeys(t, "kurz")
	wd.Find(t, "#confirm").SendKeys(t, "kurz")
	wd.Find(t, "button[type=submit]").ClickAndWait(t)
	require.Equal(t, "Das Passwort ist zu kurz: Verwenden Sie mindestens 8 Zeichen.", wd.Find(t, "#password-error").Text(t))
	pw := wd.Find(t, "#password")
	assert.Equal(t, "true", pw.Attribute(t, "aria-invalid"))
	assert.Equal(t, "password-hint password-error", pw.Attribute(t, "aria-describedby"))
	assert.Equal(t, "password", wd.Active(t).ID(t))
	assert.Equal(t, "rgb(179, 38, 30)", wd.Script(t, "return getComputedStyle(document.getElementById('password-error')).color"))

	// A good one.
	const password = "Heiße Kartoffeln im Juli"
	wd.Find(t, "#password").SendKeys(t, password)
	wd.Find(t, "#confirm").SendKeys(t, password)
	wd.Find(t, "button[type=submit]").ClickAndWait(t)
	assert.Equal(t, "Ihr Passwort ist festgelegt", wd.Find(t, "h1").Text(t))
	assert.Contains(t, wd.Find(t, "main").Text(t), "als jweiss")
	_, err = e.dir.Login(ctx, e.tenant.ID, "jweiss", password)
	require.NoError(t, err)

	// The link again: refused.
	wd.Navigate(t, link)
	assert.Equal(t, "This link is not valid", wd.Find(t, "h1").Text(t))
	_, err = wd.FindErr("form")
	assert.Error(t, err, "no form on the invalid-link page")

	// An expired link: refused the same way.
	_, err = e.dir.CreateUser(ctx, e.tenant.ID, pbxusers.User{
		UserName: "anna", Name: pbxusers.Name{Given: "Anna"}, Language: "en",
		Emails: []pbxusers.Email{{Value: "anna@mueller.example", Primary: true}},
	})
	require.NoError(t, err)
	_, err = worker.Drain(ctx)
	require.NoError(t, err)
	mails = srv.Messages()
	require.Len(t, mails, 2)
	expired := linkRE.FindString(mails[1].Parse(t).Text)
	require.NotEmpty(t, expired)
	wd.Navigate(t, expired)
	assert.Equal(t, "Set up your account", wd.Find(t, "h1").Text(t), "valid before it expires")
	e.clock.Advance(pbxusers.DefaultSetupTTL + time.Minute)
	wd.Navigate(t, expired)
	assert.Equal(t, "This link is not valid", wd.Find(t, "h1").Text(t))
}
