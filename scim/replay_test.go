package scim_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/scim"
	"github.com/pbxgate/pbxgate/scim/scimtest"
)

// The replay tests send the sequences Okta and Entra ID send, with the
// request bodies of their documentation (testdata/okta, testdata/entra; see
// the README there for the sources).

// Ids that appear in the documentation's payloads.
const (
	oktaUserID   = "23a35c27-23d3-4c03-b4c5-6443c09e7173"
	oktaUser2ID  = "89bb1940-b905-4575-9e7f-6f887cfb368e"
	oktaGroupID  = "abf4dd94-a4c0-4f67-89c9-76b03340cb9b"
	entraMember  = "f648f8d5ea4e4cd38e9c"
	entraMember2 = "7f4bc1a3-285e-48ae-8202-5accb43efb0e"
	entraManager = "00aa00aa-bb11-cc22-dd33-44ee44ee44ee"
)

// Filters the IdPs send (also the seeds of FuzzFilter).
var replayFilters = []string{
	`userName eq "test.user@okta.local"`,
	`userName eq "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee"`,
	`userName eq "non-existent user"`,
	`emails[type eq "work"].value eq "Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com"`,
	`externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"`,
	`displayName eq "displayName"`,
	`id eq "x" and manager eq "y"`,
	`members[value eq "f648f8d5ea4e4cd38e9c"]`,
}

