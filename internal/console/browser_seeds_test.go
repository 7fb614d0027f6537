package console_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/internal/adminapi"
	"github.com/pbxgate/pbxgate/internal/console"
	"github.com/pbxgate/pbxgate/internal/webdriver"
	"github.com/pbxgate/pbxgate/pbxusers"
)

// apiCall sends one admin API request as the tenant's admin token (the
// setup a tenant page would otherwise do) and fails the test unless it
// answers 2xx.
func (e *env) apiCall(t *testing.T, method, path string, body any) map[string]any {
	t.Helper()
	token, _, err := e.dir.CreateScopedToken(context.Background(), "acme", "test setup", pbxusers.ScopeAdmin)
	require.NoError(t, err)
	b, err := json.Marshal(body)
	require.NoError(t, err)
	req, err := http.NewRequest(method, e.srv.URL+adminapi.Prefix+"/tenants/acme"+path, bytes.NewReader(b))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	require.Less(t, resp.StatusCode, 300, "%s %s: %v", method, path, out)
	return out
}

// walk starts Chromium signed in as the tenant's admin, through a
// one-time link.
func walk(t *testing.T) (*env, *webdriver.Session, string) {
	t.Helper()
	axe := axeScript(t)
	wd := webdriver.Start(t)
	wd.SetWindowSize(t, 1100, 900)
	e := start(t, console.Options{})
	admin := e.user(t, "ada", pbxusers.RoleAdmin, goodPassword)
	token, _, err := e.dir.IssueSignInLink(context.Background(), "acme", admin.ID, 0)
	require.NoError(t, err)
	wd.Navigate(t, e.srv.URL+console.Prefix+"/link/"+token)
	wd.Find(t, "button[type=submit]").ClickAndWait(t)
	require.Contains(t, wd.Source(t), "Signed in as ada")
	return e, wd, axe
}

// byID finds an element by an id that CSS would need to escape ("r0.name").
func byID(t *testing.T, wd *webdriver.Session, id string) webdriver.Element {
	t.Helper()
	return wd.Find(t, `[id="`+id+`"]`)
}

// setValue sets a form control's value (a select or a datetime-local
// input) as a user choosing it would.
func setValue(t *testing.T, wd *webdriver.Session, id, value string) {
	t.Helper()
	wd.Script(t, `var el = document.getElementById(arguments[0]); el.value = arguments[1];
		el.dispatchEvent(new Event("change", {bubbles: true})); return true`, id, value)
}

// addUser fills "+ Add User" and submits it.
func addUser(t *testing.T, e *env, wd *webdriver.Session, axe string, fields map[string]string, check ...string) pbxusers.User {
	t.Helper()
	wd.Navigate(t, e.srv.URL+console.Prefix+"/users/new")
	checkAxe(t, wd, axe, "Add User")
	for id, v := range fields {
		el := wd.Find(t, "#"+id)
		el.Clear(t)
		el.SendKeys(t, v)
	}
	for _, css := range check {
		wd.Find(t, css).Click(t)
	}
	wd.Find(t, "button.primary").ClickAndWait(t)
	require.Contains(t, wd.Source(t), fields["email"]+" was created")
	return mustUser(t, e, fields["email"])
}

