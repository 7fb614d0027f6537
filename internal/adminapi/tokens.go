package adminapi

import (
	"net/http"

	"github.com/pbxgate/pbxgate/pbxusers"
)

func (h *Handler) mountTokens() {
	base := Prefix + "/tenants/{tenant}/tokens"
	h.handle("GET "+base, h.listTokens)
	h.handle("POST "+base, h.createToken)
	h.handle("DELETE "+base+"/{token}", h.revokeToken)
}

// listTokens lists the tenant's tokens; secrets are never shown (only
// their hashes are stored).
func (h *Handler) listTokens(c *call) error {
	ts, err := h.dir.ListTokens(c.ctx, c.tenant)
	if err != nil {
		return err
	}
	for i := range ts {
		ts[i].Scope = ts[i].Scope.OrDefault()
	}
	return c.json(http.StatusOK, list[pbxusers.APIToken]{Items: nonNil(ts), Total: len(ts)})
}

// tokenBody is the body of POST .../tokens.
type tokenBody struct {
	Name string `json:"name"`
	// Scope defaults to scim.
	Scope pbxusers.TokenScope `json:"scope,omitempty"`
}

// createdToken is a new token's record with its secret, shown this once.
type createdToken struct {
	pbxusers.APIToken
	Token string `json:"token"`
}

// createToken mints a token. Only an operator may mint operator tokens.
func (h *Handler) createToken(c *call) error {
	var b tokenBody
	if err := h.decode(c, &b); err != nil {
		return err
	}
	if b.Scope == pbxusers.ScopeOperator {
		if err := c.operatorOnly(); err != nil {
			return err
		}
	}
	secret, tok, err := h.dir.CreateScopedToken(c.ctx, c.tenant, b.Name, b.Scope)
	if err != nil {
		return err
	}
	c.w.Header().Set("Cache-Control", "no-store")
	return c.json(http.StatusCreated, createdToken{APIToken: tok, Token: secret})
}

// revokeToken revokes a token; revoking twice is not an error.
func (h *Handler) revokeToken(c *call) error {
	if err := h.dir.RevokeToken(c.ctx, c.tenant, c.r.PathValue("token")); err != nil {
		return err
	}
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}
