package console_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/internal/console"
	"github.com/pbxgate/pbxgate/pbxusers"
)

// TestAddUserManualPasswordAndExtension: "+ Add User" suggests the next
// free extension of the tenant's range; Manual sets the first password
// (no welcome mail), and Manual without one names the field.
func TestAddUserManualPasswordAndExtension(t *testing.T) {
	e := start(t, console.Options{})
	ctx := context.Background()
	tn, err := e.dir.GetTenant(ctx, "acme")
	require.NoError(t, err)
	tn.Extensions.Users = pbxusers.Range{From: "200", To: "299"}
	_, err = e.dir.UpdateTenant(ctx, tn)
	require.NoError(t, err)
	e.user(t, "ada", pbxusers.RoleAdmin, goodPassword)
	_, err = e.dir.CreateUser(ctx, "acme", pbxusers.User{UserName: "first", Extension: "200"})
	require.NoError(t, err)
	b := e.browser(t)
	_, body := b.signIn("ada", goodPassword)
	token := csrf(t, body)

	code, body := b.get("/admin/users/new")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, `id="extension" name="extension" inputmode="numeric" value="201"`)

	form := url.Values{"csrf": {token}, "given": {"Mia"}, "email": {"mia@acme.example"}, "role": {"admin"}, "extension": {"201"},
		"answer": {"apps"}, "passwordMode": {"manual"}}
	code, body, _ = b.post("/admin/users", form)
	assert.Equal(t, http.StatusUnprocessableEntity, code)
	assert.Contains(t, body, `id="password-error">is required when the password is set manually`)

	form.Set("password", "correct horse battery staple")
	code, body, _ = b.post("/admin/users", form)
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, "mia@acme.example was created")
	mail, err := e.dir.ListMail(ctx, "acme", pbxusers.MailQuery{})
	require.NoError(t, err)
	assert.Empty(t, mail, "Manual sends no welcome mail")
	mb := e.browser(t)
	code, body = mb.signIn("mia@acme.example", "correct horse battery staple")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "Signed in as mia@acme.example")
}

