package console_test

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/internal/adminapi"
	"github.com/pbxgate/pbxgate/internal/console"
	"github.com/pbxgate/pbxgate/pbxusers"
	"github.com/pbxgate/pbxgate/pbxusers/sqlite"
)

// startTenant is start with the LDAP directory "corp" configured for
// acme. Its runner records a run in the store the way ldapsync does
// (start, then finish) without an LDAP server: the console's part is to
// list the directories, start runs through the admin API and show the
// history; ldapsync's own tests run against slapd.
func startTenant(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "pbx.db"))
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	dir := pbxusers.New(store, pbxusers.Options{PasswordCost: 4})
	_, err = dir.CreateTenant(ctx, pbxusers.Tenant{ID: "acme", Name: "Acme", Region: "DE", TimeZone: "Europe/Berlin"})
	require.NoError(t, err)
	run := func(ctx context.Context, tenant, name string, dryRun bool) (pbxusers.SyncRun, error) {
		r, err := dir.StartSyncRun(ctx, pbxusers.SyncRun{TenantID: tenant, Directory: name, Mode: "full", DryRun: dryRun})
		if err != nil {
			return r, err
		}
		now := time.Now().UTC()
		r.Finished, r.Status, r.Read, r.Unchanged = &now, pbxusers.SyncOK, 3, 3
		return dir.FinishSyncRun(ctx, r)
	}
	api := adminapi.New(dir, adminapi.Options{LDAPRun: run})
	mux := http.NewServeMux()
	api.Mount(mux)
	mux.Handle(console.Prefix+"/", console.New(dir, api, console.Options{LDAPDirectories: func(tenant string) []string {
		if tenant == "acme" {
			return []string{"corp"}
		}
		return nil
	}}))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &env{dir: dir, srv: srv}
}

// signedIn returns a browser signed in as the admin ada, and its CSRF
// token.
func signedIn(t *testing.T, e *env) (*browser, string) {
	t.Helper()
	e.user(t, "ada", pbxusers.RoleAdmin, goodPassword)
	b := e.browser(t)
	code, body := b.signIn("ada", goodPassword)
	require.Equal(t, http.StatusOK, code, body)
	return b, csrf(t, body)
}

// postMultipart posts a form with a file, as a browser's upload does.
func (b *browser) postMultipart(path string, fields map[string]string, file string) (int, string) {
	b.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		require.NoError(b.t, mw.WriteField(k, v))
	}
	fw, err := mw.CreateFormFile("file", "users.csv")
	require.NoError(b.t, err)
	_, _ = io.WriteString(fw, file)
	require.NoError(b.t, mw.Close())
	req, err := http.NewRequest(http.MethodPost, b.base+path, &buf)
	require.NoError(b.t, err)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Origin", b.base)
	resp, err := b.c.Do(req)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func userCount(t *testing.T, e *env) int {
	t.Helper()
	res, err := e.dir.ListUsers(context.Background(), "acme", pbxusers.UserQuery{IncludeSystem: true, Limit: 1})
	require.NoError(t, err)
	return res.Total
}

// text is a page's body with tags removed and entities decoded, for
// assertions on what a person reads.
func text(body string) string {
	return strings.Join(strings.Fields(html.UnescapeString(regexp.MustCompile(`<[^>]*>`).ReplaceAllString(body, " "))), " ")
}

