package adminapi_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDeleteUserInUse: deleting a user others refer to is 409 in-use with
// every reference; ?cascade=true rewrites them and deletes.
func TestDeleteUserInUse(t *testing.T) {
	e := start(t)
	users := "/api/v1/tenants/acme/users"
	boss := e.mustUser(map[string]any{"userName": "boss", "extension": "200"})
	ada := e.mustUser(map[string]any{"userName": "ada", "extension": "201", "managerId": boss})

	p := e.do(req{Method: "DELETE", Path: users + "/" + boss, Token: e.admin}).Problem(t, 409)
	assert.Equal(t, "urn:pbxgate:problem:in-use", p["type"])
	require.Len(t, p["references"], 1)
	ref := p["references"].([]any)[0].(map[string]any)
	assert.Equal(t, map[string]any{"entity": "user", "id": ada, "name": "ada", "field": "manager"}, ref)

	e.do(req{Method: "DELETE", Path: users + "/" + boss + "?cascade=maybe", Token: e.admin}).Problem(t, 400)
	r := e.do(req{Method: "DELETE", Path: users + "/" + boss + "?cascade=true", Token: e.admin})
	require.Equal(t, 204, r.Status, "body: %s", r.Body)
	got := e.do(req{Method: "GET", Path: users + "/" + ada, Token: e.admin}).JSON(t)
	assert.NotContains(t, got, "managerId")
}

// TestAuthFailuresThrottled: after a burst of failed authentications from
// one address the API answers 429 with Retry-After, documented in the
// OpenAPI document, before it checks the next token.
func TestAuthFailuresThrottled(t *testing.T) {
	e := start(t)
	codes := map[int]int{}
	for i := 0; i < 25; i++ {
		r := e.do(req{Method: "GET", Path: "/api/v1/tenants/acme/users", Token: "pbxg_guessed.secret"})
		codes[r.Status]++
		if r.Status == 429 {
			assert.NotEmpty(t, r.Header.Get("Retry-After"))
		}
	}
	assert.Equal(t, map[int]int{401: 20, 429: 5}, codes)
}

// TestStrictJSON: invalid UTF-8, duplicate keys and trailing data are 400.
func TestStrictJSON(t *testing.T) {
	e := start(t)
	for name, body := range map[string]string{
		"invalid UTF-8": "{\"userName\":\"ada\xff\"}",
		"duplicate key": `{"userName":"ada","userName":"eve"}`,
		"trailing data": `{"userName":"ada"} x`,
	} {
		r := e.do(req{Method: "POST", Path: "/api/v1/tenants/acme/users", Token: e.admin, Raw: []byte(body), ContentType: "application/json"})
		assert.Equal(t, 400, r.Status, name)
	}
}

// TestNumberETag: numbers carry an ETag like every mutable resource; a
// stale If-Match on PUT or DELETE is 412 and changes nothing.
func TestNumberETag(t *testing.T) {
	e := start(t)
	path := "/api/v1/tenants/acme/numbers/+4930123456"
	r := e.do(req{Method: "PUT", Path: path, Token: e.admin, Body: map[string]any{"label": "Main"}})
	require.Equal(t, 200, r.Status, "body: %s", r.Body)
	assert.Equal(t, `"1"`, r.Header.Get("ETag"))
	r = e.do(req{Method: "PUT", Path: path, Token: e.admin, Body: map[string]any{"label": "Sales"}, IfMatch: `"1"`})
	require.Equal(t, 200, r.Status, "body: %s", r.Body)
	assert.Equal(t, `"2"`, r.Header.Get("ETag"))
	e.do(req{Method: "PUT", Path: path, Token: e.admin, Body: map[string]any{"label": "Stale"}, IfMatch: `"1"`}).Problem(t, 412)
	e.do(req{Method: "DELETE", Path: path, Token: e.admin, IfMatch: `"1"`}).Problem(t, 412)
	got := e.do(req{Method: "GET", Path: path, Token: e.admin})
	assert.Equal(t, "Sales", got.JSON(t)["label"])
	assert.Equal(t, `"2"`, got.Header.Get("ETag"))
	r = e.do(req{Method: "DELETE", Path: path, Token: e.admin, IfMatch: `"2"`})
	assert.Equal(t, 204, r.Status)
}
