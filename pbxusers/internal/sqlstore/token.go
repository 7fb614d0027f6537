package sqlstore

import (
	"context"
	"fmt"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// CreateToken implements pbxusers.Tx.
func (t *Tx) CreateToken(ctx context.Context, tok *pbxusers.APIToken) error {
	_, err := t.exec(ctx, "INSERT INTO api_tokens (id, tenant_id, name, hash, created, last_used, revoked, expires, scope) VALUES (?,?,?,?,?,?,?,?,?)",
		tok.ID, tok.TenantID, tok.Name, tok.Hash, t.f.Time(tok.Created), t.f.timePtr(tok.LastUsed), t.f.timePtr(tok.Revoked), t.f.timePtr(tok.ExpiresAt),
		string(tok.Scope.OrDefault()))
	return t.f.Err("create token", err, tok.ID)
}

// scanTokens reads the tokens a condition selects.
func (t *Tx) scanTokens(ctx context.Context, where string, args ...any) ([]pbxusers.APIToken, error) {
	var out []pbxusers.APIToken
	err := t.each(ctx, "SELECT id, tenant_id, name, hash, created, last_used, revoked, expires, scope FROM api_tokens WHERE "+where+" ORDER BY created, id", args, func(r Row) error {
		var tok pbxusers.APIToken
		var created, last, revoked, expires timeCol
		var scope string
		if err := r.Scan(&tok.ID, &tok.TenantID, &tok.Name, &tok.Hash, &created, &last, &revoked, &expires, &scope); err != nil {
			return err
		}
		tok.Created, tok.Scope = created.t, pbxusers.TokenScope(scope)
		tok.LastUsed, tok.Revoked, tok.ExpiresAt = last.ptr(), revoked.ptr(), expires.ptr()
		out = append(out, tok)
		return nil
	})
	return out, t.f.Err("list tokens", err, "")
}

// GetToken implements pbxusers.Tx.
func (t *Tx) GetToken(ctx context.Context, id string) (pbxusers.APIToken, error) {
	toks, err := t.scanTokens(ctx, "id = ?", id)
	if err != nil {
		return pbxusers.APIToken{}, err
	}
	if len(toks) == 0 {
		return pbxusers.APIToken{}, fmt.Errorf("token %q: %w", id, pbxusers.ErrNotFound)
	}
	return toks[0], nil
}

// UpdateToken implements pbxusers.Tx.
func (t *Tx) UpdateToken(ctx context.Context, tok *pbxusers.APIToken) error {
	n, err := t.exec(ctx, "UPDATE api_tokens SET name = ?, last_used = ?, revoked = ?, expires = ? WHERE id = ? AND tenant_id = ?",
		tok.Name, t.f.timePtr(tok.LastUsed), t.f.timePtr(tok.Revoked), t.f.timePtr(tok.ExpiresAt), tok.ID, tok.TenantID)
	if err != nil {
		return t.f.Err("update token", err, "")
	}
	return affected(n, "token", tok.ID)
}

// ListTokens implements pbxusers.Tx.
func (t *Tx) ListTokens(ctx context.Context, tenant string) ([]pbxusers.APIToken, error) {
	return t.scanTokens(ctx, "tenant_id = ?", tenant)
}
