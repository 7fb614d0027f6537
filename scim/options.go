package scim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Limits of one PATCH request: MaxPatchOperations operations, carrying at
// most MaxPatchValues values (group members, emails, ...) together. Over
// either, the PATCH is refused with 400 tooMany before any of it is
// applied. The body size (Options.MaxBodyBytes) bounds them first.
const (
	MaxPatchOperations = 1000
	MaxPatchValues     = 10000
)

// Defaults for Options.
const (
	// DefaultMaxBodyBytes is the largest request body accepted (1 MiB);
	// larger bodies are answered with 413.
	DefaultMaxBodyBytes = 1 << 20
	// DefaultBulkMaxOperations is the largest number of operations of a
	// Bulk request.
	DefaultBulkMaxOperations = 1000
	// DefaultBulkMaxPayloadBytes is the largest Bulk request body (4 MiB).
	DefaultBulkMaxPayloadBytes = 4 << 20
	// DefaultRatePerSecond is the sustained number of requests per second
	// each token may make. Entra ID asks for at least 25 per tenant.
	DefaultRatePerSecond = 50
	// DefaultRateBurst is how many requests a token may make at once above
	// the sustained rate.
	DefaultRateBurst = 100
)

// Prefix is the path the handler serves: the binary mounts it with
// mux.Handle(scim.Prefix+"/", h).
const Prefix = "/scim/v2"

// Options configure the SCIM handler. The zero value works.
type Options struct {
	// BaseURL is the absolute URL of the SCIM root as clients reach it,
	// e.g. "https://pbx.example.com/scim/v2". It prefixes meta.location,
	// the Location header and $ref values. Empty: locations are relative
	// ("Users/<id>") and $ref values are left out.
	BaseURL string

	// Logger receives the handler's logs (one line per 5xx, panics,
	// refused tokens at debug level); nil discards them. Secrets and
	// request bodies are never logged.
	Logger *slog.Logger

	// MaxBodyBytes is the largest request body in bytes; larger ones get
	// 413. 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64

	// RateLimit limits the requests of each token (token bucket).
	RateLimit RateLimit

	// Now is the clock of the rate limiter; nil means time.Now. Tests set
	// it.
	Now func() time.Time

	// BulkMaxOperations is the largest number of operations in a Bulk
	// request (advertised as bulk.maxOperations); more get 413. 0 means
	// DefaultBulkMaxOperations.
	BulkMaxOperations int

	// BulkMaxPayloadBytes is the largest Bulk request body in bytes
	// (advertised as bulk.maxPayloadSize); larger ones get 413. It
	// replaces MaxBodyBytes for /Bulk; each operation's data is still
	// held to MaxBodyBytes. 0 means DefaultBulkMaxPayloadBytes.
	BulkMaxPayloadBytes int64

	// Registerer, when set, receives the handler's metrics:
	// pbxgate_scim_skipped_values_total{attribute} counts attribute values
	// a request carried that were skipped rather than refused (see the
	// package documentation). nil registers nothing.
	Registerer prometheus.Registerer
	// AuthThrottle throttles failed authentications per client address
	// and token id, answering 429 before the next token is checked; nil
	// uses one with the defaults of internal/authguard (30 failures a
	// minute after a burst of 20), logging to Logger. A program serving
	// several endpoints shares one between them.
	AuthThrottle AuthThrottle
}

// AuthThrottle throttles failed bearer-token authentications; see
// Options.AuthThrottle.
type AuthThrottle interface {
	// Blocked reports whether the request's client or token id has failed
	// too often, and for how long.
	Blocked(r *http.Request, bearer, endpoint string) (bool, time.Duration)
	// Failed records a failed authentication.
	Failed(ctx context.Context, r *http.Request, bearer, endpoint string)
}

// RateLimit is a token bucket per API token: Burst requests at once, then
// PerSecond requests per second. A request over the limit gets 429 with an
// integer Retry-After (seconds), which Okta and Entra honour.
type RateLimit struct {
	// PerSecond is the sustained rate in requests per second. 0 means
	// DefaultRatePerSecond; a negative value disables rate limiting.
	PerSecond float64
	// Burst is the bucket size in requests. 0 means DefaultRateBurst (or
	// PerSecond rounded up, when that is larger).
	Burst int
}

// withDefaults validates the options, reporting every problem at once, and
// fills in the defaults.
func (o Options) withDefaults() (Options, error) {
	var problems []string
	if o.BaseURL != "" {
		u, err := url.Parse(o.BaseURL)
		switch {
		case err != nil:
			problems = append(problems, fmt.Sprintf("baseURL %q: %v", o.BaseURL, err))
		case u.Scheme != "http" && u.Scheme != "https", u.Host == "":
			problems = append(problems, fmt.Sprintf("baseURL %q: must be an absolute http(s) URL", o.BaseURL))
		case u.RawQuery != "" || u.Fragment != "":
			problems = append(problems, fmt.Sprintf("baseURL %q: must not have a query or fragment", o.BaseURL))
		}
		o.BaseURL = strings.TrimRight(o.BaseURL, "/")
	}
	if o.MaxBodyBytes < 0 {
		problems = append(problems, fmt.Sprintf("maxBodyBytes: must not be negative, got %d", o.MaxBodyBytes))
	}
	if o.BulkMaxOperations < 0 {
		problems = append(problems, fmt.Sprintf("bulkMaxOperations: must not be negative, got %d", o.BulkMaxOperations))
	}
	if o.BulkMaxPayloadBytes < 0 {
		problems = append(problems, fmt.Sprintf("bulkMaxPayloadBytes: must not be negative, got %d", o.BulkMaxPayloadBytes))
	}
	if o.RateLimit.Burst < 0 {
		problems = append(problems, fmt.Sprintf("rateLimit.burst: must not be negative, got %d", o.RateLimit.Burst))
	}
	if len(problems) > 0 {
		return o, errors.New("scim: invalid options:\n  " + strings.Join(problems, "\n  "))
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxBodyBytes == 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.BulkMaxOperations == 0 {
		o.BulkMaxOperations = DefaultBulkMaxOperations
	}
	if o.BulkMaxPayloadBytes == 0 {
		o.BulkMaxPayloadBytes = DefaultBulkMaxPayloadBytes
	}
	if o.RateLimit.PerSecond == 0 {
		o.RateLimit.PerSecond = DefaultRatePerSecond
	}
	if o.RateLimit.Burst == 0 {
		o.RateLimit.Burst = max(DefaultRateBurst, int(o.RateLimit.PerSecond+0.999))
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o, nil
}
