package pbxusers

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"time"
)

// TokenPrefix starts every API token, so secret scanners recognise them.
const TokenPrefix = "pbxg_"

// TokenScope says what an API token may be used for. A token of one scope
// is refused (403) by the endpoints of the others.
type TokenScope string

// The token scopes.
const (
	// ScopeSCIM tokens use the SCIM endpoint of their tenant. Tokens made
	// before scopes existed have this scope.
	ScopeSCIM TokenScope = "scim"
	// ScopeAdmin tokens use the admin API (/api/v1) for their tenant.
	ScopeAdmin TokenScope = "admin"
	// ScopeOperator tokens use the admin API for every tenant, including
	// the tenant list itself, and read the PBX feed of every tenant.
	ScopeOperator TokenScope = "operator"
	// ScopePBX tokens read the PBX feed (/pbx/v1) of their tenant: what a
	// phone system needs to authenticate devices and route calls.
	ScopePBX TokenScope = "pbx"
)

// Valid reports whether s is one of the scopes.
func (s TokenScope) Valid() bool {
	return s == ScopeSCIM || s == ScopeAdmin || s == ScopeOperator || s == ScopePBX
}

// OrDefault returns s, or ScopeSCIM when s is empty.
func (s TokenScope) OrDefault() TokenScope {
	if s == "" {
		return ScopeSCIM
	}
	return s
}

// APIToken is a bearer token for the SCIM endpoint or the admin API, bound
// to one tenant. Only a SHA-256 hash of its secret is stored.
type APIToken struct {
	// ID is the public part of the token, also shown in listings.
	ID       string `json:"id"`
	TenantID string `json:"tenantId"`
	// Name is a label ("okta", "entra").
	Name string `json:"name,omitempty"`
	// Hash is SHA-256 of the secret part; never shown.
	Hash      []byte     `json:"-"`
	Created   time.Time  `json:"created"`
	LastUsed  *time.Time `json:"lastUsed,omitempty"`
	Revoked   *time.Time `json:"revoked,omitempty"`
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
	// Scope is what the token may be used for; empty reads as ScopeSCIM.
	Scope TokenScope `json:"scope"`
}

// CreateToken creates a bearer token for the tenant's SCIM endpoint and
// returns the token itself (shown once, never stored) and its record.
func (d *Directory) CreateToken(ctx context.Context, tenant, name string) (string, APIToken, error) {
	return d.CreateScopedToken(ctx, tenant, name, ScopeSCIM)
}

// CreateScopedToken creates a bearer token of the given scope for the
// tenant, like CreateToken. An empty scope is ScopeSCIM.
func (d *Directory) CreateScopedToken(ctx context.Context, tenant, name string, scope TokenScope) (string, APIToken, error) {
	var p Problems
	checkText(&p, "name", name, 100)
	scope = scope.OrDefault()
	if !scope.Valid() {
		p.Add("scope", "must be scim, admin, operator or pbx, not %q", scope)
	}
	if err := p.Err(); err != nil {
		return "", APIToken{}, err
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return "", APIToken{}, fmt.Errorf("read random: %w", err)
	}
	enc := base64.RawURLEncoding.EncodeToString(secret)
	sum := sha256.Sum256([]byte(enc))
	tok := APIToken{ID: strings.ToLower(randomSecret(12)), TenantID: tenant, Name: name, Hash: sum[:], Scope: scope}
	err := d.update(ctx, func(t *txn) error {
		if _, err := t.tenant(tenant); err != nil {
			return err
		}
		tok.Created = t.now
		if err := t.tx.CreateToken(t.ctx, &tok); err != nil {
			return err
		}
		return t.record(Change{TenantID: tenant, Entity: EntityToken, EntityID: tok.ID, Action: ActionCreate, Summary: name,
			Fields: []FieldChange{{Field: "scope", New: string(scope)}}})
	})
	if err != nil {
		return "", APIToken{}, err
	}
	return TokenPrefix + tok.ID + "." + enc, tok, nil
}

// ListTokens lists a tenant's tokens, without secrets.
func (d *Directory) ListTokens(ctx context.Context, tenant string) ([]APIToken, error) {
	var out []APIToken
	err := d.view(ctx, func(t *txn) error {
		if _, err := t.tenant(tenant); err != nil {
			return err
		}
		var err error
		out, err = t.tx.ListTokens(t.ctx, tenant)
		return err
	})
	return out, err
}

// RevokeToken revokes a token of the tenant. Revoking twice is not an error.
// A gateway process other than the one revoking refuses the token within
// two seconds (it trusts what it read of a token that long).
func (d *Directory) RevokeToken(ctx context.Context, tenant, id string) error {
	defer d.cache.drop("token:" + id)
	err := d.update(ctx, func(t *txn) error {
		tok, err := t.tx.GetToken(t.ctx, id)
		if err != nil || tok.TenantID != tenant {
			return notFound("token", id)
		}
		if tok.Revoked != nil {
			return nil
		}
		tok.Revoked = &t.now
		if err := t.tx.UpdateToken(t.ctx, &tok); err != nil {
			return err
		}
		return t.record(Change{TenantID: tenant, Entity: EntityToken, EntityID: id, Action: ActionRevoke, Summary: tok.Name})
	})
	if err == nil {
		d.touches.Delete(id)
	}
	return err
}

// Authenticate checks a bearer token and returns its record; the token's
// tenant is the only tenant the caller may see. Missing, malformed, unknown,
// revoked and expired tokens all fail with ErrUnauthenticated. The secret is
// compared in constant time.
func (d *Directory) Authenticate(ctx context.Context, token string) (APIToken, error) {
	rest, ok := strings.CutPrefix(token, TokenPrefix)
	if !ok {
		return APIToken{}, ErrUnauthenticated
	}
	id, secret, ok := strings.Cut(rest, ".")
	if !ok || id == "" || len(id) > 64 || secret == "" {
		return APIToken{}, ErrUnauthenticated
	}
	var tok APIToken
	var err error
	if v, ok := d.cache.get("token:"+id, d.now()); ok {
		tok = v.(APIToken)
	} else {
		err = d.view(ctx, func(t *txn) error {
			var err error
			tok, err = t.tx.GetToken(t.ctx, id)
			return err
		})
		if err == nil {
			d.cache.put("token:"+id, tok, d.now())
		}
	}
	sum := sha256.Sum256([]byte(secret))
	if err != nil {
		if isNotFound(err) {
			equalSecret(sum[:], sum[:]) // same work as a found token
			return APIToken{}, ErrUnauthenticated
		}
		return APIToken{}, err
	}
	now := d.now()
	if !equalSecret(sum[:], tok.Hash) || tok.Revoked != nil || (tok.ExpiresAt != nil && now.After(*tok.ExpiresAt)) {
		return APIToken{}, ErrUnauthenticated
	}
	if last, ok := d.touches.Load(id); !ok || now.Sub(last.(time.Time)) > time.Minute {
		d.touches.Store(id, now)
		_ = d.store.Update(ctx, func(tx Tx) error {
			cur, err := tx.GetToken(ctx, id)
			if err != nil {
				return err
			}
			u := now.UTC().Truncate(time.Microsecond)
			cur.LastUsed = &u
			return tx.UpdateToken(ctx, &cur)
		})
	}
	return tok, nil
}
