package adminapi

import (
	"errors"
	"net/http"
	"strings"

	"github.com/pbxgate/pbxgate/internal/ratelimit"
	"github.com/pbxgate/pbxgate/pbxusers"
)

// authenticate checks the bearer token and its scope. Which of missing,
// malformed, unknown, revoked or expired it was is never told; a valid
// token of scope scim is 403.
func (h *Handler) authenticate(r *http.Request) (pbxusers.APIToken, *Problem) {
	if tok, _, ok := principal(r.Context()); ok {
		return tok, nil
	}
	scheme, token, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return pbxusers.APIToken{}, problemf(http.StatusUnauthorized, typeUnauthorized, "a bearer token of scope admin or operator is required")
	}
	token = strings.TrimSpace(token)
	if blocked, wait := h.guard.Blocked(r, token, "api"); blocked {
		p := problemf(http.StatusTooManyRequests, typeTooMany, "too many failed authentications from this address or for this token; retry in %s", ratelimit.RetryAfter(wait)+"s")
		p.retryAfter = ratelimit.RetryAfter(wait)
		return pbxusers.APIToken{}, p
	}
	tok, err := h.dir.Authenticate(r.Context(), token)
	switch {
	case errors.Is(err, pbxusers.ErrUnauthenticated):
		h.guard.Failed(r.Context(), r, token, "api")
		return pbxusers.APIToken{}, problemf(http.StatusUnauthorized, typeUnauthorized, "the bearer token is not valid")
	case err != nil:
		return pbxusers.APIToken{}, h.problem(r, err)
	}
	switch tok.Scope.OrDefault() {
	case pbxusers.ScopeAdmin, pbxusers.ScopeOperator:
		return tok, nil
	}
	return pbxusers.APIToken{}, problemf(http.StatusForbidden, typeForbidden,
		"this token has scope %q; the admin API needs a token of scope admin or operator (pbxgate token create --scope admin)", tok.Scope.OrDefault())
}

// operatorOnly fails with 403 unless the call's token has scope operator.
func (c *call) operatorOnly() error {
	if c.tok.Scope != pbxusers.ScopeOperator {
		return problemf(http.StatusForbidden, typeForbidden, "only a token of scope operator may do this")
	}
	return nil
}
