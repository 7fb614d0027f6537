package main

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/scim"
)

// TestMetricsLabelsBounded sends 10,000 requests with random methods and
// paths, as an unauthenticated client can, and checks the label values of
// the HTTP metrics come from a fixed set: the series count does not grow
// with them.
func TestMetricsLabelsBounded(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := newHTTPMetrics(reg)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {})
	mux.Handle(scim.Prefix+"/", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "a bearer token is required", http.StatusUnauthorized)
	}))
	srv := httptest.NewServer(m.wrap(mux))
	defer srv.Close()

	rng := rand.New(rand.NewPCG(1, 2))
	word := func() string {
		const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-"
		b := make([]byte, 1+rng.IntN(12))
		for i := range b {
			b[i] = letters[rng.IntN(len(letters))]
		}
		return string(b)
	}
	send := func(n int) {
		for i := 0; i < n; i++ {
			method := []string{http.MethodGet, http.MethodPost, strings.ToUpper(word())}[rng.IntN(3)]
			path := []string{"/" + word(), scim.Prefix + "/" + word(), scim.Prefix + "/Users/" + word() + "/" + word(),
				scim.Prefix + "/Users/" + word(), "/healthz"}[rng.IntN(5)]
			req, err := http.NewRequest(method, srv.URL+path, nil)
			require.NoError(t, err)
			resp, err := srv.Client().Do(req)
			require.NoError(t, err)
			resp.Body.Close()
		}
	}
	send(10000)
	allowed := map[string]map[string]bool{
		"endpoint": {"/healthz": true, "other": true, scim.Prefix: true, scim.Prefix + "/Users": true,
			scim.Prefix + "/Users/{id}": true, scim.Prefix + "/Users/.search": true},
		"method": {"GET": true, "POST": true, "other": true},
	}
	mfs, err := reg.Gather()
	require.NoError(t, err)
	series := 0
	for _, mf := range mfs {
		for _, mm := range mf.GetMetric() {
			series++
			for _, l := range mm.GetLabel() {
				if set := allowed[l.GetName()]; set != nil {
					assert.True(t, set[l.GetValue()], "label %s=%q", l.GetName(), l.GetValue())
				}
			}
		}
	}
	// 2 metrics × 6 endpoints × 3 methods × a few codes at most; before the
	// fix every junk method and SCIM resource name was a new series.
	assert.Less(t, series, 80, fmt.Sprint("series after 10,000 junk requests: ", series))
	t.Logf("series after 10,000 junk requests: %d", series)
}
