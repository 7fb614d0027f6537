package passwordpage_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/pbxusers"
	"github.com/pbxgate/pbxgate/pbxusers/sqlite"
	"github.com/pbxgate/pbxgate/smtp/passwordpage"
)

// testClock is the Directory's clock, moved forward by tests.
type testClock struct{ off atomic.Int64 }

func (c *testClock) Now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *testClock) Advance(d time.Duration) { c.off.Add(int64(d)) }

type pageEnv struct {
	clock  *testClock
	dir    *pbxusers.Directory
	tenant pbxusers.Tenant
	srv    *httptest.Server
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// newPageEnv starts the page on an httptest server on 127.0.0.1 with a
// fresh SQLite Directory.
func newPageEnv(t testing.TB, opts passwordpage.Options) *pageEnv {
	t.Helper()
	e := &pageEnv{clock: &testClock{}}
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "pbx.db"))
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	e.dir = pbxusers.New(store, pbxusers.Options{PasswordCost: 4, Now: e.clock.Now})
	e.tenant, err = e.dir.CreateTenant(context.Background(), pbxusers.Tenant{ID: "mueller", Name: "Müller & Söhne", TimeZone: "Europe/Berlin"})
	require.NoError(t, err)
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	page, err := passwordpage.New(e.dir, opts)
	require.NoError(t, err)
	mux := http.NewServeMux()
	page.Mount(mux)
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	return e
}

// user creates an invite-type user and issues a link for it.
func (e *pageEnv) user(t testing.TB, login, lang string, purpose pbxusers.SetupPurpose) (pbxusers.User, string) {
	t.Helper()
	u, err := e.dir.CreateUser(context.Background(), e.tenant.ID, pbxusers.User{
		UserName: login, Name: pbxusers.Name{Given: "Anna", Family: "Schmidt"}, Language: lang,
		Emails: []pbxusers.Email{{Value: login + "@mueller.example", Primary: true}},
	})
	require.NoError(t, err)
	token, _, err := e.dir.IssueSetupLink(context.Background(), e.tenant.ID, u.ID, purpose, 0)
	require.NoError(t, err)
	return u, token
}

func (e *pageEnv) link(token string) string { return e.srv.URL + "/setup/" + token }

// browser is an HTTP client with a cookie jar, like a browser's.
func browser(t testing.TB) *http.Client {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &http.Client{Jar: jar, Timeout: 10 * time.Second}
}

type response struct {
	status int
	header http.Header
	body   string
}

func do(t testing.TB, c *http.Client, req *http.Request) response {
	t.Helper()
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return response{resp.StatusCode, resp.Header, string(b)}
}

func get(t testing.TB, c *http.Client, u string, header ...string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return do(t, c, req)
}

func post(t testing.TB, c *http.Client, u string, form url.Values, header ...string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return do(t, c, req)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf returns the form's CSRF field.
func csrf(t testing.TB, body string) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(body)
	require.NotNil(t, m, "no csrf field in:\n%s", body)
	return html.UnescapeString(m[1])
}

func passwordForm(token, password, confirm string) url.Values {
	return url.Values{"csrf": {token}, "password": {password}, "confirm": {confirm}}
}

func assertSecurityHeaders(t *testing.T, r response) {
	t.Helper()
	assert.Equal(t, "no-store", r.header.Get("Cache-Control"))
	assert.Equal(t, "no-referrer", r.header.Get("Referrer-Policy"))
	assert.Equal(t, "DENY", r.header.Get("X-Frame-Options"))
	assert.Equal(t, "nosniff", r.header.Get("X-Content-Type-Options"))
	assert.Equal(t, "text/html; charset=utf-8", r.header.Get("Content-Type"))
	csp := r.header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "form-action 'self'", "frame-ancestors 'none'", "base-uri 'none'"} {
		assert.Contains(t, csp, want)
	}
	assert.NotContains(t, csp, "script-src")
	assert.NotContains(t, csp, "unsafe-inline")
}

