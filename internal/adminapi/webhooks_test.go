package adminapi_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWebhooks: the secret is shown once, at creation; listings and reads
// show the delivery state without it; a bad URL is a 400 naming the field;
// another tenant's webhook is not found; deletion is final.
func TestWebhooks(t *testing.T) {
	e := start(t)
	r := e.do(req{Method: "POST", Path: acme + "/webhooks", Token: e.admin, Body: map[string]any{"url": "https://pbx.example.com/hook"}})
	require.Equal(t, 201, r.Status, "%s", r.Body)
	assert.Equal(t, "no-store", r.Header.Get("Cache-Control"))
	created := r.JSON(t)
	secret, id := created["secret"].(string), created["id"].(string)
	require.True(t, strings.HasPrefix(secret, "whsec_"), secret)
	assert.Equal(t, true, created["active"])
	assert.Equal(t, "/api/v1/tenants/acme/webhooks/"+id, r.Header.Get("Location"))

	r = e.do(req{Method: "GET", Path: acme + "/webhooks", Token: e.admin})
	require.Equal(t, 200, r.Status)
	assert.EqualValues(t, 1, r.JSON(t)["total"])
	assert.NotContains(t, string(r.Body), secret)
	r = e.do(req{Method: "GET", Path: acme + "/webhooks/" + id, Token: e.admin})
	require.Equal(t, 200, r.Status)
	assert.Equal(t, "https://pbx.example.com/hook", r.JSON(t)["url"])
	assert.NotContains(t, string(r.Body), secret)

	r = e.do(req{Method: "POST", Path: acme + "/webhooks", Token: e.admin, Body: map[string]any{"url": "http://pbx.example.com/hook"}})
	r.Problem(t, 400)
	assert.Equal(t, []string{"url"}, r.Paths(t))
	assert.Contains(t, string(r.Body), "https://")
	e.do(req{Method: "POST", Path: acme + "/webhooks", Token: e.admin, Body: map[string]any{"url": "https://x.example.com", "secret": "mine"}}).Problem(t, 400)
	r = e.do(req{Method: "POST", Path: acme + "/webhooks", Token: e.admin, Body: map[string]any{"url": "http://127.0.0.1:9000/in", "active": false}})
	require.Equal(t, 201, r.Status, "%s", r.Body)
	assert.Equal(t, false, r.JSON(t)["active"])

	e.do(req{Method: "GET", Path: "/api/v1/tenants/globex/webhooks/" + id, Token: e.other}).Problem(t, 404)
	e.do(req{Method: "GET", Path: acme + "/webhooks/" + id, Token: e.other}).Problem(t, 404)
	e.do(req{Method: "DELETE", Path: "/api/v1/tenants/globex/webhooks/" + id, Token: e.other}).Problem(t, 404)
	e.do(req{Method: "GET", Path: acme + "/webhooks", Token: e.scimTok}).Problem(t, 403)

	require.Equal(t, 204, e.do(req{Method: "DELETE", Path: acme + "/webhooks/" + id, Token: e.admin}).Status)
	e.do(req{Method: "GET", Path: acme + "/webhooks/" + id, Token: e.admin}).Problem(t, 404)
	e.do(req{Method: "DELETE", Path: acme + "/webhooks/" + id, Token: e.admin}).Problem(t, 404)
}