// TestTenantPagesRender: every tenant page answers 200 with its heading,
// the tenant navigation and no inline script, in English and German.
func TestTenantPagesRender(t *testing.T) {
	e := startTenant(t)
	b, _ := signedIn(t, e)
	for _, tc := range []struct{ path, want string }{
		{"/admin/tenant", "Tenant"},
		{"/admin/tenant/profiles", "Profiles"},
		{"/admin/tenant/teams", "Teams"},
		{"/admin/tenant/timeframes", "Time frames"},
		{"/admin/tenant/numbers", "Numbers"},
		{"/admin/tenant/system", "Queues, attendants, bridges"},
		{"/admin/tenant/import", "CSV import"},
		{"/admin/tenant/tokens", "API tokens"},
		{"/admin/tenant/ldap", "LDAP directories"},
		{"/admin/tenant/ldap/corp", "LDAP directory corp"},
		{"/admin/tenant/outbox", "Mail outbox"},
		{"/admin/tenant/changes", "Change log"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			code, body := b.get(tc.path)
			require.Equal(t, http.StatusOK, code, body)
			assert.Contains(t, body, "<h1>"+tc.want+"</h1>")
			assert.NotRegexp(t, `<script>|<script [^>]*>[^<]|\son[a-z]+=`, body, "no inline script or handlers (CSP)")
			assert.Contains(t, body, `<a href="/admin/tenant">Tenant</a>`)
		})
	}
	// Notices come from the console's own texts, never from the link.
	_, body := b.get("/admin/tenant/numbers?notice=" + url.QueryEscape("Your account is locked; call +1 555 0100"))
	assert.NotContains(t, body, "locked")
	assert.NotContains(t, body, `id="notice"`)
	_, body = b.get("/admin/tenant/numbers?notice=savedNamed&about=%2B4930123456")
	assert.Contains(t, body, `<p class="notice" role="status" id="notice">&#43;4930123456 was saved.</p>`)

	code, _ := b.get("/admin/tenant/ldap/nope")
	assert.Equal(t, http.StatusNotFound, code, "a directory that is not configured")
	for _, path := range []string{"/admin/tenant/profiles/nope", "/admin/tenant/teams/nope", "/admin/tenant/timeframes/nope",
		"/admin/tenant/system/nope", "/admin/tenant/outbox/nope", "/admin/tenant/outbox/12345"} {
		code, body := b.get(path)
		assert.Equal(t, http.StatusNotFound, code, path)
		assert.Contains(t, body, "There is no such item in this tenant", path)
	}

	// German, from the browser's language.
	for _, path := range []string{"/admin/tenant", "/admin/tenant/import", "/admin/tenant/timeframes", "/admin/tenant/ldap/corp"} {
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
		req.Header.Set("Accept-Language", "de-DE")
		resp, err := b.c.Do(req)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Contains(t, string(body), `<html lang="de">`, path)
		assert.Contains(t, string(body), `<a href="/admin/tenant">Mandant</a>`, path)
	}

	code, _, _ = e.browser(t).post("/admin/tenant/tokens", url.Values{"name": {"x"}})
	assert.Equal(t, http.StatusUnauthorized, code, "a write needs a session")
}

// TestImportDryRunThenApply: a dry run of a file with one bad row shows
// that row's problem, naming its column, and every other row; nothing is
// written. A good file's dry run says what each row would do and writes
// nothing; apply then creates the users, with the console user as actor.
func TestImportDryRunThenApply(t *testing.T) {
	e := startTenant(t)
	b, token := signedIn(t, e)
	before := userCount(t, e)

	bad := "userName,email,extension\ngrace,grace@acme.example,301\nlinus,not-an-address,302\nken,ken@acme.example,303\n"
	code, body := b.postMultipart("/admin/tenant/import", map[string]string{"csrf": token, "action": "dryrun"}, bad)
	require.Equal(t, http.StatusUnprocessableEntity, code, body)
	page := text(body)
	assert.Contains(t, page, "1 problem(s): nothing was imported")
	assert.Regexp(t, `3 linus problem: email: `, page, "the bad row's line, column and reason")
	assert.Contains(t, page, "2 grace no problem")
	assert.Contains(t, page, "4 ken no problem")
	assert.NotContains(t, body, `id="apply"`, "a file with problems cannot be applied")
	assert.Equal(t, before, userCount(t, e), "a dry run writes nothing")

	// Even "apply" of the bad file writes nothing: all rows or none.
	code, _, _ = b.post("/admin/tenant/import", url.Values{"csrf": {token}, "action": {"apply"}, "csv": {bad}})
	assert.Equal(t, http.StatusUnprocessableEntity, code)
	assert.Equal(t, before, userCount(t, e))

	good := "userName,email,extension\ngrace,grace@acme.example,301\nken,ken@acme.example,303\n"
	code, _, _ = b.post("/admin/tenant/import", url.Values{"csrf": {token}, "action": {"dryrun"}, "csv": {good}})
	require.Equal(t, http.StatusOK, code)
	code, body, _ = b.post("/admin/tenant/import", url.Values{"csrf": {token}, "action": {"dryrun"}, "csv": {good}, "noWelcomeMail": {"1"}})
	require.Equal(t, http.StatusOK, code, body)
	page = text(body)
	assert.Contains(t, page, "Applying would create 2, update 0 and leave 0 unchanged users, and queue 0 welcome mails")
	assert.Contains(t, page, "2 grace would be created")
	assert.Contains(t, body, `id="apply"`)
	assert.Equal(t, before, userCount(t, e), "a dry run writes nothing")

	// Apply posts what the preview carried.
	m := regexp.MustCompile(`name="csv" value="([^"]*)"`).FindStringSubmatch(body)
	require.NotNil(t, m)
	code, body, _ = b.post("/admin/tenant/import", url.Values{"csrf": {token}, "action": {"apply"}, "csv": {html.UnescapeString(m[1])},
		"noWelcomeMail": {"1"}})
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, text(body), "Imported: 2 created")
	assert.Equal(t, before+2, userCount(t, e))
	ken := mustUser(t, e, "ken")
	assert.Equal(t, "303", ken.Extension)
	changes, err := e.dir.Changes(context.Background(), "acme", pbxusers.ChangeQuery{EntityID: ken.ID})
	require.NoError(t, err)
	require.NotEmpty(t, changes)
	assert.Equal(t, "console ada", changes[0].Actor.Name)

	// The export is what the import reads back.
	resp, err := b.c.Get(e.srv.URL + "/admin/tenant/export.csv")
	require.NoError(t, err)
	export, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "text/csv; charset=utf-8", resp.Header.Get("Content-Type"))
	assert.Contains(t, resp.Header.Get("Content-Disposition"), "acme-users.csv")
	assert.Contains(t, string(export), "ken,")
	code, body, _ = b.post("/admin/tenant/import", url.Values{"csrf": {token}, "action": {"dryrun"}, "csv": {string(export)}, "update": {"1"}})
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, text(body), "update 0 and leave 3 unchanged users", "an unchanged export changes nothing")

	big := "userName\n" + strings.Repeat("someone-with-a-long-name\n", 50_000)
	code, body = b.postMultipart("/admin/tenant/import", map[string]string{"csrf": token, "action": "dryrun"}, big)
	assert.Equal(t, http.StatusRequestEntityTooLarge, code)
	assert.Contains(t, text(body), "larger than 1 MiB")

	code, body, _ = b.post("/admin/tenant/import", url.Values{"csrf": {token}, "action": {"dryrun"}})
	assert.Equal(t, http.StatusUnprocessableEntity, code)
	assert.Contains(t, body, `aria-invalid="true" aria-describedby="csv-error"`)
	assert.Contains(t, text(body), "Or paste the CSV: choose a file or paste CSV", "the error names the field")
}

