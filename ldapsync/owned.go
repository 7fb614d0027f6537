package ldapsync

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// Owner.Hash values that are not an Entry.Hash. Any stored hash that differs
// from the entry's makes the next run look at the user again; these also say
// why.
const (
	// hashPending marks a user whose last sync left something to do: a
	// manager or group name it could not resolve yet, a value the library
	// refused, a deactivation a guard withheld.
	hashPending = ""
	// hashMissing marks a user deactivated because a full read no longer
	// returned it. If an admin reactivates such a user while the directory
	// still lacks it, the sync leaves it alone instead of deactivating it
	// again every night.
	hashMissing = "missing"
)

// lazyLookupN is how many users an incremental run looks up one by one
// before it loads every owned user at once instead (loading 100,000 takes
// about 0.3 s; a lookup by external id costs far less once pbxusers/sqlite
// uses its index for it, see the package notes).
const lazyLookupN = 32

// ownedUser is what a run keeps about a user the directory owns: the
// pbxusers.OwnedUser summary without what the run does not need, the skip
// hash as its 40 bytes (100,000 users: about 20 MB instead of 29).
type ownedUser struct {
	id       string
	userName string
	sum      [sha256.Size]byte // the entry half of Owner.Hash, when hashOK
	mapping  mappingPrint      // the mapping half of Owner.Hash, when mapped
	hashOK   bool              // Owner.Hash is a skip hash
	mapped   bool              // ... with a mapping half (see skiphash.go)
	missing  bool              // Owner.Hash is hashMissing
	active   bool
	byLDAP   bool // DeactivatedBy == ldap
}

// newOwnedUser builds the summary from what the store keeps.
func newOwnedUser(id, userName, hash string, active, byLDAP bool) ownedUser {
	o := ownedUser{id: id, userName: userName, active: active, byLDAP: byLDAP, missing: hash == hashMissing}
	o.sum, o.mapping, o.hashOK, o.mapped = parseSkipHash(hash)
	return o
}

// unchanged reports whether the entry digest sum, under the mapping mp, is
// what was last applied.
func (o *ownedUser) unchanged(sum *[sha256.Size]byte, mp mappingPrint) bool {
	return o.hashOK && o.mapped && o.mapping == mp && o.sum == *sum
}

// remapped reports whether the user was last synced with another mapping
// than mp (or by a version of this package that did not record it).
func (o *ownedUser) remapped(mp mappingPrint) bool {
	return o.hashOK && (!o.mapped || o.mapping != mp)
}

// ownedIndex finds the users a directory owns by external id. A full run
// loads every summary up front with Directory.ListOwned (one pass, no user
// decoded; 100,000 users take about 20 MB). An incremental run, which sees a
// handful of entries, looks them up one by one and loads everything only
// when that stops being cheaper.
//
// It is safe for concurrent use: the reader marks users seen while the
// writer resolves managers.
type ownedIndex struct {
	dir          *pbxusers.Directory
	tenant, name string
	onLoad       func(n int) // progress while loading; may be nil

	mu      sync.Mutex
	loaded  bool
	byExt   map[string]int32
	users   []ownedUser
	seen    []bool
	lookups int
}

func newOwnedIndex(dir *pbxusers.Directory, tenant, name string, onLoad func(int)) *ownedIndex {
	return &ownedIndex{dir: dir, tenant: tenant, name: name, onLoad: onLoad, byExt: map[string]int32{}}
}

// load reads every owned user's summary, keeping what was seen so far.
func (x *ownedIndex) load(ctx context.Context) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.loadLocked(ctx)
}

func (x *ownedIndex) loadLocked(ctx context.Context) error {
	if x.loaded {
		return nil
	}
	byExt := make(map[string]int32, len(x.byExt))
	var users []ownedUser
	after := ""
	// ListOwned pages in external id order; a page shorter than asked is
	// the last. The bound is generous: 10,000 pages of 10,000 users.
	const pageN = 10 * pbxusers.MaxPageSize
	for range 10_000 {
		page, err := x.dir.ListOwned(ctx, x.tenant, pbxusers.SourceLDAP, x.name, after, pageN)
		if err != nil {
			return fmt.Errorf("list users owned by ldap directory %q: %w", x.name, err)
		}
		for _, o := range page {
			byExt[o.ExternalID] = int32(len(users))
			users = append(users, summary(o))
		}
		if x.onLoad != nil {
			x.onLoad(len(users))
		}
		if len(page) < pageN {
			seen := make([]bool, len(users))
			for ext, i := range x.byExt {
				if j, ok := byExt[ext]; ok && x.seen[i] {
					seen[j] = true
				}
			}
			x.byExt, x.users, x.seen, x.loaded = byExt, users, seen, true
			return nil
		}
		after = page[len(page)-1].ExternalID
	}
	return errors.New("list owned users: more than 100 million")
}

func summary(o pbxusers.OwnedUser) ownedUser {
	return newOwnedUser(o.ID, o.UserName, o.Hash, o.Status == pbxusers.StatusActive, o.DeactivatedBy == pbxusers.SourceLDAP)
}

// get returns the owned user with the external id, looking it up in the
// store when the index is not loaded. seen marks it as returned by the read.
func (x *ownedIndex) get(ctx context.Context, ext string, seen bool) (ownedUser, bool, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if _, ok := x.byExt[ext]; !ok && !x.loaded {
		if err := x.lookupLocked(ctx, ext); err != nil {
			return ownedUser{}, false, err
		}
	}
	i, ok := x.byExt[ext]
	if !ok {
		return ownedUser{}, false, nil
	}
	if seen {
		x.seen[i] = true
	}
	return x.users[i], true, nil
}

// lookupLocked finds one user by external id. Another source (or another
// directory) may use the same external id: LookupUser then returns that
// user, and only the full list tells whether this directory owns one too.
func (x *ownedIndex) lookupLocked(ctx context.Context, ext string) error {
	if x.lookups++; x.lookups > lazyLookupN {
		return x.loadLocked(ctx)
	}
	u, err := x.dir.LookupUser(ctx, x.tenant, pbxusers.KeyExternalID, ext)
	switch {
	case errors.Is(err, pbxusers.ErrNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("look up user with external id %q: %w", ext, err)
	case u.Owner.Source != pbxusers.SourceLDAP || u.Owner.Directory != x.name:
		return x.loadLocked(ctx)
	}
	x.byExt[ext] = int32(len(x.users))
	x.users = append(x.users, newOwnedUser(u.ID, u.UserName, u.Owner.Hash, u.Active(), u.DeactivatedBy == pbxusers.SourceLDAP))
	x.seen = append(x.seen, false)
	return nil
}

// activeN counts the owned users that are active; it loads the index.
func (x *ownedIndex) activeN(ctx context.Context) (int, error) {
	if err := x.load(ctx); err != nil {
		return 0, err
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	n := 0
	for _, u := range x.users {
		if u.active {
			n++
		}
	}
	return n, nil
}

// missing returns the active users a complete full read did not return,
// except those an admin reactivated after the sync deactivated them for
// being missing (hashMissing), as follow-ups with id, ext and userName set.
// Call it after the read.
func (x *ownedIndex) missing() []followUp {
	x.mu.Lock()
	defer x.mu.Unlock()
	var out []followUp
	for ext, i := range x.byExt {
		u := x.users[i]
		if !x.seen[i] && u.active && !u.missing {
			out = append(out, followUp{id: u.id, ext: ext, userName: u.userName})
		}
	}
	slices.SortFunc(out, func(a, b followUp) int { return strings.Compare(a.userName, b.userName) })
	return out
}