func TestGetShowsFormWithoutUsingTheLink(t *testing.T) {
	e := newPageEnv(t, passwordpage.Options{})
	_, token := e.user(t, "anna", "de-AT", pbxusers.SetupWelcome)
	c := browser(t)

	for i := 0; i < 3; i++ { // a link scanner, a preview, the user
		r := get(t, c, e.link(token))
		require.Equal(t, http.StatusOK, r.status)
		assertSecurityHeaders(t, r)
		assert.Contains(t, r.body, `<html lang="de">`)
		assert.Contains(t, r.body, "<h1 id=\"title\">Konto einrichten</h1>")
		assert.Contains(t, r.body, "Müller &amp; Söhne")
		assert.Contains(t, r.body, `value="anna"`)
		assert.Contains(t, r.body, `<label for="password">`)
		assert.Contains(t, r.body, `aria-describedby="password-hint"`)
		assert.Contains(t, r.body, `autocomplete="new-password"`)
		assert.Equal(t, "de", r.header.Get("Content-Language"))
		// Nothing from elsewhere: no scripts, no external resources.
		for _, bad := range []string{"<script", "<link", "<img", "src=", "http://", "https://", "style=\""} {
			assert.NotContains(t, r.body, bad)
		}
		// The CSP allows exactly the inline style block.
		style := regexp.MustCompile(`(?s)<style>(.*)</style>`).FindStringSubmatch(r.body)
		require.NotNil(t, style)
		sum := sha256.Sum256([]byte(style[1]))
		assert.Contains(t, r.header.Get("Content-Security-Policy"), "style-src 'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'")
	}
	_, _, err := e.dir.CheckSetupLink(context.Background(), token)
	assert.NoError(t, err, "GET does not use the link up")

	r := get(t, c, e.link(token))
	var cookie string
	for _, sc := range r.header.Values("Set-Cookie") {
		cookie += sc
	}
	assert.Empty(t, cookie, "the nonce cookie is reused")
	u, err := url.Parse(e.srv.URL)
	require.NoError(t, err)
	cookies := c.Jar.Cookies(u)
	require.Len(t, cookies, 1)

	head, err := http.NewRequest(http.MethodHead, e.link(token), nil)
	require.NoError(t, err)
	hr := do(t, c, head)
	assert.Equal(t, http.StatusOK, hr.status)
	assert.Empty(t, hr.body)
}

func TestCookieAttributes(t *testing.T) {
	e := newPageEnv(t, passwordpage.Options{})
	_, token := e.user(t, "anna", "en", pbxusers.SetupWelcome)
	r := get(t, http.DefaultClient, e.link(token))
	sc := r.header.Get("Set-Cookie")
	assert.Contains(t, sc, "pbxgate-setup=")
	assert.Contains(t, sc, "Path=/")
	assert.Contains(t, sc, "HttpOnly")
	assert.Contains(t, sc, "SameSite=Strict")
	assert.NotContains(t, sc, token)

	e2 := newPageEnv(t, passwordpage.Options{SecureCookie: true})
	_, token2 := e2.user(t, "anna", "en", pbxusers.SetupWelcome)
	r = get(t, http.DefaultClient, e2.link(token2))
	sc = r.header.Get("Set-Cookie")
	assert.True(t, strings.HasPrefix(sc, "__Host-pbxgate-setup="), sc)
	assert.Contains(t, sc, "Secure")
	assert.Contains(t, r.header.Get("Strict-Transport-Security"), "max-age=")
}

