package scim_test

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/pbxusers"
	"github.com/pbxgate/pbxgate/scim"
	"github.com/pbxgate/pbxgate/scim/scimtest"
)

func TestNewValidatesOptions(t *testing.T) {
	_, err := scim.New(nil, scim.Options{})
	require.Error(t, err)
	s := scimtest.MustStart(t, scim.Options{})
	_, err = scim.New(s.Dir, scim.Options{BaseURL: "not a url", MaxBodyBytes: -1, RateLimit: scim.RateLimit{Burst: -2}})
	require.EqualError(t, err, "scim: invalid options:\n"+
		"  baseURL \"not a url\": must be an absolute http(s) URL\n"+
		"  maxBodyBytes: must not be negative, got -1\n"+
		"  rateLimit.burst: must not be negative, got -2")
}

// TestPBXExtension writes every PBX field through the extension and reads
// it back, through SCIM and the library.
func TestPBXExtension(t *testing.T) {
	s := scimtest.MustStart(t, scim.Options{})
	ctx := context.Background()
	sup, err := s.Dir.CreateProfile(ctx, s.Tenant, pbxusers.Profile{Name: "Supervisor"})
	require.NoError(t, err)
	agent, err := s.Dir.CreateProfile(ctx, s.Tenant, pbxusers.Profile{Name: "Agent"})
	require.NoError(t, err)

	pbx := map[string]any{
		"kind": "person", "extension": "201", "stationNumber": "9201", "location": "Berlin", "customId": "E-7",
		"role": "supervisor", "profiles": []any{"supervisor", "AGENT"}, "recording": "on_demand",
		"callerId": map[string]any{"number": "+49 30 1234567", "name": "Ada", "anonymous": true},
		"features": map[string]any{"voicemail": true, "mobileApp": "True", "webCalls": false},
		"routing":  map[string]any{"answerMode": "apps", "backupNumber": "030 7654321"},
	}
	r := s.Do(scimtest.Request{Method: "POST", Path: "/Users", Body: userBody("ada@example.com", map[string]any{
		"phoneNumbers":      []any{map[string]any{"value": "tel:+49-30-1112223;ext=12", "type": "work", "primary": true}},
		"preferredLanguage": "de-DE", "timezone": "Europe/Berlin",
		entSchemaURN: map[string]any{"employeeNumber": "701", "department": "R&D", "costCenter": "CC1", "organization": "Acme", "division": "Labs"},
		pbxSchemaURN: pbx,
	})})
	requireStatus(t, 201, r)
	m := r.JSON(t)
	id := m["id"].(string)
	ext := m[pbxSchemaURN].(map[string]any)
	assert.Equal(t, "201", ext["extension"])
	assert.Equal(t, "9201", ext["stationNumber"])
	assert.Equal(t, "scim", ext["source"])
	assert.Equal(t, []any{"Supervisor", "Agent"}, ext["profiles"])
	assert.Equal(t, map[string]any{"number": "+49301234567", "name": "Ada", "anonymous": true}, ext["callerId"])
	assert.Equal(t, true, get(ext, "features", "voicemail"))
	assert.Equal(t, true, get(ext, "features", "mobileApp"), "string booleans are accepted")
	assert.Equal(t, "+49307654321", get(ext, "routing", "backupNumber"), "national numbers use the tenant's region")
	assert.Equal(t, "tel:+49301112223;ext=12", get(m, "phoneNumbers", 0, "value"))
	assert.Equal(t, "de-DE", m["locale"])
	assert.Equal(t, "R&D", get(m, entSchemaURN, "department"))

	u, err := s.Dir.GetUser(ctx, s.Tenant, id)
	require.NoError(t, err)
	assert.Equal(t, []string{sup.ID, agent.ID}, u.Profiles)
	assert.Equal(t, pbxusers.RoleSupervisor, u.Role)
	assert.Equal(t, pbxusers.RecordOnDemand, u.Recording)
	// The backup number is set on its own, not by installing a preset.
	assert.Equal(t, pbxusers.RoutingPolicy{AnswerMode: pbxusers.AnswerApps}.WithBackupNumber("+49307654321"), u.Routing)
	assert.Equal(t, pbxusers.Owner{Source: pbxusers.SourceSCIM}, u.Owner)

	// A PUT without the extension (Okta's) keeps the PBX fields.
	r = s.Do(scimtest.Request{Method: "PUT", Path: "/Users/" + id, Body: userBody("ada@example.com", map[string]any{"displayName": "Ada L."})})
	requireStatus(t, 200, r)
	assert.Equal(t, "201", get(r.JSON(t), pbxSchemaURN, "extension"))
	assert.Nil(t, r.JSON(t)["phoneNumbers"], "core attributes left out are cleared")

	// PATCH: clear the backup number, switch to phone_number mode.
	r = s.Do(scimtest.Request{Method: "PATCH", Path: "/Users/" + id, Body: patchBody(
		op("remove", pbxSchemaURN+":routing.backupNumber", nil),
		op("replace", pbxSchemaURN+":routing.answerMode", "phone_number"),
		op("replace", pbxSchemaURN+":routing.forwardNumber", "+4915112345678"),
		op("remove", pbxSchemaURN+":profiles[value eq \"agent\"]", nil),
	)})
	requireStatus(t, 200, r)
	u, err = s.Dir.GetUser(ctx, s.Tenant, id)
	require.NoError(t, err)
	assert.Equal(t, pbxusers.AnswerPhoneNumber, u.Routing.AnswerMode)
	assert.Equal(t, pbxusers.AnsweringRule{}, u.Routing.Default)
	assert.Equal(t, []string{sup.ID}, u.Profiles)

	// Filters on PBX attributes.
	r = s.Do(scimtest.Request{Method: "GET", Path: withFilter("/Users", pbxSchemaURN+`:extension eq "201" and `+pbxSchemaURN+`:kind eq "person"`)})
	assert.Equal(t, float64(1), r.JSON(t)["totalResults"])

	// Errors name the SCIM attribute.
	r = s.Do(scimtest.Request{Method: "PATCH", Path: "/Users/" + id, Body: patchBody(op("add", pbxSchemaURN+":profiles", []any{"Nobody"}))})
	e := requireError(t, r, 400, "invalidValue")
	assert.Contains(t, e["detail"], `no permission profile named "Nobody"`)
	r = s.Do(scimtest.Request{Method: "PATCH", Path: "/Users/" + id, Body: patchBody(op("replace", pbxSchemaURN+":extension", "12a"), op("replace", pbxSchemaURN+":stationNumber", "9x"))})
	e = requireError(t, r, 400, "invalidValue")
	assert.Contains(t, e["detail"], pbxSchemaURN+":extension")
	assert.Contains(t, e["detail"], pbxSchemaURN+":stationNumber")
	r = s.Do(scimtest.Request{Method: "POST", Path: "/Users", Body: userBody("q@example.com", map[string]any{pbxSchemaURN: map[string]any{"kind": "call_queue"}})})
	requireError(t, r, 400, "invalidValue")
	// The extension is unique: 409 naming it.
	r = s.Do(scimtest.Request{Method: "POST", Path: "/Users", Body: userBody("bob@example.com", map[string]any{pbxSchemaURN: map[string]any{"extension": "201"}})})
	e = requireError(t, r, 409, "uniqueness")
	assert.Contains(t, e["detail"], pbxSchemaURN+":extension \"201\"")
}