// TestProfileGrants: a profile is created, then its grants are edited on
// the permission catalogue; a bad value is shown at its field.
func TestProfileGrants(t *testing.T) {
	e := startTenant(t)
	b, token := signedIn(t, e)
	code, body, _ := b.post("/admin/tenant/profiles", url.Values{"csrf": {token}, "name": {""}})
	assert.Equal(t, http.StatusUnprocessableEntity, code)
	assert.Contains(t, body, `id="name-error"`)

	code, body, _ = b.post("/admin/tenant/profiles", url.Values{"csrf": {token}, "name": {"Supervisors"}})
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, `id="catalogue"`)
	ps, err := e.dir.ListProfiles(context.Background(), "acme")
	require.NoError(t, err)
	require.Len(t, ps, 1)
	prof := ps[0]

	code, body, _ = b.post("/admin/tenant/profiles/"+prof.ID, url.Values{"csrf": {token}, "name": {"Supervisors"},
		"g-chat-limit": {"many"}, "g-recordings-access": {"true"}})
	assert.Equal(t, http.StatusUnprocessableEntity, code)
	assert.Contains(t, body, `id="g-chat-limit-error"`)
	assert.Contains(t, body, "chat.limit: ")

	code, body, _ = b.post("/admin/tenant/profiles/"+prof.ID, url.Values{"csrf": {token}, "name": {"Supervisors"},
		"g-chat-limit": {"5"}, "g-recordings-access": {"true"}})
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, "Saved.")
	prof, err = e.dir.GetProfile(context.Background(), "acme", prof.ID)
	require.NoError(t, err)
	assert.Equal(t, int64(5), prof.Grants[pbxusers.PermChatLimit].Limit())
	assert.True(t, prof.Grants[pbxusers.PermAccessRecordings].Bool())

	// An empty field removes the grant.
	code, _, _ = b.post("/admin/tenant/profiles/"+prof.ID, url.Values{"csrf": {token}, "name": {"Supervisors"}, "g-chat-limit": {"5"}})
	require.Equal(t, http.StatusOK, code)
	prof, err = e.dir.GetProfile(context.Background(), "acme", prof.ID)
	require.NoError(t, err)
	_, has := prof.Grants[pbxusers.PermAccessRecordings]
	assert.False(t, has)

	// Delete: refused while a user has the profile, then done.
	kim, err := e.dir.CreateUser(context.Background(), "acme", pbxusers.User{UserName: "kim", Profiles: []string{prof.ID}})
	require.NoError(t, err)
	code, body, _ = b.post("/admin/tenant/profiles/"+prof.ID+"/delete", url.Values{"csrf": {token}})
	assert.Equal(t, http.StatusConflict, code)
	assert.Contains(t, body, `role="alert"`)
	_, err = e.dir.ModifyUser(context.Background(), "acme", kim.ID, func(u *pbxusers.User) error { u.Profiles = nil; return nil })
	require.NoError(t, err)
	code, body, _ = b.post("/admin/tenant/profiles/"+prof.ID+"/delete", url.Values{"csrf": {token}})
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, "Supervisors was deleted.")
	_, err = e.dir.GetProfile(context.Background(), "acme", prof.ID)
	require.ErrorIs(t, err, pbxusers.ErrNotFound)
}

