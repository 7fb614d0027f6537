package pbxusers

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"golang.org/x/crypto/bcrypt"
)

// Options configure a Directory. The zero value works.
type Options struct {
	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now. Tests set it.
	Now func() time.Time
	// PasswordCost is the bcrypt cost for password hashes; 0 means
	// bcrypt.DefaultCost (10).
	PasswordCost int
}

// Subscriber is told about changes after they are committed, in commit
// order per Directory, on the goroutine that made them. It must not block for
// long; a subscriber that needs durability reads the change log instead
// (Directory.Changes) from a position it stores.
type Subscriber func(ctx context.Context, changes []Change)

// Directory is the library's entry point: every read and write of tenants,
// users, profiles, teams, devices, numbers, time frames and tokens goes
// through it. It validates input, enforces source ownership, writes the
// change log in the same transaction and notifies subscribers after commit.
// It is safe for concurrent use.
type Directory struct {
	store Store
	log   *slog.Logger
	now   func() time.Time
	cost  int

	mu   sync.RWMutex
	subs map[int]Subscriber
	next int

	// touches throttles APIToken.LastUsed writes to one per token per
	// minute: token id → time.Time of the last write.
	touches sync.Map
	cache   readCache
	// sip indexes SIP domains and SIP ids for LookupSIPCredentials.
	sip sipIndex
}

// New returns a Directory over a store.
func New(store Store, opts Options) *Directory {
	d := &Directory{store: store, log: opts.Logger, now: opts.Now, cost: opts.PasswordCost, subs: map[int]Subscriber{}}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.now == nil {
		d.now = time.Now
	}
	if d.cost == 0 {
		d.cost = bcrypt.DefaultCost
	}
	return d
}

// Store returns the store the directory uses.
func (d *Directory) Store() Store { return d.store }

// Subscribe registers fn for committed changes and returns a function that
// unregisters it.
func (d *Directory) Subscribe(fn Subscriber) (cancel func()) {
	d.mu.Lock()
	id := d.next
	d.next++
	d.subs[id] = fn
	d.mu.Unlock()
	return func() {
		d.mu.Lock()
		delete(d.subs, id)
		d.mu.Unlock()
	}
}

func (d *Directory) publish(ctx context.Context, changes []Change) {
	if len(changes) == 0 {
		return
	}
	d.mu.RLock()
	subs := make([]Subscriber, 0, len(d.subs))
	for _, s := range d.subs {
		subs = append(subs, s)
	}
	d.mu.RUnlock()
	for _, s := range subs {
		func() {
			defer func() {
				if r := recover(); r != nil {
					d.log.Error("change subscriber panicked", "panic", fmt.Sprint(r))
				}
			}()
			s(ctx, changes)
		}()
	}
}

// txn is one Directory operation inside one store transaction. It collects
// the change log entries written, to publish them after commit.
type txn struct {
	d       *Directory
	ctx     context.Context
	tx      Tx
	actor   Actor
	now     time.Time
	changes []Change
	tenants map[string]Tenant
	// write is set in read-write transactions, which read the store itself,
	// never the Directory's short-lived cache.
	write bool
	// noWelcome keeps the transaction from queueing welcome mail (an import
	// with ImportOptions.NoWelcomeMail).
	noWelcome bool
	// mailQueued counts the mails the transaction queued.
	mailQueued int
	// warned is set once the context's warnings (WithWarnings) are in a
	// change-log entry.
	warned bool
}

// update runs fn in a read-write transaction and publishes its changes after
// the commit.
func (d *Directory) update(ctx context.Context, fn func(t *txn) error) error {
	var changes []Change
	err := d.store.Update(ctx, func(tx Tx) error {
		t := &txn{d: d, ctx: ctx, tx: tx, actor: ActorFrom(ctx), now: d.now().UTC().Truncate(time.Microsecond), write: true}
		if err := fn(t); err != nil {
			return err
		}
		changes = t.changes
		return nil
	})
	if err != nil {
		return err
	}
	d.sip.observe(changes)
	d.publish(ctx, changes)
	return nil
}

// read runs fn in a read-only transaction and returns what it read.
func read[T any](d *Directory, ctx context.Context, fn func(t *txn) (T, error)) (T, error) {
	var out T
	err := d.view(ctx, func(t *txn) error {
		var err error
		out, err = fn(t)
		return err
	})
	return out, err
}

// view runs fn in a read-only transaction.
func (d *Directory) view(ctx context.Context, fn func(t *txn) error) error {
	return d.store.View(ctx, func(tx Tx) error {
		return fn(&txn{d: d, ctx: ctx, tx: tx, actor: ActorFrom(ctx), now: d.now().UTC()})
	})
}

// tenant returns a tenant, from the transaction's own copy, the
// Directory's short-lived cache, or the store.
func (t *txn) tenant(id string) (Tenant, error) {
	if tn, ok := t.tenants[id]; ok {
		return tn, nil
	}
	key := "tenant:" + id
	tn, ok := Tenant{}, false
	if v, hit := t.d.cache.get(key, t.now); hit && !t.write {
		tn, ok = v.(Tenant), true
	}
	if !ok {
		var err error
		if tn, err = t.tx.GetTenant(t.ctx, id); err != nil {
			if isNotFound(err) {
				return Tenant{}, err // the store's error names the tenant already
			}
			return Tenant{}, fmt.Errorf("tenant %q: %w", id, err)
		}
		t.d.cache.put(key, tn, t.now)
	}
	if t.tenants == nil {
		t.tenants = map[string]Tenant{}
	}
	t.tenants[id] = tn
	return tn, nil
}

// record appends a change log entry in the transaction.
func (t *txn) record(c Change) error {
	t.stamp(&c)
	if err := t.tx.AppendChange(t.ctx, &c); err != nil {
		return fmt.Errorf("append change log: %w", err)
	}
	t.changes = append(t.changes, c)
	return nil
}

// stamp sets what the transaction knows of a change log entry: time,
// actor and the context's warnings (WithWarnings), the latter in its first
// user entry only.
func (t *txn) stamp(c *Change) {
	c.At = t.now
	c.Actor = t.actor
	if w, ok := t.ctx.Value(warningsKey{}).(func() []Warning); ok && !t.warned && c.Entity == EntityUser &&
		(c.Action == ActionCreate || c.Action == ActionUpdate || c.Action == ActionDeactivate || c.Action == ActionReactivate) {
		t.warned = true
		for _, x := range w() {
			c.Fields = append(c.Fields, FieldChange{Field: x.Field, Warning: x.Reason})
		}
	}
}

func newID() string {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString()
	}
	return id.String()
}

const secretAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"

// randomSecret returns n characters from an unambiguous alphabet, read from
// crypto/rand.
func randomSecret(n int) string {
	buf := make([]byte, n)
	out := make([]byte, n)
	if _, err := rand.Read(buf); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err)) // never happens on supported platforms
	}
	for i, b := range buf {
		// 256 % 57 bias is below 0.4%; irrelevant for 24-character secrets.
		out[i] = secretAlphabet[int(b)%len(secretAlphabet)]
	}
	return string(out)
}

// notFound wraps ErrNotFound with the kind and id.
func notFound(kind, id string) error {
	return fmt.Errorf("%s %q: %w", kind, id, ErrNotFound)
}

// isNotFound reports whether err is a not-found error.
func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

func versionConflict(kind, id string) error {
	return &ConflictError{Kind: kind, Field: "version", Value: id, Reason: "was changed by someone else; read it again", Err: ErrVersionMismatch}
}

// equalSecret compares two secrets in constant time.
func equalSecret(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }
