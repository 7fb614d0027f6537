package pbxusers

import (
	"strings"
	"sync"
	"time"
)

// cacheTTL is how long a Directory trusts what it read of tenants, profile
// lists and API tokens. Changes made through the same Directory take effect
// at once; changes made by another process (the CLI while the gateway
// runs) are seen after at most this long.
const cacheTTL = 2 * time.Second

// readCache keeps the objects every SCIM request reads — its token, its
// tenant, the tenant's profiles — for a moment, instead of reading and
// decoding them from the database each time.
type readCache struct {
	mu sync.Mutex
	m  map[string]cacheEntry
}

type cacheEntry struct {
	v  any
	at time.Time
}

// get returns a value stored under key less than cacheTTL before now.
func (c *readCache) get(key string, now time.Time) (any, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok || now.Sub(e.at) >= cacheTTL || now.Before(e.at) {
		return nil, false
	}
	return e.v, true
}

func (c *readCache) put(key string, v any, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) > 10000 { // bounded: start over
		c.m = map[string]cacheEntry{}
	}
	c.m[key] = cacheEntry{v: v, at: now}
}

// drop forgets every key with the prefix.
func (c *readCache) drop(prefix string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.m {
		if strings.HasPrefix(k, prefix) {
			delete(c.m, k)
		}
	}
}
