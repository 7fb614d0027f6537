package adminapi

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/pbxgate/pbxgate/pbxusers"
)

func TestOwnedFields(t *testing.T) {
	tests := []struct {
		name  string
		owner pbxusers.Owner
		want  []string
	}{
		{"manual owns nothing", pbxusers.Owner{Source: pbxusers.SourceManual}, nil},
		{"scim", pbxusers.Owner{Source: pbxusers.SourceSCIM}, scimOwnedFields},
		{"ldap without a field list", pbxusers.Owner{Source: pbxusers.SourceLDAP}, ldapOwnedFields},
		{"ldap names what it synced", pbxusers.Owner{Source: pbxusers.SourceLDAP, Synced: map[string]string{
			"name.given": "Ada", "name.family": "L", "manager": "cn=x", "phoneNumbers.work": "+49", "customFields.costCode": "7"}},
			[]string{"owner.externalId", "name", "managerId", "phoneNumbers", "customFields.costCode"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.ElementsMatch(t, tc.want, ownedFields(tc.owner))
		})
	}
}

func TestChangedPaths(t *testing.T) {
	before := map[string]any{"name": map[string]any{"given": "Ada"}, "customFields": map[string]any{"a": "1", "b": "2"}}
	after := map[string]any{"name": map[string]any{"given": "Ada"}, "customFields": map[string]any{"a": "1", "b": "3"}}
	assert.Equal(t, []string{"customFields.b"}, changedPaths(before, after, []string{"name", "customFields.a", "customFields.b"}))
}

func TestMergePatch(t *testing.T) {
	target := map[string]any{"a": "x", "b": map[string]any{"c": "d", "e": "f"}, "g": []any{1}}
	patch := map[string]any{"a": nil, "b": map[string]any{"c": nil, "h": "i"}, "g": []any{2}}
	assert.Equal(t, map[string]any{"b": map[string]any{"e": "f", "h": "i"}, "g": []any{2}}, mergePatch(target, patch))
}

func TestEndpoint(t *testing.T) {
	for path, want := range map[string]string{
		"/api/v1/tenants/acme/users/0192-abc":                   "/api/v1/tenants/{tenant}/users/{id}",
		"/api/v1/tenants/acme/users/0192-abc/devices/d1/rotate": "/api/v1/tenants/{tenant}/users/{id}/devices/{device}/rotate",
		"/api/v1/tenants/acme/numbers/+4930123":                 "/api/v1/tenants/{tenant}/numbers/{number}",
		"/api/v1/tenants":                                       "/api/v1/tenants",
		"/api/v1/openapi.json":                                  "/api/v1/openapi.json",
		"/api/v1/tenants/acme/ldap/directories/corp/runs":       "/api/v1/tenants/{tenant}/ldap/directories/{name}/runs",
		"/api/v1/whatever/you/like":                             Prefix,
	} {
		assert.Equal(t, want, Endpoint(path), path)
	}
}
