package console_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/internal/console"
	"github.com/pbxgate/pbxgate/internal/webdriver"
	"github.com/pbxgate/pbxgate/pbxusers"
)

// WebDriver key codes (W3C WebDriver §17.4.2).
const (
	keyTab   = "\uE004"
	keyEnter = "\uE007"
)

// TestBrowserTenantPages walks the tenant pages in a real headless
// Chromium with axe-core on each, then the CSV import as an admin would:
// a dry run of a file with one bad row, driven from the keyboard, shows
// that row's problem and creates nobody; a good file's dry run says what
// each row would do, and "Apply" creates the users.
// PBXGATE_SCREENSHOTS=DIR saves the dry run with its bad row there (docs/ has the
// README's).
func TestBrowserTenantPages(t *testing.T) {
	axe := axeScript(t)
	wd := webdriver.Start(t)
	wd.SetWindowSize(t, 1100, 760)
	e := startTenant(t)
	ctx := context.Background()
	admin := e.user(t, "ada", pbxusers.RoleAdmin, goodPassword)
	bob := e.user(t, "bob", pbxusers.RoleAgent, goodPassword)
	prof, err := e.dir.CreateProfile(ctx, "acme", pbxusers.Profile{Name: "Agents"})
	require.NoError(t, err)
	team, err := e.dir.CreateTeam(ctx, "acme", pbxusers.Team{Name: "Support"}, []string{bob.ID})
	require.NoError(t, err)
	queue, err := e.dir.CreateUser(ctx, "acme", pbxusers.User{UserName: "support", Kind: pbxusers.KindCallQueue, Extension: "800"})
	require.NoError(t, err)
	_, err = e.dir.AssignNumber(ctx, "acme", "+4930123456", bob.ID, "Sales")
	require.NoError(t, err)
	_, err = e.dir.CreateTimeFrame(ctx, "acme", pbxusers.TimeFrame{ID: "hours", Name: "Business hours",
		Entries: []pbxusers.TimeFrameEntry{{Weekly: &pbxusers.Weekly{Days: []time.Weekday{1, 2, 3, 4, 5}, From: pbxusers.ClockAt(9, 0), To: pbxusers.ClockAt(17, 0)}}},
		Except:  []pbxusers.TimeFrameEntry{{Holiday: &pbxusers.Holiday{Name: "Christmas Day", Fixed: "12-25"}}}})
	require.NoError(t, err)
	_, _, err = e.dir.CreateScopedToken(ctx, "acme", "okta", pbxusers.ScopeSCIM)
	require.NoError(t, err)
	_, err = e.dir.SendWelcome(ctx, "acme", bob.ID)
	require.NoError(t, err)
	token, _, err := e.dir.IssueSignInLink(ctx, "acme", admin.ID, 0)
	require.NoError(t, err)
	wd.Navigate(t, e.srv.URL+console.Prefix+"/link/"+token)
	wd.Find(t, "button[type=submit]").ClickAndWait(t)

	pages := []struct{ path, name string }{
		{"/tenant", "tenant"},
		{"/tenant/profiles", "profiles"},
		{"/tenant/profiles/" + prof.ID, "a profile's permission catalogue"},
		{"/tenant/teams", "teams"},
		{"/tenant/teams/" + team.ID, "a team's members"},
		{"/tenant/timeframes", "time frames"},
		{"/tenant/timeframes/hours", "editing a time frame"},
		{"/tenant/numbers", "numbers"},
		{"/tenant/system", "queues, attendants, bridges"},
		{"/tenant/system/" + queue.ID, "a queue's agents"},
		{"/tenant/tokens", "API tokens"},
		{"/tenant/ldap", "LDAP directories"},
		{"/tenant/ldap/corp", "an LDAP directory's runs"},
		{"/tenant/outbox", "mail outbox"},
		{"/tenant/outbox/1", "a mail's attempts"},
		{"/tenant/changes", "change log"},
	}
	for _, p := range pages {
		wd.Navigate(t, e.srv.URL+console.Prefix+p.path)
		checkAxe(t, wd, axe, p.name)
	}

	// "Sync now" and "dry run" run through the admin API and land in the
	// run history.
	wd.Navigate(t, e.srv.URL+console.Prefix+"/tenant/ldap/corp")
	wd.Find(t, "#dry-run").ClickAndWait(t)
	assert.Contains(t, wd.Find(t, "#notice").Text(t), "nothing was changed")
	assert.Contains(t, wd.Find(t, "#runs").Text(t), "full (Dry run)")

	// A token's secret is shown once.
	wd.Navigate(t, e.srv.URL+console.Prefix+"/tenant/tokens")
	wd.Find(t, "#name").SendKeys(t, "entra")
	wd.Find(t, `form[action$="/tokens"] button.primary`).ClickAndWait(t)
	assert.NotEmpty(t, wd.Find(t, "#secret code").Text(t))
	checkAxe(t, wd, axe, "a new token")

	// The CSV import, from the keyboard: type the file, Tab past the two
	// options to "Dry run", press Enter.
	before := userCount(t, e)
	wd.Navigate(t, e.srv.URL+console.Prefix+"/tenant/import")
	checkAxe(t, wd, axe, "CSV import")
	bad := "userName,email,extension\ngrace,grace@acme.example,301\nlinus,not-an-address,302\nken,ken@acme.example,303\n"
	wd.Find(t, "#csv").SendKeys(t, bad)
	wd.Active(t).SendKeys(t, keyTab+keyTab+keyTab)
	assert.Equal(t, "dryrun", wd.Script(t, `return document.activeElement.id`), "Tab reaches the dry run button")
	wd.Active(t).SendKeys(t, keyEnter)
	waitFor(t, wd, `return document.getElementById("import-problems") !== null`, "the dry run's problems")
	assert.Contains(t, wd.Find(t, "#import-problems").Text(t), "nothing was imported")
	rows := wd.Find(t, "#import-rows").Text(t)
	assert.Regexp(t, `3\s+linus\s+problem:\s+email: `, rows, "the bad row names its column")
	assert.Regexp(t, `2\s+grace\s+no problem`, rows)
	_, err = wd.FindErr("#apply")
	assert.Error(t, err, "no Apply for a file with problems")
	assert.Equal(t, before, userCount(t, e), "the dry run applied nothing")
	checkAxe(t, wd, axe, "import problems")
	shot(t, wd, "console-import-dry-run.png")

	// The textarea keeps the file: fix the row and run again.
	wd.Script(t, `document.getElementById("csv").value = arguments[0]; return true`,
		strings.Replace(bad, "not-an-address", "linus@acme.example", 1))
	wd.Find(t, "#dryrun").ClickAndWait(t)
	assert.Contains(t, wd.Find(t, "#import-result").Text(t), "Applying would create 3")
	assert.Regexp(t, `3\s+linus\s+would be created`, wd.Find(t, "#import-rows").Text(t))
	assert.Equal(t, before, userCount(t, e), "a dry run writes nothing")
	checkAxe(t, wd, axe, "import preview")

	wd.Find(t, "#apply").ClickAndWait(t)
	assert.Contains(t, wd.Find(t, "#import-result").Text(t), "Imported: 3 created")
	assert.Equal(t, before+3, userCount(t, e))
	mustUser(t, e, "linus")
	checkAxe(t, wd, axe, "import applied")

	// At 390 px wide the pages need no sideways scrolling.
	wd.SetWindowSize(t, 390, 800)
	for _, p := range append(pages, struct{ path, name string }{"/tenant/import", "CSV import"}) {
		wd.Navigate(t, e.srv.URL+console.Prefix+p.path)
		width := wd.Script(t, `return document.documentElement.scrollWidth`).(float64)
		viewport := wd.Script(t, `return document.documentElement.clientWidth`).(float64)
		assert.LessOrEqual(t, width, viewport, "%s at 390 px", p.name)
	}
	checkAxe(t, wd, axe, "change log at 390 px")
}
