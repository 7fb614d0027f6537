package ratelimit_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/pbxgate/pbxgate/internal/ratelimit"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestLimiter(t *testing.T) {
	c := &clock{t: time.Unix(1_000_000, 0)}
	l := ratelimit.New(ratelimit.Config{PerSecond: 2, Burst: 3, Now: c.now})
	for i := 0; i < 3; i++ {
		ok, _ := l.Allow("a")
		assert.True(t, ok, "burst %d", i)
	}
	ok, wait := l.Allow("a")
	assert.False(t, ok)
	assert.Equal(t, 500*time.Millisecond, wait)
	assert.Equal(t, "1", ratelimit.RetryAfter(wait))
	ok, _ = l.Allow("b")
	assert.True(t, ok, "keys are independent")

	blocked, _ := l.Blocked("a")
	assert.True(t, blocked)
	c.t = c.t.Add(500 * time.Millisecond)
	blocked, _ = l.Blocked("a")
	assert.False(t, blocked, "refilled one token")
	ok, _ = l.Allow("a")
	assert.True(t, ok)
}

func TestLimiterBoundedKeys(t *testing.T) {
	c := &clock{t: time.Unix(1_000_000, 0)}
	l := ratelimit.New(ratelimit.Config{PerSecond: 1, Burst: 1, MaxKeys: 10, Now: c.now})
	for i := 0; i < 10; i++ {
		l.Allow(fmt.Sprint("k", i))
	}
	ok, _ := l.Allow("new")
	assert.False(t, ok, "fails closed while every tracked key is busy")
	c.t = c.t.Add(2 * time.Second)
	ok, _ = l.Allow("new")
	assert.True(t, ok, "refilled keys are forgotten to make room")
	assert.LessOrEqual(t, l.Len(), 10)
}

func TestLimiterDisabled(t *testing.T) {
	l := ratelimit.New(ratelimit.Config{})
	for i := 0; i < 100; i++ {
		ok, _ := l.Allow("a")
		assert.True(t, ok)
	}
	var nilLimiter *ratelimit.Limiter
	ok, _ := nilLimiter.Allow("a")
	assert.True(t, ok)
}

func TestClientKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7":            "192.0.2.7",
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1": "2001:db8:1:2::/64",
		"::ffff:192.0.2.7":     "192.0.2.7",
		"not an address":       "not an address",
	} {
		assert.Equal(t, want, ratelimit.ClientKey(in), in)
	}
	assert.Equal(t, "192.0.2.7", ratelimit.RemoteIP("192.0.2.7:5555"))
	assert.Equal(t, "2001:db8::1", ratelimit.RemoteIP("[2001:db8::1]:5555"))
}
