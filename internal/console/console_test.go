package console_test

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/internal/adminapi"
	"github.com/pbxgate/pbxgate/internal/console"
	"github.com/pbxgate/pbxgate/pbxusers"
	"github.com/pbxgate/pbxgate/pbxusers/sqlite"
)

// env is a console over a real SQLite file, served over real HTTP.
type env struct {
	dir *pbxusers.Directory
	srv *httptest.Server
}

func start(t *testing.T, opts console.Options) *env {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "pbx.db"))
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	dir := pbxusers.New(store, pbxusers.Options{PasswordCost: 4})
	_, err = dir.CreateTenant(ctx, pbxusers.Tenant{ID: "acme", Name: "Acme", Region: "DE", TimeZone: "Europe/Berlin"})
	require.NoError(t, err)
	api := adminapi.New(dir, adminapi.Options{})
	mux := http.NewServeMux()
	api.Mount(mux)
	mux.Handle(console.Prefix+"/", console.New(dir, api, opts))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &env{dir: dir, srv: srv}
}

// user creates a user with a password set.
func (e *env) user(t *testing.T, name string, role pbxusers.Role, password string) pbxusers.User {
	t.Helper()
	u, err := e.dir.CreateUser(context.Background(), "acme", pbxusers.User{UserName: name, Role: role,
		Emails:   []pbxusers.Email{{Value: name + "@acme.example", Primary: true}},
		Password: pbxusers.Password{Mode: pbxusers.PasswordManual, New: password}})
	require.NoError(t, err)
	return u
}

// browser is a client with a cookie jar that sends the Origin a browser
// sends on a same-origin form POST.
type browser struct {
	t    *testing.T
	c    *http.Client
	base string
}

func (e *env) browser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, c: &http.Client{Jar: jar}, base: e.srv.URL}
}

func (b *browser) get(path string) (int, string) {
	b.t.Helper()
	resp, err := b.c.Get(b.base + path)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func (b *browser) post(path string, form url.Values) (int, string, *http.Response) {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(form.Encode()))
	require.NoError(b.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.base)
	resp, err := b.c.Do(req)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrf(t *testing.T, body string) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(body)
	require.NotNil(t, m, "no CSRF field in:\n%s", body)
	return m[1]
}

func (b *browser) signIn(login, password string) (int, string) {
	code, body, _ := b.post("/admin/sign-in", url.Values{"tenant": {"acme"}, "login": {login}, "password": {password}})
	return code, body
}

const goodPassword = "violet tram cobbler 7"

func TestSignIn(t *testing.T) {
	e := start(t, console.Options{})
	e.user(t, "ada", pbxusers.RoleAdmin, goodPassword)
	e.user(t, "bob", pbxusers.RoleUser, goodPassword)

	b := e.browser(t)
	code, _ := b.get("/admin/users")
	assert.Equal(t, http.StatusOK, code, "redirected to the sign-in page")
	code, body := b.signIn("bob", goodPassword)
	assert.Equal(t, http.StatusUnauthorized, code, "a plain user may not use the console")
	assert.Contains(t, body, "may not use the console")
	code, body = b.signIn("ada", "wrong password here")
	assert.Equal(t, http.StatusUnauthorized, code)
	assert.NotContains(t, body, "wrong password here", "the password is not echoed")

	code, body = b.signIn("ada", goodPassword)
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, "Signed in as ada")
	assert.Contains(t, body, `<a href="/admin/users/`)

	// Signing out ends the session.
	code, _, _ = b.post("/admin/sign-out", url.Values{"csrf": {csrf(t, body)}})
	assert.Equal(t, http.StatusOK, code)
	code, body = b.get("/admin/users")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "Sign in to the console")
}