func TestTeamMembers(t *testing.T) {
	e := startTenant(t)
	b, token := signedIn(t, e)
	e.user(t, "bob", pbxusers.RoleAgent, goodPassword)
	code, body, _ := b.post("/admin/tenant/teams", url.Values{"csrf": {token}, "name": {"Support"}})
	require.Equal(t, http.StatusOK, code, body)
	page, err := e.dir.ListTeams(context.Background(), "acme", pbxusers.TeamQuery{})
	require.NoError(t, err)
	require.Len(t, page.Teams, 1)
	team := page.Teams[0]

	code, body, _ = b.post("/admin/tenant/teams/"+team.ID+"/members", url.Values{"csrf": {token}, "members": {"bob\nnobody"}})
	assert.Equal(t, http.StatusUnprocessableEntity, code)
	assert.Contains(t, text(body), "Members: these are not users of this tenant: nobody")
	code, body, _ = b.post("/admin/tenant/teams/"+team.ID+"/members", url.Values{"csrf": {token}, "members": {"bob\nada@acme.example\n"}})
	require.Equal(t, http.StatusOK, code, body)
	ids, total, err := e.dir.ListTeamMembers(context.Background(), "acme", team.ID, 0, 10)
	require.NoError(t, err)
	assert.Equal(t, 2, total)
	assert.Len(t, ids, 2)
	assert.Contains(t, body, `<ul id="members">`)

	// Profiles bound to the team reach every member.
	prof, err := e.dir.CreateProfile(context.Background(), "acme", pbxusers.Profile{Name: "Agents",
		Grants: pbxusers.PermissionSet{pbxusers.PermChatLimit: pbxusers.Limit(7)}})
	require.NoError(t, err)
	code, body, _ = b.post("/admin/tenant/teams/"+team.ID+"/profiles", url.Values{"csrf": {token}, "profile": {prof.ID}})
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, `value="`+prof.ID+`" checked`)
	eff, err := e.dir.Effective(context.Background(), "acme", mustUser(t, e, "bob").ID)
	require.NoError(t, err)
	for _, p := range eff {
		if p.Permission == pbxusers.PermChatLimit {
			assert.Equal(t, int64(7), p.Value.Limit())
		}
	}
	code, _, _ = b.post("/admin/tenant/teams/"+team.ID+"/profiles", url.Values{"csrf": {token}})
	require.Equal(t, http.StatusOK, code)
	team, err = e.dir.GetTeam(context.Background(), "acme", team.ID)
	require.NoError(t, err)
	assert.Empty(t, team.Profiles, "unchecking unbinds")

	code, body, _ = b.post("/admin/tenant/teams/"+team.ID+"/delete", url.Values{"csrf": {token}})
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, "Support was deleted.")
	mustUser(t, e, "bob")
}

