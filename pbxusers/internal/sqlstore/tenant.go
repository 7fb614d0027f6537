package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// docs runs a query of one JSON document column and decodes each into a T.
func docs[T any](ctx context.Context, t *Tx, op, text string, args ...any) ([]T, error) {
	var out []T
	err := t.each(ctx, text, args, func(r Row) error {
		var doc []byte
		if err := r.Scan(&doc); err != nil {
			return err
		}
		var v T
		if err := json.Unmarshal(doc, &v); err != nil {
			return fmt.Errorf("decode: %w", err)
		}
		out = append(out, v)
		return nil
	})
	return out, t.f.Err(op, err, "")
}

// doc runs a query of one JSON document column for one object.
func doc[T any](ctx context.Context, t *Tx, op, kind, id, text string, args ...any) (T, error) {
	vs, err := docs[T](ctx, t, op, text, args...)
	if err != nil {
		var zero T
		return zero, err
	}
	if len(vs) == 0 {
		var zero T
		return zero, fmt.Errorf("%s %q: %w", kind, id, pbxusers.ErrNotFound)
	}
	return vs[0], nil
}

// CreateTenant implements pbxusers.Tx.
func (t *Tx) CreateTenant(ctx context.Context, tn *pbxusers.Tenant) error {
	d, err := encode(tn)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, "INSERT INTO tenants (id, doc, version, created, updated) VALUES (?,?,?,?,?)",
		tn.ID, d, tn.Version, t.f.Time(tn.Created), t.f.Time(tn.Updated))
	return t.f.Err("create tenant", err, tn.ID)
}

// GetTenant implements pbxusers.Tx.
func (t *Tx) GetTenant(ctx context.Context, id string) (pbxusers.Tenant, error) {
	return doc[pbxusers.Tenant](ctx, t, "get tenant", "tenant", id, "SELECT doc FROM tenants WHERE id = ?", id)
}

// UpdateTenant implements pbxusers.Tx.
func (t *Tx) UpdateTenant(ctx context.Context, tn *pbxusers.Tenant, expect int64) error {
	d, err := encode(tn)
	if err != nil {
		return err
	}
	n, err := t.exec(ctx, "UPDATE tenants SET doc = ?, version = ?, updated = ? WHERE id = ? AND version = ?",
		d, tn.Version, t.f.Time(tn.Updated), tn.ID, expect)
	if err != nil {
		return t.f.Err("update tenant", err, tn.ID)
	}
	if n == 0 {
		if _, err := t.GetTenant(ctx, tn.ID); err != nil {
			return err
		}
		return &pbxusers.ConflictError{Kind: "tenant", Field: "version", Value: tn.ID, Err: pbxusers.ErrVersionMismatch}
	}
	return nil
}

// ListTenants implements pbxusers.Tx.
func (t *Tx) ListTenants(ctx context.Context) ([]pbxusers.Tenant, error) {
	return docs[pbxusers.Tenant](ctx, t, "list tenants", "SELECT doc FROM tenants ORDER BY id")
}
