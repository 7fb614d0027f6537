package pbxusers

import (
	"context"
	"time"
)

// Number is a phone number (DID) of the tenant's inventory, routed to one
// user or unassigned. Deleting a user unassigns its numbers in the same
// transaction.
type Number struct {
	TenantID string `json:"tenantId"`
	// E164 is the number, e.g. "+4930123456"; unique per tenant.
	E164 string `json:"e164"`
	// UserID is the user calls to the number reach; empty is unassigned.
	UserID string `json:"userId,omitempty"`
	// Label is a free description ("Sales hotline").
	Label string `json:"label,omitempty"`
	// Version increases on every change (the admin API's ETag).
	Version int64     `json:"version"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

// AssignNumber adds a phone number to the tenant's inventory, or changes it,
// routed to userID (empty leaves it unassigned).
func (d *Directory) AssignNumber(ctx context.Context, tenant, number, userID, label string) (Number, error) {
	return d.AssignNumberIf(ctx, tenant, number, userID, label, 0)
}

// AssignNumberIf is AssignNumber when the stored number's version is
// expect, checked in the same transaction (ErrVersionMismatch otherwise);
// expect 0 skips the check.
func (d *Directory) AssignNumberIf(ctx context.Context, tenant, number, userID, label string, expect int64) (Number, error) {
	var n Number
	err := d.update(ctx, func(t *txn) error {
		tn, err := t.tenant(tenant)
		if err != nil {
			return err
		}
		e164, _, err := NormalizeE164(number, tn.Region)
		if err != nil {
			return Invalid("number", "%q %s", number, err.Error())
		}
		if userID != "" {
			if _, err := t.tx.GetUser(t.ctx, tenant, userID); isNotFound(err) {
				return Invalid("userId", "no user %q", userID)
			} else if err != nil {
				return err
			}
		}
		old, err := t.tx.GetNumber(t.ctx, tenant, e164)
		var before *Number
		switch {
		case isNotFound(err) && expect == 0:
		case err != nil:
			return err
		default:
			before = &old
		}
		if expect != 0 && old.Version != expect {
			return versionConflict("number", e164)
		}
		n, err = t.putNumber(before, Number{TenantID: tenant, E164: e164, UserID: userID, Label: label})
		return err
	})
	return n, err
}

// putNumber stores n (an E.164 number already checked) over old, nil when
// the number is new to the inventory, and records the change.
func (t *txn) putNumber(old *Number, n Number) (Number, error) {
	action, before, expect := ActionCreate, any(nil), int64(0)
	n.Created = t.now
	if old != nil {
		action, before, n.Created, expect = ActionUpdate, *old, old.Created, old.Version
	}
	n.Version, n.Updated = expect+1, t.now
	if err := t.tx.PutNumber(t.ctx, &n, expect); err != nil {
		return Number{}, err
	}
	return n, t.record(Change{TenantID: n.TenantID, Entity: EntityNumber, EntityID: n.E164, Action: action,
		Summary: n.E164, Fields: Diff(before, n), Version: n.Version})
}

// ReleaseNumber removes a number from the tenant's inventory. While a
// user's caller ID shows it or lists it, it fails with ErrInUse naming each,
// unless opts has Cascade, which takes it out of those caller IDs in the
// same transaction.
func (d *Directory) ReleaseNumber(ctx context.Context, tenant, number string, opts ...DeleteOption) error {
	return d.ReleaseNumberIf(ctx, tenant, number, 0, opts...)
}

// ReleaseNumberIf is ReleaseNumber when the stored number's version is
// expect, checked in the same transaction (ErrVersionMismatch otherwise);
// expect 0 skips the check.
func (d *Directory) ReleaseNumberIf(ctx context.Context, tenant, number string, expect int64, opts ...DeleteOption) error {
	o := deleteOpts(opts)
	return d.update(ctx, func(t *txn) error {
		tn, err := t.tenant(tenant)
		if err != nil {
			return err
		}
		e164, _, err := NormalizeE164(number, tn.Region)
		if err != nil {
			return Invalid("number", "%q %s", number, err.Error())
		}
		if expect != 0 {
			old, err := t.tx.GetNumber(t.ctx, tenant, e164)
			if err != nil {
				return err
			}
			if old.Version != expect {
				return versionConflict("number", e164)
			}
		}
		refs, err := t.referrers(tenant, EntityNumber, e164)
		if err != nil {
			return err
		}
		if len(refs) > 0 && !o.cascade {
			return inUse("number", e164, refs)
		}
		if err := t.unreference(tenant, EntityNumber, e164, refs); err != nil {
			return err
		}
		if err := t.tx.DeleteNumber(t.ctx, tenant, e164); err != nil {
			return err
		}
		return t.record(Change{TenantID: tenant, Entity: EntityNumber, EntityID: e164, Action: ActionDelete, Summary: e164})
	})
}

// ListNumbers lists the tenant's numbers, or those routed to a user.
func (d *Directory) ListNumbers(ctx context.Context, tenant, userID string) ([]Number, error) {
	return read(d, ctx, func(t *txn) ([]Number, error) { return t.tx.ListNumbers(t.ctx, tenant, userID) })
}

// GetNumber returns the tenant's number e164 (an E.164 number as stored;
// see NormalizeE164), or ErrNotFound.
func (d *Directory) GetNumber(ctx context.Context, tenant, e164 string) (Number, error) {
	return read(d, ctx, func(t *txn) (Number, error) { return t.tx.GetNumber(t.ctx, tenant, e164) })
}
