package pbxusers

import (
	"context"
	"time"
)

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