// TestOwnership: users owned by an LDAP sync cannot be changed over SCIM,
// and the 409 says why.
func TestOwnership(t *testing.T) {
	s := scimtest.MustStart(t, scim.Options{})
	ldap := pbxusers.WithActor(context.Background(), pbxusers.Actor{Source: pbxusers.SourceLDAP, Name: "corp-ad"})
	u, err := s.Dir.CreateUser(ldap, s.Tenant, pbxusers.User{UserName: "ldap.user@example.com", Owner: pbxusers.Owner{ExternalID: "guid-1"}})
	require.NoError(t, err)

	for _, req := range []scimtest.Request{
		{Method: "PATCH", Path: "/Users/" + u.ID, Body: patchBody(op("replace", "active", false))},
		{Method: "PUT", Path: "/Users/" + u.ID, Body: userBody("ldap.user@example.com", nil)},
		{Method: "DELETE", Path: "/Users/" + u.ID},
	} {
		e := requireError(t, s.Do(req), 409, "")
		assert.Contains(t, e["detail"], "owned by source ldap", req.Method)
	}
	r := s.Do(scimtest.Request{Method: "POST", Path: "/Users", Body: userBody("LDAP.user@example.com", nil)})
	e := requireError(t, r, 409, "uniqueness")
	assert.Contains(t, e["detail"], "owned by source ldap")
	// Reads work.
	r = s.Do(scimtest.Request{Method: "GET", Path: "/Users/" + u.ID})
	requireStatus(t, 200, r)
	assert.Equal(t, "ldap", get(r.JSON(t), pbxSchemaURN, "source"))

	// Changes are attributed to the token's name.
	id := s.MustCreateUser("scim.user@example.com")
	changes, err := s.Dir.Changes(context.Background(), s.Tenant, pbxusers.ChangeQuery{EntityID: id})
	require.NoError(t, err)
	require.NotEmpty(t, changes)
	assert.Equal(t, pbxusers.Actor{Source: pbxusers.SourceSCIM, Name: "idp"}, changes[0].Actor)
}

