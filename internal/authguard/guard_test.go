package authguard_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"

	"github.com/pbxgate/pbxgate/internal/authguard"
)

func TestGuard(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	var logs bytes.Buffer
	reg := prometheus.NewRegistry()
	g := authguard.New(authguard.Options{PerMinute: 6, Burst: 3, Now: func() time.Time { return now },
		Logger: slog.New(slog.NewTextHandler(&logs, nil)), Registerer: reg})
	ctx := context.Background()
	r := httptest.NewRequest("GET", "/scim/v2/Users", nil)
	r.RemoteAddr = "192.0.2.7:4000"
	bearer := "pbxg_abc123.supersecret"
	for i := 0; i < 3; i++ {
		blocked, _ := g.Blocked(r, bearer, "scim")
		assert.False(t, blocked, "failure %d", i)
		g.Failed(ctx, r, bearer, "scim")
	}
	blocked, wait := g.Blocked(r, bearer, "scim")
	assert.True(t, blocked)
	assert.Equal(t, 10*time.Second, wait)

	// Another address with the same token id is blocked by the id.
	other := httptest.NewRequest("GET", "/scim/v2/Users", nil)
	other.RemoteAddr = "198.51.100.9:4000"
	blocked, _ = g.Blocked(other, bearer, "scim")
	assert.True(t, blocked, "the token id failed too often")
	blocked, _ = g.Blocked(other, "pbxg_zzz.x", "scim")
	assert.False(t, blocked, "a fresh address and id")

	now = now.Add(10 * time.Second)
	blocked, _ = g.Blocked(r, bearer, "scim")
	assert.False(t, blocked, "one failure refilled")

	assert.Contains(t, logs.String(), "client=192.0.2.7")
	assert.Contains(t, logs.String(), "token_id=abc123")
	assert.NotContains(t, logs.String(), "supersecret")
	assert.Equal(t, 3.0, counter(t, reg, "pbxgate_auth_failures_total", "scim"))
	assert.Equal(t, 2.0, counter(t, reg, "pbxgate_auth_throttled_total", "scim"))
	assert.Equal(t, 0.0, counter(t, reg, "pbxgate_auth_failures_total", "api"), "present at zero")
}

func counter(t *testing.T, reg *prometheus.Registry, name, endpoint string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if m.GetLabel()[0].GetValue() == endpoint {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no %s{endpoint=%q}", name, endpoint)
	return 0
}
