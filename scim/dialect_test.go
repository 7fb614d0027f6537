package scim_test

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/pbxusers"
	"github.com/pbxgate/pbxgate/scim"
	"github.com/pbxgate/pbxgate/scim/scimtest"
)

// TestEntraDialectTable replays every row of the Entra ID dialect table
// in ../shared/research/scim-idp-dialects.md (§3, with and without the
// aadOptscim062020 flag): request → expected status and stored state.
func TestEntraDialectTable(t *testing.T) {
	s := scimtest.MustStart(t, scim.Options{})
	ctx := context.Background()
	type fixture struct{ user, other, group string }
	newFixture := func(t *testing.T) fixture {
		t.Helper()
		u := s.MustCreateUser(uniqueName("entra") + "@example.com")
		o := s.MustCreateUser(uniqueName("other") + "@example.com")
		return fixture{user: u, other: o, group: s.MustCreateGroup(uniqueName("G"), u, o)}
	}
	user := func(t *testing.T, id string) pbxusers.User {
		t.Helper()
		u, err := s.Dir.GetUser(ctx, s.Tenant, id)
		require.NoError(t, err)
		return u
	}
	members := func(t *testing.T, gid string) []string {
		t.Helper()
		ids, _, err := s.Dir.ListTeamMembers(ctx, s.Tenant, gid, 0, 0)
		require.NoError(t, err)
		return ids
	}
	patch := func(ops string) string {
		return `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[` + ops + `]}`
	}
	for _, tc := range []struct {
		name   string
		req    func(f fixture) scimtest.Request
		status int
		check  func(t *testing.T, f fixture, r *scimtest.Response)
	}{
		{"no flag: Replace active with the string False", func(f fixture) scimtest.Request {
			return scimtest.Request{Method: "PATCH", Path: "/Users/" + f.user, Body: patch(`{"op":"Replace","path":"active","value":"False"}`)}
		}, 200, func(t *testing.T, f fixture, _ *scimtest.Response) {
			assert.Equal(t, pbxusers.StatusInactive, user(t, f.user).Status)
		}},
		{"flag: path-less replace with a boolean", func(f fixture) scimtest.Request {
			return scimtest.Request{Method: "PATCH", Path: "/Users/" + f.user, Body: patch(`{"op":"replace","value":{"active":false}}`)}
		}, 200, func(t *testing.T, f fixture, _ *scimtest.Response) {
			assert.Equal(t, pbxusers.StatusInactive, user(t, f.user).Status)
		}},
		{"no flag: capitalised Add", func(f fixture) scimtest.Request {
			return scimtest.Request{Method: "PATCH", Path: "/Users/" + f.user, Body: patch(`{"op":"Add","path":"nickName","value":"Babs"}`)}
		}, 200, func(t *testing.T, f fixture, _ *scimtest.Response) {
			assert.Equal(t, "Babs", user(t, f.user).Nickname)
		}},
		{"no flag: one op per attribute", func(f fixture) scimtest.Request {
			return scimtest.Request{Method: "PATCH", Path: "/Users/" + f.user, Body: patch(`{"op":"Replace","path":"displayName","value":"D"},
				{"op":"Replace","path":"name.givenName","value":"G"},
				{"op":"Replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber","value":"7"}`)}
		}, 200, func(t *testing.T, f fixture, _ *scimtest.Response) {
			u := user(t, f.user)
			assert.Equal(t, []string{"D", "G", "7"}, []string{u.DisplayName, u.Name.Given, u.Enterprise.EmployeeNumber})
		}},
		{"flag: path-less value with dotted and URN-prefixed keys", func(f fixture) scimtest.Request {
			return scimtest.Request{Method: "PATCH", Path: "/Users/" + f.user, Body: patch(`{"op":"replace","value":{"displayName":"D2",
				"name.givenName":"G2","name.familyName":"F2",
				"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"8"}}`)}
		}, 200, func(t *testing.T, f fixture, _ *scimtest.Response) {
			u := user(t, f.user)
			assert.Equal(t, []string{"D2", "G2", "F2", "8"}, []string{u.DisplayName, u.Name.Given, u.Name.Family, u.Enterprise.EmployeeNumber})
		}},
		{"work email through a value filter", func(f fixture) scimtest.Request {
			return scimtest.Request{Method: "PATCH", Path: "/Users/" + f.user, Body: patch(`{"op":"Replace","path":"emails[type eq \"work\"].value","value":"work@contoso.example"}`)}
		}, 200, func(t *testing.T, f fixture, _ *scimtest.Response) {
			assert.Equal(t, []pbxusers.Email{{Value: "work@contoso.example", Type: "work", Primary: true}}, user(t, f.user).Emails)
		}},
		{"manager as a plain id string without the URN", func(f fixture) scimtest.Request {
			return scimtest.Request{Method: "PATCH", Path: "/Users/" + f.user, Body: patch(`{"op":"Add","path":"manager","value":"` + f.other + `"}`)}
		}, 200, func(t *testing.T, f fixture, _ *scimtest.Response) {
			assert.Equal(t, f.other, user(t, f.user).ManagerID)
		}},
		{"no flag: Remove member by value list", func(f fixture) scimtest.Request {
			return scimtest.Request{Method: "PATCH", Path: "/Groups/" + f.group, Body: patch(`{"op":"Remove","path":"members","value":[{"value":"` + f.user + `"}]}`)}
		}, 204, func(t *testing.T, f fixture, _ *scimtest.Response) {
			assert.Equal(t, []string{f.other}, members(t, f.group))
		}},
		{"flag: remove member by value filter", func(f fixture) scimtest.Request {
			return scimtest.Request{Method: "PATCH", Path: "/Groups/" + f.group, Body: patch(`{"op":"remove","path":"members[value eq \"` + f.user + `\"]"}`)}
		}, 204, func(t *testing.T, f fixture, _ *scimtest.Response) {
			assert.Equal(t, []string{f.other}, members(t, f.group))
		}},
		{"member add with $ref null", func(f fixture) scimtest.Request {
			n := s.MustCreateUser(uniqueName("new") + "@example.com")
			return scimtest.Request{Method: "PATCH", Path: "/Groups/" + f.group, Body: patch(`{"op":"Add","path":"members","value":[{"$ref":null,"value":"` + n + `"}]}`)}
		}, 204, func(t *testing.T, f fixture, _ *scimtest.Response) {
			assert.Len(t, members(t, f.group), 3)
		}},
		{"group create with Entra's extra ADSCIM schema", func(fixture) scimtest.Request {
			return scimtest.Request{Method: "POST", Path: "/Groups", Body: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group",
				"http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],"externalId":"ext-g","displayName":"Entra group","meta":{"resourceType":"Group"}}`}
		}, 201, func(t *testing.T, _ fixture, r *scimtest.Response) {
			assert.Equal(t, "Entra group", r.JSON(t)["displayName"])
			assert.Equal(t, "ext-g", r.JSON(t)["externalId"])
		}},
		{"user create with roles [] and nulls", func(fixture) scimtest.Request {
			return scimtest.Request{Method: "POST", Path: "/Users", Body: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
				"userName":"` + uniqueName("roles") + `@example.com","active":true,"roles":[],"title":null,"addresses":null,"manager":null}`}
		}, 201, func(t *testing.T, _ fixture, r *scimtest.Response) {
			assert.NotContains(t, r.JSON(t), "roles")
		}},
		{"query by externalId and by the work email filter", func(f fixture) scimtest.Request {
			return scimtest.Request{Method: "GET", Path: "/Users?filter=" + url.QueryEscape(`emails[type eq "work"].value eq "nobody@contoso.example"`)}
		}, 200, func(t *testing.T, _ fixture, r *scimtest.Response) {
			assert.Equal(t, float64(0), r.JSON(t)["totalResults"])
		}},
		{"group GET with excludedAttributes=members", func(f fixture) scimtest.Request {
			return scimtest.Request{Method: "GET", Path: "/Groups/" + f.group + "?excludedAttributes=members"}
		}, 200, func(t *testing.T, _ fixture, r *scimtest.Response) {
			assert.NotContains(t, r.JSON(t), "members")
		}},
		{"an inactive user is still returned", func(f fixture) scimtest.Request {
			_, err := s.Dir.DeactivateUser(pbxusers.WithActor(ctx, pbxusers.Actor{Source: pbxusers.SourceSCIM, Name: "idp"}), s.Tenant, f.user)
			require.NoError(t, err)
			return scimtest.Request{Method: "GET", Path: "/Users/" + f.user}
		}, 200, func(t *testing.T, _ fixture, r *scimtest.Response) {
			assert.Equal(t, false, r.JSON(t)["active"])
		}},
		{"hard delete", func(f fixture) scimtest.Request {
			return scimtest.Request{Method: "DELETE", Path: "/Users/" + f.user}
		}, 204, func(t *testing.T, f fixture, _ *scimtest.Response) {
			requireStatus(t, 404, s.Do(scimtest.Request{Method: "GET", Path: "/Users/" + f.user}))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			r := s.Do(tc.req(f))
			requireStatus(t, tc.status, r)
			tc.check(t, f, r)
		})
	}
}

var uniqueN int

// uniqueName returns prefix with a counter, for names that must not clash
// between subtests.
func uniqueName(prefix string) string {
	uniqueN++
	return strings.ToLower(prefix) + "-" + strconv.Itoa(uniqueN)
}
