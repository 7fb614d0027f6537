package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestIntegrationAdminAPIScopes runs "pbxgate serve" and checks that the
// admin API is mounted and that token scopes keep SCIM and the admin API
// apart: the first-start (scim) token is 403 on /api/v1, a token made with
// --scope admin is 403 on SCIM and 200 on /api/v1.
func TestIntegrationAdminAPIScopes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the gateway")
	}
	g := startGateway(t, "", "")
	require.NotEmpty(t, g.token)
	out, err := g.cli("token", "create", "--tenant", "default", "--name", "terraform", "--scope", "admin")
	require.NoError(t, err)
	admin := strings.TrimSpace(out)

	get := func(path, token string) int {
		req, err := http.NewRequest("GET", g.base+path, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	assert.Equal(t, 200, get("/api/v1/tenants/default/users", admin))
	assert.Equal(t, 403, get("/api/v1/tenants/default/users", g.token))
	assert.Equal(t, 403, get("/scim/v2/Users", admin))
	assert.Equal(t, 200, get("/scim/v2/Users", g.token))
	assert.Equal(t, 200, get("/api/v1/openapi.json", ""))

	assert.Equal(t, `pbxgate_http_requests_total{code="200",endpoint="/api/v1/tenants/{tenant}/users",method="GET"} 1`,
		metric(t, g.base, `pbxgate_http_requests_total{code="200",endpoint="/api/v1/tenants/{tenant}/users"`), "metrics label admin API requests by path template")

	list, err := g.cli("token", "list", "--tenant", "default")
	require.NoError(t, err)
	assert.Regexp(t, `terraform\s+admin`, list)
	assert.Regexp(t, `first start\s+scim`, list)
	_, err = g.cli("token", "create", "--tenant", "default", "--scope", "root")
	assert.ErrorContains(t, err, `scope: must be scim, admin, operator or pbx, not "root"`)
	require.NoError(t, g.stop())
}
