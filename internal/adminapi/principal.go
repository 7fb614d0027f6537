package adminapi

import (
	"context"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// Principal is a caller the embedding program has already authenticated
// by other means than a bearer token: the admin console signs its users in
// with sessions and hands their requests to these same handlers, so the
// console has no write path of its own.
type Principal struct {
	// Tenant is the one tenant the principal may act on.
	Tenant string
	// Actor names the principal in the change log, e.g. "console ada".
	Actor string
}

type principalKey struct{}

// WithPrincipal returns a context under which requests are served as p,
// without a bearer token. Only code in the same process can set it.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// principal returns the principal of ctx, as the token that stands for it.
func principal(ctx context.Context) (pbxusers.APIToken, string, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	if !ok || p.Tenant == "" {
		return pbxusers.APIToken{}, "", false
	}
	return pbxusers.APIToken{TenantID: p.Tenant, Name: p.Actor, Scope: pbxusers.ScopeAdmin}, p.Actor, true
}
