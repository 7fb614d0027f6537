package sqlstore

import (
	"context"
	"fmt"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// PutNumber implements pbxusers.Tx.
func (t *Tx) PutNumber(ctx context.Context, n *pbxusers.Number) error {
	_, err := t.exec(ctx, `INSERT INTO numbers (tenant_id, e164, user_id, label, created, updated) VALUES (?,?,?,?,?,?)
		ON CONFLICT (tenant_id, e164) DO UPDATE SET user_id = excluded.user_id, label = excluded.label, updated = excluded.updated`,
		n.TenantID, n.E164, nullable(n.UserID), n.Label, t.f.Time(n.Created), t.f.Time(n.Updated))
	return t.f.Err("put number", err, n.E164)
}

// listNumbers reads the numbers a condition selects.
func (t *Tx) listNumbers(ctx context.Context, where string, args ...any) ([]pbxusers.Number, error) {
	var out []pbxusers.Number
	err := t.each(ctx, "SELECT tenant_id, e164, user_id, label, created, updated FROM numbers WHERE "+where+" ORDER BY e164", args, func(r Row) error {
		var n pbxusers.Number
		var user *string
		var created, updated timeCol
		if err := r.Scan(&n.TenantID, &n.E164, &user, &n.Label, &created, &updated); err != nil {
			return err
		}
		if user != nil {
			n.UserID = *user
		}
		n.Created, n.Updated = created.t, updated.t
		out = append(out, n)
		return nil
	})
	return out, t.f.Err("list numbers", err, "")
}

// GetNumber implements pbxusers.Tx.
func (t *Tx) GetNumber(ctx context.Context, tenant, e164 string) (pbxusers.Number, error) {
	ns, err := t.listNumbers(ctx, "tenant_id = ? AND e164 = ?", tenant, e164)
	if err != nil {
		return pbxusers.Number{}, err
	}
	if len(ns) == 0 {
		return pbxusers.Number{}, fmt.Errorf("number %q: %w", e164, pbxusers.ErrNotFound)
	}
	return ns[0], nil
}

// DeleteNumber implements pbxusers.Tx.
func (t *Tx) DeleteNumber(ctx context.Context, tenant, e164 string) error {
	n, err := t.exec(ctx, "DELETE FROM numbers WHERE tenant_id = ? AND e164 = ?", tenant, e164)
	if err != nil {
		return t.f.Err("delete number", err, "")
	}
	return affected(n, "number", e164)
}

// ListNumbers implements pbxusers.Tx.
func (t *Tx) ListNumbers(ctx context.Context, tenant, userID string) ([]pbxusers.Number, error) {
	if userID == "" {
		return t.listNumbers(ctx, "tenant_id = ?", tenant)
	}
	return t.listNumbers(ctx, "tenant_id = ? AND user_id = ?", tenant, userID)
}