// TestBrowserNetSapiensOfficeManager walks NetSapiens' Office Manager: add
// a user, "add phone extension" creates their phone, an after-hours
// answering rule over the tenant's business-hours time frame sends calls
// to voicemail, and the explain panel says so for a call on Saturday
// evening while a call on Monday morning rings the phone.
func TestBrowserNetSapiensOfficeManager(t *testing.T) {
	e, wd, axe := walk(t)
	ctx := context.Background()
	e.apiCall(t, http.MethodPost, "/timeframes", map[string]any{"id": "business-hours", "name": "Business hours",
		"entries": []any{map[string]any{"weekly": map[string]any{"days": []int{1, 2, 3, 4, 5}, "from": "09:00", "to": "17:00"}}}})

	u := addUser(t, e, wd, axe, map[string]string{"given": "Nina", "family": "Sapiens", "email": "nina@acme.example", "extension": "301"})

	// Add phone extension: the phone's SIP password shows once.
	wd.Find(t, `a[href$="tab=phones"]`).ClickAndWait(t)
	wd.Find(t, "#label").SendKeys(t, "Front desk")
	wd.Find(t, `form[action$="/devices"] button.primary`).ClickAndWait(t)
	assert.NotEmpty(t, wd.Find(t, "#secret code").Text(t))
	devs, err := e.dir.ListDevices(ctx, "acme", u.ID)
	require.NoError(t, err)
	require.Len(t, devs, 1)
	checkAxe(t, wd, axe, "phones")

	// Voicemail on, on the profile tab.
	wd.Find(t, `a[href$="tab=profile"]`).ClickAndWait(t)
	wd.Find(t, `#features input[value="voicemail"]`).Click(t)
	wd.Find(t, "#profile-form button.primary").ClickAndWait(t)
	require.Contains(t, wd.Find(t, "#notice").Text(t), "Saved")
	checkAxe(t, wd, axe, "profile")

	// The after-hours rule, in the form's empty row.
	wd.Find(t, `a[href$="tab=routing"]`).ClickAndWait(t)
	byID(t, wd, "r0.name").SendKeys(t, "After hours")
	wd.Find(t, `input[name="r0.timeFrames"][value="business-hours"]`).Click(t)
	wd.Find(t, `input[name="r0.notIn"]`).Click(t)
	setValue(t, wd, "r0.always.kind", "voicemail")
	wd.Find(t, "#save-routing").ClickAndWait(t)
	require.Contains(t, wd.Source(t), "The answering rules were saved.", wd.Find(t, "main").Text(t))
	got, err := e.dir.GetUser(ctx, "acme", u.ID)
	require.NoError(t, err)
	require.Len(t, got.Routing.Rules, 1)
	rule := got.Routing.Rules[0]
	assert.Equal(t, "after-hours", rule.ID)
	assert.True(t, rule.Enabled)
	assert.Equal(t, pbxusers.Condition{TimeFrames: []string{"business-hours"}, NotInTimeFrames: true}, rule.When)
	assert.Equal(t, &pbxusers.Destination{Kind: pbxusers.DestVoicemail}, rule.Always)
	checkAxe(t, wd, axe, "answering rules")
	shot(t, wd, "console-user-routing.png")

	// The explain panel: Saturday 5 December 2026, 20:00 in Berlin.
	setValue(t, wd, "at", "2026-12-05T20:00")
	wd.Find(t, "#from").SendKeys(t, "+4930999888")
	wd.Find(t, "#explain-form button").ClickAndWait(t)
	plan := wd.Find(t, "#plan").Text(t)
	assert.Contains(t, plan, "voicemail", "after hours")
	trace := wd.Find(t, "#trace").Text(t)
	assert.Contains(t, trace, "After hours")
	assert.Contains(t, trace, "voicemail of Nina Sapiens (301)", "people's names, not ids")
	assert.NotContains(t, trace, u.ID)
	// Monday 7 December, 10:00: the phone rings. The panel answers as the
	// time changes, without a reload.
	setValue(t, wd, "at", "2026-12-07T10:00")
	waitFor(t, wd, `return document.getElementById("plan").textContent.indexOf("rule default") >= 0`, "the panel to follow the time")
	plan = wd.Find(t, "#plan").Text(t)
	assert.Contains(t, plan, "rule default", "in business hours")
	assert.Contains(t, plan, "device "+devs[0].SIPID, "in business hours the phone rings")
	checkAxe(t, wd, axe, "explain panel")

	noSideways(t, wd, "answering rules")

	// The rule is edited in place: disabled, the panel no longer applies it.
	wd.Find(t, `input[name="r0.enabled"]`).Click(t)
	wd.Find(t, "#save-routing").ClickAndWait(t)
	got, err = e.dir.GetUser(ctx, "acme", u.ID)
	require.NoError(t, err)
	require.Len(t, got.Routing.Rules, 1)
	assert.False(t, got.Routing.Rules[0].Enabled)
}

