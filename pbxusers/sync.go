package pbxusers

import (
	"context"
	"time"
)

// SyncStatus is the outcome of a directory sync run.
type SyncStatus string

// The sync run outcomes.
const (
	SyncRunning SyncStatus = "running"
	SyncOK      SyncStatus = "succeeded"
	// SyncBlocked is a run a safety guard stopped before it deactivated
	// anyone (the read was partial or empty, or too many would go).
	SyncBlocked SyncStatus = "blocked"
	SyncFailed  SyncStatus = "failed"
)

// SyncRun is the history record of one directory sync run.
type SyncRun struct {
	ID        int64  `json:"id"`
	TenantID  string `json:"tenantId"`
	Directory string `json:"directory"`
	// Mode is "full" or "incremental".
	Mode     string     `json:"mode"`
	DryRun   bool       `json:"dryRun,omitempty"`
	Forced   bool       `json:"forced,omitempty"`
	Status   SyncStatus `json:"status"`
	Started  time.Time  `json:"started"`
	Finished *time.Time `json:"finished,omitempty"`
	// Read counts directory entries read.
	Read        int `json:"read"`
	Created     int `json:"created"`
	Updated     int `json:"updated"`
	Deactivated int `json:"deactivated"`
	Reactivated int `json:"reactivated"`
	Unchanged   int `json:"unchanged"`
	// Conflicts are users the directory names but another source owns.
	Conflicts []string `json:"conflicts,omitempty"`
	Errors    []string `json:"errors,omitempty"`
	// Message says why a run was blocked or failed, for people.
	Message string `json:"message,omitempty"`
}

// SyncState is what a directory sync keeps between runs.
type SyncState struct {
	TenantID  string `json:"tenantId"`
	Directory string `json:"directory"`
	// Cursor is the directory's change marker after the last complete
	// read (modifyTimestamp or uSNChanged).
	Cursor   string    `json:"cursor,omitempty"`
	LastFull time.Time `json:"lastFull,omitzero"`
	LastRun  time.Time `json:"lastRun,omitzero"`
}

// ListOwned returns, page by page in external id order, summaries of the
// users a source owns in a tenant (narrowed to one LDAP directory when
// directory is set). Pass the last ExternalID of a page as after to get the
// next; limit 0 means MaxPageSize.
func (d *Directory) ListOwned(ctx context.Context, tenant string, source Source, directory, after string, limit int) ([]OwnedUser, error) {
	if limit <= 0 || limit > 10*MaxPageSize {
		limit = MaxPageSize
	}
	var out []OwnedUser
	err := d.store.View(ctx, func(tx Tx) error {
		var err error
		out, err = tx.ListOwned(ctx, tenant, source, directory, after, limit)
		return err
	})
	return out, err
}

// StartSyncRun records the start of a run and returns it with its id.
func (d *Directory) StartSyncRun(ctx context.Context, run SyncRun) (SyncRun, error) {
	err := d.store.Update(ctx, func(tx Tx) error {
		if _, err := tx.GetTenant(ctx, run.TenantID); err != nil {
			return err
		}
		run.Status, run.Started = SyncRunning, d.now().UTC().Truncate(time.Microsecond)
		return tx.CreateSyncRun(ctx, &run)
	})
	return run, err
}

// FinishSyncRun stores a run's final counts and status; Finished is set now.
func (d *Directory) FinishSyncRun(ctx context.Context, run SyncRun) (SyncRun, error) {
	err := d.store.Update(ctx, func(tx Tx) error {
		now := d.now().UTC().Truncate(time.Microsecond)
		run.Finished = &now
		return tx.UpdateSyncRun(ctx, &run)
	})
	return run, err
}

// SyncRuns returns the latest runs of a tenant's directory ("" for every
// directory), newest first.
func (d *Directory) SyncRuns(ctx context.Context, tenant, directory string, limit int) ([]SyncRun, error) {
	if limit <= 0 || limit > MaxPageSize {
		limit = DefaultPageSize
	}
	var out []SyncRun
	err := d.store.View(ctx, func(tx Tx) error {
		var err error
		out, err = tx.ListSyncRuns(ctx, tenant, directory, limit)
		return err
	})
	return out, err
}