func TestSessionCookieAndHeaders(t *testing.T) {
	e := start(t, console.Options{})
	e.user(t, "ada", pbxusers.RoleAdmin, goodPassword)
	b := e.browser(t)
	b.c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	_, _, resp := b.post("/admin/sign-in", url.Values{"tenant": {"acme"}, "login": {"ada"}, "password": {goodPassword}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	cookie := resp.Header.Get("Set-Cookie")
	for _, want := range []string{"__Host-pbxgate_console=", "Path=/", "HttpOnly", "Secure", "SameSite=Strict"} {
		assert.Contains(t, cookie, want)
	}
	assert.NotContains(t, cookie, "Domain=")
	csp := resp.Header.Get("Content-Security-Policy")
	assert.Contains(t, csp, "default-src 'none'")
	assert.Contains(t, csp, "frame-ancestors 'none'")
	assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
}

func TestCSRFAndOrigin(t *testing.T) {
	e := start(t, console.Options{})
	e.user(t, "ada", pbxusers.RoleAdmin, goodPassword)
	victim := e.user(t, "carol", pbxusers.RoleUser, goodPassword)
	b := e.browser(t)
	_, body := b.signIn("ada", goodPassword)
	token := csrf(t, body)

	code, _, _ := b.post("/admin/users/"+victim.ID+"/delete", url.Values{"csrf": {"forged"}})
	assert.Equal(t, http.StatusForbidden, code, "a wrong CSRF token is refused")
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/admin/users/"+victim.ID+"/delete",
		strings.NewReader(url.Values{"csrf": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	resp, err := b.c.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "another origin is refused")
	_, err = e.dir.GetUser(context.Background(), "acme", victim.ID)
	require.NoError(t, err, "nothing was deleted")
}

func TestSignInThrottled(t *testing.T) {
	e := start(t, console.Options{SignInBurst: 3, SignInPerMinute: 1})
	e.user(t, "ada", pbxusers.RoleAdmin, goodPassword)
	b := e.browser(t)
	for i := 0; i < 3; i++ {
		code, _ := b.signIn("ada", "not the password")
		assert.Equal(t, http.StatusUnauthorized, code)
	}
	code, body := b.signIn("ada", goodPassword)
	assert.Equal(t, http.StatusTooManyRequests, code, "throttled even with the right password")
	assert.Contains(t, body, "Too many failed sign-ins")
}

func TestOneTimeLink(t *testing.T) {
	e := start(t, console.Options{})
	u := e.user(t, "ada", pbxusers.RoleAdmin, goodPassword)
	token, _, err := e.dir.IssueSignInLink(context.Background(), "acme", u.ID, 0)
	require.NoError(t, err)
	b := e.browser(t)
	code, body := b.get("/admin/link/" + token)
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "one-time link", "a GET shows a button and does not use the link")
	code, body, _ = b.post("/admin/link/"+token, nil)
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "Signed in as ada")
	code, _, _ = e.browser(t).post("/admin/link/"+token, nil)
	assert.Equal(t, http.StatusNotFound, code, "usable once")
}

func TestUsersAddSearchExplainDelete(t *testing.T) {
	e := start(t, console.Options{})
	e.user(t, "ada", pbxusers.RoleAdmin, goodPassword)
	b := e.browser(t)
	_, body := b.signIn("ada", goodPassword)
	token := csrf(t, body)

	// A bad email and a clashing extension are shown at their fields.
	_, err := e.dir.CreateUser(context.Background(), "acme", pbxusers.User{UserName: "taken", Extension: "201"})
	require.NoError(t, err)
	code, body, _ := b.post("/admin/users", url.Values{"csrf": {token}, "given": {"Grace"}, "family": {"Hopper"},
		"email": {"not-an-address"}, "role": {"agent"}, "extension": {"202"}, "answer": {"phone_number"}})
	assert.Equal(t, http.StatusUnprocessableEntity, code)
	assert.Contains(t, body, `id="email" name="email" type="email" value="not-an-address" aria-invalid="true"`)

	code, body, _ = b.post("/admin/users", url.Values{"csrf": {token}, "given": {"Grace"}, "family": {"Hopper"},
		"email": {"grace@acme.example"}, "role": {"agent"}, "extension": {"202"}, "answer": {"phone_number"},
		"forward": {"+4915112345678"}, "backup": {"+4930123456"}})
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, "grace@acme.example was created")
	grace, err := e.dir.LookupUser(context.Background(), "acme", pbxusers.KeyUserName, "grace@acme.example")
	require.NoError(t, err)
	assert.Equal(t, "+4930123456", grace.Routing.BackupNumber())
	mail, err := e.dir.ListMail(context.Background(), "acme", pbxusers.MailQuery{})
	require.NoError(t, err)
	require.NotEmpty(t, mail, "Auto-Generate queues the welcome mail")
	changes, err := e.dir.Changes(context.Background(), "acme", pbxusers.ChangeQuery{EntityID: grace.ID})
	require.NoError(t, err)
	require.NotEmpty(t, changes)
	assert.Equal(t, "console ada", changes[0].Actor.Name, "the console user is the actor")

	// Search: the full page and the fragment search-as-you-type fetches.
	code, body = b.get("/admin/users?q=hopp")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "grace@acme.example")
	assert.NotContains(t, body, ">taken<")
	code, body = b.get("/admin/users?q=hopp&partial=1")
	require.Equal(t, http.StatusOK, code)
	assert.NotContains(t, body, "<html")
	assert.Contains(t, body, "1 of 1 users")

	// The explain panel: phone-number answering rings that number.
	code, body = b.get("/admin/users/" + grace.ID + "?tab=routing")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, html.UnescapeString(body), "answer mode phone_number → ring +4915112345678 for 30s")

	// Delete: the confirmation names what refers to the user.
	_, err = e.dir.ModifyUser(context.Background(), "acme", mustUser(t, e, "taken").ID, func(u *pbxusers.User) error {
		u.ManagerID = grace.ID
		return nil
	})
	require.NoError(t, err)
	code, body = b.get("/admin/users/" + grace.ID + "/delete")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "user taken (manager)")
	code, body, _ = b.post("/admin/users/"+grace.ID+"/delete", url.Values{"csrf": {token}})
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, "grace@acme.example was deleted")
	_, err = e.dir.GetUser(context.Background(), "acme", grace.ID)
	require.ErrorIs(t, err, pbxusers.ErrNotFound)
	taken := mustUser(t, e, "taken")
	assert.Empty(t, taken.ManagerID, "the referrer was rewritten")
}

