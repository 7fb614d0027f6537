package scim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/stretchr/testify/assert"

	"github.com/pbxgate/pbxgate/pbxusers"
)

func TestToAPIError(t *testing.T) {
	var logs strings.Builder
	s := &server{log: slog.New(slog.NewTextHandler(&logs, nil))}
	ctx := context.Background()
	tests := []struct {
		err        error
		status     int
		scimType   string
		detail     string
		retryAfter int
	}{
		{fmt.Errorf("user %q: %w", "x", pbxusers.ErrNotFound), 404, "", "not found", 0},
		{&pbxusers.ConflictError{Kind: "user", Field: "version", Err: pbxusers.ErrVersionMismatch}, 412, "", "version mismatch", 0},
		{&pbxusers.ConflictError{Kind: "user", Field: "userName", Value: "a@b", ExistingID: "u1"}, 409, typeUniqueness, `userName "a@b" is already used by user u1`, 0},
		{&pbxusers.ConflictError{Kind: "user", Field: "email", Value: "a@b", ExistingID: "u1", Reason: "already used by user \"x\" owned by source ldap"}, 409, typeUniqueness, `emails "a@b" is already used by user u1: already used by user "x" owned by source ldap`, 0},
		{&pbxusers.ConflictError{Kind: "user", Reason: `user "x" is owned by source ldap; an admin can hand it over`}, 409, "", "owned by source ldap", 0},
		{&pbxusers.ConflictError{Kind: "team", Field: "name", Value: "Ops", ExistingID: "t1"}, 409, typeUniqueness, `displayName "Ops"`, 0},
		{&pbxusers.ValidationError{Fields: []pbxusers.FieldError{{Field: "name.given", Reason: "too long"}, {Field: "extension", Reason: "must be digits"}}},
			400, typeInvalidValue, "name.givenName: too long; " + UserExtensionSchema + ":extension: must be digits", 0},
		{fmt.Errorf("busy: %w", pbxusers.ErrUnavailable), 503, "", "busy", DefaultRetryAfter},
		{context.DeadlineExceeded, 503, "", "busy", DefaultRetryAfter},
		{scimerrors.ScimErrorInvalidPath, 400, typeInvalidPath, "path", 0},
		{badRequest(typeNoTarget, "nothing"), 400, typeNoTarget, "nothing", 0},
		{errors.New("sql: connection refused at 10.0.0.1"), 500, "", "internal server error", 0},
	}
	for _, tt := range tests {
		ae := s.toAPIError(ctx, tt.err)
		assert.Equal(t, tt.status, ae.status, tt.err.Error())
		assert.Equal(t, tt.scimType, ae.scimType, tt.err.Error())
		assert.Contains(t, ae.detail, tt.detail, tt.err.Error())
		assert.Equal(t, tt.retryAfter, ae.retryAfter)
	}
	assert.Contains(t, logs.String(), "10.0.0.1", "the internal error is logged")

	rec := httptest.NewRecorder()
	writeError(rec, &apiError{status: 503, detail: "busy", retryAfter: 5})
	assert.Equal(t, "5", rec.Header().Get("Retry-After"))
	assert.JSONEq(t, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"detail":"busy","status":"503"}`, rec.Body.String())
}

func TestNormalizePatch(t *testing.T) {
	in := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
		{"op":"Replace","path":"active","value":"False"},
		{"op":"Add","path":"manager","value":[{"$ref":"x","value":"m1"}]},
		{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":"m2"},
		{"op":"replace","path":"title","value":null},
		{"op":"replace","path":"urn:okta:app:1:user:x","value":"y"},
		{"op":"add","path":"addresses","value":[{"type":"work"}]},
		{"op":"remove","path":"urn:pbxgate:params:scim:schemas:extension:pbx:2.0:Group"},
		{"op":"replace","value":{"nickName":null,"active":"TRUE","urn:okta:x:1:user:y":"z",
			"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":"m3","department":"D"}}}
	]}`
	out := normalizePatch([]byte(in), usersSchema)
	assert.JSONEq(t, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
		{"op":"replace","path":"active","value":false},
		{"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":{"$ref":"x","value":"m1"}},
		{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":{"value":"m2"}},
		{"op":"remove","path":"title"},
		{"op":"add","value":{}},
		{"op":"add","path":"addresses","value":[{"type":"work"}]},
		{"op":"add","value":{}},
		{"op":"replace","value":{"active":true,
			"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager":{"value":"m3"},
			"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department":"D"}},
		{"op":"remove","path":"nickName"}
	]}`, string(out))

	// Group members as a plain id; whole-extension removal.
	out = normalizePatch([]byte(`{"Operations":[{"op":"add","path":"members","value":"u1"},
		{"op":"remove","path":"urn:pbxgate:params:scim:schemas:extension:pbx:2.0:Group"}]}`), groupsSchema)
	assert.JSONEq(t, `{"Operations":[{"op":"add","path":"members","value":[{"value":"u1"}]},
		{"op":"remove","path":"urn:pbxgate:params:scim:schemas:extension:pbx:2.0:Group:profiles"}]}`, string(out))

	// What does not parse is left for elimity.
	for _, bad := range []string{`not json`, `[]`, `{"Operations":"x"}`, `{"Operations":[1,{"op":7}]}`} {
		assert.Equal(t, bad, string(normalizePatch([]byte(bad), usersSchema)))
	}
}

func TestNormalizeResource(t *testing.T) {
	out := normalizeResource([]byte(`{"schemas":["s"],"active":"False","emails":[{"value":"a@b","primary":"true"}],
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":"m1"},
		"urn:pbxgate:params:scim:schemas:extension:pbx:2.0:User":{"features":{"voicemail":"1"}}}`), usersSchema)
	assert.JSONEq(t, `{"schemas":["s"],"active":false,"emails":[{"value":"a@b","primary":true}],
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":"m1"}},
		"urn:pbxgate:params:scim:schemas:extension:pbx:2.0:User":{"features":{"voicemail":true}}}`, string(out))
}
