package ratelimit

import (
	"math"
	"strconv"
	"sync"
	"time"
)

// DefaultMaxKeys bounds how many keys a Limiter tracks when Config.MaxKeys
// is zero.
const DefaultMaxKeys = 100_000

// Config configures a Limiter.
type Config struct {
	// PerSecond is the rate at which a key's bucket refills. Zero or less
	// disables the limiter: Allow always allows.
	PerSecond float64
	// Burst is the bucket's size: how many events a key may have at once
	// after a quiet spell. Less than 1 means 1.
	Burst int
	// MaxKeys bounds memory: when that many keys are tracked, keys whose
	// bucket has refilled are forgotten, and if none has, new keys are
	// refused (fail closed) until some have. Zero means DefaultMaxKeys.
	MaxKeys int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// A Limiter is a token bucket per key. It is safe for concurrent use.
type Limiter struct {
	rate    float64
	burst   float64
	maxKeys int
	now     func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// New returns a Limiter for cfg.
func New(cfg Config) *Limiter {
	l := &Limiter{rate: cfg.PerSecond, burst: math.Max(1, float64(cfg.Burst)), maxKeys: cfg.MaxKeys,
		now: cfg.Now, buckets: map[string]*bucket{}}
	if l.maxKeys <= 0 {
		l.maxKeys = DefaultMaxKeys
	}
	if l.now == nil {
		l.now = time.Now
	}
	return l
}

// Allow takes one token from key's bucket. When none is left it returns
// false and how long until one is.
func (l *Limiter) Allow(key string) (ok bool, wait time.Duration) {
	if l == nil || l.rate <= 0 {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.bucket(key, now)
	if b == nil {
		return false, time.Minute
	}
	if b.tokens < 1 {
		return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
	}
	b.tokens--
	return true, 0
}

// Blocked reports, without taking a token, whether key's bucket is empty,
// and how long until it is not. Use it to refuse a client before doing the
// work whose failure would take a token (Allow): checking a credential, for
// example, so the check itself is not available to a client that has used
// up its failures.
func (l *Limiter) Blocked(key string) (bool, time.Duration) {
	if l == nil || l.rate <= 0 {
		return false, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		return false, 0
	}
	l.refill(b, l.now())
	if b.tokens >= 1 {
		return false, 0
	}
	return true, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
}

// bucket returns key's refilled bucket, creating it; nil when the key is
// new and MaxKeys are tracked with none forgettable. The caller holds mu.
func (l *Limiter) bucket(key string, now time.Time) *bucket {
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= l.maxKeys {
			l.sweep(now)
			if len(l.buckets) >= l.maxKeys {
				return nil
			}
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	l.refill(b, now)
	return b
}

func (l *Limiter) refill(b *bucket, now time.Time) {
	if elapsed := now.Sub(b.last).Seconds(); elapsed > 0 {
		b.tokens = math.Min(l.burst, b.tokens+elapsed*l.rate)
	}
	b.last = now
}

// sweep forgets keys whose bucket has refilled. The caller holds mu.
func (l *Limiter) sweep(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(l.buckets, k)
		}
	}
}

// Len returns how many keys the limiter tracks.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// RetryAfter formats wait as a Retry-After header value: whole seconds,
// at least 1.
func RetryAfter(wait time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(wait.Seconds()))))
}
