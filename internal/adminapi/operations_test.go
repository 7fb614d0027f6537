package adminapi_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/internal/adminapi"
	"github.com/pbxgate/pbxgate/pbxusers"
)

func TestTenants(t *testing.T) {
	e := start(t)
	r := e.do(req{Method: "GET", Path: "/api/v1/tenants", Token: e.operator})
	require.Equal(t, 200, r.Status)
	assert.EqualValues(t, 2, r.JSON(t)["total"])
	r = e.do(req{Method: "GET", Path: "/api/v1/tenants/globex", Token: e.operator})
	require.Equal(t, 200, r.Status)
	assert.Equal(t, "Globex", r.JSON(t)["name"])
	e.do(req{Method: "GET", Path: "/api/v1/tenants/globex", Token: e.admin}).Problem(t, 404)
	e.do(req{Method: "GET", Path: "/api/v1/tenants/acme", Token: e.admin}).Problem(t, 403)
	e.do(req{Method: "GET", Path: "/api/v1/tenants/nope", Token: e.operator}).Problem(t, 404)
	e.do(req{Method: "GET", Path: "/api/v1/tenants", Token: e.scimTok}).Problem(t, 403)

	r = e.do(req{Method: "POST", Path: "/api/v1/tenants", Token: e.operator, Body: map[string]any{"id": "initech", "name": "Initech", "region": "US"}})
	require.Equal(t, 201, r.Status, "%s", r.Body)
	e.do(req{Method: "POST", Path: "/api/v1/tenants", Token: e.operator, Body: map[string]any{"id": "initech"}}).Problem(t, 409)
	r = e.do(req{Method: "POST", Path: "/api/v1/tenants", Token: e.operator, Body: map[string]any{"id": "Bad Id!", "timeZone": "Nowhere/City"}})
	r.Problem(t, 400)
	assert.Subset(t, r.Paths(t), []string{"id", "timeZone"})
	e.do(req{Method: "POST", Path: "/api/v1/tenants", Token: e.admin, Body: map[string]any{"id": "x"}}).Problem(t, 403)
	r = e.do(req{Method: "PATCH", Path: "/api/v1/tenants/initech", Token: e.operator, IfMatch: `"1"`, Body: map[string]any{"timeZone": "America/Chicago"}})
	require.Equal(t, 200, r.Status, "%s", r.Body)
	assert.Equal(t, "America/Chicago", r.JSON(t)["timeZone"])
	e.do(req{Method: "PATCH", Path: "/api/v1/tenants/initech", Token: e.operator, IfMatch: `"1"`, Body: map[string]any{"name": "x"}}).Problem(t, 412)
	e.do(req{Method: "PATCH", Path: "/api/v1/tenants/initech", Token: e.operator, Body: map[string]any{"id": "other"}}).Problem(t, 400)
}

// TestTeamOwnership: a team an identity provider owns cannot be renamed,
// emptied or deleted through the API; its bound profiles can change.
func TestTeamOwnership(t *testing.T) {
	e := start(t)
	ctx := pbxusers.WithActor(context.Background(), pbxusers.Actor{Source: pbxusers.SourceSCIM, Name: "okta"})
	tm, err := e.dir.CreateTeam(ctx, "acme", pbxusers.Team{Name: "Sales", Owner: pbxusers.Owner{Source: pbxusers.SourceSCIM, ExternalID: "g1"}}, nil)
	require.NoError(t, err)
	require.Equal(t, pbxusers.SourceSCIM, tm.Owner.Source)
	p := e.do(req{Method: "PATCH", Path: acme + "/teams/" + tm.ID, Token: e.admin, Body: map[string]any{"name": "Revenue"}}).Problem(t, 409)
	assert.Equal(t, "scim", p["owner"])
	e.do(req{Method: "PUT", Path: acme + "/teams/" + tm.ID + "/members", Token: e.admin, Body: map[string]any{"items": []string{}}}).Problem(t, 409)
	e.do(req{Method: "DELETE", Path: acme + "/teams/" + tm.ID, Token: e.admin}).Problem(t, 409)
	r := e.do(req{Method: "POST", Path: acme + "/profiles", Token: e.admin, Body: map[string]any{"name": "Sellers"}})
	require.Equal(t, 201, r.Status)
	r = e.do(req{Method: "PATCH", Path: acme + "/teams/" + tm.ID, Token: e.admin, Body: map[string]any{"profiles": []string{r.JSON(t)["id"].(string)}}})
	require.Equal(t, 200, r.Status, "%s", r.Body)
}

