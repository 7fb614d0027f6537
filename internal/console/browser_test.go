package console_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/internal/console"
	"github.com/pbxgate/pbxgate/internal/webdriver"
	"github.com/pbxgate/pbxgate/pbxusers"
)

// axeScript returns axe-core's source, installed by .ci/run with npm
// (pinned); PBXGATE_AXE names another copy.
func axeScript(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	path := os.Getenv("PBXGATE_AXE")
	if path == "" {
		path = filepath.Join(root, ".ci", "node_modules", "axe-core", "axe.min.js")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("axe-core is needed for the accessibility check; install it with: npm install --prefix .ci axe-core@4.10.3 (%v)", err)
	}
	return string(b)
}

// checkAxe runs axe-core in the current page and fails on any serious or
// critical violation.
func checkAxe(t *testing.T, wd *webdriver.Session, axe, page string) {
	t.Helper()
	wd.Script(t, axe+"\n;return true")
	res := wd.Script(t, `return axe.run(document, {resultTypes: ["violations"]}).then(function (r) {
		return JSON.stringify(r.violations.filter(function (v) { return v.impact === "serious" || v.impact === "critical"; })
			.map(function (v) { return {id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(function (n) { return n.html; })}; }));
	})`)
	var violations []map[string]any
	require.NoError(t, json.Unmarshal([]byte(res.(string)), &violations))
	assert.Empty(t, violations, "axe on the %s page", page)
}

// waitFor polls a script until it returns true, up to 5s.
func waitFor(t *testing.T, wd *webdriver.Session, script, what string) {
	t.Helper()
	for i := 0; i < 100; i++ {
		if wd.Script(t, script) == true {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("waited 5s for %s", what)
}

// TestBrowserAlowareAdmin walks the console as an Aloware admin would, in
// a real headless Chromium: a one-time link signs the operator in as the
// admin; the Users page searches as you type; "+ Add User" with answer by
// phone number and a backup number; the user's answering-rules tab says
// where a call rings; delete asks, names what refers to the user and
// removes them. axe-core checks every page. PBXGATE_SCREENSHOTS=DIR saves
// the Users page there (docs/ has the README's; the NetSapiens walk saves
// the routing tab).
func TestBrowserAlowareAdmin(t *testing.T) {
	axe := axeScript(t)
	wd := webdriver.Start(t)
	wd.SetWindowSize(t, 1100, 760)
	e := start(t, console.Options{})
	ctx := context.Background()
	admin := e.user(t, "ada", pbxusers.RoleAdmin, goodPassword)
	for _, n := range []string{"alan", "barbara", "edsger", "margaret"} {
		_, err := e.dir.CreateUser(ctx, "acme", pbxusers.User{UserName: n + "@acme.example", Name: pbxusers.Name{Given: strings.ToUpper(n[:1]) + n[1:], Family: "Example"},
			Emails: []pbxusers.Email{{Value: n + "@acme.example", Primary: true}}, Role: pbxusers.RoleAgent})
		require.NoError(t, err)
	}
	token, _, err := e.dir.IssueSignInLink(ctx, "acme", admin.ID, 0)
	require.NoError(t, err)

	wd.Navigate(t, e.srv.URL+console.Prefix+"/link/"+token)
	checkAxe(t, wd, axe, "one-time link")
	wd.Find(t, "button[type=submit]").ClickAndWait(t)
	require.Contains(t, wd.Source(t), "Signed in as ada")
	checkAxe(t, wd, axe, "Users")

	// Search as you type: no submit, the results follow the typing.
	wd.Find(t, "#q").SendKeys(t, "barb")
	waitFor(t, wd, `return document.querySelectorAll("#results tbody tr").length === 1`, "one result for 'barb'")
	assert.Contains(t, wd.Find(t, "#results").Text(t), "barbara@acme.example")

	// + Add User.
	wd.Navigate(t, e.srv.URL+console.Prefix+"/users/new")
	checkAxe(t, wd, axe, "Add User")
	for id, v := range map[string]string{"given": "Grace", "family": "Hopper", "email": "grace@acme.example",
		"extension": "202", "forward": "+4915112345678", "backup": "+4930123456"} {
		wd.Find(t, "#"+id).SendKeys(t, v)
	}
	wd.Script(t, `document.getElementById("answer").value = "phone_number"; return true`)
	wd.Find(t, "button.primary").ClickAndWait(t)
	require.Contains(t, wd.Source(t), "grace@acme.example was created")
	shot(t, wd, "console-user-profile.png")

	wd.Find(t, `a[href$="tab=routing"]`).ClickAndWait(t)
	assert.Contains(t, wd.Find(t, "#plan").Text(t), "external +4915112345678")
	checkAxe(t, wd, axe, "answering rules")

	// Phones: "add phone extension" shows the SIP password once.
	wd.Find(t, `a[href$="tab=phones"]`).ClickAndWait(t)
	wd.Find(t, "#label").SendKeys(t, "Desk")
	wd.Find(t, `form[action$="/devices"] button.primary`).ClickAndWait(t)
	assert.NotEmpty(t, wd.Find(t, "#secret code").Text(t))
	checkAxe(t, wd, axe, "phones")
	wd.Find(t, `a[href$="tab=permissions"]`).ClickAndWait(t)
	assert.Contains(t, wd.Find(t, "#permissions").Text(t), "texts.answer")
	checkAxe(t, wd, axe, "permissions")

	wd.Navigate(t, e.srv.URL+console.Prefix+"/users")
	shot(t, wd, "console-users.png")

	// Delete asks first.
	grace := mustUser(t, e, "grace@acme.example")
	wd.Navigate(t, e.srv.URL+console.Prefix+"/users/"+grace.ID+"?tab=advanced")
	wd.Find(t, "a.button.danger").ClickAndWait(t)
	assert.Contains(t, wd.Source(t), "Delete Grace Hopper?")
	checkAxe(t, wd, axe, "delete confirmation")
	wd.Find(t, "button.danger").ClickAndWait(t)
	assert.Contains(t, wd.Source(t), "grace@acme.example was deleted")
	_, err = e.dir.GetUser(ctx, "acme", grace.ID)
	require.ErrorIs(t, err, pbxusers.ErrNotFound)

	// At 390 px wide (a phone) the Users page needs no sideways scrolling.
	wd.SetWindowSize(t, 390, 800)
	wd.Navigate(t, e.srv.URL+console.Prefix+"/users")
	width := wd.Script(t, `return document.documentElement.scrollWidth`).(float64)
	viewport := wd.Script(t, `return document.documentElement.clientWidth`).(float64)
	assert.LessOrEqual(t, width, viewport, "Users page at 390 px")
	checkAxe(t, wd, axe, "Users at 390 px")
}

// shot saves a screenshot under PBXGATE_SCREENSHOTS, when set.
func shot(t *testing.T, wd *webdriver.Session, name string) {
	dir := os.Getenv("PBXGATE_SCREENSHOTS")
	if dir == "" {
		return
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), wd.Screenshot(t), 0o644))
}