// SyncState returns what a directory's sync kept from its last run; a
// directory never synced has a zero state.
func (d *Directory) SyncState(ctx context.Context, tenant, directory string) (SyncState, error) {
	var st SyncState
	err := d.store.View(ctx, func(tx Tx) error {
		var err error
		st, err = tx.GetSyncState(ctx, tenant, directory)
		if isNotFound(err) {
			st, err = SyncState{TenantID: tenant, Directory: directory}, nil
		}
		return err
	})
	return st, err
}

// PutSyncState stores a directory's sync state.
func (d *Directory) PutSyncState(ctx context.Context, st SyncState) error {
	return d.store.Update(ctx, func(tx Tx) error { return tx.PutSyncState(ctx, &st) })
}

// AcquireLease takes the named lease for owner until now+ttl, or extends it
// if owner holds it already. It returns false when another owner holds an
// unexpired lease. Leases keep two sync runs of one directory (or two mail
// workers) from overlapping, also across processes; a lease whose holder
// died expires by itself.
func (d *Directory) AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	var ok bool
	err := d.store.Update(ctx, func(tx Tx) error {
		now := d.now().UTC().Truncate(time.Microsecond)
		var err error
		ok, err = tx.AcquireLease(ctx, name, owner, now, now.Add(ttl))
		return err
	})
	return ok, err
}

// ReleaseLease gives up a lease owner holds; releasing a lease held by
// someone else does nothing.
func (d *Directory) ReleaseLease(ctx context.Context, name, owner string) error {
	return d.store.Update(ctx, func(tx Tx) error { return tx.ReleaseLease(ctx, name, owner) })
}

// Batch runs fn with a Batch whose writes all commit in one transaction, or
// none do: for imports and syncs that apply many changes together. Changes
// are published to subscribers after the commit.
func (d *Directory) Batch(ctx context.Context, tenant string, fn func(b *Batch) error) error {
	return d.update(ctx, func(t *txn) error {
		if _, err := t.tenant(tenant); err != nil {
			return err
		}
		return fn(&Batch{t: t, tenant: tenant})
	})
}

// Batch is a set of writes to one tenant inside one transaction. Its methods
// behave like the Directory methods of the same name. A Batch is valid only
// inside the function given to Directory.Batch.
type Batch struct {
	t      *txn
	tenant string
}

// CreateUser creates a user in the batch. A password in u.Password.New is
// hashed inside the transaction (slow: prefer invite-type users in bulk).
func (b *Batch) CreateUser(u User) (User, error) {
	hash, err := b.t.d.hashPassword(&u)
	if err != nil {
		return User{}, err
	}
	return b.t.createUser(b.tenant, u, hash)
}

// GetUser returns a user as the batch sees it.
func (b *Batch) GetUser(id string) (User, error) { return b.t.tx.GetUser(b.t.ctx, b.tenant, id) }

// LookupUser finds a user by a unique key as the batch sees it.
func (b *Batch) LookupUser(key UserKey, value string) (User, error) {
	return b.t.tx.LookupUser(b.t.ctx, b.tenant, key, value)
}

// ListUsers lists users as the batch sees them.
func (b *Batch) ListUsers(q UserQuery) (UserPage, error) {
	if err := ValidateUserFilter(q.Filter); err != nil {
		return UserPage{}, err
	}
	return b.t.tx.ListUsers(b.t.ctx, b.tenant, clampQuery(q))
}

// ModifyUser changes a user in the batch.
func (b *Batch) ModifyUser(id string, fn func(*User) error) (User, error) {
	old, err := b.t.tx.GetUser(b.t.ctx, b.tenant, id)
	if err != nil {
		return User{}, err
	}
	u := old.Clone()
	if err := fn(&u); err != nil {
		return User{}, err
	}
	u.ID = old.ID
	hash, err := b.t.d.hashPassword(&u)
	if err != nil {
		return User{}, err
	}
	return b.t.updateUser(old, u, hash)
}

// DeleteUser deletes a user in the batch.
func (b *Batch) DeleteUser(id string) error { return b.t.deleteUser(b.tenant, id, nil) }

// LookupTeam finds a team as the batch sees it.
func (b *Batch) LookupTeam(key TeamKey, value string) (Team, error) {
	return b.t.tx.LookupTeam(b.t.ctx, b.tenant, key, value)
}

// LookupProfile finds a profile by name as the batch sees it.
func (b *Batch) LookupProfile(name string) (Profile, error) {
	return b.t.tx.LookupProfile(b.t.ctx, b.tenant, name)
}
