package pbxusers

import (
	"context"
	"time"
)

// OwnedUser is the summary of a user a source owns: enough to decide
// whether a sync must touch it, without reading the whole user.
type OwnedUser struct {
	ID            string `json:"id"`
	ExternalID    string `json:"externalId"`
	UserName      string `json:"userName"`
	Status        Status `json:"status"`
	DeactivatedBy Source `json:"deactivatedBy,omitempty"`
	Hash          string `json:"hash,omitempty"`
	Version       int64  `json:"version"`
}

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
