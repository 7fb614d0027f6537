package pbxfeed

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// TokenAuthorize is the AuthorizeFunc of pbxgate's API tokens: a token of
// scope pbx reads its own tenant, a token of scope operator every tenant;
// any other valid token is refused with 403. The token comes as a bearer
// token, or as the password of HTTP Basic authentication (FreeSWITCH's
// mod_xml_curl cannot send a bearer token). failed, when not nil, is
// called for every token that does not authenticate, and blocked, when not
// nil, is asked first whether the client may try at all.
func TokenAuthorize(dir *pbxusers.Directory, blocked func(r *http.Request, bearer string) bool,
	failed func(r *http.Request, bearer string)) AuthorizeFunc {
	return func(r *http.Request) (string, bool, error) {
		token := bearer(r)
		if blocked != nil && blocked(r, token) {
			return "", false, errors.New("too many failed authentications")
		}
		if token == "" {
			return "", false, errors.New("no bearer token")
		}
		tok, err := dir.Authenticate(r.Context(), token)
		if err != nil {
			if failed != nil && errors.Is(err, pbxusers.ErrUnauthenticated) {
				failed(r, token)
			}
			return "", false, err
		}
		switch tok.Scope.OrDefault() {
		case pbxusers.ScopePBX:
			return tok.TenantID, false, nil
		case pbxusers.ScopeOperator:
			return "", true, nil
		}
		return "", false, fmt.Errorf("%w: token of scope %s", ErrForbidden, tok.Scope.OrDefault())
	}
}

// bearer returns the request's bearer token, or the Basic password.
func bearer(r *http.Request) string {
	if _, pw, ok := r.BasicAuth(); ok {
		return pw
	}
	scheme, tok, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}