func TestTimeFramesPage(t *testing.T) {
	e := startTenant(t)
	b, token := signedIn(t, e)
	code, body, _ := b.post("/admin/tenant/timeframes", url.Values{"csrf": {token}, "id": {"hours"}, "from": {"9am"}, "to": {"17:00"},
		"holidays": {"Christmas"}})
	assert.Equal(t, http.StatusUnprocessableEntity, code)
	assert.Contains(t, body, `id="from-error"`)
	assert.Contains(t, body, `id="holidays-error"`)
	assert.Contains(t, body, `id="days-error"`)

	code, body, _ = b.post("/admin/tenant/timeframes", url.Values{"csrf": {token}, "id": {"hours"}, "name": {"Business hours"},
		"timeZone": {"Europe/Berlin"}, "day": {"1", "2", "3", "4", "5"}, "from": {"09:00"}, "to": {"17:00"},
		"holidays": {"12-25 Christmas Day\n2027-03-26 Good Friday"}})
	require.Equal(t, http.StatusOK, code, body)
	tf, err := e.dir.GetTimeFrame(context.Background(), "acme", "hours")
	require.NoError(t, err)
	berlin, _ := time.LoadLocation("Europe/Berlin")
	assert.True(t, tf.Contains(time.Date(2027, 3, 24, 10, 0, 0, 0, berlin), berlin), "a Wednesday at 10")
	assert.False(t, tf.Contains(time.Date(2027, 12, 24, 18, 0, 0, 0, berlin), berlin), "after hours")
	assert.False(t, tf.Contains(time.Date(2027, 3, 26, 10, 0, 0, 0, berlin), berlin), "a holiday")
	assert.Contains(t, text(body), "Mon,Tue,Wed,Thu,Fri 09:00–17:00")

	// Edit: the form shows the frame; saving replaces it.
	code, body = b.get("/admin/tenant/timeframes/hours")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, `id="from" name="from" type="time" value="09:00"`)
	assert.Contains(t, body, "12-25 Christmas Day\n2027-03-26 Good Friday</textarea>")
	assert.Contains(t, body, `action="/admin/tenant/timeframes/hours"`)
	code, body, _ = b.post("/admin/tenant/timeframes/hours", url.Values{"csrf": {token}, "name": {"Business hours"},
		"timeZone": {"Europe/Berlin"}, "day": {"1", "2", "3", "4", "5"}, "from": {"09:00"}, "to": {"18:00"}, "holidays": {"12-25 Christmas Day"}})
	require.Equal(t, http.StatusOK, code, body)
	tf, err = e.dir.GetTimeFrame(context.Background(), "acme", "hours")
	require.NoError(t, err)
	assert.True(t, tf.Contains(time.Date(2027, 3, 24, 17, 30, 0, 0, berlin), berlin), "open until 18:00 now")
	assert.True(t, tf.Contains(time.Date(2027, 3, 26, 10, 0, 0, 0, berlin), berlin), "the one-off holiday is gone")

	// Dates and date ranges, with or without weekdays: whole days, the
	// last one included, or a span of time.
	code, body, _ = b.post("/admin/tenant/timeframes", url.Values{"csrf": {token}, "id": {"fair"}, "timeZone": {"Europe/Berlin"},
		"dates": {"2027-05-01\n2027-05-10 2027-05-12\n2027-06-01T08:30 2027-06-01T12:00\n2027-07-01 2027-06-30\nsoon"}})
	assert.Equal(t, http.StatusUnprocessableEntity, code)
	assert.Contains(t, text(body), `line 4 ("2027-07-01 2027-06-30") must be a date, two dates`)
	assert.Contains(t, text(body), `line 5 ("soon")`)
	assert.NotContains(t, body, `id="days-error"`, "dates stand in for weekdays")
	code, body, _ = b.post("/admin/tenant/timeframes", url.Values{"csrf": {token}, "id": {"fair"}, "timeZone": {"Europe/Berlin"},
		"dates": {"2027-05-01\n2027-05-10 – 2027-05-12\n2027-06-01T08:30 2027-06-01T12:00"}})
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, text(body), "2027-05-10 – 2027-05-12")
	fair, err := e.dir.GetTimeFrame(context.Background(), "acme", "fair")
	require.NoError(t, err)
	for _, c := range []struct {
		at   time.Time
		want bool
	}{
		{time.Date(2027, 5, 1, 23, 59, 0, 0, berlin), true},
		{time.Date(2027, 5, 2, 0, 0, 0, 0, berlin), false},
		{time.Date(2027, 5, 12, 18, 0, 0, 0, berlin), true},
		{time.Date(2027, 5, 13, 0, 0, 0, 0, berlin), false},
		{time.Date(2027, 6, 1, 8, 29, 0, 0, berlin), false},
		{time.Date(2027, 6, 1, 11, 59, 0, 0, berlin), true},
		{time.Date(2027, 6, 1, 12, 0, 0, 0, berlin), false},
	} {
		assert.Equal(t, c.want, fair.Contains(c.at, berlin), "%s", c.at)
	}
	code, body = b.get("/admin/tenant/timeframes/fair")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "2027-05-01\n2027-05-10 2027-05-12\n2027-06-01T08:30 2027-06-01T12:00</textarea>", "the form reads back what it wrote")
	code, body, _ = b.post("/admin/tenant/timeframes/fair", url.Values{"csrf": {token}, "timeZone": {"Europe/Berlin"},
		"day": {"6"}, "from": {"10:00"}, "to": {"14:00"}, "dates": {"2027-05-01"}})
	require.Equal(t, http.StatusOK, code, body)
	fair, err = e.dir.GetTimeFrame(context.Background(), "acme", "fair")
	require.NoError(t, err)
	assert.True(t, fair.Contains(time.Date(2027, 5, 8, 11, 0, 0, 0, berlin), berlin), "a Saturday at 11")
	assert.True(t, fair.Contains(time.Date(2027, 5, 1, 20, 0, 0, 0, berlin), berlin), "the date, all day")
	assert.False(t, fair.Contains(time.Date(2027, 5, 11, 11, 0, 0, 0, berlin), berlin), "the range is gone")

	// A frame the form cannot show whole is not edited here.
	_, err = e.dir.CreateTimeFrame(context.Background(), "acme", pbxusers.TimeFrame{ID: "always", Entries: []pbxusers.TimeFrameEntry{
		{Always: true}}, Except: []pbxusers.TimeFrameEntry{{DateRange: &pbxusers.DateRange{From: "2027-05-01", To: "2027-05-04"}}}})
	require.NoError(t, err)
	code, body = b.get("/admin/tenant/timeframes/always")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, text(body), "Time frame always has entries this form cannot show")
	assert.NotContains(t, body, `action="/admin/tenant/timeframes/always"`)
	code, _, _ = b.post("/admin/tenant/timeframes/always", url.Values{"csrf": {token}, "day": {"1"}, "from": {"09:00"}, "to": {"17:00"}})
	assert.Equal(t, http.StatusConflict, code)

	code, _, _ = b.post("/admin/tenant/timeframes/hours/delete", url.Values{"csrf": {token}})
	require.Equal(t, http.StatusOK, code)
	_, err = e.dir.GetTimeFrame(context.Background(), "acme", "hours")
	require.ErrorIs(t, err, pbxusers.ErrNotFound)
}

