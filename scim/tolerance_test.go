package scim_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/pbxusers"
	"github.com/pbxgate/pbxgate/scim"
	"github.com/pbxgate/pbxgate/scim/scimtest"
)

// TestTolerance replays what Okta and Entra send (issue 16): a request
// fails only for what identifies or connects the user; any other attribute
// pbxgate cannot use is skipped and reported, never a reason to lose the
// rest of the request.
func TestTolerance(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := scimtest.MustStart(t, scim.Options{Registerer: reg})
	ctx := context.Background()
	skipped := func(attr string) float64 {
		t.Helper()
		mfs, err := reg.Gather()
		require.NoError(t, err)
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				if mf.GetName() == "pbxgate_scim_skipped_values_total" && m.GetLabel()[0].GetValue() == attr {
					return m.GetCounter().GetValue()
				}
			}
		}
		return 0
	}
	// A tenant without a phone region.
	_, err := s.Dir.CreateTenant(ctx, pbxusers.Tenant{ID: "noregion", Name: "No region"})
	require.NoError(t, err)
	noRegion := s.MustToken("noregion", "entra")

	t.Run("False string and a national number without a region", func(t *testing.T) {
		r := s.Do(scimtest.Request{Method: "POST", Path: "/Users", Token: noRegion, Body: userBody("kim@example.com", nil)})
		requireStatus(t, 201, r)
		id := r.JSON(t)["id"].(string)
		r = s.Do(scimtest.Request{Method: "PATCH", Path: "/Users/" + id, Token: noRegion, Body: `{
			"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
			"Operations": [
				{"op": "Replace", "path": "active", "value": "False"},
				{"op": "Replace", "path": "phoneNumbers[type eq \"work\"].value", "value": "(202) 555-0143"},
				{"op": "Replace", "path": "title", "value": "Engineer"}
			]}`})
		requireStatus(t, 200, r)
		u, err := s.Dir.GetUser(ctx, "noregion", id)
		require.NoError(t, err)
		assert.Equal(t, pbxusers.StatusInactive, u.Status, "the deactivation happens")
		assert.Equal(t, "Engineer", u.Title)
		assert.Equal(t, float64(1), skipped("phoneNumbers"), "the number kept as sent is reported")
		changes, err := s.Dir.Changes(ctx, "noregion", pbxusers.ChangeQuery{Entity: string(pbxusers.EntityUser), EntityID: id})
		require.NoError(t, err)
		last := changes[len(changes)-1]
		var warned []string
		for _, f := range last.Fields {
			if f.Warning != "" {
				warned = append(warned, f.Field+": "+f.Warning)
			}
		}
		require.Len(t, warned, 1, "the change log says what was not applied as sent: %v", last.Fields)
		assert.Contains(t, warned[0], "phoneNumbers: ")
		assert.NotContains(t, warned[0], "555-0143", "never the value")
		require.Len(t, u.PhoneNumbers, 1)
		assert.Equal(t, pbxusers.PhoneNumber{Number: "(202) 555-0143", Type: pbxusers.PhoneWork, NotDialable: true}, u.PhoneNumbers[0],
			"kept as sent, flagged not dialable")
		// A number in E.164 form is still stored.
		r = s.Do(scimtest.Request{Method: "PATCH", Path: "/Users/" + id, Token: noRegion, Body: patchBody(
			op("add", "phoneNumbers", []any{map[string]any{"value": "+12025550143", "type": "mobile"}}))})
		requireStatus(t, 200, r)
		u, err = s.Dir.GetUser(ctx, "noregion", id)
		require.NoError(t, err)
		require.Len(t, u.PhoneNumbers, 2)
		assert.Equal(t, "+12025550143", u.PhoneNumbers[1].Number)
		assert.False(t, u.PhoneNumbers[1].NotDialable)
	})

	t.Run("an email that is not an address is skipped, not the user", func(t *testing.T) {
		r := s.Do(scimtest.Request{Method: "POST", Path: "/Users", Body: userBody("lee@example.com", map[string]any{
			"emails": []any{
				map[string]any{"value": "not an address", "type": "work", "primary": true},
				map[string]any{"value": "lee@example.com", "type": "home"},
			},
			"displayName": "Lee",
		})})
		requireStatus(t, 201, r)
		assert.Equal(t, []any{map[string]any{"value": "lee@example.com", "type": "home", "primary": false}}, r.JSON(t)["emails"])
		assert.Equal(t, "Lee", r.JSON(t)["displayName"])
		assert.Equal(t, float64(1), skipped("emails"))
	})

	t.Run("unknown types and a second primary are warned about, not refused", func(t *testing.T) {
		r := s.Do(scimtest.Request{Method: "POST", Path: "/Users", Body: userBody("types@example.com", map[string]any{
			"emails": []any{
				map[string]any{"value": "types@example.com", "type": "internet", "primary": true},
				map[string]any{"value": "types2@example.com", "type": "work", "primary": true},
			},
			"phoneNumbers": []any{
				map[string]any{"value": "+4930111", "type": "voip", "primary": true},
				map[string]any{"value": "+4930222", "type": "work", "primary": true},
			},
		})})
		requireStatus(t, 201, r)
		u, err := s.Dir.GetUser(ctx, s.Tenant, r.JSON(t)["id"].(string))
		require.NoError(t, err)
		assert.Equal(t, []pbxusers.Email{{Value: "types@example.com", Type: "other", Primary: true}, {Value: "types2@example.com", Type: "work"}}, u.Emails)
		assert.Equal(t, pbxusers.PhoneOther, u.PhoneNumbers[0].Type)
		assert.True(t, u.PhoneNumbers[0].Primary)
		assert.False(t, u.PhoneNumbers[1].Primary)
	})

	t.Run("an unknown time zone or language is skipped", func(t *testing.T) {
		r := s.Do(scimtest.Request{Method: "POST", Path: "/Users", Body: userBody("tz@example.com", map[string]any{
			"timezone": "Europe/Berlin", "preferredLanguage": "de-DE"})})
		requireStatus(t, 201, r)
		id := r.JSON(t)["id"].(string)
		r = s.Do(scimtest.Request{Method: "PATCH", Path: "/Users/" + id, Body: patchBody(
			op("replace", "timezone", "Mars/Base"), op("replace", "preferredLanguage", "not a tag!"), op("replace", "title", "T"))})
		requireStatus(t, 200, r)
		u, err := s.Dir.GetUser(ctx, s.Tenant, id)
		require.NoError(t, err)
		assert.Equal(t, []string{"Europe/Berlin", "de-DE", "T"}, []string{u.TimeZone, u.Language, u.Title})
	})

	t.Run("an email that cannot be mailed is refused at SCIM time", func(t *testing.T) {
		for _, addr := range []string{"josé@example.com", "jose@exämple.com"} {
			r := s.Do(scimtest.Request{Method: "POST", Path: "/Users", Body: userBody("intl-"+addr, map[string]any{
				"emails": []any{map[string]any{"value": addr, "type": "work"}},
			})})
			e := requireError(t, r, 400, "invalidValue")
			assert.Contains(t, e["detail"], "emails")
			assert.Contains(t, e["detail"], addr)
			assert.Contains(t, e["detail"], "ASCII")
		}
	})

	t.Run("manager by externalId, and an unknown manager is kept until that user arrives", func(t *testing.T) {
		mgr := mustUser(t, s, userBody("boss@example.com", map[string]any{"externalId": "entra-boss"}))
		emp := mustUser(t, s, userBody("emp@example.com", nil))
		id := emp["id"].(string)
		r := s.Do(scimtest.Request{Method: "PATCH", Path: "/Users/" + id, Body: `{
			"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
			"Operations": [{"op": "Add", "path": "manager", "value": "entra-boss"}]}`})
		requireStatus(t, 200, r)
		assert.Equal(t, mgr["id"], get(r.JSON(t), entSchemaURN, "manager", "value"))

		r = s.Do(scimtest.Request{Method: "PATCH", Path: "/Users/" + id, Body: `{
			"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
			"Operations": [
				{"op": "Add", "path": "manager", "value": "not-provisioned-yet"},
				{"op": "Replace", "path": "title", "value": "Clerk"}
			]}`})
		requireStatus(t, 200, r)
		assert.Equal(t, "Clerk", r.JSON(t)["title"])
		assert.Equal(t, "not-provisioned-yet", get(r.JSON(t), entSchemaURN, "manager", "value"), "kept as sent, unresolved")
		u, err := s.Dir.GetUser(ctx, s.Tenant, id)
		require.NoError(t, err)
		assert.Equal(t, "", u.ManagerID)
		assert.Equal(t, "not-provisioned-yet", u.ManagerRef)

		// A PATCH that does not name the manager keeps the reference.
		r = s.Do(scimtest.Request{Method: "PATCH", Path: "/Users/" + id, Body: `{
			"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
			"Operations": [{"op": "Replace", "path": "title", "value": "Senior Clerk"}]}`})
		requireStatus(t, 200, r)
		assert.Equal(t, "not-provisioned-yet", get(r.JSON(t), entSchemaURN, "manager", "value"))
		u, err = s.Dir.GetUser(ctx, s.Tenant, id)
		require.NoError(t, err)
		assert.Equal(t, "Senior Clerk", u.Title)
		assert.Equal(t, "", u.ManagerID)
		assert.Equal(t, "not-provisioned-yet", u.ManagerRef)

		// The manager arrives: the reference becomes the manager, in the
		// same transaction.
		late := mustUser(t, s, userBody("late-boss@example.com", map[string]any{"externalId": "not-provisioned-yet"}))
		r = s.Do(scimtest.Request{Method: "GET", Path: "/Users/" + id})
		requireStatus(t, 200, r)
		assert.Equal(t, late["id"], get(r.JSON(t), entSchemaURN, "manager", "value"))
		u, err = s.Dir.GetUser(ctx, s.Tenant, id)
		require.NoError(t, err)
		assert.Equal(t, late["id"], u.ManagerID)
		assert.Empty(t, u.ManagerRef)
	})

	t.Run("attributes of an extension not served are ignored and reported", func(t *testing.T) {
		r := s.Do(scimtest.Request{Method: "POST", Path: "/Users", Body: userBody("okta-ext@example.com", map[string]any{
			"urn:okta:custom_app:1.0:user:custom": map[string]any{"costCenter": "x"}})})
		requireStatus(t, 201, r)
		assert.Equal(t, float64(1), skipped("extension"))
		r = s.Do(scimtest.Request{Method: "PATCH", Path: "/Users/" + r.JSON(t)["id"].(string), Body: patchBody(
			op("replace", "urn:okta:custom_app:1.0:user:custom:costCenter", "y"), op("replace", "title", "T"))})
		requireStatus(t, 200, r)
		assert.Equal(t, "T", r.JSON(t)["title"])
		assert.Equal(t, float64(2), skipped("extension"))
	})

	t.Run("trailing slash on collections", func(t *testing.T) {
		r := s.Do(scimtest.Request{Method: "GET", Path: "/Users/"})
		requireStatus(t, 200, r)
		assert.Equal(t, []any{listSchema}, r.JSON(t)["schemas"])
		r = s.Do(scimtest.Request{Method: "POST", Path: "/Users/", Body: userBody("slash@example.com", nil)})
		requireStatus(t, 201, r)
		r = s.Do(scimtest.Request{Method: "GET", Path: "/Groups/"})
		requireStatus(t, 200, r)
		assert.Equal(t, []any{listSchema}, r.JSON(t)["schemas"])
	})

	t.Run("HEAD answers like GET without a body", func(t *testing.T) {
		id := s.MustCreateUser("head@example.com")
		get := s.Do(scimtest.Request{Method: "GET", Path: "/Users/" + id})
		requireStatus(t, 200, get)
		head := s.Do(scimtest.Request{Method: http.MethodHead, Path: "/Users/" + id})
		requireStatus(t, 200, head)
		assert.Empty(t, head.Body)
		assert.Equal(t, get.Header.Get("ETag"), head.Header.Get("ETag"))
		assert.Equal(t, get.Header.Get("Content-Type"), head.Header.Get("Content-Type"))
		head = s.Do(scimtest.Request{Method: http.MethodHead, Path: "/Users"})
		requireStatus(t, 200, head)
		assert.Empty(t, head.Body)
		head = s.Do(scimtest.Request{Method: http.MethodHead, Path: "/Users/nope"})
		requireStatus(t, 404, head)
		assert.Empty(t, head.Body)
	})

	t.Run("group members carry display", func(t *testing.T) {
		a := mustUser(t, s, userBody("ann@example.com", map[string]any{"displayName": "Ann A."}))
		b := mustUser(t, s, userBody("bo@example.com", nil))
		gid := s.MustCreateGroup("Display", a["id"].(string), b["id"].(string))
		r := s.Do(scimtest.Request{Method: "GET", Path: "/Groups/" + gid})
		requireStatus(t, 200, r)
		display := map[string]any{}
		for _, m := range asSlice(r.JSON(t)["members"]) {
			display[get(m, "value").(string)] = get(m, "display")
		}
		assert.Equal(t, map[string]any{a["id"].(string): "Ann A.", b["id"].(string): "bo@example.com"}, display)
		r = s.Do(scimtest.Request{Method: "GET", Path: withFilter("/Groups", `displayName eq "Display"`)})
		requireStatus(t, 200, r)
		assert.Equal(t, "Ann A.", get(r.JSON(t), "Resources", 0, "members", 0, "display"))
		// Okta sends display with members it adds; it is read-only and ignored.
		r = s.Do(scimtest.Request{Method: "PATCH", Path: "/Groups/" + gid, Body: patchBody(
			op("add", "members", []any{map[string]any{"value": a["id"], "display": "Someone else"}}))})
		requireStatus(t, 204, r)
	})

	t.Run("replace through a value filter matching nothing", func(t *testing.T) {
		u := mustUser(t, s, userBody("filt@example.com", map[string]any{
			"emails": []any{map[string]any{"value": "filt@example.com", "type": "work", "primary": true}}}))
		id := u["id"].(string)
		// Entra's documented form creates the value.
		r := s.Do(scimtest.Request{Method: "PATCH", Path: "/Users/" + id, Body: patchBody(
			op("replace", `emails[type eq "home"].value`, "filt.home@example.com"))})
		requireStatus(t, 200, r)
		assert.Len(t, r.JSON(t)["emails"], 2)
		// Other filters follow RFC 7644 §3.5.2.3.
		r = s.Do(scimtest.Request{Method: "PATCH", Path: "/Users/" + id, Body: patchBody(
			op("replace", `emails[value eq "other@example.com"].type`, "other"))})
		requireError(t, r, 400, "noTarget")
	})
}

// TestSharedEmail: a second user with the same work address is created
// (RFC 7643: emails.value has uniqueness "none"), unless the tenant wants
// addresses unique, where it is 409 uniqueness.
func TestSharedEmail(t *testing.T) {
	s := scimtest.MustStart(t, scim.Options{})
	user := func(name string) map[string]any {
		return map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": name,
			"emails": []map[string]any{{"value": "shared@example.com", "type": "work", "primary": true}}}
	}
	requireStatus(t, 201, s.Do(scimtest.Request{Method: "POST", Path: "/Users", Body: user("mailbox-a")}))
	requireStatus(t, 201, s.Do(scimtest.Request{Method: "POST", Path: "/Users", Body: user("mailbox-b")}))

	ctx := context.Background()
	tn, err := s.Dir.GetTenant(ctx, s.Tenant)
	require.NoError(t, err)
	tn.UniqueEmails = true
	_, err = s.Dir.UpdateTenant(ctx, tn)
	require.NoError(t, err)
	r := s.Do(scimtest.Request{Method: "POST", Path: "/Users", Body: user("mailbox-c")})
	requireStatus(t, 409, r)
	assert.Contains(t, string(r.Body), `"scimType":"uniqueness"`)
}
