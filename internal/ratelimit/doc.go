// Package ratelimit is the token bucket per key that every pbxgate
// endpoint uses to throttle clients: requests per API token on SCIM, and
// failed authentications and set-password attempts per client address.
//
// The smallest use:
//
//	l := ratelimit.New(ratelimit.Config{PerSecond: 10, Burst: 20})
//	if ok, wait := l.Allow(ratelimit.ClientKey(ip)); !ok {
//		w.Header().Set("Retry-After", ratelimit.RetryAfter(wait))
//		http.Error(w, "too many requests", http.StatusTooManyRequests)
//	}
package ratelimit