// syncBuffer is a log destination safe for the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestPostSetsThePasswordOnce(t *testing.T) {
	var logs syncBuffer
	e := newPageEnv(t, passwordpage.Options{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	u, token := e.user(t, "anna", "en", pbxusers.SetupWelcome)
	c := browser(t)
	form := get(t, c, e.link(token))
	require.Equal(t, http.StatusOK, form.status)
	field := csrf(t, form.body)

	const password = "correct horse battery staple"
	r := post(t, c, e.link(token), passwordForm(field, password, password))
	require.Equal(t, http.StatusOK, r.status, r.body)
	assertSecurityHeaders(t, r)
	assert.Contains(t, r.body, "Your password is set")
	assert.Contains(t, r.body, "sign in as anna")
	assert.NotContains(t, r.body, password)

	got, err := e.dir.Login(context.Background(), e.tenant.ID, "anna", password)
	require.NoError(t, err)
	assert.Equal(t, u.ID, got.ID)

	// Single use: the same form again, and the link, are refused.
	r = post(t, c, e.link(token), passwordForm(field, "another fine passphrase", "another fine passphrase"))
	assert.Equal(t, http.StatusNotFound, r.status)
	assert.Contains(t, r.body, "This link is not valid")
	r = get(t, c, e.link(token))
	assert.Equal(t, http.StatusNotFound, r.status)
	_, err = e.dir.Login(context.Background(), e.tenant.ID, "anna", "another fine passphrase")
	assert.Error(t, err)

	// Logged, without the token or the password.
	assert.Contains(t, logs.String(), "password set through link")
	assert.NotContains(t, logs.String(), token[strings.IndexByte(token, '.')+1:])
	assert.NotContains(t, logs.String(), password)
	assert.NotContains(t, logs.String(), field)
}

func TestResetLinkTitle(t *testing.T) {
	e := newPageEnv(t, passwordpage.Options{})
	_, token := e.user(t, "anna", "en", pbxusers.SetupReset)
	r := get(t, browser(t), e.link(token))
	assert.Contains(t, r.body, "<h1 id=\"title\">Set a new password</h1>")
}

func TestCSRF(t *testing.T) {
	e := newPageEnv(t, passwordpage.Options{})
	_, token := e.user(t, "anna", "en", pbxusers.SetupWelcome)
	_, other := e.user(t, "bert", "en", pbxusers.SetupWelcome)
	const password = "correct horse battery staple"

	c := browser(t)
	field := csrf(t, get(t, c, e.link(token)).body)
	otherField := csrf(t, get(t, c, e.link(other)).body)

	for name, tc := range map[string]struct {
		client *http.Client
		form   url.Values
		header []string
	}{
		"no cookie":               {http.DefaultClient, passwordForm(field, password, password), nil},
		"no field":                {c, passwordForm("", password, password), nil},
		"wrong field":             {c, passwordForm(field[:len(field)-2]+"AA", password, password), nil},
		"field of another link":   {c, passwordForm(otherField, password, password), nil},
		"cross-site (fetch meta)": {c, passwordForm(field, password, password), []string{"Sec-Fetch-Site", "cross-site"}},
		"cross-origin (Origin)":   {c, passwordForm(field, password, password), []string{"Origin", "https://evil.example"}},
	} {
		t.Run(name, func(t *testing.T) {
			r := post(t, tc.client, e.link(token), tc.form, tc.header...)
			assert.Equal(t, http.StatusForbidden, r.status)
			assertSecurityHeaders(t, r)
			assert.Contains(t, r.body, "Open the form again")
		})
	}
	st, _, err := e.dir.CheckSetupLink(context.Background(), token)
	require.NoError(t, err, "the link still works")
	assert.Zero(t, st.Failures, "CSRF failures do not count against the link")

	// A form from before a restart (another key) is refused too.
	page2, err := passwordpage.New(e.dir, passwordpage.Options{})
	require.NoError(t, err)
	mux := http.NewServeMux()
	page2.Mount(mux)
	srv2 := httptest.NewServer(mux)
	defer srv2.Close()
	jarURL, _ := url.Parse(e.srv.URL)
	c2 := browser(t)
	srv2URL, _ := url.Parse(srv2.URL)
	c2.Jar.SetCookies(srv2URL, c.Jar.Cookies(jarURL))
	r := post(t, c2, srv2.URL+"/setup/"+token, passwordForm(field, password, password))
	assert.Equal(t, http.StatusForbidden, r.status)

	// The right cookie and field work.
	r = post(t, c, e.link(token), passwordForm(field, password, password))
	assert.Equal(t, http.StatusOK, r.status)
}

func TestInvalidLinksLookTheSame(t *testing.T) {
	e := newPageEnv(t, passwordpage.Options{})
	ctx := context.Background()
	c := browser(t)

	_, used := e.user(t, "used", "en", pbxusers.SetupWelcome)
	_, err := e.dir.CompleteSetup(ctx, used, "correct horse battery staple")
	require.NoError(t, err)
	revokedUser, revoked := e.user(t, "revoked", "en", pbxusers.SetupWelcome)
	_, _, err = e.dir.IssueSetupLink(ctx, e.tenant.ID, revokedUser.ID, pbxusers.SetupWelcome, 0)
	require.NoError(t, err)
	_, expired := e.user(t, "expired", "en", pbxusers.SetupWelcome)
	_, live := e.user(t, "live", "en", pbxusers.SetupWelcome)
	e.clock.Advance(pbxusers.DefaultSetupTTL + time.Minute)
	_, _, err = e.dir.CheckSetupLink(ctx, live)
	require.ErrorIs(t, err, pbxusers.ErrSetupLink)

	unknown := "pbxs_" + strings.Repeat("a", 16) + "." + strings.Repeat("B", 43)
	var first response
	for i, tok := range []string{used, revoked, expired, unknown, "garbage", "pbxs_x"} {
		r := get(t, c, e.link(tok))
		assert.Equal(t, http.StatusNotFound, r.status, tok)
		assertSecurityHeaders(t, r)
		assert.Contains(t, r.body, "This link is not valid")
		if i == 0 {
			first = r
			continue
		}
		assert.Equal(t, first.body, r.body, "every invalid link gets the same page")
	}
}

func TestWeakPasswordShownNextToTheField(t *testing.T) {
	e := newPageEnv(t, passwordpage.Options{Burst: 100})
	_, token := e.user(t, "anna", "de", pbxusers.SetupWelcome)
	c := browser(t)
	field := csrf(t, get(t, c, e.link(token)).body)

	r := post(t, c, e.link(token), passwordForm(field, "kurz", "kurz"))
	require.Equal(t, http.StatusUnprocessableEntity, r.status)
	assert.Contains(t, r.body, `aria-describedby="password-hint password-error" aria-invalid="true" autofocus`)
	assert.Contains(t, r.body, `<p class="error" id="password-error">Das Passwort ist zu kurz: Verwenden Sie mindestens 8 Zeichen.</p>`)
	assert.NotContains(t, r.body, "kurz\"", "the password is not echoed")

	r = post(t, c, e.link(token), passwordForm(field, "anna", "anna"))
	assert.Contains(t, r.body, "zu kurz")
	r = post(t, c, e.link(token), passwordForm(field, "password", "password"))
	assert.Contains(t, r.body, "Dieses Passwort ist zu verbreitet oder zu leicht zu erraten")

	// A mismatch is shown at the second field and does not count.
	r = post(t, c, e.link(token), passwordForm(field, "correct horse battery staple", "correct horse battery stapel"))
	require.Equal(t, http.StatusUnprocessableEntity, r.status)
	assert.Contains(t, r.body, `aria-describedby="confirm-error" aria-invalid="true" autofocus`)
	assert.Contains(t, r.body, `id="confirm-error">Die Passwörter stimmen nicht überein.`)

	st, _, err := e.dir.CheckSetupLink(context.Background(), token)
	require.NoError(t, err)
	assert.Equal(t, 3, st.Failures)

	// Rejected passwords use the link up after MaxSetupFailures.
	r = post(t, c, e.link(token), passwordForm(field, "        ", "        "))
	assert.Contains(t, r.body, "nicht nur aus Leerzeichen")
	assert.Contains(t, r.body, "Noch 1 Versuch,")
	r = post(t, c, e.link(token), passwordForm(field, "x", "x"))
	assert.Equal(t, http.StatusNotFound, r.status)
	assert.Contains(t, r.body, "Dieser Link ist ungültig")
}

func TestEnglishPolicyMessages(t *testing.T) {
	e := newPageEnv(t, passwordpage.Options{Burst: 100})
	_, token := e.user(t, "annaschmidt", "en", pbxusers.SetupWelcome)
	c := browser(t)
	field := csrf(t, get(t, c, e.link(token)).body)
	for pw, want := range map[string]string{
		"":                      "Enter a password.",
		"short":                 "The password is too short: use at least 8 characters.",
		"AnnaSchmidt":           "The password must not be your login.",
		strings.Repeat("ü", 40): "The password is too long: use at most 72 characters",
		strings.Repeat(" ", 9):  "The password must not consist of spaces only.",
	} {
		r := post(t, c, e.link(token), passwordForm(field, pw, pw))
		assert.Equal(t, http.StatusUnprocessableEntity, r.status, pw)
		assert.Contains(t, r.body, want, pw)
	}
}

// TestCommonPasswordsRefused: well-known passwords, keyboard patterns and
// the login with a digit are refused with a reason (NIST SP 800-63B
// §5.1.1.2); a passphrase is taken.
func TestCommonPasswordsRefused(t *testing.T) {
	e := newPageEnv(t, passwordpage.Options{Burst: 100})
	for i, pw := range []string{"password", "12345678", "qwertyuiop", "annaschmidt3!", "Passw0rd!"} {
		_, token := e.user(t, fmt.Sprintf("annaschmidt%d", i), "en", pbxusers.SetupWelcome)
		c := browser(t)
		field := csrf(t, get(t, c, e.link(token)).body)
		r := post(t, c, e.link(token), passwordForm(field, pw, pw))
		assert.Equal(t, http.StatusUnprocessableEntity, r.status, pw)
		assert.Contains(t, r.body, "This password is too common or too easy to guess", pw)
	}
	_, token := e.user(t, "anna", "en", pbxusers.SetupWelcome)
	c := browser(t)
	field := csrf(t, get(t, c, e.link(token)).body)
	r := post(t, c, e.link(token), passwordForm(field, "violet tram cobbler 7", "violet tram cobbler 7"))
	assert.Equal(t, http.StatusOK, r.status)
}

func TestRateLimitPerIP(t *testing.T) {
	e := newPageEnv(t, passwordpage.Options{RatePerMinute: 1, Burst: 2})
	_, token := e.user(t, "anna", "en", pbxusers.SetupWelcome)
	c := browser(t)
	field := csrf(t, get(t, c, e.link(token)).body)
	for i := 0; i < 2; i++ {
		r := post(t, c, e.link(token), passwordForm(field, "a", "b"))
		assert.Equal(t, http.StatusUnprocessableEntity, r.status)
	}
	r := post(t, c, e.link(token), passwordForm(field, "a", "b"))
	assert.Equal(t, http.StatusTooManyRequests, r.status)
	assert.NotEmpty(t, r.header.Get("Retry-After"))
	assert.Contains(t, r.body, "Too many attempts")
	// GETs are not limited.
	assert.Equal(t, http.StatusOK, get(t, c, e.link(token)).status)
}

func TestLanguageFromBrowserWhenTheUserIsUnknown(t *testing.T) {
	e := newPageEnv(t, passwordpage.Options{})
	c := browser(t)
	for accept, want := range map[string]string{
		"":                            `lang="en"`,
		"de-DE,de;q=0.9,en;q=0.8":     `lang="de"`,
		"fr-FR, en;q=0.5, de;q=0.4":   `lang="en"`,
		"fr, de;q=0.7, en;q=0.3":      `lang="de"`,
		"en;q=0.2, de-CH;q=0.9":       `lang="de"`,
		"*;q=0.1, xx, de;q=0, en;q=0": `lang="en"`,
	} {
		r := get(t, c, e.link("pbxs_unknown.token"), "Accept-Language", accept)
		assert.Contains(t, r.body, want, accept)
	}
	// A user's own language wins over the browser's.
	_, token := e.user(t, "anna", "de", pbxusers.SetupWelcome)
	r := get(t, c, e.link(token), "Accept-Language", "en")
	assert.Contains(t, r.body, `lang="de"`)
}

func TestServeHTTPDirectly(t *testing.T) {
	e := newPageEnv(t, passwordpage.Options{})
	_, token := e.user(t, "anna", "en", pbxusers.SetupWelcome)
	page, err := passwordpage.New(e.dir, passwordpage.Options{})
	require.NoError(t, err)

	rec := httptest.NewRecorder()
	page.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/prefix/setup/"+token, nil))
	assert.Equal(t, http.StatusOK, rec.Code, "token from the last path segment")

	rec = httptest.NewRecorder()
	page.ServeHTTP(rec, httptest.NewRequest(http.MethodDelete, "/setup/"+token, nil))
	assert.Equal(t, http.StatusMethodNotAllowed, rec.Code)
	assert.Equal(t, "GET, HEAD, POST", rec.Header().Get("Allow"))
}

func TestNewValidation(t *testing.T) {
	e := newPageEnv(t, passwordpage.Options{})
	_, err := passwordpage.New(e.dir, passwordpage.Options{Key: []byte("short"), Burst: -1, SignInURL: "javascript:alert(1)"})
	require.Error(t, err)
	assert.ErrorContains(t, err, "key has 5 bytes, want at least 32")
	assert.ErrorContains(t, err, "negative rate")
	assert.ErrorContains(t, err, `sign-in URL "javascript:alert(1)" is not an http(s) URL`)
}

func TestSignInLinkOnSuccess(t *testing.T) {
	e := newPageEnv(t, passwordpage.Options{SignInURL: "https://portal.example.com/login"})
	_, token := e.user(t, "anna", "en", pbxusers.SetupWelcome)
	c := browser(t)
	field := csrf(t, get(t, c, e.link(token)).body)
	r := post(t, c, e.link(token), passwordForm(field, "correct horse battery staple", "correct horse battery staple"))
	assert.Contains(t, r.body, `<a href="https://portal.example.com/login">Go to sign-in</a>`)
}

// TestTenantSignInURL: the tenant's own sign-in URL wins over the page's.
func TestTenantSignInURL(t *testing.T) {
	e := newPageEnv(t, passwordpage.Options{SignInURL: "https://portal.example.com/login"})
	_, token := e.user(t, "anna", "en", pbxusers.SetupWelcome)
	ctx := context.Background()
	tn, err := e.dir.GetTenant(ctx, e.tenant.ID)
	require.NoError(t, err)
	tn.SignInURL = "https://mueller.pbx.example.com/"
	_, err = e.dir.UpdateTenant(ctx, tn)
	require.NoError(t, err)
	c := browser(t)
	field := csrf(t, get(t, c, e.link(token)).body)
	r := post(t, c, e.link(token), passwordForm(field, "correct horse battery staple", "correct horse battery staple"))
	assert.Contains(t, r.body, `<a href="https://mueller.pbx.example.com/">Go to sign-in</a>`)
}