// TestGroupProfiles: an admin binds a group to a profile through the group
// extension; members then get the profile's permissions, and an IdP's PUT
// without the extension keeps the binding.
func TestGroupProfiles(t *testing.T) {
	s := scimtest.MustStart(t, scim.Options{})
	ctx := context.Background()
	sup, err := s.Dir.CreateProfile(ctx, s.Tenant, pbxusers.Profile{Name: "Supervisors",
		Grants: pbxusers.PermissionSet{pbxusers.PermBargeWhisper: pbxusers.Bool(true)}})
	require.NoError(t, err)
	uid := s.MustCreateUser("sup@example.com")
	gid := s.MustCreateGroup("Supervisors")

	r := s.Do(scimtest.Request{Method: "PATCH", Path: "/Groups/" + gid, Body: patchBody(op("add", pbxGroupURN+":profiles", []any{"supervisors"}))})
	requireStatus(t, 204, r)
	r = s.Do(scimtest.Request{Method: "PATCH", Path: "/Groups/" + gid, Body: patchBody(op("add", "members", []any{map[string]any{"value": uid}}))})
	requireStatus(t, 204, r)
	eff, err := s.Dir.Effective(ctx, s.Tenant, uid)
	require.NoError(t, err)
	found := false
	for _, e := range eff {
		if e.Permission == pbxusers.PermBargeWhisper {
			found = true
			assert.Equal(t, pbxusers.Bool(true), e.Value)
		}
	}
	assert.True(t, found)

	r = s.Do(scimtest.Request{Method: "PUT", Path: "/Groups/" + gid, Body: map[string]any{
		"schemas": []string{groupSchemaURN}, "displayName": "Supervisors", "members": []any{map[string]any{"value": uid}},
	}})
	requireStatus(t, 200, r)
	assert.Equal(t, []any{"Supervisors"}, get(r.JSON(t), pbxGroupURN, "profiles"))
	tm, err := s.Dir.GetTeam(ctx, s.Tenant, gid)
	require.NoError(t, err)
	assert.Equal(t, []string{sup.ID}, tm.Profiles)

	// Duplicate names are 409 naming displayName.
	r = s.Do(scimtest.Request{Method: "POST", Path: "/Groups", Body: map[string]any{"schemas": []string{groupSchemaURN}, "displayName": "supervisors"}})
	e := requireError(t, r, 409, "uniqueness")
	assert.Contains(t, e["detail"], "displayName")
}