// TestBrowserAlotechProfiles walks Alotech's user settings: a permission
// profile (set up through the API), a user added with it, the
// Permissions tab showing each value's provenance, and a per-user
// override set and cleared in the console.
func TestBrowserAlotechProfiles(t *testing.T) {
	e, wd, axe := walk(t)
	ctx := context.Background()
	prof := e.apiCall(t, http.MethodPost, "/profiles", map[string]any{"name": "Agents",
		"grants": map[string]any{"chat.limit": 5, "recordings.access": false}})

	u := addUser(t, e, wd, axe, map[string]string{"given": "Ali", "family": "Tech", "email": "ali@acme.example", "extension": "401"},
		`#profiles input[value="`+prof["id"].(string)+`"]`)
	assert.Equal(t, []string{prof["id"].(string)}, u.Profiles)

	wd.Find(t, `a[href$="tab=permissions"]`).ClickAndWait(t)
	row := func(p string) string { return wd.Find(t, `[id="perm-`+p+`"]`).Text(t) }
	assert.Contains(t, row("chat.limit"), `profile "Agents"`)
	assert.Contains(t, row("recordings.access"), `profile "Agents"`)
	checkAxe(t, wd, axe, "permissions")

	// Override: recordings granted for this user only.
	setValue(t, wd, wd.Find(t, `[id="perm-recordings.access"] select`).ID(t), "true")
	wd.Find(t, `[id="perm-recordings.access"] button[name="set"]`).ClickAndWait(t)
	assert.Contains(t, wd.Find(t, "#notice").Text(t), "override was set")
	assert.Contains(t, wd.Find(t, `[id="perm-recordings.access"] td.from`).Text(t), "override")
	assert.Equal(t, "true", wd.Find(t, `[id="perm-recordings.access"] td.value`).Text(t))
	got, err := e.dir.GetUser(ctx, "acme", u.ID)
	require.NoError(t, err)
	assert.Equal(t, pbxusers.Bool(true), got.Overrides[pbxusers.PermAccessRecordings])
	checkAxe(t, wd, axe, "permissions with an override")

	noSideways(t, wd, "permissions")

	// A limit override, then cleared: the profile's value is back.
	limit := wd.Find(t, `[id="perm-chat.limit"] input[name="value"]`)
	limit.Clear(t)
	limit.SendKeys(t, "9")
	wd.Find(t, `[id="perm-chat.limit"] button[name="set"]`).ClickAndWait(t)
	assert.Equal(t, "9", wd.Find(t, `[id="perm-chat.limit"] td.value`).Text(t))
	wd.Find(t, `[id="perm-chat.limit"] button[name="clear"]`).ClickAndWait(t)
	assert.Contains(t, wd.Find(t, "#notice").Text(t), "override was cleared")
	assert.Equal(t, "5", wd.Find(t, `[id="perm-chat.limit"] td.value`).Text(t))
	assert.Contains(t, wd.Find(t, `[id="perm-chat.limit"] td.from`).Text(t), `profile "Agents"`)
}

