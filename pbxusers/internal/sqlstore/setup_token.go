package sqlstore

import (
	"context"
	"time"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// CreateSetupToken implements pbxusers.Tx.
func (t *Tx) CreateSetupToken(ctx context.Context, st *pbxusers.SetupToken) error {
	_, err := t.exec(ctx, `INSERT INTO setup_tokens (id, tenant_id, user_id, purpose, hash, created, expires, used, revoked, failures)
		VALUES (?,?,?,?,?,?,?,?,?,?)`, st.ID, st.TenantID, st.UserID, string(st.Purpose), st.Hash, t.f.Time(st.Created), t.f.Time(st.Expires),
		t.f.timePtr(st.Used), t.f.timePtr(st.Revoked), st.Failures)
	return t.f.Err("create set-password token", err, st.ID)
}

// GetSetupToken implements pbxusers.Tx.
func (t *Tx) GetSetupToken(ctx context.Context, id string) (pbxusers.SetupToken, error) {
	var st pbxusers.SetupToken
	var purpose string
	var created, expires, used, revoked timeCol
	err := t.queryRow(ctx, `SELECT id, tenant_id, user_id, purpose, hash, created, expires, used, revoked, failures
		FROM setup_tokens WHERE id = ?`, id).Scan(&st.ID, &st.TenantID, &st.UserID, &purpose, &st.Hash, &created, &expires,
		&used, &revoked, &st.Failures)
	if err != nil {
		return st, t.f.notFound("get set-password token", "set-password token", id, err)
	}
	st.Purpose, st.Created, st.Expires = pbxusers.SetupPurpose(purpose), created.t, expires.t
	st.Used, st.Revoked = used.ptr(), revoked.ptr()
	return st, nil
}

// UpdateSetupToken implements pbxusers.Tx.
func (t *Tx) UpdateSetupToken(ctx context.Context, st *pbxusers.SetupToken) error {
	n, err := t.exec(ctx, "UPDATE setup_tokens SET used = ?, revoked = ?, failures = ? WHERE id = ?",
		t.f.timePtr(st.Used), t.f.timePtr(st.Revoked), st.Failures, st.ID)
	if err != nil {
		return t.f.Err("update set-password token", err, "")
	}
	return affected(n, "set-password token", st.ID)
}

// RevokeSetupTokens implements pbxusers.Tx.
func (t *Tx) RevokeSetupTokens(ctx context.Context, tenant, userID string, at time.Time) (int, error) {
	n, err := t.exec(ctx, "UPDATE setup_tokens SET revoked = ? WHERE tenant_id = ? AND user_id = ? AND used IS NULL AND revoked IS NULL",
		t.f.Time(at), tenant, userID)
	if err != nil {
		return 0, t.f.Err("revoke set-password tokens", err, "")
	}
	return int(n), nil
}
