package passwordpage

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// CSRF protection is a signed double-submit cookie: the browser gets a
// random nonce in a SameSite=Strict, HttpOnly cookie, and the form a
// hidden field holding HMAC-SHA256(key, link id, nonce). A POST must bring
// both, and they must match: another site can neither read the cookie nor
// compute the field without the server's key, and a field is good only
// for the link it was made for. The check runs after net/http's
// CrossOriginProtection (Sec-Fetch-Site, Origin), which refuses
// cross-origin POSTs from browsers outright.

const (
	cookieName       = "pbxgate-setup"
	secureCookieName = "__Host-pbxgate-setup"
	csrfField        = "csrf"
	nonceBytes       = 18
)

func (h *Handler) cookieName(r *http.Request) string {
	if h.secure(r) {
		return secureCookieName
	}
	return cookieName
}

func (h *Handler) secure(r *http.Request) bool { return h.opts.SecureCookie || r.TLS != nil }

// nonce returns the browser's nonce, setting a new cookie when it has none.
// Reusing it keeps a form in a second tab working.
func (h *Handler) nonce(w http.ResponseWriter, r *http.Request) (string, error) {
	if c, err := r.Cookie(h.cookieName(r)); err == nil && validNonce(c.Value) {
		return c.Value, nil
	}
	b := make([]byte, nonceBytes)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	v := base64.RawURLEncoding.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{
		Name:     h.cookieName(r),
		Value:    v,
		Path:     "/",
		HttpOnly: true,
		Secure:   h.secure(r),
		SameSite: http.SameSiteStrictMode,
	})
	return v, nil
}

func validNonce(s string) bool {
	b, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil && len(b) == nonceBytes
}

// csrfToken is the form field for the link's id and the browser's nonce.
func (h *Handler) csrfToken(linkID, nonce string) string {
	m := hmac.New(sha256.New, h.key)
	m.Write([]byte("pbxgate set-password form\x00"))
	m.Write([]byte(linkID))
	m.Write([]byte{0})
	m.Write([]byte(nonce))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// checkCSRF reports whether the POST carries a cookie and a matching field.
func (h *Handler) checkCSRF(r *http.Request, linkID string) bool {
	c, err := r.Cookie(h.cookieName(r))
	if err != nil || !validNonce(c.Value) {
		return false
	}
	got := r.PostForm.Get(csrfField)
	want := h.csrfToken(linkID, c.Value)
	return hmac.Equal([]byte(got), []byte(want))
}

// linkID is the public id part of a set-password token
// ("pbxs_<id>.<secret>"); "" when the token is malformed.
func linkID(token string) string {
	rest, ok := strings.CutPrefix(token, pbxusers.SetupTokenPrefix)
	if !ok {
		return ""
	}
	id, _, ok := strings.Cut(rest, ".")
	if !ok {
		return ""
	}
	return id
}