// TestReplayOkta replays Okta's provisioning sequences: import, create
// (filter, then POST), duplicate create, update by PUT, deactivate and
// reactivate by PATCH, group push, rename, membership changes and delete
// (Okta SCIM 2.0 Protocol Reference; Okta never deletes users).
func TestReplayOkta(t *testing.T) {
	s := scimtest.MustStart(t, scim.Options{BaseURL: "https://pbx.example.com/scim/v2"})
	do := func(method, path, body string) *scimtest.Response {
		t.Helper()
		req := scimtest.Request{Method: method, Path: path, Header: http.Header{"User-Agent": {"Okta SCIM Client 1.0.0"}}}
		if body != "" {
			req.Body = body
		}
		return s.Do(req)
	}

	// Test connection / import: pages of 100 with integer paging fields.
	r := do("GET", "/Users?startIndex=1&count=100", "")
	requireStatus(t, 200, r)
	m := r.JSON(t)
	assert.Equal(t, []any{listSchema}, m["schemas"])
	assert.Equal(t, float64(0), m["totalResults"])
	assert.Equal(t, float64(1), m["startIndex"])
	assert.Equal(t, float64(0), m["itemsPerPage"])
	assert.Equal(t, []any{}, m["Resources"])

	// Create: look the user up by userName, find nothing, POST.
	lookup := withFilter("/Users", `userName eq "test.user@okta.local"`, "startIndex=1", "count=100")
	r = do("GET", lookup, "")
	requireStatus(t, 200, r)
	assert.Equal(t, float64(0), r.JSON(t)["totalResults"])
	r = do("POST", "/Users", testdata(t, "okta/create_user.json"))
	requireStatus(t, 201, r)
	user := r.JSON(t)
	id := user["id"].(string)
	assert.Equal(t, "https://pbx.example.com/scim/v2/Users/"+id, r.Header.Get("Location"))
	assert.Equal(t, "00ujl29u0le5T6Aj10h7", user["externalId"])
	assert.Equal(t, "en-US", user["locale"])
	assert.Equal(t, true, user["active"])
	assert.Equal(t, "Test", get(user, "name", "givenName"))
	assert.NotContains(t, string(r.Body), "password")
	assert.NotContains(t, string(r.Body), "1mz050nq")

	// The same create again is a uniqueness conflict naming the field.
	r = do("POST", "/Users", testdata(t, "okta/create_user.json"))
	e := requireError(t, r, 409, "uniqueness")
	assert.Contains(t, e["detail"], `userName "test.user@okta.local"`)

	r = do("GET", lookup, "")
	requireStatus(t, 200, r)
	assert.Equal(t, float64(1), r.JSON(t)["totalResults"])
	assert.Equal(t, id, get(r.JSON(t), "Resources", 0, "id"))

	// Update: GET, then PUT the whole object.
	r = do("GET", "/Users/"+id, "")
	requireStatus(t, 200, r)
	r = do("PUT", "/Users/"+id, testdata(t, "okta/update_user_put.json", oktaUserID, id))
	requireStatus(t, 200, r)
	user = r.JSON(t)
	assert.Equal(t, "Another", get(user, "name", "givenName"))
	assert.Equal(t, "Excited", get(user, "name", "middleName"))
	assert.Equal(t, "00ujl29u0le5T6Aj10h7", user["externalId"], "Okta's PUT leaves externalId out; it is kept")
	assert.Equal(t, `W/"2"`, r.Header.Get("ETag"))

	// Deactivate (twice: idempotent), still found by the import filter,
	// then reactivate.
	for i := 0; i < 2; i++ {
		r = do("PATCH", "/Users/"+id, testdata(t, "okta/deactivate_user.json"))
		requireStatus(t, 200, r)
		assert.Equal(t, false, r.JSON(t)["active"])
	}
	assert.Equal(t, `W/"3"`, r.Header.Get("ETag"), "the second deactivation changes nothing")
	r = do("GET", lookup, "")
	assert.Equal(t, false, get(r.JSON(t), "Resources", 0, "active"))
	r = do("PATCH", "/Users/"+id, testdata(t, "okta/reactivate_user.json"))
	requireStatus(t, 200, r)
	assert.Equal(t, true, r.JSON(t)["active"])

	// A second user for the membership requests.
	id2 := s.MustCreateUser("second.user@okta.local")

	// Group push.
	r = do("POST", "/Groups", testdata(t, "okta/create_group.json"))
	requireStatus(t, 201, r)
	gid := r.JSON(t)["id"].(string)
	assert.Equal(t, []any{}, r.JSON(t)["members"])
	r = do("GET", "/Groups?startIndex=1&count=100", "")
	requireStatus(t, 200, r)
	assert.Equal(t, float64(1), r.JSON(t)["totalResults"])
	r = do("GET", "/Groups/"+gid, "")
	requireStatus(t, 200, r)

	// Rename (sent with every membership update), membership changes.
	ids := []string{oktaGroupID, gid, oktaUserID, id, oktaUser2ID, id2}
	r = do("PATCH", "/Groups/"+gid, testdata(t, "okta/update_group_name.json", ids...))
	requireStatus(t, 204, r)
	assert.Empty(t, r.Body)
	r = do("PATCH", "/Groups/"+gid, testdata(t, "okta/update_group_members.json", ids...))
	requireStatus(t, 204, r)
	r = do("GET", "/Groups/"+gid, "")
	assert.Equal(t, []any{id}, memberValues(r.JSON(t)))
	r = do("PATCH", "/Groups/"+gid, testdata(t, "okta/replace_group_members.json", ids...))
	requireStatus(t, 204, r)
	r = do("GET", "/Groups/"+gid, "")
	assert.ElementsMatch(t, []any{id, id2}, memberValues(r.JSON(t)))
	assert.Equal(t, "Test SCIMv2", r.JSON(t)["displayName"])
	// The user's groups show the membership.
	r = do("GET", "/Users/"+id, "")
	assert.Equal(t, gid, get(r.JSON(t), "groups", 0, "value"))
	assert.Equal(t, "Test SCIMv2", get(r.JSON(t), "groups", 0, "display"))
	// The member update again: removing a member that is not there and
	// adding one that is are no-ops.
	r = do("PATCH", "/Groups/"+gid, testdata(t, "okta/update_group_members.json", ids...))
	requireStatus(t, 204, r)
	r = do("PATCH", "/Groups/"+gid, testdata(t, "okta/update_group_members.json", ids...))
	requireStatus(t, 204, r)

	// Unlink with delete.
	r = do("DELETE", "/Groups/"+gid, "")
	requireStatus(t, 204, r)
	requireError(t, do("GET", "/Groups/"+gid, ""), 404, "")
}

func memberValues(group map[string]any) []any {
	var out []any
	for _, m := range asSlice(group["members"]) {
		out = append(out, get(m, "value"))
	}
	return out
}

func asSlice(v any) []any {
	l, _ := v.([]any)
	return l
}

