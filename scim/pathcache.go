package scim

import (
	"sync"

	"github.com/scim2/filter-parser/v2"
)

// maxCachedPathN bounds a pathCache; when it is full it starts over, so a
// client sending ever new paths (value filters naming ids) costs a parse
// each, as without the cache, and never more memory.
const maxCachedPathN = 1024

// pathCache keeps parsed PATCH paths by their text. Identity providers
// send the same few paths ("active", "emails[type eq \"work\"].value",
// "name.familyName") in every request, and the PEG parser behind
// filter.ParsePath took a seventh of a PATCH's CPU time, parsing each path
// two or three times (normalisation, validation, the patch engine).
// Cached paths are shared: callers copy a Path before changing one of its
// fields and never write through its pointers.
type pathCache struct {
	mu sync.Mutex
	m  map[string]filter.Path
}

func (c *pathCache) get(key string) (filter.Path, bool) {
	c.mu.Lock()
	p, ok := c.m[key]
	c.mu.Unlock()
	return p, ok
}

func (c *pathCache) put(key string, p filter.Path) {
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxCachedPathN {
		c.m = make(map[string]filter.Path)
	}
	c.m[key] = p
	c.mu.Unlock()
}

// parsedPaths caches parsePath for every server: parsing is a function of
// the text alone.
var parsedPaths pathCache

// parsePath is filter.ParsePath through parsedPaths. Paths that do not
// parse are not cached.
func parsePath(raw string) (filter.Path, error) {
	if p, ok := parsedPaths.get(raw); ok {
		return p, nil
	}
	p, err := filter.ParsePath([]byte(raw))
	if err != nil {
		return p, err
	}
	parsedPaths.put(raw, p)
	return p, nil
}