// TestUserPageForms: the tab forms answer a problem on their tab, naming
// the field, and change nothing: a stale version, a bad ring plan, a bad
// override value; a good routing form round-trips unchanged.
func TestUserPageForms(t *testing.T) {
	e := start(t, console.Options{})
	ctx := context.Background()
	e.user(t, "ada", pbxusers.RoleAdmin, goodPassword)
	u, err := e.dir.CreateUser(ctx, "acme", pbxusers.User{UserName: "kim", Extension: "210",
		Routing: pbxusers.BackupRouting("+4930123456", 0, 0)})
	require.NoError(t, err)
	b := e.browser(t)
	_, body := b.signIn("ada", goodPassword)
	token := csrf(t, body)
	base := "/admin/users/" + u.ID

	// Profile saved at an old version: 412, nothing changed.
	_, err = e.dir.ModifyUser(ctx, "acme", u.ID, func(u *pbxusers.User) error { u.Title = "Lead"; return nil })
	require.NoError(t, err)
	code, body, _ := b.post(base+"/profile", url.Values{"csrf": {token}, "version": {strconv.FormatInt(u.Version, 10)},
		"given": {"Kim"}, "role": {"user"}})
	assert.Equal(t, http.StatusPreconditionFailed, code)
	assert.Contains(t, body, `id="problem"`)
	got, err := e.dir.GetUser(ctx, "acme", u.ID)
	require.NoError(t, err)
	assert.Empty(t, got.Name.Given)

	// The routing form as rendered, sent back: the policy is unchanged.
	code, body = b.get(base + "?tab=routing")
	require.Equal(t, http.StatusOK, code)
	form := formValues(t, body, "routing-form")
	code, body, _ = b.post(base+"/routing", form)
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, "The answering rules were saved.")
	after, err := e.dir.GetUser(ctx, "acme", u.ID)
	require.NoError(t, err)
	assert.Equal(t, got.Routing, after.Routing)

	// A bad ring plan names the rule and the token.
	form = formValues(t, body, "routing-form")
	form.Set("def.ring", "own 20s\n+4930123456@x")
	code, body, _ = b.post(base+"/routing", form)
	assert.Equal(t, http.StatusUnprocessableEntity, code)
	assert.Contains(t, html.UnescapeString(body), `def ring plan: delay "x" is not a number of seconds`)
	// A policy the library refuses: its field named.
	_, body = b.get(base + "?tab=routing")
	form = formValues(t, body, "routing-form")
	form.Set("r0.name", "Nights")
	form.Add("r0.timeFrames", "no-such-frame")
	code, body, _ = b.post(base+"/routing", form)
	assert.Equal(t, http.StatusBadRequest, code, "the admin API's status")
	assert.Contains(t, html.UnescapeString(body), "no-such-frame")
	unchanged, err := e.dir.GetUser(ctx, "acme", u.ID)
	require.NoError(t, err)
	assert.Equal(t, got.Routing, unchanged.Routing)

	// Users are named by extension (else userName) in the form, and any of
	// id, userName, email or extension reads back to the id the policy
	// stores. A name that would read back as someone else is not shown.
	lea, err := e.dir.CreateUser(ctx, "acme", pbxusers.User{UserName: "lea", Extension: "220"})
	require.NoError(t, err)
	odd, err := e.dir.CreateUser(ctx, "acme", pbxusers.User{UserName: "220x", Emails: []pbxusers.Email{{Value: "odd@example.org"}}})
	require.NoError(t, err)
	max, err := e.dir.CreateUser(ctx, "acme", pbxusers.User{UserName: "max", Extension: "230"})
	require.NoError(t, err)
	_, err = e.dir.CreateUser(ctx, "acme", pbxusers.User{UserName: "230"}) // max's extension as a userName
	require.NoError(t, err)
	_, body = b.get(base + "?tab=routing")
	form = formValues(t, body, "routing-form")
	form.Set("def.ring", "own 20s\nuser:lea 15s\nuser:"+max.ID+" 10s")
	form.Set("def.onNoAnswer.kind", "user")
	form.Set("def.onNoAnswer.target", "220")
	form.Set("def.onBusy.kind", "voicemail")
	form.Set("def.onBusy.target", "odd@example.org") // by email
	code, body, _ = b.post(base+"/routing", form)
	require.Equal(t, http.StatusOK, code, body)
	saved, err := e.dir.GetUser(ctx, "acme", u.ID)
	require.NoError(t, err)
	assert.Equal(t, &pbxusers.Destination{Kind: pbxusers.DestUser, Target: lea.ID}, saved.Routing.Default.OnNoAnswer)
	assert.Equal(t, &pbxusers.Destination{Kind: pbxusers.DestVoicemail, Target: odd.ID}, saved.Routing.Default.OnBusy)
	require.Len(t, saved.Routing.Default.Ring.Steps, 3)
	assert.Equal(t, pbxusers.RingTarget{Kind: pbxusers.TargetUser, Value: lea.ID}, saved.Routing.Default.Ring.Steps[1].Targets[0])
	assert.Equal(t, pbxusers.RingTarget{Kind: pbxusers.TargetUser, Value: max.ID}, saved.Routing.Default.Ring.Steps[2].Targets[0])
	form = formValues(t, body, "routing-form")
	assert.Equal(t, "220", form.Get("def.onNoAnswer.target"), "shown by extension")
	assert.Equal(t, "220x", form.Get("def.onBusy.target"), "no extension: by userName")
	assert.Equal(t, "own 20s\nuser:220 15s\nuser:max 10s", form.Get("def.ring"),
		"max's extension would read back as the user named 230: max is shown by userName")
	code, body, _ = b.post(base+"/routing", form)
	require.Equal(t, http.StatusOK, code, body)
	again, err := e.dir.GetUser(ctx, "acme", u.ID)
	require.NoError(t, err)
	assert.Equal(t, saved.Routing, again.Routing, "the form as shown saves the same policy")
	form.Set("def.onNoAnswer.target", "999")
	code, body, _ = b.post(base+"/routing", form)
	assert.Equal(t, http.StatusUnprocessableEntity, code)
	assert.Contains(t, html.UnescapeString(body), `def onNoAnswer: no user, queue, attendant or bridge has the userName, email or extension "999"`)
	unchanged, err = e.dir.GetUser(ctx, "acme", u.ID)
	require.NoError(t, err)
	assert.Equal(t, saved.Routing, unchanged.Routing, "a form with an unknown name changes nothing")

	// A limit override must be a number.
	code, body, _ = b.post(base+"/permissions", url.Values{"csrf": {token}, "permission": {"chat.limit"}, "value": {"lots"}})
	assert.Equal(t, http.StatusUnprocessableEntity, code)
	assert.Contains(t, html.UnescapeString(body), `chat.limit: the value must be a whole number`)
}

var (
	inputRE    = regexp.MustCompile(`<input([^>]*)>`)
	textareaRE = regexp.MustCompile(`(?s)<textarea[^>]*name="([^"]*)"[^>]*>(.*?)</textarea>`)
	selectRE   = regexp.MustCompile(`(?s)<select[^>]*name="([^"]*)"[^>]*>(.*?)</select>`)
	selectedRE = regexp.MustCompile(`<option value="([^"]*)" selected>`)
	attrRE     = regexp.MustCompile(`(\w+)(?:="([^"]*)")?`)
)