// TestGroupMemberFilters removes members with filters other than
// value eq, which read the member list.
func TestGroupMemberFilters(t *testing.T) {
	s := scimtest.MustStart(t, scim.Options{})
	a, b, c := s.MustCreateUser("a@example.com"), s.MustCreateUser("b@example.com"), s.MustCreateUser("c@example.com")
	gid := s.MustCreateGroup("G", a, b, c)
	r := s.Do(scimtest.Request{Method: "PATCH", Path: "/Groups/" + gid, Body: patchBody(
		op("remove", `members[value ne "`+a+`" and type eq "User"]`, nil),
		op("add", "members", []any{map[string]any{"value": b}}),
	)})
	requireStatus(t, 204, r)
	r = s.Do(scimtest.Request{Method: "GET", Path: "/Groups/" + gid})
	assert.ElementsMatch(t, []any{a, b}, memberValues(r.JSON(t)))
	// Member sub-attribute paths and add with a filter are refused.
	requireError(t, s.Do(scimtest.Request{Method: "PATCH", Path: "/Groups/" + gid, Body: patchBody(op("add", `members[value eq "x"]`, map[string]any{"value": a}))}), 400, "invalidPath")
	requireError(t, s.Do(scimtest.Request{Method: "PATCH", Path: "/Groups/" + gid, Body: patchBody(op("add", "members", []any{map[string]any{"value": gid, "type": "Group"}}))}), 400, "invalidValue")
	// A group that does not exist is 404 for member changes too.
	requireError(t, s.Do(scimtest.Request{Method: "PATCH", Path: "/Groups/nope", Body: patchBody(op("add", "members", []any{map[string]any{"value": a}}))}), 404, "")
	// Remove all members with a path and no value.
	requireStatus(t, 204, s.Do(scimtest.Request{Method: "PATCH", Path: "/Groups/" + gid, Body: patchBody(op("remove", "members", nil))}))
	r = s.Do(scimtest.Request{Method: "GET", Path: "/Groups/" + gid + "?attributes=members"})
	assert.Equal(t, []any{}, r.JSON(t)["members"])
	assert.NotContains(t, r.JSON(t), "displayName")
}

// TestIdPDialects covers what the normaliser rewrites: unknown extension
// URNs and unsupported attributes are ignored, null replaces remove.
func TestIdPDialects(t *testing.T) {
	s := scimtest.MustStart(t, scim.Options{})
	r := s.Do(scimtest.Request{Method: "POST", Path: "/Users", Body: userBody("okta@example.com", map[string]any{
		"urn:okta:custom_app:1.0:user:custom": map[string]any{"costCenter": "x"},
		"addresses":                           []any{map[string]any{"type": "work", "streetAddress": "1 Main St"}},
		"title":                               "Engineer", "nickName": "Ok",
	})})
	requireStatus(t, 201, r)
	id := r.JSON(t)["id"].(string)
	r = s.Do(scimtest.Request{Method: "PATCH", Path: "/Users/" + id, Body: `{
		"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
		"Operations": [
			{"op": "replace", "path": "urn:okta:custom_app:1.0:user:custom:costCenter", "value": "y"},
			{"op": "replace", "path": "addresses[type eq \"work\"].streetAddress", "value": "2 Main St"},
			{"op": "Replace", "path": "title", "value": null},
			{"op": "replace", "value": {"nickName": null, "urn:okta:x:1.0:user:y": "z", "displayName": "D"}}
		]}`})
	requireStatus(t, 200, r)
	m := r.JSON(t)
	assert.NotContains(t, m, "title")
	assert.NotContains(t, m, "nickName")
	assert.Equal(t, "D", m["displayName"])
	// An operation on ignored attributes only is a no-op.
	r = s.Do(scimtest.Request{Method: "PATCH", Path: "/Users/" + id, Body: patchBody(op("add", "urn:okta:custom_app:1.0:user:custom:costCenter", "z"))})
	requireStatus(t, 200, r)
	assert.Equal(t, `W/"2"`, r.Header.Get("ETag"))
}