func TestTokens(t *testing.T) {
	e := start(t)
	r := e.do(req{Method: "POST", Path: acme + "/tokens", Token: e.admin, Body: map[string]any{"name": "terraform", "scope": "admin"}})
	require.Equal(t, 201, r.Status, "%s", r.Body)
	created := r.JSON(t)
	secret := created["token"].(string)
	require.True(t, strings.HasPrefix(secret, "pbxg_"))
	// The new token works, and no listing shows a secret.
	require.Equal(t, 200, e.do(req{Method: "GET", Path: acme + "/users", Token: secret}).Status)
	r = e.do(req{Method: "GET", Path: acme + "/tokens", Token: e.admin})
	require.Equal(t, 200, r.Status)
	assert.NotContains(t, string(r.Body), secret[strings.IndexByte(secret, '.')+1:])
	assert.Contains(t, string(r.Body), `"scope":"scim"`)

	e.do(req{Method: "POST", Path: acme + "/tokens", Token: e.admin, Body: map[string]any{"name": "x", "scope": "operator"}}).Problem(t, 403)
	r = e.do(req{Method: "POST", Path: acme + "/tokens", Token: e.admin, Body: map[string]any{"name": strings.Repeat("n", 200), "scope": "root"}})
	r.Problem(t, 400)
	assert.ElementsMatch(t, []string{"name", "scope"}, r.Paths(t))
	require.Equal(t, 201, e.do(req{Method: "POST", Path: acme + "/tokens", Token: e.operator, Body: map[string]any{"name": "ops2", "scope": "operator"}}).Status)

	r = e.do(req{Method: "DELETE", Path: acme + "/tokens/" + created["id"].(string), Token: e.admin})
	require.Equal(t, 204, r.Status, "%s", r.Body)
	e.do(req{Method: "GET", Path: acme + "/users", Token: secret}).Problem(t, 401)
	e.do(req{Method: "DELETE", Path: "/api/v1/tenants/globex/tokens/" + created["id"].(string), Token: e.other}).Problem(t, 404)
}

func TestChangesOutboxImports(t *testing.T) {
	e := start(t)
	csv := "userName,givenName,familyName,email,extension\n" +
		"ada@acme.example,Ada,Lovelace,ada@acme.example,201\n" +
		"grace@acme.example,Grace,Hopper,grace@acme.example,202\n"
	r := e.do(req{Method: "POST", Path: acme + "/imports?dryRun=true", Token: e.admin, Raw: []byte(csv), ContentType: "text/csv"})
	require.Equal(t, 200, r.Status, "%s", r.Body)
	assert.Equal(t, map[string]any{"dryRun": true, "created": float64(2), "updated": float64(0), "unchanged": float64(0), "mailQueued": float64(2),
		"rows": []any{map[string]any{"line": float64(2), "userName": "ada@acme.example", "outcome": "created"},
			map[string]any{"line": float64(3), "userName": "grace@acme.example", "outcome": "created"}}}, r.JSON(t))
	assert.EqualValues(t, 0, e.do(req{Method: "GET", Path: acme + "/users", Token: e.admin}).JSON(t)["total"], "a dry run writes nothing")

	bad := "userName,email,extension\nx@acme.example,not-mail,2a\ny@acme.example,y@acme.example,zz\n"
	r = e.do(req{Method: "POST", Path: acme + "/imports", Token: e.admin, Raw: []byte(bad), ContentType: "text/csv"})
	r.Problem(t, 400)
	paths := r.Paths(t)
	assert.Contains(t, paths, "line 2, email")
	assert.Contains(t, paths, "line 2, extension")
	assert.Contains(t, paths, "line 3, extension")

	r = e.do(req{Method: "POST", Path: acme + "/imports", Token: e.admin, Raw: []byte(csv), ContentType: "text/csv"})
	require.Equal(t, 201, r.Status, "%s", r.Body)

	// Welcome mail is in the outbox; retry puts it back in the queue.
	r = e.do(req{Method: "GET", Path: acme + "/outbox?status=pending", Token: e.admin})
	require.Equal(t, 200, r.Status, "%s", r.Body)
	items := r.JSON(t)["items"].([]any)
	require.Len(t, items, 2)
	id := strconv.Itoa(int(items[0].(map[string]any)["id"].(float64)))
	r = e.do(req{Method: "GET", Path: acme + "/outbox/" + id, Token: e.admin})
	require.Equal(t, 200, r.Status, "%s", r.Body)
	assert.Equal(t, []any{}, r.JSON(t)["attemptLog"])
	r = e.do(req{Method: "POST", Path: acme + "/outbox/" + id + "/retry", Token: e.admin})
	require.Equal(t, 202, r.Status, "%s", r.Body)
	e.do(req{Method: "GET", Path: "/api/v1/tenants/globex/outbox/" + id, Token: e.other}).Problem(t, 404)
	e.do(req{Method: "GET", Path: acme + "/outbox/abc", Token: e.admin}).Problem(t, 404)

	// The change log, paged, names the token.
	r = e.do(req{Method: "GET", Path: acme + "/changes?entity=user&limit=1", Token: e.admin})
	require.Equal(t, 200, r.Status, "%s", r.Body)
	page := r.JSON(t)
	require.Len(t, page["items"], 1)
	assert.Equal(t, "token ci-admin", page["items"].([]any)[0].(map[string]any)["actor"].(map[string]any)["name"])
	after := strconv.Itoa(int(page["nextAfter"].(float64)))
	r = e.do(req{Method: "GET", Path: acme + "/changes?entity=user&limit=1&after=" + after, Token: e.admin})
	require.Len(t, r.JSON(t)["items"], 1)
	e.do(req{Method: "GET", Path: acme + "/changes?after=-3&limit=x", Token: e.admin}).Problem(t, 400)
	// Newest first, paged back with nextBefore.
	r = e.do(req{Method: "GET", Path: acme + "/changes?entity=user&limit=1&order=newest", Token: e.admin})
	require.Equal(t, 200, r.Status, "%s", r.Body)
	page = r.JSON(t)
	newest := page["items"].([]any)[0].(map[string]any)["seq"].(float64)
	before := strconv.Itoa(int(page["nextBefore"].(float64)))
	r = e.do(req{Method: "GET", Path: acme + "/changes?entity=user&limit=1&order=newest&before=" + before, Token: e.admin})
	require.Equal(t, 200, r.Status, "%s", r.Body)
	assert.Less(t, r.JSON(t)["items"].([]any)[0].(map[string]any)["seq"].(float64), newest)
	e.do(req{Method: "GET", Path: acme + "/changes?order=sideways&before=0", Token: e.admin}).Problem(t, 400)

	// LDAP run history: none yet; no directory is configured here.
	r = e.do(req{Method: "GET", Path: acme + "/ldap/directories/corp/runs", Token: e.admin})
	require.Equal(t, 200, r.Status, "%s", r.Body)
	assert.EqualValues(t, 0, r.JSON(t)["total"])
	e.do(req{Method: "POST", Path: acme + "/ldap/directories/corp/runs", Token: e.admin, Body: map[string]any{"dryRun": true}}).Problem(t, 404)

	// Resend welcome and password reset.
	uid := e.do(req{Method: "GET", Path: acme + "/users?userName=ada@acme.example", Token: e.admin}).JSON(t)["items"].([]any)[0].(map[string]any)["id"].(string)
	require.Equal(t, 202, e.do(req{Method: "POST", Path: acme + "/users/" + uid + "/welcome", Token: e.admin}).Status)
	require.Equal(t, 202, e.do(req{Method: "POST", Path: acme + "/users/" + uid + "/password-reset", Token: e.admin}).Status)
}

