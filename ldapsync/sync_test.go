package ldapsync

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/pbxgate/pbxgate/pbxusers"
)

func TestEvaluateGuards(t *testing.T) {
	tests := []struct {
		name string
		in   guardInput
		want string // substring of the reason; "" means allowed
	}{
		{"nothing to do", guardInput{full: true, entries: 100, active: 100, share: 0.1}, ""},
		{"at the limit", guardInput{full: true, entries: 90, active: 100, deactivations: 10, share: 0.1}, ""},
		{"over the limit", guardInput{full: true, entries: 89, active: 100, deactivations: 11, share: 0.1},
			"11 of 100 active users (11.0%) would be deactivated, more than maxDeactivateShare 10%"},
		{"over the limit, forced", guardInput{full: true, active: 100, deactivations: 60, share: 0.1, force: true}, ""},
		{"empty read", guardInput{full: true, entries: 0, active: 20, deactivations: 20, share: 1},
			"the directory returned no users; deactivating all 20 active users needs --force"},
		{"empty read, forced", guardInput{full: true, entries: 0, active: 20, deactivations: 20, share: 0.1, force: true}, ""},
		{"empty read, nobody to lose", guardInput{full: true, entries: 0, active: 0, share: 0.1}, ""},
		{"empty incremental read", guardInput{entries: 0, active: 20, share: 0.1}, ""},
		{"share 0 blocks any", guardInput{full: true, entries: 99, active: 100, deactivations: 1, share: 0},
			"1 of 100 active users"},
		{"small directory", guardInput{full: true, entries: 4, active: 5, deactivations: 1, share: 0.1},
			"1 of 5 active users (20.0%)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.in.name = "corp"
			why, msg := evaluateGuards(tt.in)
			switch {
			case tt.want == "" && why != "":
				t.Errorf("blocked: %s", why)
			case tt.want != "" && !strings.Contains(why, tt.want):
				t.Errorf("reason %q, want %q", why, tt.want)
			case tt.want != "" && !strings.Contains(msg, "pbxgate ldap sync corp --force"):
				t.Errorf("message %q does not say how to proceed", msg)
			}
		})
	}
}

func TestPartialRead(t *testing.T) {
	sizeLimit := fmt.Errorf("read users: page 2: %w: %w", ErrSizeLimit, ldap.NewError(ldap.LDAPResultSizeLimitExceeded, errors.New("x")))
	network := fmt.Errorf("read users: page 2: %w", ldap.NewError(ldap.ErrorNetwork, errors.New("connection closed")))
	if !partialRead(sizeLimit, ReadResult{}) || !partialRead(errors.New("skipped"), ReadResult{Skipped: 1}) ||
		!partialRead(ldap.NewError(ldap.LDAPResultTimeLimitExceeded, errors.New("x")), ReadResult{}) {
		t.Error("size limit, skipped entries and time limit are partial reads")
	}
	if partialRead(network, ReadResult{}) {
		t.Error("a broken connection is a failed read, not a partial one")
	}
}

