package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIntegrationServeAccessLogAndMetricsAtZero(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	g := startGateway(t, "", "")
	require.NotEmpty(t, g.token)

	// Before any request: the documented series exist at zero, and the
	// build is described.
	assert.Contains(t, metric(t, g.base, "pbxgate_http_requests_total"),
		`pbxgate_http_requests_total{code="200",endpoint="/scim/v2/Users",method="POST"} 0`)
	assert.Contains(t, metric(t, g.base, "pbxgate_http_request_duration_seconds_count"),
		`pbxgate_http_request_duration_seconds_count{endpoint="/scim/v2/Groups/{id}",method="PATCH"} 0`)
	assert.Contains(t, metric(t, g.base, "pbxgate_build_info"), `goversion="`+runtime.Version()+`"`)
	assert.Regexp(t, `pbxgate_build_info\{goversion="[^"]+",version="[^"]+"\} 1`, metric(t, g.base, "pbxgate_build_info"))

	code, body := g.scim("POST", "/Users", g.token, scimUser("ada@example.com"))
	require.Equal(t, 201, code, "%v", body)
	code, _ = g.scim("GET", "/Users/"+body["id"].(string), "pbxg_nosuch.secretsecret", nil)
	require.Equal(t, 401, code)
	resp, err := http.Get(g.base + "/setup/pbxs_abc.supersecretlinktoken")
	require.NoError(t, err)
	resp.Body.Close()
	resp, err = http.Get(g.base + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	require.NoError(t, g.stop())

	var lines []map[string]any
	for _, l := range strings.Split(g.stderr.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == "request" {
			lines = append(lines, m)
		}
	}
	require.Len(t, lines, 3, "one line per SCIM and page request, none for /healthz:\n%s", g.stderr)
	assert.Equal(t, "INFO", lines[0]["level"])
	assert.Equal(t, "POST", lines[0]["method"])
	assert.Equal(t, "/scim/v2/Users", lines[0]["route"])
	assert.Equal(t, 201.0, lines[0]["status"])
	assert.Equal(t, "default", lines[0]["tenant"])
	assert.Equal(t, "first start", lines[0]["token"])
	assert.IsType(t, 0.0, lines[0]["duration_ms"])
	assert.Equal(t, "/scim/v2/Users/{id}", lines[1]["route"])
	assert.Equal(t, 401.0, lines[1]["status"])
	assert.NotContains(t, lines[1], "tenant", "an unknown token names no tenant")
	assert.Equal(t, "/setup/{token}", lines[2]["route"])
	for _, secret := range []string{strings.Split(g.token, ".")[1], "secretsecret", "supersecretlinktoken"} {
		assert.NotContains(t, g.stderr.String(), secret, "no secret in the logs")
	}
}

func TestLogDurationsHaveUnits(t *testing.T) {
	var b bytes.Buffer
	c := &CLI{Stderr: &b}
	c.logger(LogConfig{Format: "json"}).Info("synced", "took", 1500*time.Millisecond, "startup_ms", 12)
	assert.Contains(t, b.String(), `"took_seconds":1.5`)
	assert.Contains(t, b.String(), `"startup_ms":12`)
	b.Reset()
	c.logger(LogConfig{Format: "text"}).Info("synced", "took", 1500*time.Millisecond)
	assert.Contains(t, b.String(), "took=1.5s")
}
