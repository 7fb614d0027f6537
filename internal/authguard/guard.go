package authguard

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pbxgate/pbxgate/internal/ratelimit"
	"github.com/pbxgate/pbxgate/pbxusers"
)

// Defaults: a client address or token id may fail DefaultBurst times at
// once, then DefaultPerMinute times a minute.
const (
	DefaultPerMinute = 30
	DefaultBurst     = 20
)

// Options configures a Guard. The zero value works.
type Options struct {
	// PerMinute and Burst bound failed authentications per client address
	// (IPv6 per /64) and per token id; zero means the defaults, a negative
	// PerMinute turns throttling off (failures are still logged).
	PerMinute float64
	Burst     int
	// Logger receives a WARN line per failure; nil discards them.
	Logger *slog.Logger
	// Registerer, when set, gets pbxgate_auth_failures_total{endpoint}
	// and pbxgate_auth_throttled_total{endpoint}.
	Registerer prometheus.Registerer
	// ClientIP returns a request's client address; nil uses RemoteAddr.
	ClientIP func(*http.Request) string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Guard throttles failed authentications. A nil *Guard allows everything.
type Guard struct {
	byIP, byToken *ratelimit.Limiter
	log           *slog.Logger
	clientIP      func(*http.Request) string
	failures      *prometheus.CounterVec
	throttled     *prometheus.CounterVec
}

// Endpoints label the metrics; other names are counted as "other".
var Endpoints = []string{"scim", "api", "pbx"}

// New returns a Guard.
func New(opts Options) *Guard {
	if opts.PerMinute == 0 {
		opts.PerMinute = DefaultPerMinute
	}
	if opts.Burst <= 0 {
		opts.Burst = DefaultBurst
	}
	cfg := ratelimit.Config{PerSecond: opts.PerMinute / 60, Burst: opts.Burst, Now: opts.Now}
	g := &Guard{byIP: ratelimit.New(cfg), byToken: ratelimit.New(cfg), log: opts.Logger, clientIP: opts.ClientIP,
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pbxgate_auth_failures_total",
			Help: "Failed bearer-token authentications by endpoint."}, []string{"endpoint"}),
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pbxgate_auth_throttled_total",
			Help: "Requests refused with 429 because their address or token id failed too often."}, []string{"endpoint"}),
	}
	for _, e := range append(Endpoints, "other") {
		g.failures.WithLabelValues(e)
		g.throttled.WithLabelValues(e)
	}
	if opts.Registerer != nil {
		opts.Registerer.MustRegister(g.failures, g.throttled)
	}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	if g.clientIP == nil {
		g.clientIP = func(r *http.Request) string { return ratelimit.RemoteIP(r.RemoteAddr) }
	}
	return g
}

// TokenID is the public id part of a bearer token ("pbxg_<id>.<secret>"),
// or "" when the token has none. It is safe to log.
func TokenID(bearer string) string {
	rest, ok := strings.CutPrefix(strings.TrimSpace(bearer), pbxusers.TokenPrefix)
	if !ok {
		return ""
	}
	id, _, ok := strings.Cut(rest, ".")
	if !ok || len(id) > 64 {
		return ""
	}
	return id
}

func label(endpoint string) string {
	for _, e := range Endpoints {
		if e == endpoint {
			return e
		}
	}
	return "other"
}

// Blocked reports whether the request's address, or the id of the bearer
// token it presents, has failed too often, and how long until it may try
// again. Call it before checking the token, so a blocked client costs no
// lookup.
func (g *Guard) Blocked(r *http.Request, bearer, endpoint string) (bool, time.Duration) {
	if g == nil {
		return false, 0
	}
	ip := g.clientIP(r)
	blocked, wait := g.byIP.Blocked(ratelimit.ClientKey(ip))
	if id := TokenID(bearer); !blocked && id != "" {
		blocked, wait = g.byToken.Blocked(id)
	}
	if blocked {
		g.throttled.WithLabelValues(label(endpoint)).Inc()
	}
	return blocked, wait
}

// Failed records a failed authentication of the request: it counts against
// its address and token id, is logged at WARN and counted.
func (g *Guard) Failed(ctx context.Context, r *http.Request, bearer, endpoint string) {
	if g == nil {
		return
	}
	ip := g.clientIP(r)
	g.byIP.Allow(ratelimit.ClientKey(ip))
	id := TokenID(bearer)
	if id != "" {
		g.byToken.Allow(id)
	}
	g.failures.WithLabelValues(label(endpoint)).Inc()
	g.log.WarnContext(ctx, "authentication failed", "endpoint", endpoint, "client", ip, "token_id", id,
		"method", r.Method, "path", r.URL.Path)
}