// TestBrowserQallerDevice walks the Qaller PBX's user page: assign a desk
// phone, record calls on demand, route a number to the user and release
// it, force a password change; then delete asks and removes the user.
func TestBrowserQallerDevice(t *testing.T) {
	e, wd, axe := walk(t)
	ctx := context.Background()
	u := addUser(t, e, wd, axe, map[string]string{"given": "Quinn", "family": "Aller", "email": "quinn@acme.example", "extension": "501"})

	wd.Find(t, `a[href$="tab=phones"]`).ClickAndWait(t)
	setValue(t, wd, "kind", "desk_phone")
	wd.Find(t, "#mac").SendKeys(t, "00:1a:2b:3c:4d:5f")
	wd.Find(t, `form[action$="/devices"] button.primary`).ClickAndWait(t)
	assert.NotEmpty(t, wd.Find(t, "#secret code").Text(t))
	assert.Contains(t, wd.Find(t, "#devices").Text(t), "00:1a:2b:3c:4d:5f")

	// Recording on demand.
	wd.Find(t, `a[href$="tab=profile"]`).ClickAndWait(t)
	setValue(t, wd, "recording", "on_demand")
	wd.Find(t, "#profile-form button.primary").ClickAndWait(t)
	require.Contains(t, wd.Find(t, "#notice").Text(t), "Saved")
	got, err := e.dir.GetUser(ctx, "acme", u.ID)
	require.NoError(t, err)
	assert.Equal(t, pbxusers.RecordOnDemand, got.Recording)

	// Numbers: assign a new DID, then release it to the inventory.
	wd.Find(t, `a[href$="tab=numbers"]`).ClickAndWait(t)
	checkAxe(t, wd, axe, "numbers")
	wd.Find(t, "#number").SendKeys(t, "030 555123")
	wd.Find(t, "#numlabel").SendKeys(t, "Direct")
	wd.Find(t, `form[action$="/numbers"] button.primary`).ClickAndWait(t)
	assert.Contains(t, wd.Find(t, "#numbers").Text(t), "+4930555123")
	checkAxe(t, wd, axe, "numbers with one")
	wd.Find(t, "#numbers button").ClickAndWait(t)
	assert.Contains(t, wd.Find(t, "#notice").Text(t), "released")
	ns, err := e.dir.ListNumbers(ctx, "acme", "")
	require.NoError(t, err)
	require.Len(t, ns, 1)
	assert.Empty(t, ns[0].UserID, "released, kept in the inventory")
	assert.Contains(t, wd.Find(t, "#free").Text(t), "+4930555123")

	// Advanced: enforce a password change, deactivate and activate.
	wd.Find(t, `a[href$="tab=advanced"]`).ClickAndWait(t)
	checkAxe(t, wd, axe, "advanced")
	wd.Find(t, `#actions button[value="reset"]`).ClickAndWait(t)
	assert.Contains(t, wd.Find(t, "#notice").Text(t), "password reset mail is queued")
	wd.Find(t, `#actions button[value="deactivate"]`).ClickAndWait(t)
	got, err = e.dir.GetUser(ctx, "acme", u.ID)
	require.NoError(t, err)
	assert.Equal(t, pbxusers.StatusInactive, got.Status)
	wd.Find(t, `#actions button[value="activate"]`).ClickAndWait(t)
	got, err = e.dir.GetUser(ctx, "acme", u.ID)
	require.NoError(t, err)
	assert.Equal(t, pbxusers.StatusActive, got.Status)

	// Delete asks, naming the phone that goes with the user, then removes.
	wd.Find(t, "a.button.danger").ClickAndWait(t)
	assert.Contains(t, wd.Source(t), "Delete Quinn Aller?")
	devs, err := e.dir.ListDevices(ctx, "acme", u.ID)
	require.NoError(t, err)
	require.Len(t, devs, 1)
	assert.Contains(t, wd.Find(t, "main").Text(t), "Phones: "+devs[0].SIPID)
	_, err = e.dir.GetUser(ctx, "acme", u.ID)
	require.NoError(t, err, "asking deletes nothing")
	wd.Find(t, "button.danger").ClickAndWait(t)
	assert.Contains(t, wd.Source(t), "quinn@acme.example was deleted")
	_, err = e.dir.GetUser(ctx, "acme", u.ID)
	require.ErrorIs(t, err, pbxusers.ErrNotFound)
}

// TestBrowserOktaOwnedUser: a user Okta provisioned over SCIM shows a
// badge naming the source and its external id; the fields Okta owns are
// read-only, and a changed value sent anyway does not change them, while
// PBX-side settings (recording) still save.
func TestBrowserOktaOwnedUser(t *testing.T) {
	e, wd, axe := walk(t)
	ctx := context.Background()
	u, err := e.dir.CreateUser(ctx, "acme", pbxusers.User{UserName: "olga@acme.example", Name: pbxusers.Name{Given: "Olga", Family: "Okta"},
		Emails: []pbxusers.Email{{Value: "olga@acme.example", Primary: true}}, Extension: "601",
		PhoneNumbers: []pbxusers.PhoneNumber{{Number: "+4930123457", Type: "work"}},
		Owner:        pbxusers.Owner{Source: pbxusers.SourceSCIM, ExternalID: "00u1okta"}})
	require.NoError(t, err)

	wd.Navigate(t, e.srv.URL+console.Prefix+"/users/"+u.ID)
	badge := wd.Find(t, "#owner-badge").Text(t)
	assert.Contains(t, badge, "Okta")
	assert.Contains(t, badge, "00u1okta")
	checkAxe(t, wd, axe, "an Okta-owned user")
	for _, id := range []string{"given", "family", "email", "title"} {
		assert.Equal(t, "true", wd.Find(t, "#"+id).Attribute(t, "readonly"), id)
	}
	assert.Empty(t, wd.Find(t, "#extension").Attribute(t, "readonly"), "the extension is PBX-side for SCIM users")
	assert.Contains(t, wd.Find(t, "#phone-numbers").Text(t), "+4930123457")
	// A value typed into a read-only field anyway (by script) is not sent.
	wd.Script(t, `document.getElementById("given").value = "Mallory"; return true`)
	setValue(t, wd, "recording", "always")
	wd.Find(t, "#profile-form button.primary").ClickAndWait(t)
	require.Contains(t, wd.Find(t, "#notice").Text(t), "Saved")
	got, err := e.dir.GetUser(ctx, "acme", u.ID)
	require.NoError(t, err)
	assert.Equal(t, "Olga", got.Name.Given)
	assert.Equal(t, pbxusers.RecordAlways, got.Recording)

	// Okta deactivates the user, not the console.
	wd.Find(t, `a[href$="tab=advanced"]`).ClickAndWait(t)
	assert.Equal(t, "true", wd.Find(t, `#actions button[value="deactivate"]`).Attribute(t, "disabled"))
	checkAxe(t, wd, axe, "advanced of an Okta-owned user")
}