// TestEveryDocumentedPath walks every operation of the OpenAPI document:
// each is served (not the catch-all's "no such endpoint"), and every
// answer matches the document (checked by do). Ids are made up, so most
// answers are 404 problems; the point is that the route exists and its
// errors are documented.
func TestEveryDocumentedPath(t *testing.T) {
	e := start(t)
	var doc struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	require.NoError(t, jsonUnmarshal(adminapi.Document(), &doc))
	n := 0
	for path, ops := range doc.Paths {
		for method := range ops {
			m := strings.ToUpper(method)
			p := strings.NewReplacer("{tenant}", "acme", "{id}", "x1", "{device}", "d1", "{permission}", "calls.max_active",
				"{number}", "%2B4930555", "{tf}", "tf1", "{profile}", "p1", "{team}", "t1", "{user}", "u1", "{token}", "k1",
				"{msg}", "1", "{name}", "corp").Replace(path)
			var body any
			if m == http.MethodPost || m == http.MethodPut || m == http.MethodPatch {
				body = map[string]any{}
			}
			r := e.do(req{Method: m, Path: p, Token: e.operator, Body: body})
			if r.Status == 404 {
				assert.NotContains(t, string(r.Body), "no such endpoint", "%s %s", m, path)
			}
			assert.NotEqual(t, 405, r.Status, "%s %s", m, path)
			n++
		}
	}
	assert.Greater(t, n, 50)

	// A path of the document with a method it does not have is 405.
	r := e.do(req{Method: "PUT", Path: acme + "/users", Token: e.admin, Body: map[string]any{}})
	r.Problem(t, 405)
	assert.Equal(t, "GET, POST", r.Header.Get("Allow"))
	e.do(req{Method: "GET", Path: "/api/v1/nothing", Token: e.admin}).Problem(t, 404)
	e.do(req{Method: "GET", Path: "/api/v1/nothing"}).Problem(t, 401)
}
