package pbxusers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// TestUserLimits: an attribute over its limit is refused naming the field
// and the limit, before anything is written; identifiers refuse
// bidirectional controls; emails keep to RFC 5321's lengths.
func TestUserLimits(t *testing.T) {
	d := mustDir(t)
	ctx := context.Background()
	many := func(n int, f func(i int) string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = f(i)
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		edit  func(u *pbxusers.User)
		field string
		want  string
	}{
		{"emails", func(u *pbxusers.User) {
			for _, a := range many(pbxusers.MaxValuesPerAttribute+1, func(i int) string { return fmt.Sprintf("a%d@acme.example", i) }) {
				u.Emails = append(u.Emails, pbxusers.Email{Value: a})
			}
		}, "emails", "has 22 values; at most 20 are allowed"},
		{"allowed IPs", func(u *pbxusers.User) {
			u.IPRestriction.Allowed = many(25, func(i int) string { return fmt.Sprintf("10.0.0.%d", i) })
		}, "ipRestriction.allowed", "at most 20"},
		{"custom fields", func(u *pbxusers.User) {
			u.CustomFields = map[string]string{}
			for _, k := range many(pbxusers.MaxCustomFields+1, func(i int) string { return fmt.Sprint("k", i) }) {
				u.CustomFields[k] = "v"
			}
		}, "customFields", "at most 50"},
		{"RTL override in userName", func(u *pbxusers.User) { u.UserName = "ada\u202Emoc.evil" }, "userName", "bidirectional"},
		{"long local part", func(u *pbxusers.User) {
			u.Emails = []pbxusers.Email{{Value: strings.Repeat("a", 65) + "@acme.example"}}
		}, "emails[0].value", "longer than 64"},
		{"long address", func(u *pbxusers.User) {
			u.Emails = []pbxusers.Email{{Value: "a@" + strings.Repeat("b", 60) + "." + strings.Repeat("c", 60) + "." + strings.Repeat("d", 60) + "." + strings.Repeat("e", 60) + "." + strings.Repeat("f", 60) + ".example"}}
		}, "emails[0].value", "longer than 254"},
	} {
		u := validPerson()
		tc.edit(&u)
		_, err := d.CreateUser(ctx, "acme", u)
		var ve *pbxusers.ValidationError
		require.ErrorAs(t, err, &ve, tc.name)
		require.True(t, ve.Has(tc.field), "%s: %v", tc.name, err)
		assert.Contains(t, err.Error(), tc.want, tc.name)
	}
	page, err := d.ListUsers(ctx, "acme", pbxusers.UserQuery{Limit: -1})
	require.NoError(t, err)
	assert.Zero(t, page.Total, "nothing was written")

	u := validPerson()
	u.Emails = []pbxusers.Email{{Value: strings.Repeat("a", 64) + "@acme.example", Primary: true}}
	_, err = d.CreateUser(ctx, "acme", u)
	require.NoError(t, err, "64 octets of local part are allowed")
}

// TestPhoneNumberKeptAsSent: a contact number that does not parse (a
// national number on a tenant without a region) is kept as sent and
// flagged not dialable, not refused; once the tenant has a region the next
// write normalises it.
func TestPhoneNumberKeptAsSent(t *testing.T) {
	d := mustDir(t)
	ctx := context.Background()
	_, err := d.CreateTenant(ctx, pbxusers.Tenant{ID: "noregion"})
	require.NoError(t, err)
	u := validPerson()
	u.PhoneNumbers = []pbxusers.PhoneNumber{{Number: "(202) 555-0143", Type: pbxusers.PhoneWork}}
	got, err := d.CreateUser(ctx, "noregion", u)
	require.NoError(t, err)
	assert.Equal(t, []pbxusers.PhoneNumber{{Number: "(202) 555-0143", Type: pbxusers.PhoneWork, NotDialable: true}}, got.PhoneNumbers)

	tn, err := d.GetTenant(ctx, "noregion")
	require.NoError(t, err)
	tn.Region = "US"
	_, err = d.UpdateTenant(ctx, tn)
	require.NoError(t, err)
	got, err = d.ModifyUser(ctx, "noregion", got.ID, func(u *pbxusers.User) error { u.Title = "Engineer"; return nil })
	require.NoError(t, err)
	assert.Equal(t, []pbxusers.PhoneNumber{{Number: "+12025550143", Type: pbxusers.PhoneWork}}, got.PhoneNumbers)
}
