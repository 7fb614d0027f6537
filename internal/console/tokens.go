package console

import (
	"net/http"
	"net/url"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// tokensData is the API tokens page. Secret is a new token's secret,
// shown once: only its hash is stored.
type tokensData struct {
	Tokens          []pbxusers.APIToken
	Secret, NewName string
}

func (h *Handler) listTokens(w http.ResponseWriter, r *http.Request, ss *session) {
	h.renderTokens(w, r, ss, http.StatusOK, nil, &tokensData{})
}

func (h *Handler) renderTokens(w http.ResponseWriter, r *http.Request, ss *session, status int, f *form, d *tokensData) {
	ts, err := h.dir.ListTokens(r.Context(), ss.Tenant)
	if err != nil {
		h.internal(w, r, ss, err)
		return
	}
	for i := range ts {
		ts[i].Scope = ts[i].Scope.OrDefault()
	}
	d.Tokens = ts
	h.renderTenant(w, r, ss, status, "tenant_tokens", "tokens", f, d)
}

// createToken mints a token through the admin API (scope scim or admin;
// operator tokens are minted with the CLI) and shows its secret once.
func (h *Handler) createToken(w http.ResponseWriter, r *http.Request, ss *session) {
	t := textsFor(ss, r)
	f := newForm(r, "name", "scope")
	var out struct {
		pbxusers.APIToken
		Token string `json:"token"`
	}
	p, err := h.callAPI(r.Context(), ss, http.MethodPost, "/tokens", map[string]any{"name": f.V("name"), "scope": f.V("scope")}, &out)
	if err != nil {
		h.internal(w, r, ss, err)
		return
	}
	if p != nil {
		f.absorb(t, p, map[string]string{"name": "name", "scope": "scope"})
		h.renderTokens(w, r, ss, statusOf(p), f, &tokensData{})
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	h.renderTokens(w, r, ss, http.StatusOK, nil, &tokensData{Secret: out.Token, NewName: out.Name})
}

// revokeToken revokes a token through the admin API.
func (h *Handler) revokeToken(w http.ResponseWriter, r *http.Request, ss *session) {
	id := r.PathValue("id")
	p, err := h.callAPI(r.Context(), ss, http.MethodDelete, "/tokens/"+url.PathEscape(id), nil, nil)
	if err != nil {
		h.internal(w, r, ss, err)
		return
	}
	if p != nil {
		h.renderTokens(w, r, ss, p.Status, &form{Summary: problemText(p)}, &tokensData{})
		return
	}
	back(w, r, "/tokens", "tokenRevoked", id)
}
