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
	Label   string    `json:"label,omitempty"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

// AssignNumber adds a phone number to the tenant's inventory, or changes it,
// routed to userID (empty leaves it unassigned).
func (d *Directory) AssignNumber(ctx context.Context, tenant, number, userID, label string) (Number, error) {
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
		action := ActionUpdate
		switch {
		case isNotFound(err):
			action, old = ActionCreate, Number{}
			n.Created = t.now
		case err != nil:
			return err
		default:
			n.Created = old.Created
		}
		n.TenantID, n.E164, n.UserID, n.Label, n.Updated = tenant, e164, userID, label, t.now
		if err := t.tx.PutNumber(t.ctx, &n); err != nil {
			return err
		}
		var before any
		if action == ActionUpdate {
			before = old
		}
		return t.record(Change{TenantID: tenant, Entity: EntityNumber, EntityID: e164, Action: action, Summary: e164, Fields: Diff(before, n)})
	})
	return n, err
}

// ReleaseNumber removes a number from the tenant's inventory.
func (d *Directory) ReleaseNumber(ctx context.Context, tenant, number string) error {
	return d.update(ctx, func(t *txn) error {
		tn, err := t.tenant(tenant)
		if err != nil {
			return err
		}
		e164, _, err := NormalizeE164(number, tn.Region)
		if err != nil {
			return Invalid("number", "%q %s", number, err.Error())
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