// formValues returns what a browser would send for the form with the id
// in a page the console rendered: text and hidden inputs, checked boxes,
// textareas and selected options.
func formValues(t *testing.T, body, id string) url.Values {
	t.Helper()
	start := strings.Index(body, `id="`+id+`"`)
	require.GreaterOrEqual(t, start, 0, "no form %s", id)
	form := body[start:]
	form = form[:strings.Index(form, "</form>")]
	v := url.Values{}
	for _, m := range inputRE.FindAllStringSubmatch(form, -1) {
		attrs := map[string]string{}
		for _, a := range attrRE.FindAllStringSubmatch(m[1], -1) {
			attrs[a[1]] = html.UnescapeString(a[2])
		}
		_, checked := attrs["checked"]
		if attrs["name"] == "" || (attrs["type"] == "checkbox" || attrs["type"] == "radio") && !checked {
			continue
		}
		v.Add(attrs["name"], attrs["value"])
	}
	for _, m := range textareaRE.FindAllStringSubmatch(form, -1) {
		v.Add(m[1], html.UnescapeString(m[2]))
	}
	for _, m := range selectRE.FindAllStringSubmatch(form, -1) {
		if o := selectedRE.FindStringSubmatch(m[2]); o != nil {
			v.Add(m[1], html.UnescapeString(o[1]))
		} else if o := regexp.MustCompile(`<option value="([^"]*)"`).FindStringSubmatch(m[2]); o != nil {
			v.Add(m[1], html.UnescapeString(o[1]))
		}
	}
	return v
}

// TestUserPageWarnings: values the last change took in but could not use
// as sent are flagged on the user's page, naming who sent them, until the
// next change.
func TestUserPageWarnings(t *testing.T) {
	e := start(t, console.Options{})
	ctx := context.Background()
	e.user(t, "ada", pbxusers.RoleAdmin, goodPassword)
	okta := pbxusers.WithActor(pbxusers.WithWarnings(ctx, func() []pbxusers.Warning {
		return []pbxusers.Warning{{Field: "phoneNumbers", Reason: "kept as sent and marked not dialable: not a phone number in E.164 or the tenant's region"}}
	}), pbxusers.Actor{Source: pbxusers.SourceSCIM, Name: "okta"})
	u, err := e.dir.CreateUser(okta, "acme", pbxusers.User{UserName: "kim", Owner: pbxusers.Owner{Source: pbxusers.SourceSCIM, ExternalID: "00u1"},
		PhoneNumbers: []pbxusers.PhoneNumber{{Number: "+1 555 0100", Type: "work"}}})
	require.NoError(t, err)
	b := e.browser(t)
	b.signIn("ada", goodPassword)
	code, body := b.get("/admin/users/" + u.ID)
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, `id="write-warnings"`)
	assert.Contains(t, text(body), "Managed by the identity provider (Okta/Entra, SCIM) (external id 00u1)")
	assert.Contains(t, html.UnescapeString(body), "The last change (by scim okta) sent values the phone system cannot use as sent:")
	assert.Contains(t, html.UnescapeString(body), "phoneNumbers: kept as sent and marked not dialable")
	assert.Contains(t, text(body), "+1 555 0100 (work) not dialable", "the number itself is badged")

	_, err = e.dir.ModifyUser(ctx, "acme", u.ID, func(u *pbxusers.User) error { u.Title = "Lead"; return nil })
	require.NoError(t, err)
	_, body = b.get("/admin/users/" + u.ID)
	assert.NotContains(t, body, `id="write-warnings"`, "a later change without warnings clears the flag")
}

// TestOwnerBadgeWithoutExternalID: a user an identity provider created
// without an externalId is badged with its source alone, not an empty id.
func TestOwnerBadgeWithoutExternalID(t *testing.T) {
	e := start(t, console.Options{})
	ctx := context.Background()
	e.user(t, "ada", pbxusers.RoleAdmin, goodPassword)
	scim := pbxusers.WithActor(ctx, pbxusers.Actor{Source: pbxusers.SourceSCIM, Name: "okta"})
	u, err := e.dir.CreateUser(scim, "acme", pbxusers.User{UserName: "kim"})
	require.NoError(t, err)
	b := e.browser(t)
	b.signIn("ada", goodPassword)
	_, body := b.get("/admin/users/" + u.ID)
	assert.Contains(t, text(body), "Managed by the identity provider (Okta/Entra, SCIM): these fields are read-only here.")
	assert.NotContains(t, text(body), "external id )")
}
