package adminapi_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/pbxusers"
)

const users = "/api/v1/tenants/acme/users"

func TestUsersHappyPath(t *testing.T) {
	e := start(t)
	id := e.mustUser(map[string]any{"userName": "ada@acme.example", "name": map[string]any{"given": "Ada", "family": "Lovelace"},
		"emails": []any{map[string]any{"value": "ada@acme.example", "primary": true}}, "extension": "201"})

	r := e.do(req{Method: "GET", Path: users + "/" + id, Token: e.admin})
	require.Equal(t, 200, r.Status)
	assert.Equal(t, `"1"`, r.Header.Get("ETag"))
	assert.Equal(t, "201", r.JSON(t)["extension"])

	// Merge patch: set the title, drop the extension, keep everything else.
	r = e.do(req{Method: "PATCH", Path: users + "/" + id, Token: e.admin, IfMatch: `"1"`,
		Body: map[string]any{"title": "Engineer", "extension": nil, "features": map[string]any{"voicemail": true}}})
	require.Equal(t, 200, r.Status, "%s", r.Body)
	u := r.JSON(t)
	assert.Equal(t, "Engineer", u["title"])
	assert.Nil(t, u["extension"])
	assert.Equal(t, "Ada", u["name"].(map[string]any)["given"])
	assert.Equal(t, true, u["features"].(map[string]any)["voicemail"])
	assert.Equal(t, `"2"`, r.Header.Get("ETag"))

	// The change log names the token as the actor.
	changes, err := e.dir.Changes(context.Background(), "acme", pbxusers.ChangeQuery{Entity: "user", EntityID: id})
	require.NoError(t, err)
	require.Len(t, changes, 2)
	assert.Equal(t, pbxusers.Actor{Source: pbxusers.SourceManual, Name: "token ci-admin"}, changes[1].Actor)

	// List with search, filters, sort and cursor paging.
	for i := range 3 {
		e.mustUser(map[string]any{"userName": fmt.Sprintf("u%d@acme.example", i)})
	}
	r = e.do(req{Method: "GET", Path: users + "?limit=2&sort=userName", Token: e.admin})
	require.Equal(t, 200, r.Status)
	page := r.JSON(t)
	assert.EqualValues(t, 4, page["total"])
	require.Len(t, page["items"], 2)
	assert.Equal(t, "ada@acme.example", page["items"].([]any)[0].(map[string]any)["userName"])
	r = e.do(req{Method: "GET", Path: users + "?limit=2&sort=userName&cursor=" + page["nextCursor"].(string), Token: e.admin})
	page = r.JSON(t)
	require.Len(t, page["items"], 2)
	assert.Equal(t, "u2@acme.example", page["items"].([]any)[1].(map[string]any)["userName"])
	assert.Nil(t, page["nextCursor"])
	r = e.do(req{Method: "GET", Path: users + "?search=lovelace", Token: e.admin})
	assert.EqualValues(t, 1, r.JSON(t)["total"])
	r = e.do(req{Method: "GET", Path: users + "?status=inactive", Token: e.admin})
	assert.EqualValues(t, 0, r.JSON(t)["total"])

	// Delete with the current ETag.
	r = e.do(req{Method: "DELETE", Path: users + "/" + id, Token: e.admin, IfMatch: `"2"`})
	require.Equal(t, 204, r.Status, "%s", r.Body)
	e.do(req{Method: "GET", Path: users + "/" + id, Token: e.admin}).Problem(t, 404)
}

