package adminapi_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// effective finds one permission in a permissions answer.
func effective(t *testing.T, r *response, name string) map[string]any {
	t.Helper()
	for _, it := range r.JSON(t)["items"].([]any) {
		m := it.(map[string]any)
		if m["permission"] == name {
			return m
		}
	}
	t.Fatalf("no permission %s in %s", name, r.Body)
	return nil
}

// TestAlotechAgent builds an Alotech-style agent through the API alone:
// two queues with a default outbound queue, IP restriction, a profile
// through a team and per-user permission overrides.
func TestAlotechAgent(t *testing.T) {
	e := start(t)
	var queues []string
	for i, ext := range []string{"801", "802"} {
		r := e.do(req{Method: "POST", Path: acme + "/queues", Token: e.admin, Body: map[string]any{
			"userName": "queue" + ext, "displayName": []string{"Sales", "Support"}[i], "extension": ext,
			"queue": map[string]any{"dispatch": "round_robin", "maxWaitSeconds": 120}}})
		require.Equal(t, 201, r.Status, "%s", r.Body)
		assert.Equal(t, "call_queue", r.JSON(t)["kind"])
		queues = append(queues, r.JSON(t)["id"].(string))
	}
	r := e.do(req{Method: "GET", Path: acme + "/queues", Token: e.admin})
	assert.EqualValues(t, 2, r.JSON(t)["total"])

	r = e.do(req{Method: "POST", Path: acme + "/profiles", Token: e.admin, Body: map[string]any{"name": "Agents",
		"grants": map[string]any{"calls.max_active": 2, "portal.access": true}}})
	require.Equal(t, 201, r.Status, "%s", r.Body)
	profile := r.JSON(t)["id"].(string)

	agent := e.mustUser(map[string]any{"userName": "ali@acme.example", "extension": "401", "role": "agent",
		"ipRestriction": map[string]any{"enabled": true, "allowed": []string{"192.168.1.0/24"}}})
	r = e.do(req{Method: "POST", Path: acme + "/teams", Token: e.admin, Body: map[string]any{"name": "Call center", "profiles": []string{profile}, "memberIds": []string{agent}}})
	require.Equal(t, 201, r.Status, "%s", r.Body)
	team := r.JSON(t)["id"].(string)
	assert.EqualValues(t, 1, r.JSON(t)["members"])

	// Queue membership; the second is the default outbound queue.
	r = e.do(req{Method: "PUT", Path: acme + "/queues/" + queues[0] + "/members/" + agent, Token: e.admin, Body: map[string]any{"priority": 1}})
	require.Equal(t, 200, r.Status, "%s", r.Body)
	r = e.do(req{Method: "PUT", Path: acme + "/queues/" + queues[1] + "/members/" + agent, Token: e.admin, Body: map[string]any{"priority": 2, "defaultOutbound": true}})
	require.Equal(t, 200, r.Status, "%s", r.Body)
	r = e.do(req{Method: "GET", Path: acme + "/queues/" + queues[1] + "/members", Token: e.admin})
	require.Equal(t, 200, r.Status)
	assert.Equal(t, []any{map[string]any{"userId": agent, "priority": float64(2), "defaultOutbound": true}}, r.JSON(t)["items"])

	// Overrides beat the team's profile.
	r = e.do(req{Method: "GET", Path: acme + "/users/" + agent + "/permissions", Token: e.admin})
	require.Equal(t, 200, r.Status, "%s", r.Body)
	p := effective(t, r, "calls.max_active")
	assert.EqualValues(t, 2, p["value"])
	assert.Equal(t, map[string]any{"kind": "team", "profileId": profile, "profileName": "Agents", "teamId": team, "teamName": "Call center"}, p["from"])
	r = e.do(req{Method: "PUT", Path: acme + "/users/" + agent + "/permissions/calls.max_active", Token: e.admin, Body: map[string]any{"value": 4}})
	require.Equal(t, 200, r.Status, "%s", r.Body)
	p = effective(t, r, "calls.max_active")
	assert.EqualValues(t, 4, p["value"])
	assert.Equal(t, "override", p["from"].(map[string]any)["kind"])
	r = e.do(req{Method: "PUT", Path: acme + "/users/" + agent + "/permissions/ip_phone.restricted", Token: e.admin, Body: map[string]any{"value": true}})
	require.Equal(t, 200, r.Status, "%s", r.Body)

	r = e.do(req{Method: "GET", Path: acme + "/users/" + agent, Token: e.admin})
	u := r.JSON(t)
	assert.Len(t, u["queues"], 2)
	assert.Equal(t, map[string]any{"enabled": true, "allowed": []any{"192.168.1.0/24"}}, u["ipRestriction"])
	assert.Equal(t, map[string]any{"calls.max_active": float64(4), "ip_phone.restricted": true}, u["overrides"])

	r = e.do(req{Method: "DELETE", Path: acme + "/users/" + agent + "/permissions/calls.max_active", Token: e.admin})
	require.Equal(t, 200, r.Status, "%s", r.Body)
	assert.Equal(t, "team", effective(t, r, "calls.max_active")["from"].(map[string]any)["kind"])

	r = e.do(req{Method: "DELETE", Path: acme + "/queues/" + queues[0] + "/members/" + agent, Token: e.admin})
	require.Equal(t, 204, r.Status, "%s", r.Body)
	r = e.do(req{Method: "GET", Path: acme + "/queues/" + queues[0] + "/members", Token: e.admin})
	assert.EqualValues(t, 0, r.JSON(t)["total"])
}

