package adminapi_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const acme = "/api/v1/tenants/acme"

// TestNetSapiensUser builds a NetSapiens-style user through the API alone:
// business hours, answering rules (voicemail after hours and on no
// answer), a desk phone made with "add phone extension", a DID; then the
// route explains calls in and out of hours.
func TestNetSapiensUser(t *testing.T) {
	e := start(t)
	r := e.do(req{Method: "POST", Path: acme + "/timeframes", Token: e.admin, Body: map[string]any{
		"id": "business-hours", "name": "Business hours", "timeZone": "Europe/Berlin",
		"entries": []any{map[string]any{"weekly": map[string]any{"days": []int{1, 2, 3, 4, 5}, "from": "09:00", "to": "17:00"}}}}})
	require.Equal(t, 201, r.Status, "%s", r.Body)

	id := e.mustUser(map[string]any{"userName": "nina@acme.example", "extension": "301", "features": map[string]any{"voicemail": true}})
	u := acme + "/users/" + id

	// Answering rules.
	policy := map[string]any{
		"rules": []any{map[string]any{"id": "after-hours", "name": "After hours", "enabled": true,
			"when": map[string]any{"timeFrames": []string{"business-hours"}, "notInTimeFrames": true}, "always": map[string]any{"kind": "voicemail"}}},
		"default": map[string]any{"onNoAnswer": map[string]any{"kind": "voicemail"}},
	}
	r = e.do(req{Method: "PUT", Path: u + "/routing", Token: e.admin, Body: policy, IfMatch: `"1"`})
	require.Equal(t, 200, r.Status, "%s", r.Body)
	assert.Equal(t, `"2"`, r.Header.Get("ETag"))
	r = e.do(req{Method: "GET", Path: u + "/routing", Token: e.admin})
	assert.Len(t, r.JSON(t)["rules"], 1)

	// "Add phone extension": the SIP secret is shown once.
	r = e.do(req{Method: "POST", Path: u + "/devices", Token: e.admin, Body: map[string]any{"kind": "desk_phone", "label": "Desk", "mac": "00-1A-2B-3C-4D-5E", "model": "Yealink T54W"}})
	require.Equal(t, 201, r.Status, "%s", r.Body)
	dev := r.JSON(t)
	secret, _ := dev["secret"].(string)
	require.NotEmpty(t, secret)
	assert.Equal(t, "00:1a:2b:3c:4d:5e", dev["mac"])
	devPath := u + "/devices/" + dev["id"].(string)
	r = e.do(req{Method: "GET", Path: devPath, Token: e.admin})
	require.Equal(t, 200, r.Status)
	assert.NotContains(t, string(r.Body), secret)
	assert.NotContains(t, string(e.do(req{Method: "GET", Path: u + "/devices", Token: e.admin}).Body), secret)
	r = e.do(req{Method: "POST", Path: devPath + "/rotate", Token: e.admin})
	require.Equal(t, 200, r.Status)
	assert.NotEqual(t, secret, r.JSON(t)["secret"])
	r = e.do(req{Method: "PATCH", Path: devPath, Token: e.admin, Body: map[string]any{"label": "Front desk"}, IfMatch: r.Header.Get("ETag")})
	require.Equal(t, 200, r.Status, "%s", r.Body)
	assert.Equal(t, "Front desk", r.JSON(t)["label"])
	assert.Nil(t, r.JSON(t)["secret"])

	// A DID.
	r = e.do(req{Method: "POST", Path: u + "/numbers", Token: e.admin, Body: map[string]any{"number": "030 123456", "label": "Direct"}})
	require.Equal(t, 201, r.Status, "%s", r.Body)
	assert.Equal(t, "+4930123456", r.JSON(t)["e164"])
	r = e.do(req{Method: "GET", Path: acme + "/numbers?assigned=true", Token: e.admin})
	assert.EqualValues(t, 1, r.JSON(t)["total"])
	r = e.do(req{Method: "GET", Path: acme + "/numbers?assigned=false", Token: e.admin})
	assert.EqualValues(t, 0, r.JSON(t)["total"])
	r = e.do(req{Method: "GET", Path: acme + "/numbers/%2B4930123456", Token: e.admin})
	require.Equal(t, 200, r.Status, "%s", r.Body)
	assert.Equal(t, id, r.JSON(t)["userId"])

	// The route: Tuesday 10:00 in Berlin rings the desk phone, then voicemail;
	// Tuesday 20:00 goes to voicemail at once.
	r = e.do(req{Method: "GET", Path: u + "/route?at=2026-03-03T10:00:00%2B01:00&from=%2B4989111222", Token: e.admin})
	require.Equal(t, 200, r.Status, "%s", r.Body)
	plan := r.JSON(t)["plan"].(map[string]any)
	assert.Equal(t, "default", plan["rule"])
	assert.NotEmpty(t, plan["steps"])
	assert.Equal(t, "voicemail", plan["then"].(map[string]any)["kind"])
	r = e.do(req{Method: "GET", Path: u + "/route?at=2026-03-03T20:00:00%2B01:00", Token: e.admin})
	plan = r.JSON(t)["plan"].(map[string]any)
	assert.Equal(t, "after-hours", plan["rule"])
	assert.Empty(t, plan["steps"])
	assert.Equal(t, "voicemail", plan["then"].(map[string]any)["kind"])
	assert.Contains(t, strings.ToLower(r.JSON(t)["explanation"].(string)), "voicemail")

	// The time frame is in use.
	e.do(req{Method: "DELETE", Path: acme + "/timeframes/business-hours", Token: e.admin}).Problem(t, 409)
}

