package sqlstore

import (
	"context"
	"time"
)

// AcquireLease inserts the lease, or takes it over when it is the owner's
// or has expired. The upsert locks the row, so of two processes racing for
// an expired lease the second sees the first's new row and gets false.
func (t *Tx) AcquireLease(ctx context.Context, name, owner string, now, until time.Time) (bool, error) {
	n, err := t.exec(ctx, `INSERT INTO leases (name, owner, until) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, until = excluded.until
		WHERE leases.owner = excluded.owner OR leases.until <= ?`, name, owner, t.f.Time(until), t.f.Time(now))
	if err != nil {
		return false, t.f.Err("acquire lease", err, "")
	}
	return n == 1, nil
}

// ReleaseLease implements pbxusers.Tx.
func (t *Tx) ReleaseLease(ctx context.Context, name, owner string) error {
	_, err := t.exec(ctx, "DELETE FROM leases WHERE name = ? AND owner = ?", name, owner)
	return t.f.Err("release lease", err, "")
}