func TestUsersMistakes(t *testing.T) {
	e := start(t)
	id := e.mustUser(map[string]any{"userName": "ada@acme.example", "extension": "201"})
	e.mustUser(map[string]any{"userName": "bob@acme.example", "extension": "202"})

	t.Run("every bad field at once", func(t *testing.T) {
		r := e.do(req{Method: "POST", Path: users, Token: e.admin, Body: map[string]any{
			"userName": "carol@acme.example", "extension": "2x", "emails": []any{map[string]any{"value": "not-an-address"}},
			"timeZone": "Mars/Olympus", "bogus": 1, "features": map[string]any{"voicemail": "yes"}}})
		r.Problem(t, 400)
		paths := r.Paths(t)
		assert.Contains(t, paths, "bogus")
		assert.Contains(t, paths, "features.voicemail")
	})
	t.Run("library validation lists every field", func(t *testing.T) {
		r := e.do(req{Method: "POST", Path: users, Token: e.admin, Body: map[string]any{
			"userName": "carol@acme.example", "extension": "2x", "emails": []any{map[string]any{"value": "not-an-address"}}, "timeZone": "Mars/Olympus"}})
		r.Problem(t, 400)
		paths := r.Paths(t)
		assert.Contains(t, paths, "extension")
		assert.Contains(t, paths, "timeZone")
		assert.Contains(t, paths, "emails[0].value")
	})
	t.Run("duplicate extension", func(t *testing.T) {
		r := e.do(req{Method: "PATCH", Path: users + "/" + id, Token: e.admin, Body: map[string]any{"extension": "202"}})
		p := r.Problem(t, 409)
		assert.Equal(t, "extension", p["field"])
	})
	t.Run("missing reference", func(t *testing.T) {
		r := e.do(req{Method: "PATCH", Path: users + "/" + id, Token: e.admin, Body: map[string]any{"managerId": "no-such-user"}})
		r.Problem(t, 400)
		assert.Contains(t, r.Paths(t), "managerId")
	})
	t.Run("read-only field", func(t *testing.T) {
		r := e.do(req{Method: "PATCH", Path: users + "/" + id, Token: e.admin, Body: map[string]any{"version": 9, "kind": "call_queue"}})
		r.Problem(t, 400)
		assert.ElementsMatch(t, []string{"kind", "version"}, r.Paths(t))
	})
	t.Run("stale ETag", func(t *testing.T) {
		r := e.do(req{Method: "PATCH", Path: users + "/" + id, Token: e.admin, IfMatch: `"7"`, Body: map[string]any{"title": "x"}})
		r.Problem(t, 412)
		r = e.do(req{Method: "DELETE", Path: users + "/" + id, Token: e.admin, IfMatch: `"7"`})
		r.Problem(t, 412)
		r = e.do(req{Method: "GET", Path: users + "/" + id, Token: e.admin})
		assert.Equal(t, `"1"`, r.Header.Get("ETag"), "nothing changed")
	})
	t.Run("wrong scope", func(t *testing.T) {
		p := e.do(req{Method: "GET", Path: users + "/" + id, Token: e.scimTok}).Problem(t, 403)
		assert.Contains(t, p["detail"], `scope "scim"`)
		e.do(req{Method: "GET", Path: users + "/" + id}).Problem(t, 401)
		e.do(req{Method: "GET", Path: users + "/" + id, Token: "pbxg_nope.nope"}).Problem(t, 401)
		e.do(req{Method: "GET", Path: "/api/v1/tenants", Token: e.admin}).Problem(t, 403)
	})
	t.Run("other tenant", func(t *testing.T) {
		e.do(req{Method: "GET", Path: "/api/v1/tenants/globex/users/" + id, Token: e.other}).Problem(t, 404)
		e.do(req{Method: "GET", Path: users + "/" + id, Token: e.other}).Problem(t, 404)
		e.do(req{Method: "PATCH", Path: "/api/v1/tenants/globex/users/" + id, Token: e.other, Body: map[string]any{"title": "x"}}).Problem(t, 404)
		e.do(req{Method: "DELETE", Path: "/api/v1/tenants/globex/users/" + id, Token: e.other}).Problem(t, 404)
		// An operator reaches every tenant.
		require.Equal(t, 200, e.do(req{Method: "GET", Path: users + "/" + id, Token: e.operator}).Status)
	})
	t.Run("bad paging", func(t *testing.T) {
		r := e.do(req{Method: "GET", Path: users + "?limit=0&order=up&cursor=zz&sort=shoeSize", Token: e.admin})
		r.Problem(t, 400)
		assert.ElementsMatch(t, []string{"limit", "order", "cursor", "sort"}, r.Paths(t))
	})
}

// TestUsersOwnership: fields an identity provider owns are 409 naming the
// owner and the field; PBX-side fields stay editable.
func TestUsersOwnership(t *testing.T) {
	e := start(t)
	ctx := pbxusers.WithActor(context.Background(), pbxusers.Actor{Source: pbxusers.SourceSCIM, Name: "okta"})
	u, err := e.dir.CreateUser(ctx, "acme", pbxusers.User{UserName: "ida@acme.example", Owner: pbxusers.Owner{Source: pbxusers.SourceSCIM, ExternalID: "okta-1"}})
	require.NoError(t, err)
	require.Equal(t, pbxusers.SourceSCIM, u.Owner.Source)

	r := e.do(req{Method: "PATCH", Path: users + "/" + u.ID, Token: e.admin, Body: map[string]any{"displayName": "Ida", "title": "CEO", "extension": "230"}})
	p := r.Problem(t, 409)
	assert.Equal(t, "scim", p["owner"])
	assert.ElementsMatch(t, []string{"displayName", "title"}, r.Paths(t))
	assert.Contains(t, p["detail"], "displayName")

	r = e.do(req{Method: "PATCH", Path: users + "/" + u.ID, Token: e.admin, Body: map[string]any{"extension": "230",
		"features": map[string]any{"voicemail": true}, "ipRestriction": map[string]any{"enabled": true, "allowed": []any{"10.0.0.0/8"}}}})
	require.Equal(t, 200, r.Status, "%s", r.Body)
	assert.Equal(t, "230", r.JSON(t)["extension"])

	p = e.do(req{Method: "DELETE", Path: users + "/" + u.ID, Token: e.admin}).Problem(t, 409)
	assert.Equal(t, "scim", p["owner"])
}

// TestUsersInitialPassword: an admin may set the first password on create
// (Aloware's "Manual"): it is stored hashed, never returned, no welcome
// mail goes out, and the user signs in with it; a weak one is refused
// naming the field.
func TestUsersInitialPassword(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	r := e.do(req{Method: "POST", Path: users, Token: e.admin, Body: map[string]any{"userName": "mia@acme.example",
		"emails":   []any{map[string]any{"value": "mia@acme.example", "primary": true}},
		"password": map[string]any{"mode": "manual", "new": "correct horse battery staple"}}})
	require.Equal(t, 201, r.Status, "%s", r.Body)
	assert.NotContains(t, string(r.Body), "correct horse")
	pw := r.JSON(t)["password"].(map[string]any)
	assert.Equal(t, true, pw["isSet"])
	assert.Equal(t, "manual", pw["mode"])
	_, err := e.dir.Login(ctx, "acme", "mia@acme.example", "correct horse battery staple")
	require.NoError(t, err)
	mail, err := e.dir.ListMail(ctx, "acme", pbxusers.MailQuery{})
	require.NoError(t, err)
	assert.Empty(t, mail, "a manual password sends no welcome mail")

	r = e.do(req{Method: "POST", Path: users, Token: e.admin, Body: map[string]any{"userName": "max@acme.example",
		"password": map[string]any{"new": "short"}}})
	p := r.Problem(t, 400)
	assert.Contains(t, fmt.Sprint(p["errors"]), "password")
}