func TestNumbersPage(t *testing.T) {
	e := startTenant(t)
	b, token := signedIn(t, e)
	bob := e.user(t, "bob", pbxusers.RoleAgent, goodPassword)
	code, body, _ := b.post("/admin/tenant/numbers", url.Values{"csrf": {token}, "number": {"+4930123456"}, "user": {"nobody"}})
	assert.Equal(t, http.StatusUnprocessableEntity, code)
	assert.Contains(t, body, `id="user-error"`)
	code, body, _ = b.post("/admin/tenant/numbers", url.Values{"csrf": {token}, "number": {"not-a-number"}})
	assert.Equal(t, http.StatusUnprocessableEntity, code)
	assert.Contains(t, body, `id="number-error"`)

	code, body, _ = b.post("/admin/tenant/numbers", url.Values{"csrf": {token}, "number": {"+4930123456"}, "label": {"Sales"}, "user": {"bob"}})
	require.Equal(t, http.StatusOK, code, body)
	ns, err := e.dir.ListNumbers(context.Background(), "acme", bob.ID)
	require.NoError(t, err)
	require.Len(t, ns, 1)

	code, _, _ = b.post("/admin/tenant/numbers/+4930123456/assign", url.Values{"csrf": {token}, "field": {"n0"}, "label": {"Sales"},
		"user": {"bob"}, "release": {"1"}})
	require.Equal(t, http.StatusOK, code)
	ns, err = e.dir.ListNumbers(context.Background(), "acme", "")
	require.NoError(t, err)
	require.Len(t, ns, 1)
	assert.Empty(t, ns[0].UserID, "released, still in the inventory")
	assert.Equal(t, "Sales", ns[0].Label)

	code, _, _ = b.post("/admin/tenant/numbers/+4930123456/remove", url.Values{"csrf": {token}})
	require.Equal(t, http.StatusOK, code)
	ns, err = e.dir.ListNumbers(context.Background(), "acme", "")
	require.NoError(t, err)
	assert.Empty(t, ns)
}

