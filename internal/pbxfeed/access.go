package pbxfeed

import "context"

// access is what Authorize granted the request: one tenant, or all.
type access struct {
	tenant string
	all    bool
}

type accessKey struct{}

func withAccess(ctx context.Context, a access) context.Context {
	return context.WithValue(ctx, accessKey{}, a)
}

// allows reports whether the request may read the tenant.
func allows(ctx context.Context, tenant string) bool {
	a, ok := ctx.Value(accessKey{}).(access)
	return ok && (a.all || (a.tenant != "" && a.tenant == tenant))
}