func TestQueuesTeamsProfilesMistakes(t *testing.T) {
	e := start(t)
	person := e.mustUser(map[string]any{"userName": "p@acme.example"})
	e.do(req{Method: "GET", Path: acme + "/queues/" + person, Token: e.admin}).Problem(t, 404)
	e.do(req{Method: "PUT", Path: acme + "/queues/" + person + "/members/" + person, Token: e.admin, Body: map[string]any{}}).Problem(t, 404)
	r := e.do(req{Method: "POST", Path: acme + "/queues", Token: e.admin, Body: map[string]any{"userName": "q", "kind": "person", "queue": map[string]any{"dispatch": "chaos"}}})
	r.Problem(t, 400)

	r = e.do(req{Method: "PUT", Path: acme + "/users/" + person + "/permissions/calls.max_active", Token: e.admin, Body: map[string]any{"value": "lots"}})
	r.Problem(t, 400)
	assert.Equal(t, []string{"value"}, r.Paths(t))
	e.do(req{Method: "PUT", Path: acme + "/users/" + person + "/permissions/no.such", Token: e.admin, Body: map[string]any{"value": true}}).Problem(t, 404)

	r = e.do(req{Method: "POST", Path: acme + "/profiles", Token: e.admin, Body: map[string]any{"name": "", "grants": map[string]any{"no.such": true}}})
	r.Problem(t, 400)
	r = e.do(req{Method: "POST", Path: acme + "/profiles", Token: e.admin, Body: map[string]any{"name": "Agents"}})
	require.Equal(t, 201, r.Status, "%s", r.Body)
	pid := r.JSON(t)["id"].(string)
	e.do(req{Method: "POST", Path: acme + "/profiles", Token: e.admin, Body: map[string]any{"name": "agents"}}).Problem(t, 409)
	e.do(req{Method: "PATCH", Path: acme + "/profiles/" + pid, Token: e.admin, IfMatch: `"3"`, Body: map[string]any{"description": "x"}}).Problem(t, 412)
	r = e.do(req{Method: "PATCH", Path: acme + "/profiles/" + pid, Token: e.admin, IfMatch: `"1"`, Body: map[string]any{"description": "Call center agents"}})
	require.Equal(t, 200, r.Status, "%s", r.Body)

	r = e.do(req{Method: "POST", Path: acme + "/teams", Token: e.admin, Body: map[string]any{"name": "T", "profiles": []string{pid}, "memberIds": []string{"ghost"}}})
	assert.Contains(t, []int{400, 404}, r.Status, "%s", r.Body)
	r = e.do(req{Method: "POST", Path: acme + "/teams", Token: e.admin, Body: map[string]any{"name": "T", "profiles": []string{pid}}})
	require.Equal(t, 201, r.Status, "%s", r.Body)
	tid := r.JSON(t)["id"].(string)
	e.do(req{Method: "DELETE", Path: acme + "/profiles/" + pid, Token: e.admin}).Problem(t, 409)
	r = e.do(req{Method: "PUT", Path: acme + "/teams/" + tid + "/members", Token: e.admin, Body: map[string]any{"items": []string{person}}})
	require.Equal(t, 200, r.Status, "%s", r.Body)
	assert.EqualValues(t, 1, r.JSON(t)["total"])
	e.do(req{Method: "GET", Path: "/api/v1/tenants/globex/teams/" + tid, Token: e.other}).Problem(t, 404)
	e.do(req{Method: "GET", Path: "/api/v1/tenants/globex/profiles/" + pid, Token: e.other}).Problem(t, 404)
	e.do(req{Method: "PATCH", Path: acme + "/teams/" + tid, Token: e.admin, Body: map[string]any{"members": 7}}).Problem(t, 400)
	r = e.do(req{Method: "PATCH", Path: acme + "/teams/" + tid, Token: e.admin, Body: map[string]any{"name": "Team T"}})
	require.Equal(t, 200, r.Status, "%s", r.Body)
	r = e.do(req{Method: "DELETE", Path: acme + "/teams/" + tid, Token: e.admin, IfMatch: r.Header.Get("ETag")})
	require.Equal(t, 204, r.Status, "%s", r.Body)
}