func TestSystemUsersPage(t *testing.T) {
	e := startTenant(t)
	b, token := signedIn(t, e)
	bob := e.user(t, "bob", pbxusers.RoleAgent, goodPassword)
	code, body, _ := b.post("/admin/tenant/system", url.Values{"csrf": {token}, "kind": {"call_queue"}, "userName": {"support"},
		"extension": {"800"}, "dispatch": {"round_robin"}, "maxWait": {"soon"}})
	assert.Equal(t, http.StatusUnprocessableEntity, code)
	assert.Contains(t, body, `id="maxWait-error"`)

	code, body, _ = b.post("/admin/tenant/system", url.Values{"csrf": {token}, "kind": {"call_queue"}, "userName": {"support"},
		"displayName": {"Support"}, "extension": {"800"}, "dispatch": {"round_robin"}, "maxWait": {"120"}})
	require.Equal(t, http.StatusOK, code, body)
	q := mustUser(t, e, "support")
	assert.Equal(t, pbxusers.KindCallQueue, q.Kind)
	assert.Equal(t, 120, q.Queue.MaxWaitSeconds)

	code, body, _ = b.post("/admin/tenant/system/"+q.ID+"/members", url.Values{"csrf": {token}, "user": {"bob"}, "priority": {"2"}})
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, `<table id="members">`)
	bob = mustUser(t, e, "bob")
	require.Len(t, bob.Queues, 1)
	assert.Equal(t, 2, bob.Queues[0].Priority)
	code, _, _ = b.post("/admin/tenant/system/"+q.ID+"/members/"+bob.ID+"/remove", url.Values{"csrf": {token}})
	require.Equal(t, http.StatusOK, code)
	assert.Empty(t, mustUser(t, e, "bob").Queues)

	// Settings: a bad wait is shown at its field; a good one is saved.
	code, body, _ = b.post("/admin/tenant/system/"+q.ID, url.Values{"csrf": {token}, "displayName": {"Support line"},
		"extension": {"800"}, "dispatch": {"linear_hunt"}, "maxWait": {"-1"}})
	assert.Equal(t, http.StatusUnprocessableEntity, code)
	assert.Contains(t, body, `id="maxWait-error"`)
	assert.Contains(t, body, `value="Support line"`, "what was sent is kept")
	code, body, _ = b.post("/admin/tenant/system/"+q.ID, url.Values{"csrf": {token}, "displayName": {"Support line"},
		"extension": {"810"}, "dispatch": {"linear_hunt"}, "maxWait": {"60"}})
	require.Equal(t, http.StatusOK, code, body)
	q = mustUser(t, e, "support")
	assert.Equal(t, "810", q.Extension)
	assert.Equal(t, "linear_hunt", q.Queue.Dispatch)
	assert.Equal(t, 60, q.Queue.MaxWaitSeconds)

	code, body, _ = b.post("/admin/tenant/system", url.Values{"csrf": {token}, "kind": {"conference_bridge"}, "userName": {"bridge"},
		"extension": {"810"}})
	assert.Equal(t, http.StatusConflict, code)
	assert.Contains(t, body, `id="extension-error"`, "the clashing extension is shown at its field")
	code, _, _ = b.post("/admin/tenant/system", url.Values{"csrf": {token}, "kind": {"auto_attendant"}, "userName": {"menu"}, "extension": {"801"}})
	require.Equal(t, http.StatusOK, code)
	code, body = b.get("/admin/tenant/system")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, text(body), "Auto attendant 801")
	code, _ = b.get("/admin/tenant/system/" + bob.ID)
	assert.Equal(t, http.StatusNotFound, code, "a person is not a system user")
	code, _, _ = b.post("/admin/tenant/system/"+bob.ID+"/delete", url.Values{"csrf": {token}})
	assert.Equal(t, http.StatusNotFound, code, "nor deleted here")

	// Delete: agents leave the queue, its numbers are freed.
	code, _, _ = b.post("/admin/tenant/system/"+q.ID+"/members", url.Values{"csrf": {token}, "user": {"bob"}})
	require.Equal(t, http.StatusOK, code)
	_, err := e.dir.AssignNumber(context.Background(), "acme", "+4930999999", q.ID, "Support line")
	require.NoError(t, err)
	code, body, _ = b.post("/admin/tenant/system/"+q.ID+"/delete", url.Values{"csrf": {token}})
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, "support was deleted.")
	_, err = e.dir.GetUser(context.Background(), "acme", q.ID)
	require.ErrorIs(t, err, pbxusers.ErrNotFound)
	assert.Empty(t, mustUser(t, e, "bob").Queues)
	ns, err := e.dir.ListNumbers(context.Background(), "acme", "")
	require.NoError(t, err)
	require.Len(t, ns, 1)
	assert.Empty(t, ns[0].UserID)
}

func TestTokensPage(t *testing.T) {
	e := startTenant(t)
	b, token := signedIn(t, e)
	code, body, _ := b.post("/admin/tenant/tokens", url.Values{"csrf": {token}, "name": {"okta"}, "scope": {"scim"}})
	require.Equal(t, http.StatusOK, code, body)
	m := regexp.MustCompile(`<div class="notice" role="status" id="secret">\s*<p>[^<]*</p>\s*<p><code>([^<]+)</code>`).FindStringSubmatch(body)
	require.NotNil(t, m, "the secret is shown once")
	tok, err := e.dir.Authenticate(context.Background(), m[1])
	require.NoError(t, err)
	assert.Equal(t, "okta", tok.Name)
	code, body = b.get("/admin/tenant/tokens")
	require.Equal(t, http.StatusOK, code)
	assert.NotContains(t, body, m[1], "and never again")

	code, _, _ = b.post("/admin/tenant/tokens", url.Values{"csrf": {token}, "name": {"root"}, "scope": {"operator"}})
	assert.Equal(t, http.StatusForbidden, code, "a tenant admin may not mint operator tokens")

	code, body, _ = b.post("/admin/tenant/tokens/"+tok.ID+"/revoke", url.Values{"csrf": {token}})
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, "was revoked")
	_, err = e.dir.Authenticate(context.Background(), m[1])
	assert.Error(t, err)
}

