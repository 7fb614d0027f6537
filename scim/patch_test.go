package scim

import (
	"encoding/json"
	"testing"

	"github.com/elimity-com/scim"
	"github.com/scim2/filter-parser/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// pop builds an operation as elimity hands it over.
func pop(t *testing.T, name, path string, value any) scim.PatchOperation {
	t.Helper()
	o := scim.PatchOperation{Op: name, Value: value}
	if path != "" {
		p, err := filter.ParsePath([]byte(path))
		require.NoError(t, err, path)
		o.Path = &p
	}
	return o
}

// jsonMap decodes JSON into the attribute-map form.
func jsonMap(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(s), &m))
	return m
}

func jv(t *testing.T, s string) any {
	t.Helper()
	var v any
	require.NoError(t, json.Unmarshal([]byte(s), &v))
	return v
}

func TestPatcher(t *testing.T) {
	const base = `{
		"userName": "u", "title": "T",
		"name": {"givenName": "G", "familyName": "F"},
		"emails": [
			{"value": "w@x.de", "type": "work", "primary": true},
			{"value": "h@x.de", "type": "home", "primary": false}
		],
		"urn:pbxgate:params:scim:schemas:extension:pbx:2.0:User": {"kind": "person", "source": "scim", "profiles": ["A", "B"]}
	}`
	const pbx = UserExtensionSchema
	tests := []struct {
		name    string
		ops     func(t *testing.T) []scim.PatchOperation
		want    string // JSON of the expected map, or "" when an error is expected
		errType string
	}{
		{"replace simple", func(t *testing.T) []scim.PatchOperation {
			return []scim.PatchOperation{pop(t, "replace", "title", "X")}
		},
			`{"title": "X"}`, ""},
		{"remove simple", func(t *testing.T) []scim.PatchOperation { return []scim.PatchOperation{pop(t, "remove", "title", nil)} },
			`{"title": null}`, ""},
		{"replace complex merges", func(t *testing.T) []scim.PatchOperation {
			return []scim.PatchOperation{pop(t, "replace", "name", jv(t, `{"givenName": "N"}`))}
		}, `{"name": {"givenName": "N", "familyName": "F"}}`, ""},
		{"sub-attribute add and remove", func(t *testing.T) []scim.PatchOperation {
			return []scim.PatchOperation{pop(t, "add", "name.middleName", "M"), pop(t, "remove", "name.givenName", nil)}
		}, `{"name": {"middleName": "M", "familyName": "F"}}`, ""},
		{"add appends and merges duplicates", func(t *testing.T) []scim.PatchOperation {
			return []scim.PatchOperation{pop(t, "add", "emails", jv(t, `[{"value": "W@X.DE", "type": "other"}, {"value": "n@x.de"}]`))}
		}, `{"emails": [{"value": "W@X.DE", "type": "other", "primary": true}, {"value": "h@x.de", "type": "home", "primary": false}, {"value": "n@x.de"}]}`, ""},
		{"replace multi-valued", func(t *testing.T) []scim.PatchOperation {
			return []scim.PatchOperation{pop(t, "replace", "emails", jv(t, `[{"value": "n@x.de"}]`))}
		}, `{"emails": [{"value": "n@x.de"}]}`, ""},
		{"remove by value list", func(t *testing.T) []scim.PatchOperation {
			return []scim.PatchOperation{pop(t, "remove", "emails", jv(t, `[{"value": "H@x.de"}]`))}
		}, `{"emails": [{"value": "w@x.de", "type": "work", "primary": true}]}`, ""},
		{"value filter with sub-attribute", func(t *testing.T) []scim.PatchOperation {
			return []scim.PatchOperation{pop(t, "replace", `emails[type eq "home"].value`, "new@x.de")}
		}, `{"emails": [{"value": "w@x.de", "type": "work", "primary": true}, {"value": "new@x.de", "type": "home", "primary": false}]}`, ""},
		{"add through a filter creates the element", func(t *testing.T) []scim.PatchOperation {
			return []scim.PatchOperation{pop(t, "add", `emails[type eq "other"].value`, "o@x.de")}
		}, `{"emails": [{"value": "w@x.de", "type": "work", "primary": true}, {"value": "h@x.de", "type": "home", "primary": false}, {"type": "other", "value": "o@x.de"}]}`, ""},
		{"replace through an eq filter that matches nothing creates", func(t *testing.T) []scim.PatchOperation {
			return []scim.PatchOperation{pop(t, "replace", `emails[type eq "other" and primary eq false]`, jv(t, `{"value": "o@x.de"}`))}
		}, `{"emails": [{"value": "w@x.de", "type": "work", "primary": true}, {"value": "h@x.de", "type": "home", "primary": false}, {"type": "other", "primary": false, "value": "o@x.de"}]}`, ""},
		{"replace through another filter that matches nothing is noTarget", func(t *testing.T) []scim.PatchOperation {
			return []scim.PatchOperation{pop(t, "replace", `emails[value sw "zz"].type`, "other")}
		}, "", typeNoTarget},
		{"replace an element through a filter", func(t *testing.T) []scim.PatchOperation {
			return []scim.PatchOperation{pop(t, "replace", `emails[value ew "@x.de" and type ne "work"]`, jv(t, `{"value": "r@x.de", "type": "home"}`))}
		}, `{"emails": [{"value": "w@x.de", "type": "work", "primary": true}, {"value": "r@x.de", "type": "home"}]}`, ""},
		{"remove through a filter", func(t *testing.T) []scim.PatchOperation {
			return []scim.PatchOperation{pop(t, "remove", `emails[type eq "home" or type eq "other"]`, nil)}
		}, `{"emails": [{"value": "w@x.de", "type": "work", "primary": true}]}`, ""},
		{"remove a sub-attribute through a filter", func(t *testing.T) []scim.PatchOperation {
			return []scim.PatchOperation{pop(t, "remove", `emails[type eq "home"].type`, nil)}
		}, `{"emails": [{"value": "w@x.de", "type": "work", "primary": true}, {"value": "h@x.de", "primary": false}]}`, ""},
		{"remove of the value sub-attribute removes the element", func(t *testing.T) []scim.PatchOperation {
			return []scim.PatchOperation{pop(t, "remove", `emails[type eq "work"].value`, nil)}
		}, `{"emails": [{"value": "h@x.de", "type": "home", "primary": false}]}`, ""},
		{"remove through a filter that matches nothing succeeds", func(t *testing.T) []scim.PatchOperation {
			return []scim.PatchOperation{pop(t, "remove", `emails[type eq "other"]`, nil)}
		}, `{}`, ""},
		{"primary stays unique", func(t *testing.T) []scim.PatchOperation {
			return []scim.PatchOperation{pop(t, "add", "emails", jv(t, `[{"value": "p@x.de", "primary": true}]`))}
		}, `{"emails": [{"value": "w@x.de", "type": "work", "primary": false}, {"value": "h@x.de", "type": "home", "primary": false}, {"value": "p@x.de", "primary": true}]}`, ""},
		{"sub-attribute of all elements", func(t *testing.T) []scim.PatchOperation {
			return []scim.PatchOperation{pop(t, "replace", "emails.type", "other")}
		}, `{"emails": [{"value": "w@x.de", "type": "other", "primary": true}, {"value": "h@x.de", "type": "other", "primary": false}]}`, ""},
		{"path-less value with dotted, URN and container keys", func(t *testing.T) []scim.PatchOperation {
			return []scim.PatchOperation{pop(t, "replace", "", map[string]any{
				"name.givenName":                         "K",
				EnterpriseUserSchema + ":employeeNumber": "7",
				pbx:                                      map[string]any{"location": "Berlin"},
			})}
		}, `{"name": {"givenName": "K", "familyName": "F"}, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "7"}, "urn:pbxgate:params:scim:schemas:extension:pbx:2.0:User": {"kind": "person", "source": "scim", "profiles": ["A", "B"], "location": "Berlin"}}`, ""},
		{"simple multi-valued values: add and filter remove", func(t *testing.T) []scim.PatchOperation {
			return []scim.PatchOperation{pop(t, "add", pbx+":profiles", jv(t, `["b", "C"]`)), pop(t, "remove", pbx+`:profiles[value eq "a"]`, nil)}
		}, `{"urn:pbxgate:params:scim:schemas:extension:pbx:2.0:User": {"kind": "person", "source": "scim", "profiles": ["b", "C"]}}`, ""},
		{"readOnly is mutability", func(t *testing.T) []scim.PatchOperation {
			return []scim.PatchOperation{pop(t, "replace", pbx+":source", "ldap")}
		}, "", typeMutability},
		{"readOnly through a path-less value", func(t *testing.T) []scim.PatchOperation {
			return []scim.PatchOperation{pop(t, "add", "", map[string]any{"groups": jv(t, `[{"value": "g"}]`)})}
		}, "", typeMutability},
		{"immutable may be set to the same value", func(t *testing.T) []scim.PatchOperation {
			return []scim.PatchOperation{pop(t, "replace", pbx+":kind", "Person")}
		}, `{"urn:pbxgate:params:scim:schemas:extension:pbx:2.0:User": {"kind": "Person", "source": "scim", "profiles": ["A", "B"]}}`, ""},
		{"immutable cannot change", func(t *testing.T) []scim.PatchOperation {
			return []scim.PatchOperation{pop(t, "replace", pbx+":kind", "call_queue")}
		}, "", typeMutability},
		{"immutable cannot be removed", func(t *testing.T) []scim.PatchOperation {
			return []scim.PatchOperation{pop(t, "remove", pbx+":kind", nil)}
		}, "", typeMutability},
		{"writeOnly cannot be removed", func(t *testing.T) []scim.PatchOperation {
			return []scim.PatchOperation{pop(t, "remove", "password", nil)}
		}, "", typeMutability},
		{"unknown attribute", func(t *testing.T) []scim.PatchOperation { return []scim.PatchOperation{pop(t, "add", "nope", "x")} },
			"", typeInvalidPath},
		{"unknown sub-attribute", func(t *testing.T) []scim.PatchOperation {
			return []scim.PatchOperation{pop(t, "add", "name.nope", "x")}
		},
			"", typeInvalidPath},
		{"value filter on a singular attribute", func(t *testing.T) []scim.PatchOperation {
			return []scim.PatchOperation{pop(t, "remove", `name[givenName eq "G"]`, nil)}
		}, "", typeInvalidPath},
		{"bad value filter", func(t *testing.T) []scim.PatchOperation {
			return []scim.PatchOperation{pop(t, "remove", `emails[nope eq "x"]`, nil)}
		}, "", typeInvalidFilter},
		{"remove without path", func(t *testing.T) []scim.PatchOperation { return []scim.PatchOperation{pop(t, "remove", "", nil)} },
			"", typeNoTarget},
		{"path-less non-object", func(t *testing.T) []scim.PatchOperation { return []scim.PatchOperation{pop(t, "add", "", "x")} },
			"", typeInvalidValue},
		{"add of nothing (elimity's nil for []) adds nothing", func(t *testing.T) []scim.PatchOperation {
			return []scim.PatchOperation{pop(t, "add", "emails", nil)}
		}, `{}`, ""},
		{"replace with nothing (elimity's nil for []) clears", func(t *testing.T) []scim.PatchOperation {
			return []scim.PatchOperation{pop(t, "replace", "emails", nil)}
		}, `{"emails": null}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := jsonMap(t, base)
			p := newPatcher(usersSchema, m)
			var err error
			for _, o := range tt.ops(t) {
				if err = p.apply(o); err != nil {
					break
				}
			}
			if tt.errType != "" {
				require.Error(t, err)
				ae, ok := err.(*apiError)
				require.True(t, ok, "%T %v", err, err)
				assert.Equal(t, tt.errType, ae.scimType, ae.detail)
				return
			}
			require.NoError(t, err)
			want := jsonMap(t, base)
			for k, v := range jsonMap(t, tt.want) {
				if v == nil {
					delete(want, k)
				} else {
					want[k] = v
				}
			}
			assert.Equal(t, want, roundTrip(t, m))
		})
	}
}

func roundTrip(t *testing.T, m map[string]any) map[string]any {
	t.Helper()
	raw, err := json.Marshal(m)
	require.NoError(t, err)
	return jsonMap(t, string(raw))
}

// TestUserMapRoundTrip: converting a user to attributes and back changes
// nothing, including fields SCIM does not map.
func TestUserMapRoundTrip(t *testing.T) {
	u := pbxusers.User{
		ID: "u1", Kind: pbxusers.KindPerson, Status: pbxusers.StatusInactive,
		Owner:       pbxusers.Owner{Source: pbxusers.SourceSCIM, ExternalID: "ext"},
		UserName:    "ada@example.com",
		Name:        pbxusers.Name{Formatted: "Ada L", Given: "Ada", Family: "L", Middle: "M", Prefix: "Dr", Suffix: "III"},
		DisplayName: "Ada", Nickname: "A", Title: "Eng", Language: "de-DE", TimeZone: "Europe/Berlin",
		Emails:       []pbxusers.Email{{Value: "ada@example.com", Type: "work", Primary: true}, {Value: "a@home.example", Type: "home"}},
		PhoneNumbers: []pbxusers.PhoneNumber{{Number: "+4930123456", Ext: "7", Type: pbxusers.PhoneWork, Primary: true}},
		Enterprise:   pbxusers.Enterprise{EmployeeNumber: "1", CostCenter: "2", Organization: "3", Division: "4", Department: "5"},
		ManagerID:    "m1", Extension: "201", StationNumber: "9", Location: "Berlin", CustomID: "c", Role: pbxusers.RoleAdmin,
		Profiles: []string{"p1", "p2"}, Teams: []string{"t1"}, Recording: pbxusers.RecordAlways,
		CallerID:      pbxusers.CallerID{Number: "+4930999", Name: "Ada", Anonymous: true, Emergency: "+49112"},
		Features:      pbxusers.Features{Voicemail: true, HotDesking: true},
		Overrides:     pbxusers.PermissionSet{pbxusers.PermAnswerTexts: pbxusers.Bool(true)},
		Notifications: []pbxusers.Notification{pbxusers.NotifyVoicemail},
		Routing:       pbxusers.BackupRouting("+4915112345678", 30e9, 15e9),
		CustomFields:  map[string]string{"k": "v"},
	}
	u.Routing.AnswerMode = pbxusers.AnswerIPPhone
	m := &userMapper{profiles: newProfileIndex([]pbxusers.Profile{{ID: "p1", Name: "One"}, {ID: "p2", Name: "Two"}}), teams: map[string]string{"t1": "Team"}}
	for _, mode := range []writeMode{modeReplace, modePatch} {
		attrs := roundTrip(t, m.toAttrs(u, true))
		got := u.Clone()
		require.NoError(t, m.fromAttrs(&got, attrs, u.Clone(), mode))
		assert.Empty(t, pbxusers.Diff(u, got))
	}
	// A response leaves out empty values and the PATCH-only externalId.
	attrs := m.toAttrs(pbxusers.User{UserName: "x", Kind: pbxusers.KindPerson}, false)
	assert.NotContains(t, attrs, "name")
	assert.NotContains(t, attrs, "externalId")
	assert.NotContains(t, attrs, EnterpriseUserSchema)
}
