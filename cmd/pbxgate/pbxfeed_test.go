package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestIntegrationPBXFeedScopes runs the binary: a device made through the
// admin API authenticates through /pbx/v1 with a token of scope pbx or
// operator; SCIM and admin tokens are 403, a wrong token 401.
func TestIntegrationPBXFeedScopes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	g := startGateway(t, "", "")
	mint := func(scope string) string {
		tok, err := g.cli("token", "create", "--tenant", "default", "--name", scope, "--scope", scope)
		require.NoError(t, err)
		return strings.TrimSpace(tok)
	}
	admin, pbx, operator := mint("admin"), mint("pbx"), mint("operator")
	call := func(method, path, token string, body any) (int, map[string]any) {
		var rd bytes.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd.Reset(b)
		}
		req, err := http.NewRequest(method, g.base+path, &rd)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	code, u := call("POST", "/api/v1/tenants/default/users", admin, map[string]any{"userName": "ada", "extension": "201"})
	require.Equal(t, 201, code, "%v", u)
	code, dev := call("POST", "/api/v1/tenants/default/users/"+u["id"].(string)+"/devices", admin, map[string]any{"kind": "desk_phone"})
	require.Equal(t, 201, code, "%v", dev)
	creds := "/pbx/v1/credentials/default/" + dev["sipId"].(string)

	for token, want := range map[string]int{pbx: 200, operator: 200, g.token: 403, admin: 403, "pbxg_wrong.token": 401} {
		code, body := call("GET", creds, token, nil)
		assert.Equal(t, want, code, "%v", body)
		if code == 200 {
			assert.NotEmpty(t, body["ha1"])
			assert.Equal(t, "201", body["extension"])
		}
	}
	require.NoError(t, g.stop())
}
