package sqlstore

import (
	"context"
	"fmt"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// PutNumber implements pbxusers.Tx.
func (t *Tx) PutNumber(ctx context.Context, n *pbxusers.Number, expect int64) error {
	if expect == 0 {
		_, err := t.exec(ctx, `INSERT INTO numbers (tenant_id, e164, user_id, label, version, created, updated) VALUES (?,?,?,?,?,?,?)`,
			n.TenantID, n.E164, nullable(n.UserID), n.Label, n.Version, t.f.Time(n.Created), t.f.Time(n.Updated))
		return t.f.Err("put number", err, n.E164)
	}
	c, err := t.exec(ctx, `UPDATE numbers SET user_id = ?, label = ?, version = ?, updated = ? WHERE tenant_id = ? AND e164 = ? AND version = ?`,
		nullable(n.UserID), n.Label, n.Version, t.f.Time(n.Updated), n.TenantID, n.E164, expect)
	if err != nil {
		return t.f.Err("put number", err, n.E164)
	}
	if c > 0 {
		return nil
	}
	if _, err := t.GetNumber(ctx, n.TenantID, n.E164); err != nil {
		return err
	}
	return &pbxusers.ConflictError{Kind: "number", Field: "version", Value: n.E164,
		Reason: "was changed by someone else; read it again", Err: pbxusers.ErrVersionMismatch}
}

// listNumbers reads the numbers a condition selects.
func (t *Tx) listNumbers(ctx context.Context, where string, args ...any) ([]pbxusers.Number, error) {
	var out []pbxusers.Number
	err := t.each(ctx, "SELECT tenant_id, e164, user_id, label, version, created, updated FROM numbers WHERE "+where+" ORDER BY e164", args, func(r Row) error {
		var n pbxusers.Number
		var user *string
		var created, updated timeCol
		if err := r.Scan(&n.TenantID, &n.E164, &user, &n.Label, &n.Version, &created, &updated); err != nil {
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
