package pbxusers

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestDiff(t *testing.T) {
	base := User{UserName: "ada", Name: Name{Given: "Ada"}, Emails: []Email{{Value: "a@x.example", Primary: true}}, Version: 1}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := []struct {
		name string
		edit func(u *User)
		want []FieldChange
	}{
		{"nothing", func(u *User) {}, nil},
		{"bookkeeping is skipped", func(u *User) { u.Version, u.Updated = 9, at }, nil},
		{"nested field", func(u *User) { u.Name.Given = "Augusta" }, []FieldChange{{Field: "name.given", Old: "Ada", New: "Augusta"}}},
		{"list of objects, same length", func(u *User) { u.Emails = []Email{{Value: "b@x.example", Primary: true}} },
			[]FieldChange{{Field: "emails[0].value", Old: "a@x.example", New: "b@x.example"}}},
		{"list of objects, new length", func(u *User) { u.Emails = append(u.Emails, Email{Value: "c@x.example"}) },
			[]FieldChange{{Field: "emails", Old: []Email{{Value: "a@x.example", Primary: true}}, New: []Email{{Value: "a@x.example", Primary: true}, {Value: "c@x.example"}}}}},
		{"nil and empty are alike", func(u *User) { u.Teams = []string{}; u.CustomFields = map[string]string{} }, nil},
		{"map entry", func(u *User) { u.CustomFields = map[string]string{"badge": "42"} }, []FieldChange{{Field: "customFields.badge", New: "42"}}},
		{"pointer set", func(u *User) { u.Password.SetAt = &at }, []FieldChange{{Field: "password.setAt", New: &at}}},
		{"permission value", func(u *User) { u.Overrides = PermissionSet{PermChatLimit: Limit(3)} },
			[]FieldChange{{Field: "overrides.chat.limit", New: Limit(3)}}},
		{"write-only password never appears", func(u *User) { u.Password.New = "secret words here" }, nil},
		{"several, sorted", func(u *User) { u.Title, u.Extension = "Dr", "201" },
			[]FieldChange{{Field: "extension", New: "201"}, {Field: "title", New: "Dr"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			after := base.Clone()
			tc.edit(&after)
			assert.Equal(t, tc.want, Diff(base, after))
		})
	}
	d1 := Device{SIPID: "201-a", Secret: "old"}
	d2 := d1
	d2.Secret = "new"
	assert.Equal(t, []FieldChange{{Field: "secret", Old: "[redacted]", New: "[redacted]"}}, Diff(d1, d2), "secrets are redacted")
	created := Diff(nil, User{UserName: "x", Status: StatusActive})
	assert.Equal(t, []FieldChange{{Field: "status", New: StatusActive}, {Field: "userName", New: "x"}}, created)
}

// BenchmarkDiffCreate is the change-log diff of a new user as an LDAP sync
// or an identity provider creates one: every set field against nothing.
func BenchmarkDiffCreate(b *testing.B) {
	u := User{ID: "01a24782-5901-7898-980d-b1798539a93b", Kind: KindPerson, Status: StatusActive,
		Owner: Owner{Source: SourceLDAP, ExternalID: "6d1f0c2e-0000-4000-8000-000000000001", Directory: "corp",
			Synced: map[string]string{"userName": "ada.lovelace@example.com", "name.given": "Ada", "name.family": "Lovelace",
				"emails": "ada.lovelace@example.com", "title": "Engineer", "extension": "20001", "phoneNumbers": "+493012345678"}},
		UserName: "ada.lovelace@example.com", Name: Name{Given: "Ada", Family: "Lovelace", Formatted: "Ada Lovelace"},
		DisplayName: "Ada Lovelace", Title: "Engineer", Role: RoleUser, Extension: "20001",
		Emails:       []Email{{Value: "ada.lovelace@example.com", Type: "work", Primary: true}},
		PhoneNumbers: []PhoneNumber{{Number: "+493012345678", Type: "work"}},
		Language:     "en", Enterprise: Enterprise{Department: "R&D", EmployeeNumber: "E1"}, Version: 1}
	b.ReportAllocs()
	for b.Loop() {
		_ = Diff(nil, u)
	}
}