func TestMergeEmails(t *testing.T) {
	cur := []pbxusers.Email{
		{Value: "old@corp.example", Type: "work", Primary: true},
		{Value: "me@home.example", Type: "home"},
	}
	got := mergeEmails(cur, []string{"old@corp.example"}, []string{"new@corp.example", "Alias@corp.example"})
	want := []pbxusers.Email{
		{Value: "new@corp.example", Type: "work", Primary: true},
		{Value: "Alias@corp.example", Type: "work"},
		{Value: "me@home.example", Type: "home"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("merge = %+v", got)
	}
	// The directory drops its address: the admin's stays, primary kept.
	cur = []pbxusers.Email{{Value: "old@corp.example", Type: "work"}, {Value: "me@home.example", Type: "home", Primary: true}}
	if got := mergeEmails(cur, []string{"OLD@corp.example"}, nil); !slices.Equal(got, cur[1:]) {
		t.Errorf("drop = %+v", got)
	}
	if got := mergeEmails(nil, nil, nil); got != nil {
		t.Errorf("empty = %+v", got)
	}
}

func TestMergePhones(t *testing.T) {
	cur := []pbxusers.PhoneNumber{
		{Number: "+41445550101", Type: pbxusers.PhoneWork, Primary: true},
		{Number: "+41795550101", Type: pbxusers.PhoneMobile},
		{Number: "+41445559999", Type: pbxusers.PhoneHome},
	}
	got := mergePhones(cur, pbxusers.PhoneWork, []string{"+41445550101"}, []string{"+41445550202"})
	want := []pbxusers.PhoneNumber{
		{Number: "+41795550101", Type: pbxusers.PhoneMobile},
		{Number: "+41445559999", Type: pbxusers.PhoneHome},
		{Number: "+41445550202", Type: pbxusers.PhoneWork, Primary: true},
	}
	if !slices.Equal(got, want) {
		t.Errorf("work = %+v", got)
	}
	got = mergePhones(want, pbxusers.PhoneMobile, []string{"+41795550101"}, nil)
	if !slices.Equal(got, want[1:]) {
		t.Errorf("mobile removed = %+v", got)
	}
}

func TestMergeIDs(t *testing.T) {
	// "admin" was added by hand, "a" and "b" came from the directory, which
	// now gives "b" and "c".
	got := mergeIDs([]string{"a", "admin", "b"}, []string{"a", "b"}, []string{"b", "c"})
	if !slices.Equal(got, []string{"admin", "b", "c"}) {
		t.Errorf("merge = %q", got)
	}
	if got := mergeIDs(nil, nil, nil); got != nil {
		t.Errorf("empty = %q", got)
	}
}

func TestValidationKeys(t *testing.T) {
	cfg := PresetOpenLDAP()
	cfg.Attributes.Extra = []string{"employeeNumber"}
	fields := fieldSpecs(&cfg)
	invalid := func(fields ...string) error {
		var p pbxusers.Problems
		for _, f := range fields {
			p.Add(f, "bad")
		}
		return p.Err()
	}
	tests := []struct {
		err  error
		want []string
		ok   bool
	}{
		{invalid("language"), []string{fLanguage}, true},
		{invalid("extension", "phoneNumbers[1].number"), []string{fExtension, fWork, fMobile}, true},
		{invalid("emails[0].value"), []string{fEmails}, true},
		{invalid("customFields.employeeNumber"), []string{fCustom + "employeeNumber"}, true},
		{invalid("userName"), nil, false},                  // the user cannot exist without it
		{invalid("language", "timeZone"), nil, false},      // not a field the sync sets
		{errors.New("not a validation error"), nil, false}, //
	}
	for _, tt := range tests {
		got, ok := validationKeys(tt.err, fields)
		if ok != tt.ok || !slices.Equal(got, tt.want) {
			t.Errorf("validationKeys(%v) = %q, %v; want %q, %v", tt.err, got, ok, tt.want, tt.ok)
		}
	}
}

func TestFieldSpecsFollowTheMapping(t *testing.T) {
	cfg := PresetOpenLDAP()
	cfg.Attributes.Extension = "" // not mapped: the sync never touches it
	var keys []string
	for _, f := range fieldSpecs(&cfg) {
		keys = append(keys, f.key)
	}
	// Profiles and teams stay managed without groupMappings, so removing
	// the last mapping takes back what it gave (issue 11).
	if slices.Contains(keys, fExtension) || !slices.Contains(keys, fProfiles) || !slices.Contains(keys, fStatus) {
		t.Errorf("keys %q", keys)
	}
	cfg.GroupMappings = []GroupMapping{{Group: "x", Teams: []string{"t"}}}
	keys = keys[:0]
	for _, f := range fieldSpecs(&cfg) {
		keys = append(keys, f.key)
	}
	if !slices.Contains(keys, fProfiles) || !slices.Contains(keys, fTeams) {
		t.Errorf("with group mappings: %q", keys)
	}
}

func TestCapMessages(t *testing.T) {
	msgs := make([]string, MaxRunMessagesN+5)
	got := capMessages(msgs)
	if len(got) != MaxRunMessagesN+1 || got[MaxRunMessagesN] != "... and 5 more" {
		t.Errorf("cap: %d, last %q", len(got), got[len(got)-1])
	}
	if got := capMessages([]string{"a"}); !slices.Equal(got, []string{"a"}) {
		t.Errorf("small: %q", got)
	}
}

func TestPlanWriteTable(t *testing.T) {
	p := &Plan{Tenant: "acme", Directory: "corp", Mode: "full", Status: pbxusers.SyncBlocked,
		Message: "blocked: 3 of 10 active users (30.0%) would be deactivated",
		Counts:  Counts{Read: 7, Created: 1, Withheld: 3, Conflicts: 1},
		Actions: []Action{
			{Op: OpCreate, ExternalID: "id-1", UserName: "anna", Fields: []string{"userName", "emails"}},
			{Op: OpConflict, ExternalID: "id-2", UserName: "bob", Reason: "user userName \"bob\": already used\nby scim"},
			{Op: OpDeactivate, ExternalID: "id-3", UserName: "carol", Reason: "missing from the directory", Withheld: true},
		},
		ActionsOmitted: 2,
	}
	var b strings.Builder
	if err := p.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"ldap directory corp of tenant acme: full read, sync\n",
		"create                 anna   id-1         userName, emails\n",
		`conflict               bob    id-2         user userName "bob": already used by scim`,
		"deactivate (withheld)  carol  id-3         missing from the directory\n",
		"... and 2 more actions not listed\n",
		"read 7, created 1, updated 0, deactivated 0, reactivated 0, unchanged 0, withheld 3, conflicts 1, errors 0\n",
		"status: blocked\nblocked: 3 of 10",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestSkipHash(t *testing.T) {
	cfg := PresetOpenLDAP()
	mp := mappingFingerprint(&cfg)
	e := Entry{ExternalID: "x", UserName: "anna"}
	sum := e.sum()
	h := skipHash(&sum, mp)
	other := cfg
	other.GroupMappings = []GroupMapping{{Group: "sales", Teams: []string{"Sales"}}}
	otherMP := mappingFingerprint(&other)
	if otherMP == mp {
		t.Fatal("groupMappings do not change the fingerprint")
	}
	tests := []struct {
		name             string
		hash             string
		unchanged, remap bool
	}{
		{"same entry, same mapping", h, true, false},
		{"same entry, other mapping", skipHash(&sum, otherMP), false, true},
		{"older version without mapping half", e.Hash(), false, true},
		{"pending", hashPending, false, false},
		{"missing", hashMissing, false, false},
		{"garbage of the right length", strings.Repeat("z", skipHashLen), false, false},
	}
	for _, tt := range tests {
		o := newOwnedUser("id", "anna", tt.hash, true, false)
		if got := o.unchanged(&sum, mp); got != tt.unchanged {
			t.Errorf("%s: unchanged = %v", tt.name, got)
		}
		if got := o.remapped(mp); got != tt.remap {
			t.Errorf("%s: remapped = %v", tt.name, got)
		}
	}
}