// TestBrowserUsersFiltersAndBulk: the Users list's filters narrow the
// list as they change, and bulk deactivation asks before it acts.
func TestBrowserUsersFiltersAndBulk(t *testing.T) {
	e, wd, axe := walk(t)
	ctx := context.Background()
	team := e.apiCall(t, http.MethodPost, "/teams", map[string]any{"name": "Support"})
	var ids []string
	for _, n := range []string{"una", "vic", "wes"} {
		u, err := e.dir.CreateUser(ctx, "acme", pbxusers.User{UserName: n + "@acme.example", Role: pbxusers.RoleAgent})
		require.NoError(t, err)
		ids = append(ids, u.ID)
	}
	_, err := e.dir.SetTeamMembers(ctx, "acme", team["id"].(string), ids[:2])
	require.NoError(t, err)
	_, err = e.dir.CreateUser(ctx, "acme", pbxusers.User{UserName: "sales-queue", Kind: pbxusers.KindCallQueue})
	require.NoError(t, err)

	wd.Navigate(t, e.srv.URL+console.Prefix+"/users")
	rows := `return document.querySelectorAll("#results tbody tr").length`
	assert.EqualValues(t, 4, wd.Script(t, rows), "people only")
	wd.Find(t, "#system").Click(t)
	waitFor(t, wd, rows+` === 5`, "system users shown")
	setValue(t, wd, "kind", "call_queue")
	waitFor(t, wd, rows+` === 1`, "call queues only")
	setValue(t, wd, "kind", "")
	wd.Find(t, "#system").Click(t)
	setValue(t, wd, "team", team["id"].(string))
	waitFor(t, wd, rows+` === 2`, "the team's members")
	checkAxe(t, wd, axe, "Users filtered")

	// Deactivate both, after a confirmation naming them.
	wd.Script(t, `document.querySelectorAll("#results tbody input[type=checkbox]").forEach(function (c) { c.checked = true }); return true`)
	wd.Find(t, "#bulk-deactivate").ClickAndWait(t)
	list := wd.Find(t, "#deactivate-list").Text(t)
	assert.Contains(t, list, "una@acme.example")
	assert.Contains(t, list, "vic@acme.example")
	checkAxe(t, wd, axe, "bulk deactivation")
	u, err := e.dir.GetUser(ctx, "acme", ids[0])
	require.NoError(t, err)
	assert.Equal(t, pbxusers.StatusActive, u.Status, "asking changes nothing")
	wd.Find(t, "#confirm-deactivate").ClickAndWait(t)
	assert.Contains(t, wd.Find(t, "#deactivated").Text(t), "2 users were deactivated")
	for i, want := range []pbxusers.Status{pbxusers.StatusInactive, pbxusers.StatusInactive, pbxusers.StatusActive} {
		u, err := e.dir.GetUser(ctx, "acme", ids[i])
		require.NoError(t, err)
		assert.Equal(t, want, u.Status, u.UserName)
	}
	setValue(t, wd, "status", "inactive")
	waitFor(t, wd, rows+` === 2`, "the inactive users")
}

// noSideways checks that the current page needs no sideways scrolling at
// 390 px wide (a phone), with axe, and restores the window.
func noSideways(t *testing.T, wd *webdriver.Session, page string) {
	t.Helper()
	wd.SetWindowSize(t, 390, 800)
	defer wd.SetWindowSize(t, 1100, 900)
	wd.Navigate(t, wd.URL(t))
	width := wd.Script(t, `return document.documentElement.scrollWidth`).(float64)
	viewport := wd.Script(t, `return document.documentElement.clientWidth`).(float64)
	assert.LessOrEqual(t, width, viewport, "%s at 390 px", page)
}
