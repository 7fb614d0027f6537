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