func TestRoutingMistakes(t *testing.T) {
	e := start(t)
	id := e.mustUser(map[string]any{"userName": "nina@acme.example", "extension": "301"})
	u := acme + "/users/" + id
	t.Run("bad fields", func(t *testing.T) {
		r := e.do(req{Method: "PUT", Path: u + "/routing", Token: e.admin, Body: map[string]any{
			"ringTimeout": 99999, "rules": []any{map[string]any{"id": "", "always": map[string]any{"kind": "nowhere"}}}}})
		r.Problem(t, 400)
		assert.GreaterOrEqual(t, len(r.Paths(t)), 2, "%s", r.Body)
	})
	t.Run("missing reference", func(t *testing.T) {
		r := e.do(req{Method: "PUT", Path: u + "/routing", Token: e.admin, Body: map[string]any{
			"default": map[string]any{"onNoAnswer": map[string]any{"kind": "user", "target": "no-such-user"}}}})
		r.Problem(t, 400)
	})
	t.Run("stale", func(t *testing.T) {
		e.do(req{Method: "PUT", Path: u + "/routing", Token: e.admin, IfMatch: `"9"`, Body: map[string]any{}}).Problem(t, 412)
	})
	t.Run("bad route query", func(t *testing.T) {
		r := e.do(req{Method: "GET", Path: u + "/route?at=tomorrow&state=asleep", Token: e.admin})
		r.Problem(t, 400)
		assert.ElementsMatch(t, []string{"at", "state"}, r.Paths(t))
	})
	t.Run("other tenant", func(t *testing.T) {
		e.do(req{Method: "GET", Path: "/api/v1/tenants/globex/users/" + id + "/routing", Token: e.other}).Problem(t, 404)
		e.do(req{Method: "GET", Path: "/api/v1/tenants/globex/users/" + id + "/route", Token: e.other}).Problem(t, 404)
		e.do(req{Method: "GET", Path: "/api/v1/tenants/globex/users/" + id + "/devices", Token: e.other}).Problem(t, 404)
	})
	t.Run("device mistakes", func(t *testing.T) {
		r := e.do(req{Method: "POST", Path: u + "/devices", Token: e.admin, Body: map[string]any{"kind": "toaster", "mac": "zz"}})
		r.Problem(t, 400)
		assert.Subset(t, r.Paths(t), []string{"kind", "mac"})
		r = e.do(req{Method: "POST", Path: u + "/devices", Token: e.admin, Body: map[string]any{"kind": "softphone"}})
		require.Equal(t, 201, r.Status, "%s", r.Body)
		dp := u + "/devices/" + r.JSON(t)["id"].(string)
		e.do(req{Method: "PATCH", Path: dp, Token: e.admin, Body: map[string]any{"secret": "mine"}}).Problem(t, 400)
		e.do(req{Method: "PATCH", Path: dp, Token: e.admin, IfMatch: `"5"`, Body: map[string]any{"label": "x"}}).Problem(t, 412)
		e.do(req{Method: "GET", Path: acme + "/users/" + e.mustUser(map[string]any{"userName": "o@acme.example"}) + "/devices/" + r.JSON(t)["id"].(string), Token: e.admin}).Problem(t, 404)
		e.do(req{Method: "POST", Path: u + "/devices", Token: e.scimTok, Body: map[string]any{"kind": "softphone"}}).Problem(t, 403)
	})
	t.Run("number mistakes", func(t *testing.T) {
		r := e.do(req{Method: "POST", Path: u + "/numbers", Token: e.admin, Body: map[string]any{"number": "12"}})
		r.Problem(t, 400)
		r = e.do(req{Method: "PUT", Path: acme + "/numbers/%2B4930999", Token: e.admin, Body: map[string]any{"userId": "ghost"}})
		r.Problem(t, 400)
		assert.Contains(t, r.Paths(t), "userId")
		e.do(req{Method: "GET", Path: acme + "/numbers/%2B4930999", Token: e.admin}).Problem(t, 404)
	})
}