// TestSystemUsersHidden: call queues and other system users are not SCIM
// resources.
func TestSystemUsersHidden(t *testing.T) {
	s := scimtest.MustStart(t, scim.Options{})
	q, err := s.Dir.CreateUser(context.Background(), s.Tenant, pbxusers.User{UserName: "sales-queue", Kind: pbxusers.KindCallQueue})
	require.NoError(t, err)
	requireError(t, s.Do(scimtest.Request{Method: "GET", Path: "/Users/" + q.ID}), 404, "")
	requireError(t, s.Do(scimtest.Request{Method: "PATCH", Path: "/Users/" + q.ID, Body: patchBody(op("replace", "title", "x"))}), 404, "")
	requireError(t, s.Do(scimtest.Request{Method: "DELETE", Path: "/Users/" + q.ID}), 404, "")
	r := s.Do(scimtest.Request{Method: "GET", Path: withFilter("/Users", `id eq "`+q.ID+`"`)})
	assert.Equal(t, float64(0), r.JSON(t)["totalResults"])
}

// TestQueryErrors: bad sort and paging parameters are 400s that say why.
func TestQueryErrors(t *testing.T) {
	s := scimtest.MustStart(t, scim.Options{})
	for path, want := range map[string]string{
		"/Users?sortBy=emails":                  "cannot sort",
		"/Users?sortBy=displayName&sortOrder=x": "sortOrder",
		"/Groups?sortBy=members":                "cannot sort",
		"/Users?count=abc":                      "count",
		withFilter("/Users", "emails[type eq \"work\" and groups pr]"):                      "groups",
		withFilter("/Groups", `members[value eq "a" and value eq "b"]`):                     "or",
		withFilter("/Users", `active gt true`):                                              "boolean",
		withFilter("/Users", `meta.created gt "yesterday"`):                                 "date-time",
		withFilter("/Users", `userName eq 42`):                                              "string",
		withFilter("/Users", strings.Repeat("(", 40)+`userName pr`+strings.Repeat(")", 40)): "nested",
	} {
		r := s.Do(scimtest.Request{Method: "GET", Path: path})
		e := requireError(t, r, 400, "")
		assert.Contains(t, e["detail"], want, path)
	}
}

// TestLogging: a 5xx is logged, secrets are not.
func TestLogging(t *testing.T) {
	var buf strings.Builder
	s := scimtest.MustStart(t, scim.Options{Logger: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	id := s.MustCreateUser("x@example.com")
	r := s.Do(scimtest.Request{Method: "GET", Path: "/Users", Header: http.Header{"Authorization": {"Bearer pbxg_x.y"}}, Token: "-"})
	requireStatus(t, 401, r)
	require.NoError(t, s.Store.Close())
	s.Do(scimtest.Request{Method: "GET", Path: "/Users/" + id})
	assert.Contains(t, buf.String(), "component=scim")
	assert.Contains(t, buf.String(), "token refused")
	assert.NotContains(t, buf.String(), s.Token)
	assert.NotContains(t, buf.String(), "pbxg_x.y")
}

// TestEmptyLists: elimity turns [] into "no value"; replace [] clears,
// remove with [] removes nothing, add [] adds nothing.
func TestEmptyLists(t *testing.T) {
	s := scimtest.MustStart(t, scim.Options{})
	a := s.MustCreateUser("a@example.com")
	gid := s.MustCreateGroup("G", a)
	for _, o := range []map[string]any{op("remove", "members", []any{}), op("add", "members", []any{})} {
		requireStatus(t, 204, s.Do(scimtest.Request{Method: "PATCH", Path: "/Groups/" + gid, Body: patchBody(o)}))
	}
	r := s.Do(scimtest.Request{Method: "GET", Path: "/Groups/" + gid})
	assert.Equal(t, []any{a}, memberValues(r.JSON(t)))

	r = s.Do(scimtest.Request{Method: "PATCH", Path: "/Users/" + a, Body: patchBody(op("remove", "emails", []any{}))})
	requireStatus(t, 200, r)
	assert.Len(t, r.JSON(t)["emails"], 1)
	r = s.Do(scimtest.Request{Method: "PATCH", Path: "/Users/" + a, Body: patchBody(op("replace", "emails", []any{}))})
	requireStatus(t, 200, r)
	assert.NotContains(t, r.JSON(t), "emails")
}
