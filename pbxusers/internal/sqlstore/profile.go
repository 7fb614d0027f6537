package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// CreateProfile implements pbxusers.Tx.
func (t *Tx) CreateProfile(ctx context.Context, p *pbxusers.Profile) error {
	d, err := encode(p)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, "INSERT INTO profiles (id, tenant_id, name_lc, doc, version, created, updated) VALUES (?,?,?,?,?,?,?)",
		p.ID, p.TenantID, strings.ToLower(p.Name), d, p.Version, t.f.Time(p.Created), t.f.Time(p.Updated))
	return t.f.Err("create profile", err, p.Name)
}

// GetProfile implements pbxusers.Tx.
func (t *Tx) GetProfile(ctx context.Context, tenant, id string) (pbxusers.Profile, error) {
	return doc[pbxusers.Profile](ctx, t, "get profile", "profile", id, "SELECT doc FROM profiles WHERE tenant_id = ? AND id = ?", tenant, id)
}

// LookupProfile implements pbxusers.Tx.
func (t *Tx) LookupProfile(ctx context.Context, tenant, name string) (pbxusers.Profile, error) {
	return doc[pbxusers.Profile](ctx, t, "look profile up", "profile", name, "SELECT doc FROM profiles WHERE tenant_id = ? AND name_lc = ?",
		tenant, strings.ToLower(strings.TrimSpace(name)))
}

// UpdateProfile implements pbxusers.Tx.
func (t *Tx) UpdateProfile(ctx context.Context, p *pbxusers.Profile, expect int64) error {
	d, err := encode(p)
	if err != nil {
		return err
	}
	n, err := t.exec(ctx, "UPDATE profiles SET name_lc = ?, doc = ?, version = ?, updated = ? WHERE tenant_id = ? AND id = ? AND version = ?",
		strings.ToLower(p.Name), d, p.Version, t.f.Time(p.Updated), p.TenantID, p.ID, expect)
	if err != nil {
		return t.f.Err("update profile", err, p.Name)
	}
	return t.checkUpdated(ctx, n, "profiles", "profile", p.TenantID, p.ID)
}

// DeleteProfile implements pbxusers.Tx.
func (t *Tx) DeleteProfile(ctx context.Context, tenant, id string) error {
	var users, teams int
	if err := t.queryRow(ctx, `SELECT (SELECT count(*) FROM user_profiles WHERE profile_id = ?),
		(SELECT count(*) FROM team_profiles WHERE profile_id = ?)`, id, id).Scan(&users, &teams); err != nil {
		return t.f.Err("count profile use", err, "")
	}
	if users+teams > 0 {
		return &pbxusers.ConflictError{Kind: "profile", Field: "id", Value: id,
			Reason: fmt.Sprintf("is used by %d users and %d teams", users, teams), Err: pbxusers.ErrInUse}
	}
	n, err := t.exec(ctx, "DELETE FROM profiles WHERE tenant_id = ? AND id = ?", tenant, id)
	if err != nil {
		return t.f.Err("delete profile", err, id)
	}
	return affected(n, "profile", id)
}

// ListProfiles implements pbxusers.Tx.
func (t *Tx) ListProfiles(ctx context.Context, tenant string) ([]pbxusers.Profile, error) {
	return docs[pbxusers.Profile](ctx, t, "list profiles", "SELECT doc FROM profiles WHERE tenant_id = ? ORDER BY name_lc, id", tenant)
}