func TestLDAPOutboxChanges(t *testing.T) {
	e := startTenant(t)
	b, token := signedIn(t, e)
	code, body, _ := b.post("/admin/tenant/ldap/corp/runs", url.Values{"csrf": {token}, "dryRun": {"1"}})
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, text(body), "The dry run ended (nothing was changed): succeeded")
	code, body, _ = b.post("/admin/tenant/ldap/corp/runs", url.Values{"csrf": {token}})
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, text(body), "3 read, 0 created")
	runs, err := e.dir.SyncRuns(context.Background(), "acme", "corp", 10)
	require.NoError(t, err)
	require.Len(t, runs, 2)
	assert.False(t, runs[0].DryRun)
	code, body = b.get("/admin/tenant/ldap")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, `<a href="/admin/tenant/ldap/corp">corp</a>`)

	// A user with Auto-Generate queues a welcome mail; retry sends it again.
	code, _, _ = b.post("/admin/users", url.Values{"csrf": {token}, "email": {"grace@acme.example"}, "given": {"Grace"}, "role": {"agent"}})
	require.Equal(t, http.StatusOK, code)
	mail, err := e.dir.ListMail(context.Background(), "acme", pbxusers.MailQuery{})
	require.NoError(t, err)
	require.Len(t, mail, 1)
	code, body = b.get("/admin/tenant/outbox?status=pending")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "grace@acme.example")
	code, body, _ = b.post("/admin/tenant/outbox/"+strconv.FormatInt(mail[0].ID, 10)+"/retry", url.Values{"csrf": {token}})
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, "is queued again")
	code, body = b.get("/admin/tenant/outbox/" + strconv.FormatInt(mail[0].ID, 10))
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, text(body), "Mail (welcome) to grace@acme.example")
	code, _ = b.get("/admin/tenant/outbox/999999")
	assert.Equal(t, http.StatusNotFound, code)

	code, body = b.get("/admin/tenant/changes?entity=user")
	require.Equal(t, http.StatusOK, code)
	page := text(body)
	assert.Contains(t, page, "console ada manual create user grace@acme.example", "who, from which source, what")

	// A long log pages back with "Older".
	for i := 0; i < 120; i++ {
		_, err := e.dir.ModifyUser(context.Background(), "acme", mustUser(t, e, "grace@acme.example").ID, func(u *pbxusers.User) error {
			u.Title = "T" + strconv.Itoa(i)
			return nil
		})
		require.NoError(t, err)
	}
	code, body = b.get("/admin/tenant/changes")
	require.Equal(t, http.StatusOK, code)
	page = text(body)
	require.Contains(t, page, "title: T118 → T119")
	assert.Less(t, strings.Index(page, "T118 → T119"), strings.Index(page, "T117 → T118"), "newest first")
	older := regexp.MustCompile(`<a href="(/admin/tenant/changes\?before=\d+)">Older</a>`).FindStringSubmatch(body)
	require.NotNil(t, older)
	code, body = b.get(html.UnescapeString(older[1]))
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, text(body), "title: T18 → T19")
	assert.NotContains(t, text(body), "T119")
	assert.Contains(t, body, `>Newest</a>`)
}

// TestTeamTooManyMembersToEdit: a team larger than the page lists is not
// edited there, since saving the list shown would drop the others.
func TestTeamTooManyMembersToEdit(t *testing.T) {
	e := startTenant(t)
	b, token := signedIn(t, e)
	ctx := context.Background()
	var csv strings.Builder
	csv.WriteString("userName\n")
	for i := 0; i < 1001; i++ {
		fmt.Fprintf(&csv, "agent%04d\n", i)
	}
	_, err := e.dir.ImportCSV(ctx, "acme", strings.NewReader(csv.String()), pbxusers.ImportOptions{NoWelcomeMail: true})
	require.NoError(t, err)
	var ids []string
	for offset := 0; offset < 1001; offset += pbxusers.MaxPageSize {
		res, err := e.dir.ListUsers(ctx, "acme", pbxusers.UserQuery{Search: "agent", SortBy: pbxusers.AttrUserName,
			Offset: offset, Limit: pbxusers.MaxPageSize})
		require.NoError(t, err)
		for _, u := range res.Users {
			ids = append(ids, u.ID)
		}
	}
	require.Equal(t, 1001, len(ids))
	team, err := e.dir.CreateTeam(ctx, "acme", pbxusers.Team{Name: "Everyone"}, ids)
	require.NoError(t, err)

	code, body := b.get("/admin/tenant/teams/" + team.ID)
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "The team has 1001 members")
	assert.NotContains(t, body, `id="members-input"`)
	code, _, _ = b.post("/admin/tenant/teams/"+team.ID+"/members", url.Values{"csrf": {token}, "members": {"agent0001"}})
	assert.Equal(t, http.StatusConflict, code)
	_, total, err := e.dir.ListTeamMembers(ctx, "acme", team.ID, 0, 1)
	require.NoError(t, err)
	assert.Equal(t, 1001, total, "nobody was dropped")
}