// TestReplayEntra replays Entra ID's sequences with and without the
// aadOptscim062020 flag: test connection, match by userName, work email
// and externalId, create, PATCH updates (single, multi-valued, path-less
// with dotted and URN keys, string booleans), manager, disable, group
// create with Entra's extra schema, excludedAttributes=members, rename,
// member add and both removal dialects, deletes and schema discovery
// (Microsoft Entra "Develop and plan provisioning for a SCIM endpoint" and
// "Known issues ... SCIM 2.0 protocol compliance").
func TestReplayEntra(t *testing.T) {
	s := scimtest.MustStart(t, scim.Options{})
	do := func(method, path string, body any) *scimtest.Response {
		t.Helper()
		req := scimtest.Request{Method: method, Path: path}
		if body != "" {
			req.Body = body
		}
		return s.Do(req)
	}

	// Test connection: a query for a random GUID returns an empty list.
	r := do("GET", withFilter("/Users", `userName eq "8a5f0a6c-0b1d-4c0e-9d4e-2f1f4c5b6a7e"`), "")
	requireStatus(t, 200, r)
	assert.Equal(t, float64(0), r.JSON(t)["totalResults"])
	assert.Equal(t, []any{}, r.JSON(t)["Resources"])

	r = do("GET", withFilter("/Users", `userName eq "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee"`), "")
	assert.Equal(t, float64(0), r.JSON(t)["totalResults"])
	r = do("POST", "/Users", testdata(t, "entra/create_user.json"))
	requireStatus(t, 201, r)
	id := r.JSON(t)["id"].(string)
	assert.Equal(t, "givenName familyName", get(r.JSON(t), "name", "formatted"))
	assert.Equal(t, "application/scim+json", r.Header.Get("Content-Type"))

	r = do("GET", "/Users/"+id, "")
	requireStatus(t, 200, r)
	for _, f := range []string{
		`userName eq "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee"`,
		`emails[type eq "work"].value eq "Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com"`,
		`externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"`,
	} {
		r = do("GET", withFilter("/Users", f), "")
		requireStatus(t, 200, r)
		assert.Equal(t, float64(1), r.JSON(t)["totalResults"], f)
		assert.Equal(t, id, get(r.JSON(t), "Resources", 0, "id"), f)
	}

	// Example 2 of the tutorial: nulls for attributes Entra has no value for.
	r = do("POST", "/Users", testdata(t, "entra/create_user_jyoung.json"))
	requireStatus(t, 201, r)
	managerID := r.JSON(t)["id"].(string)
	assert.Equal(t, "Joy Young", r.JSON(t)["displayName"])

	r = do("PATCH", "/Users/"+id, testdata(t, "entra/update_user_multivalued.json"))
	requireStatus(t, 200, r)
	assert.Equal(t, "updatedEmail@microsoft.com", get(r.JSON(t), "emails", 0, "value"))
	assert.Equal(t, "work", get(r.JSON(t), "emails", 0, "type"))
	assert.Equal(t, "updatedFamilyName", get(r.JSON(t), "name", "familyName"))

	r = do("PATCH", "/Users/"+id, testdata(t, "entra/update_user_username.json"))
	requireStatus(t, 200, r)
	assert.Equal(t, "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com", r.JSON(t)["userName"])

	r = do("PATCH", "/Users/"+id, testdata(t, "entra/replace_attributes_noflag.json"))
	requireStatus(t, 200, r)
	u := r.JSON(t)
	assert.Equal(t, "Pvlo", u["displayName"])
	assert.Equal(t, "TestBcwqnm@test.microsoft.com", get(u, "emails", 0, "value"))
	assert.Equal(t, "Gtfd", get(u, "name", "givenName"))
	assert.Equal(t, "Eqpj", u["externalId"])
	assert.Equal(t, "Eqpj", get(u, entSchemaURN, "employeeNumber"))

	r = do("PATCH", "/Users/"+id, testdata(t, "entra/replace_attributes_flag.json"))
	requireStatus(t, 200, r)
	u = r.JSON(t)
	assert.Equal(t, "Bjfe", u["displayName"])
	assert.Equal(t, "TestMhvaes@test.microsoft.com", get(u, "emails", 0, "value"))
	assert.Equal(t, "Kkom", get(u, "name", "givenName"))
	assert.Equal(t, "Unua", get(u, "name", "familyName"))
	assert.Equal(t, "Aklq", get(u, entSchemaURN, "employeeNumber"))

	for _, f := range []string{"entra/add_attribute_noflag.json", "entra/add_attribute_flag.json"} {
		r = do("PATCH", "/Users/"+id, testdata(t, f))
		requireStatus(t, 200, r)
		assert.Equal(t, "Babs", r.JSON(t)["nickName"], f)
	}

	// Manager, as in Example 5 (path without the URN, a one-element list).
	r = do("PATCH", "/Users/"+id, testdata(t, "entra/update_manager.json", entraManager, managerID))
	requireStatus(t, 200, r)
	assert.Equal(t, managerID, get(r.JSON(t), entSchemaURN, "manager", "value"))
	// ... and as the plain string Entra sends to most apps.
	r = do("PATCH", "/Users/"+id, patchBody(op("Replace", entSchemaURN+":manager", managerID)))
	requireStatus(t, 200, r)
	assert.Equal(t, managerID, get(r.JSON(t), entSchemaURN, "manager", "value"))

	// Disable: the string "False" without the flag, false with it; the
	// user is still returned.
	for _, f := range []string{"entra/disable_user_noflag.json", "entra/disable_user_flag.json", "entra/disable_user.json"} {
		r = do("PATCH", "/Users/"+id, testdata(t, f))
		requireStatus(t, 200, r)
		assert.Equal(t, false, r.JSON(t)["active"], f)
	}
	r = do("GET", withFilter("/Users", `externalId eq "Eqpj"`), "")
	assert.Equal(t, float64(1), r.JSON(t)["totalResults"])
	r = do("PATCH", "/Users/"+id, patchBody(op("Replace", "active", "True")))
	requireStatus(t, 200, r)
	assert.Equal(t, true, r.JSON(t)["active"])

	// Groups.
	r = do("POST", "/Groups", testdata(t, "entra/create_group.json"))
	requireStatus(t, 201, r)
	gid := r.JSON(t)["id"].(string)
	assert.Equal(t, "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159", r.JSON(t)["externalId"])
	r = do("GET", "/Groups/"+gid+"?excludedAttributes=members", "")
	requireStatus(t, 200, r)
	assert.NotContains(t, r.JSON(t), "members")
	r = do("GET", withFilter("/Groups", `displayName eq "displayName"`, "excludedAttributes=members"), "")
	requireStatus(t, 200, r)
	assert.Equal(t, float64(1), r.JSON(t)["totalResults"])
	assert.NotContains(t, get(r.JSON(t), "Resources", 0), "members")

	r = do("PATCH", "/Groups/"+gid, testdata(t, "entra/update_group_name.json"))
	requireStatus(t, 204, r)
	ids := []string{entraMember, id, entraMember2, managerID, "u1091", managerID}
	r = do("PATCH", "/Groups/"+gid, testdata(t, "entra/add_members.json", ids...))
	requireStatus(t, 204, r)
	r = do("PATCH", "/Groups/"+gid, patchBody(op("Add", "members", []any{map[string]any{"$ref": nil, "value": managerID}})))
	requireStatus(t, 204, r)
	r = do("GET", "/Groups/"+gid, "")
	assert.Equal(t, "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName", r.JSON(t)["displayName"])
	assert.ElementsMatch(t, []any{id, managerID}, memberValues(r.JSON(t)))
	// Entra asks whether a user is a member by filtering on members.
	r = do("GET", withFilter("/Groups", `id eq "`+gid+`" and members[value eq "`+id+`"]`, "excludedAttributes=members"), "")
	assert.Equal(t, float64(1), r.JSON(t)["totalResults"])

	r = do("PATCH", "/Groups/"+gid, testdata(t, "entra/remove_members.json", ids...))
	requireStatus(t, 204, r)
	r = do("PATCH", "/Groups/"+gid, testdata(t, "entra/remove_member_flag.json", ids...))
	requireStatus(t, 204, r)
	r = do("PATCH", "/Groups/"+gid, testdata(t, "entra/remove_member_noflag.json", ids...))
	requireStatus(t, 204, r) // removing a non-member again succeeds
	r = do("GET", "/Groups/"+gid, "")
	assert.Equal(t, []any{}, r.JSON(t)["members"])

	r = do("DELETE", "/Groups/"+gid, "")
	requireStatus(t, 204, r)
	r = do("DELETE", "/Users/"+id, "")
	requireStatus(t, 204, r)
	requireError(t, do("DELETE", "/Users/"+id, ""), 404, "")
	requireError(t, do("GET", "/Users/"+id, ""), 404, "")

	// Schema discovery lists every attribute the mapping uses.
	r = do("GET", "/Schemas", "")
	requireStatus(t, 200, r)
	require.Equal(t, []any{listSchema}, r.JSON(t)["schemas"])
}
