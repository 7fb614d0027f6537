package main

import (
	"context"
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pbxgate/pbxgate/pbxusers"
	"github.com/pbxgate/pbxgate/scim"
)

// registerBuildInfo adds pbxgate_build_info{version,goversion} 1.
func registerBuildInfo(reg prometheus.Registerer) {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "pbxgate_build_info", Help: "Always 1; the labels say which pbxgate and Go built the running binary.",
	}, []string{"version", "goversion"})
	g.WithLabelValues(version(), runtime.Version()).Set(1)
	reg.MustRegister(g)
}

// knownRoutes are the endpoints and methods the gateway serves; their
// request counters and latency histograms exist at zero from the start, so
// a dashboard or an alert on rate() has a series before the first request.
var knownRoutes = map[string][]string{
	scim.Prefix + "/Users":          {http.MethodGet, http.MethodPost},
	scim.Prefix + "/Users/{id}":     {http.MethodGet, http.MethodPut, http.MethodPatch, http.MethodDelete},
	scim.Prefix + "/Users/.search":  {http.MethodPost},
	scim.Prefix + "/Groups":         {http.MethodGet, http.MethodPost},
	scim.Prefix + "/Groups/{id}":    {http.MethodGet, http.MethodPut, http.MethodPatch, http.MethodDelete},
	scim.Prefix + "/Groups/.search": {http.MethodPost},
	"/setup/{token}":                {http.MethodGet, http.MethodPost},
	"/healthz":                      {http.MethodGet},
	"/readyz":                       {http.MethodGet},
}

// initialize creates the series of the known routes at zero.
func (m *httpMetrics) initialize() {
	for ep, methods := range knownRoutes {
		for _, method := range methods {
			m.requests.WithLabelValues(ep, method, "200")
			m.latency.WithLabelValues(ep, method)
		}
	}
}

// accessLog writes one INFO line per request other than probes and
// scrapes: method, route (ids and set-password tokens folded, as in the
// metrics), status, duration in milliseconds, and for SCIM the tenant and
// token name. Never a token, a query string or a body.
type accessLog struct {
	log    *slog.Logger
	tokens *tokenNames
}

func newAccessLog(log *slog.Logger, dir *pbxusers.Directory) *accessLog {
	return &accessLog{log: log.With("component", "http"), tokens: &tokenNames{dir: dir, byID: map[string]tokenName{}}}
}

func (a *accessLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz", "/readyz", "/metrics":
			h.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		if sw.code == 0 {
			sw.code = http.StatusOK
		}
		route := endpoint(r) // after serving: the mux has set r.Pattern
		attrs := []slog.Attr{
			slog.String("method", methodLabel(r.Method)), slog.String("route", route), slog.Int("status", sw.code),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
		}
		if strings.HasPrefix(route, scim.Prefix) && sw.code != http.StatusUnauthorized {
			if tn, ok := a.tokens.lookup(r.Context(), tokenID(r.Header.Get("Authorization"))); ok {
				attrs = append(attrs, slog.String("tenant", tn.tenant), slog.String("token", tn.name))
			}
		}
		a.log.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
	})
}

// tokenID is the public part of a bearer token ("pbxg_<id>.<secret>"),
// the id "pbxgate token list" shows; "" for anything else.
func tokenID(header string) string {
	_, tok, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok {
		return ""
	}
	id, _, ok := strings.Cut(strings.TrimPrefix(strings.TrimSpace(tok), "pbxg_"), ".")
	if !ok || id == "" || len(id) > 64 {
		return ""
	}
	return id
}

// tokenName is what the access log says about a token.
type tokenName struct{ tenant, name string }

// tokenNames maps token ids to their tenant and name. A miss reads every
// tenant's tokens again, at most every rescanInterval, so unknown ids cost
// nothing extra.
type tokenNames struct {
	dir      *pbxusers.Directory
	mu       sync.Mutex
	byID     map[string]tokenName
	lastScan time.Time
}

const rescanInterval = 5 * time.Second

func (t *tokenNames) lookup(ctx context.Context, id string) (tokenName, bool) {
	if id == "" {
		return tokenName{}, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if tn, ok := t.byID[id]; ok {
		return tn, true
	}
	if time.Since(t.lastScan) < rescanInterval {
		return tokenName{}, false
	}
	t.lastScan = time.Now()
	tenants, err := t.dir.ListTenants(ctx)
	if err != nil {
		return tokenName{}, false
	}
	for _, tn := range tenants {
		toks, err := t.dir.ListTokens(ctx, tn.ID)
		if err != nil {
			return tokenName{}, false
		}
		for _, tok := range toks {
			t.byID[tok.ID] = tokenName{tenant: tn.ID, name: first(tok.Name, tok.ID)}
		}
	}
	tn, ok := t.byID[id]
	return tn, ok
}

// durationAttr makes every time.Duration in the logs a number with its
// unit in the key: "took" becomes "took_seconds": 1.25, instead of JSON's
// raw nanoseconds. Text logs keep Go's readable form (1.25s).
func durationAttr(json bool) func([]string, slog.Attr) slog.Attr {
	return func(_ []string, a slog.Attr) slog.Attr {
		if !json || a.Value.Kind() != slog.KindDuration {
			return a
		}
		return slog.Float64(a.Key+"_seconds", a.Value.Duration().Seconds())
	}
}