func mustUser(t *testing.T, e *env, name string) pbxusers.User {
	t.Helper()
	u, err := e.dir.LookupUser(context.Background(), "acme", pbxusers.KeyUserName, name)
	require.NoError(t, err)
	return u
}

// TestPhonesAndPermissions: "add phone extension" creates a device through
// the admin API and shows its SIP password once; the Permissions tab shows
// each effective value and where it comes from (Alotech's provenance).
func TestPhonesAndPermissions(t *testing.T) {
	e := start(t, console.Options{})
	ctx := context.Background()
	e.user(t, "ada", pbxusers.RoleAdmin, goodPassword)
	prof, err := e.dir.CreateProfile(ctx, "acme", pbxusers.Profile{Name: "Agents", Grants: pbxusers.PermissionSet{
		pbxusers.PermChatLimit: pbxusers.Limit(5)}})
	require.NoError(t, err)
	agent, err := e.dir.CreateUser(ctx, "acme", pbxusers.User{UserName: "kim", Extension: "210", Profiles: []string{prof.ID},
		Overrides: pbxusers.PermissionSet{pbxusers.PermAccessRecordings: pbxusers.Bool(true)}})
	require.NoError(t, err)
	b := e.browser(t)
	_, body := b.signIn("ada", goodPassword)
	token := csrf(t, body)

	code, body, _ := b.post("/admin/users/"+agent.ID+"/devices", url.Values{"csrf": {token}, "kind": {"desk_phone"},
		"mac": {"00:1a:2b:3c:4d:5e"}, "label": {"Desk"}})
	require.Equal(t, http.StatusOK, code, body)
	devs, err := e.dir.ListDevices(ctx, "acme", agent.ID)
	require.NoError(t, err)
	require.Len(t, devs, 1)
	assert.Contains(t, body, `id="secret"`, "the SIP password is shown once")
	assert.Contains(t, body, devs[0].SIPID)
	code, body = b.get("/admin/users/" + agent.ID + "?tab=phones")
	require.Equal(t, http.StatusOK, code)
	assert.NotContains(t, body, `id="secret"`, "and never again")
	assert.Contains(t, body, "00:1a:2b:3c:4d:5e")

	code, body, _ = b.post("/admin/users/"+agent.ID+"/devices", url.Values{"csrf": {token}, "kind": {"desk_phone"}, "mac": {"not-a-mac"}})
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Contains(t, body, "mac: must be a 48-bit MAC address")

	code, body = b.get("/admin/users/" + agent.ID + "?tab=permissions")
	require.Equal(t, http.StatusOK, code)
	assert.Regexp(t, `<td>recordings.access<br><span class="hint">[^<]*</span></td><td class="value">true</td><td class="from">[^<]*override[^<]*</td>`, body)
	assert.Regexp(t, `<td>chat.limit<br><span class="hint">[^<]*</span></td><td class="value">5</td><td class="from">[^<]*Agents[^<]*</td>`, body)
}
