package ldapsync_test

// Integration tests run against a throwaway slapd that ldaptest starts for
// each test (install it with `apt-get install -y slapd ldap-utils`; the
// tests skip without it), or against PBXGATE_LDAP_URL (see package
// ldaptest). Run only them with:
//
//	go test -run Integration ./ldapsync/...

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/pbxgate/pbxgate/ldapsync"
	"github.com/pbxgate/pbxgate/ldapsync/ldaptest"
)

// newConfig returns the OpenLDAP preset pointed at s, bound as its sync
// account.
func newConfig(s *ldaptest.Server) ldapsync.Config {
	cfg := ldapsync.PresetOpenLDAP()
	cfg.Name = "test"
	cfg.Tenant = "tenant-1"
	cfg.URL = s.URL
	cfg.BindDN = s.SyncDN
	cfg.BindPassword = ldapsync.Secret(s.SyncPassword)
	cfg.BaseDN = s.BaseDN
	cfg.RequestTimeout = 30 * time.Second
	return cfg
}

func connect(t testing.TB, cfg ldapsync.Config) *ldapsync.Client {
	t.Helper()
	c, err := ldapsync.Connect(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// readAll reads with mode and returns the entries by UserName.
func readAll(t testing.TB, c *ldapsync.Client, mode ldapsync.Mode) (map[string]ldapsync.Entry, ldapsync.ReadResult, error) {
	t.Helper()
	got := map[string]ldapsync.Entry{}
	res, err := c.ReadUsers(context.Background(), mode, func(e ldapsync.Entry) error {
		if _, dup := got[e.UserName]; dup {
			t.Errorf("user %q handed out twice", e.UserName)
		}
		got[e.UserName] = e
		return nil
	})
	return got, res, err
}

// mustReadAll is readAll for reads that must be complete.
func mustReadAll(t testing.TB, c *ldapsync.Client, mode ldapsync.Mode) (map[string]ldapsync.Entry, ldapsync.ReadResult) {
	t.Helper()
	got, res, err := readAll(t, c, mode)
	if err != nil || !res.Complete {
		t.Fatalf("ReadUsers: complete=%v err=%v", res.Complete, err)
	}
	if res.Entries != len(got) {
		t.Errorf("ReadResult.Entries = %d, handed out %d", res.Entries, len(got))
	}
	return got, res
}

// writeUsers writes n inetOrgPerson users (user000000...) below
// ou=people,base, and groups dept00..dept09 (groupOfNames) each holding the
// users whose number ends in its digit, all inside cn=everyone.
func writeUsers(w io.Writer, base string, n int) error {
	for i := range n {
		_, err := fmt.Fprintf(w, "dn: uid=user%06d,ou=people,%s\nobjectClass: inetOrgPerson\nobjectClass: AsteriskExtension\n"+
			"uid: user%06d\ncn: User %d\ngivenName: User\nsn: Number %d\nmail: user%06d@example.org\n"+
			"telephoneNumber: +41 44 555 %04d\nAstExtension: %d\ntitle: Agent\n\n",
			i, base, i, i, i, i, i%10000, 100000+i)
		if err != nil {
			return err
		}
	}
	for g := range 10 {
		if _, err := fmt.Fprintf(w, "dn: cn=dept%02d,ou=groups,%s\nobjectClass: groupOfNames\ncn: dept%02d\n", g, base, g); err != nil {
			return err
		}
		members := 0
		for i := g; i < n; i += 10 {
			members++
			if _, err := fmt.Fprintf(w, "member: uid=user%06d,ou=people,%s\n", i, base); err != nil {
				return err
			}
		}
		if members == 0 { // groupOfNames needs a member
			fmt.Fprintf(w, "member: %s\n", base)
		}
		fmt.Fprintln(w)
	}
	_, err := fmt.Fprintf(w, "dn: cn=everyone,ou=groups,%s\nobjectClass: groupOfNames\ncn: everyone\n", base)
	for g := range 10 {
		fmt.Fprintf(w, "member: cn=dept%02d,ou=groups,%s\n", g, base)
	}
	fmt.Fprintln(w)
	return err
}

func bulkUsers(n int) func(io.Writer, string) error {
	return func(w io.Writer, base string) error { return writeUsers(w, base, n) }
}

func TestIntegrationReadUsersPaged(t *testing.T) {
	const n = 1234 // more than the page sizes and than slapd's 500 size limit
	s := ldaptest.Start(t, ldaptest.Options{UnlimitedSync: true, Bulk: bulkUsers(n)})
	for _, pageSize := range []int{100, ldapsync.DefaultPageSize, 1000} {
		t.Run(fmt.Sprintf("pageSize=%d", pageSize), func(t *testing.T) {
			cfg := newConfig(s)
			cfg.PageSize = pageSize
			c := connect(t, cfg)
			got, res := mustReadAll(t, c, ldapsync.Full())
			if res.Entries != n || !res.Full || res.Groups != 11 || res.Skipped != 0 {
				t.Errorf("result %+v", res)
			}
			// groups (1 page) + disabled users (1 page) + users
			if wantPages := 2 + (n+pageSize-1)/pageSize; res.Pages != wantPages {
				t.Errorf("Pages = %d, want %d", res.Pages, wantPages)
			}
			ids := map[string]bool{}
			for _, e := range got {
				if len(e.ExternalID) != 36 || ids[e.ExternalID] {
					t.Fatalf("ExternalID %q missing or not unique", e.ExternalID)
				}
				ids[e.ExternalID] = true
			}
			u := got["user000123"]
			want := ldapsync.Entry{
				ExternalID: u.ExternalID,
				DN:         "uid=user000123," + s.PeopleDN,
				UserName:   "user000123", GivenName: "User", FamilyName: "Number 123",
				Emails:    []string{"user000123@example.org"},
				Extension: "100123",
				Phones:    ldapsync.Phones{Work: []string{"+41 44 555 0123"}},
				Title:     "Agent",
				Groups:    []string{"cn=dept03,ou=groups," + s.BaseDN, "cn=everyone,ou=groups," + s.BaseDN},
				Changed:   u.Changed,
			}
			if !reflect.DeepEqual(u, want) {
				t.Errorf("entry\n%+v\nwant\n%+v", u, want)
			}
			if res.Cursor == "" || u.Changed == "" {
				t.Errorf("no cursor (%q) or modifyTimestamp (%q)", res.Cursor, u.Changed)
			}
		})
	}
}

func TestIntegrationReadUsersSizeLimit(t *testing.T) {
	// The sync account is not exempt from slapd's default size limit (500),
	// which also caps the total of a paged search: the read must say so and
	// never claim to be complete.
	s := ldaptest.Start(t, ldaptest.Options{Bulk: bulkUsers(1234)})
	for _, pageSize := range []int{100, 500} {
		t.Run(fmt.Sprintf("pageSize=%d", pageSize), func(t *testing.T) {
			cfg := newConfig(s)
			cfg.PageSize = pageSize
			c := connect(t, cfg)
			_, res, err := readAll(t, c, ldapsync.Full())
			if err == nil || res.Complete {
				t.Fatalf("complete=%v err=%v after reading %d users", res.Complete, err, res.Entries)
			}
			t.Logf("error: %v", err)
			if !errors.Is(err, ldapsync.ErrSizeLimit) || !ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
				t.Errorf("error does not wrap ErrSizeLimit and the LDAP error: %v", err)
			}
			want := fmt.Sprintf(`read users: page %d: the server stopped after 500 entries because %q hit its size limit; `+
				`allow it to page past the limit (OpenLDAP: limits dn.exact=%q size.prtotal=unlimited): size limit exceeded: `,
				500/pageSize+1, s.SyncDN, s.SyncDN)
			if !strings.HasPrefix(err.Error(), want) {
				t.Errorf("error:\n%v\nwant prefix\n%s", err, want)
			}
			if res.Entries != 500 || res.Cursor != "" || res.Err != err {
				t.Errorf("result %+v", res)
			}
		})
	}
}

func TestIntegrationNonASCII(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.Options{UnlimitedSync: true})
	s.AddLDIF(t, `dn: cn=Jürgen Łącki,`+s.PeopleDN+`
objectClass: inetOrgPerson
objectClass: AsteriskExtension
uid: jlacki
cn: Jürgen Łącki
givenName: Jürgen
sn: Łącki
displayName: Jürgen Łącki (Zürich)
l: Zürich
mail: j.lacki@buecher.example
AstExtension: 201

dn: uid=yamada,`+s.PeopleDN+`
objectClass: inetOrgPerson
uid: yamada
cn:: 5bGx55SwIOWkqumDjg==
givenName: 太郎
sn: 山田
displayName: 山田 太郎
title: 営業部長

dn: cn=Ventes Genève,`+s.GroupsDN+`
objectClass: groupOfNames
cn: Ventes Genève
member: cn=Jürgen Łącki,`+s.PeopleDN+`
member: UID=Yamada,`+s.PeopleDN+`
`)
	c := connect(t, newConfig(s))
	got, _ := mustReadAll(t, c, ldapsync.Full())
	j, y := got["jlacki"], got["yamada"]
	if j.DN != "cn=Jürgen Łącki,"+s.PeopleDN || j.GivenName != "Jürgen" || j.FamilyName != "Łącki" ||
		j.DisplayName != "Jürgen Łącki (Zürich)" || j.Location != "Zürich" || !slices.Equal(j.Emails, []string{"j.lacki@buecher.example"}) {
		t.Errorf("jlacki = %+v", j)
	}
	if y.GivenName != "太郎" || y.FamilyName != "山田" || y.DisplayName != "山田 太郎" || y.Title != "営業部長" {
		t.Errorf("yamada = %+v", y)
	}
	wantGroups := []string{"cn=Ventes Genève," + s.GroupsDN}
	if !slices.Equal(j.Groups, wantGroups) || !slices.Equal(y.Groups, wantGroups) {
		t.Errorf("groups %q, %q; want %q", j.Groups, y.Groups, wantGroups)
	}
	again, _ := mustReadAll(t, c, ldapsync.Full())
	if again["jlacki"].Hash() != j.Hash() || again["yamada"].Hash() != y.Hash() {
		t.Error("Hash not stable across reads")
	}
}

func TestIntegrationIdentitySurvivesRenameAndMove(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.Options{UnlimitedSync: true})
	s.AddLDIF(t, `dn: ou=sales,`+s.BaseDN+`
objectClass: organizationalUnit
ou: sales

dn: uid=anna,`+s.PeopleDN+`
objectClass: inetOrgPerson
uid: anna
cn: Anna Alt
sn: Alt
`)
	c := connect(t, newConfig(s))
	before, _ := mustReadAll(t, c, ldapsync.Full())
	anna := before["anna"]

	admin := s.Conn(t)
	// Rename (modrdn, the old RDN value is dropped), as for a marriage.
	if err := admin.ModifyDN(ldap.NewModifyDNRequest("uid=anna,"+s.PeopleDN, "uid=anna.neu", true, "")); err != nil {
		t.Fatal(err)
	}
	renamed, _ := mustReadAll(t, c, ldapsync.Full())
	r := renamed["anna.neu"]
	if r.ExternalID != anna.ExternalID || r.DN != "uid=anna.neu,"+s.PeopleDN || r.Hash() == anna.Hash() {
		t.Errorf("after rename: %+v (before %+v)", r, anna)
	}
	// Move to another OU.
	if err := admin.ModifyDN(ldap.NewModifyDNRequest("uid=anna.neu,"+s.PeopleDN, "uid=anna.neu", true, "ou=sales,"+s.BaseDN)); err != nil {
		t.Fatal(err)
	}
	moved, _ := mustReadAll(t, c, ldapsync.Full())
	m := moved["anna.neu"]
	if m.ExternalID != anna.ExternalID || m.DN != "uid=anna.neu,ou=sales,"+s.BaseDN {
		t.Errorf("after move: %+v (before %+v)", m, anna)
	}
	if len(before) != 1 || len(renamed) != 1 || len(moved) != 1 {
		t.Errorf("user count %d, %d, %d", len(before), len(renamed), len(moved))
	}
}

func TestIntegrationDisabled(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.Options{UnlimitedSync: true})
	s.AddLDIF(t, `dn: uid=active,`+s.PeopleDN+`
objectClass: inetOrgPerson
uid: active
cn: Active
sn: Active

dn: uid=locked,`+s.PeopleDN+`
objectClass: inetOrgPerson
uid: locked
cn: Locked by an admin
sn: Locked
pwdAccountLockedTime: 000001010000Z

dn: uid=lockedout,`+s.PeopleDN+`
objectClass: inetOrgPerson
uid: lockedout
cn: Temporarily locked out after bad passwords
sn: Lockedout
pwdAccountLockedTime: 20261123101500Z

dn: uid=leaver,`+s.PeopleDN+`
objectClass: inetOrgPerson
uid: leaver
cn: Leaver
sn: Leaver
employeeType: disabled
`)
	disabledUsers := func(cfg ldapsync.Config) []string {
		got, res := mustReadAll(t, connect(t, cfg), ldapsync.Full())
		var out []string
		for name, e := range got {
			if e.Disabled {
				out = append(out, name)
			}
		}
		slices.Sort(out)
		if res.Disabled != len(out) || res.Entries != 4 {
			t.Errorf("result %+v", res)
		}
		return out
	}
	// The preset: only an administrative ppolicy lock disables.
	if got := disabledUsers(newConfig(s)); !slices.Equal(got, []string{"locked"}) {
		t.Errorf("preset: disabled %q, want [locked]", got)
	}
	cfg := newConfig(s)
	cfg.DisabledFilter = "(|(employeeType=disabled)(pwdAccountLockedTime=000001010000Z))"
	if got := disabledUsers(cfg); !slices.Equal(got, []string{"leaver", "locked"}) {
		t.Errorf("custom filter: disabled %q", got)
	}
	cfg.DisabledFilter = ""
	if got := disabledUsers(cfg); len(got) != 0 {
		t.Errorf("no filter: disabled %q", got)
	}
}

func TestIntegrationNestedGroups(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.Options{UnlimitedSync: true})
	p, g := s.PeopleDN, s.GroupsDN
	var ldif strings.Builder
	for _, u := range []string{"alice", "bob", "carol", "dave", "erin"} {
		fmt.Fprintf(&ldif, "dn: uid=%s,%s\nobjectClass: inetOrgPerson\nobjectClass: posixAccount\nuid: %s\ncn: %s\nsn: %s\n"+
			"uidNumber: 1000\ngidNumber: 1000\nhomeDirectory: /home/%s\n\n", u, p, u, u, u, u)
	}
	fmt.Fprintf(&ldif, `dn: cn=all,%[2]s
objectClass: groupOfNames
cn: all
member: cn=sales,%[2]s

dn: cn=sales,%[2]s
objectClass: groupOfNames
cn: sales
member: uid=alice,%[1]s
member: cn=emea,%[2]s

dn: cn=emea,%[2]s
objectClass: groupOfUniqueNames
cn: emea
uniqueMember: uid=bob,%[1]s

dn: cn=ops,%[2]s
objectClass: posixGroup
cn: ops
gidNumber: 2000
memberUid: carol

dn: cn=loop-a,%[2]s
objectClass: groupOfNames
cn: loop-a
member: cn=loop-b,%[2]s
member: uid=dave,%[1]s

dn: cn=loop-b,%[2]s
objectClass: groupOfNames
cn: loop-b
member: cn=loop-a,%[2]s
`, p, g)
	s.AddLDIF(t, ldif.String())

	cfg := newConfig(s)
	cfg.GroupMappings = []ldapsync.GroupMapping{
		{Group: "cn=all," + g, Profiles: []string{"agent"}},
		{Group: "emea", Teams: []string{"emea-queue"}},
	}
	done := make(chan struct{})
	var got map[string]ldapsync.Entry
	var res ldapsync.ReadResult
	go func() { // a cycle that did not terminate would hang here
		defer close(done)
		got, res = mustReadAll(t, connect(t, cfg), ldapsync.Full())
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("read did not finish: group cycle not guarded?")
	}
	want := map[string][]string{
		"alice": {"cn=all," + g, "cn=sales," + g},
		"bob":   {"cn=all," + g, "cn=emea," + g, "cn=sales," + g},
		"carol": {"cn=ops," + g},
		"dave":  {"cn=loop-a," + g, "cn=loop-b," + g},
		"erin":  nil,
	}
	for u, groups := range want {
		if !slices.Equal(got[u].Groups, groups) {
			t.Errorf("%s: groups %q, want %q", u, got[u].Groups, groups)
		}
	}
	if res.Groups != 6 {
		t.Errorf("Groups = %d, want 6", res.Groups)
	}
	profiles, teams := cfg.MapGroups(got["bob"].Groups)
	if !slices.Equal(profiles, []string{"agent"}) || !slices.Equal(teams, []string{"emea-queue"}) {
		t.Errorf("bob maps to %q, %q", profiles, teams)
	}
}

func TestIntegrationIncremental(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.Options{UnlimitedSync: true, Bulk: bulkUsers(50)})
	// modifyTimestamp has one-second resolution and a cursor is the highest
	// timestamp seen minus the read's duration: make the bulk load at least
	// two seconds older than the marker change, so the cursor lies between.
	time.Sleep(2100 * time.Millisecond)
	admin := s.Conn(t)
	modify := func(uid, title string) {
		t.Helper()
		req := ldap.NewModifyRequest("uid="+uid+","+s.PeopleDN, nil)
		req.Replace("title", []string{title})
		if err := admin.Modify(req); err != nil {
			t.Fatal(err)
		}
	}
	modify("user000000", "marker")
	c := connect(t, newConfig(s))
	_, full := mustReadAll(t, c, ldapsync.Full())
	if full.Cursor == "" || full.Entries != 50 {
		t.Fatalf("full read %+v", full)
	}

	onlyMarker, _ := mustReadAll(t, c, ldapsync.Since(full.Cursor))
	if keys := sortedKeys(onlyMarker); !slices.Equal(keys, []string{"user000000"}) {
		t.Errorf("right after the full read, Since(%s) returned %q, want only the last change", full.Cursor, keys)
	}

	modify("user000007", "Supervisor")
	modify("user000009", "Supervisor")
	s.AddLDIF(t, "dn: uid=newbie,"+s.PeopleDN+"\nobjectClass: inetOrgPerson\nuid: newbie\ncn: Newbie\nsn: Newbie\n")
	got, inc := mustReadAll(t, c, ldapsync.Since(full.Cursor))
	if keys := sortedKeys(got); !slices.Equal(keys, []string{"newbie", "user000000", "user000007", "user000009"}) {
		t.Errorf("Since(%s) returned %q", full.Cursor, keys)
	}
	if got["user000007"].Title != "Supervisor" || inc.Full || inc.Cursor < full.Cursor {
		t.Errorf("incremental result %+v, user000007 %+v", inc, got["user000007"])
	}
	// Group membership comes from the full group read, also incrementally.
	if !slices.Contains(got["user000007"].Groups, "cn=dept07,ou=groups,"+s.BaseDN) {
		t.Errorf("user000007 groups %q", got["user000007"].Groups)
	}
	if _, _, err := readAll(t, c, ldapsync.Since("not-a-time")); err == nil {
		t.Error("bad cursor accepted")
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func TestIntegrationServerKilledMidRead(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.Options{Local: true, UnlimitedSync: true, Bulk: bulkUsers(300)})
	cfg := newConfig(s)
	cfg.PageSize = 50
	c := connect(t, cfg)
	seen := 0
	res, err := c.ReadUsers(context.Background(), ldapsync.Full(), func(e ldapsync.Entry) error {
		seen++
		if seen == 10 {
			s.Kill(t)
		}
		return nil
	})
	if err == nil || res.Complete {
		t.Fatalf("complete=%v err=%v after the server died", res.Complete, err)
	}
	t.Logf("error: %v", err)
	// The first page was in memory when slapd died; the second one fails.
	if res.Entries != 50 || seen != 50 || res.Cursor != "" {
		t.Errorf("result %+v, fn called %d times", res, seen)
	}
	if !strings.HasPrefix(err.Error(), "read users: page 2") {
		t.Errorf("error %q does not name the page", err)
	}
}

func TestIntegrationCallbackErrorAndCancel(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.Options{UnlimitedSync: true, Bulk: bulkUsers(300)})
	cfg := newConfig(s)
	cfg.PageSize = 50
	c := connect(t, cfg)

	stop := errors.New("store is full")
	n := 0
	res, err := c.ReadUsers(context.Background(), ldapsync.Full(), func(e ldapsync.Entry) error {
		if n++; n == 70 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || res.Complete || res.Entries != 69 {
		t.Fatalf("fn error: complete=%v entries=%d err=%v", res.Complete, res.Entries, err)
	}
	// The abandoned paged search leaves the connection usable.
	if _, res := mustReadAll(t, c, ldapsync.Full()); res.Entries != 300 {
		t.Errorf("second read: %+v", res)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n = 0
	res, err = c.ReadUsers(ctx, ldapsync.Full(), func(e ldapsync.Entry) error {
		if n++; n == 120 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || res.Complete || res.Entries != 120 {
		t.Errorf("cancel: complete=%v entries=%d err=%v", res.Complete, res.Entries, err)
	}
}

func TestIntegrationBindErrors(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.Options{})
	cfg := newConfig(s)
	cfg.BindPassword = "wrong-password-123"
	_, err := ldapsync.Connect(context.Background(), cfg, nil)
	if err == nil || !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
		t.Fatalf("Connect with a wrong password: %v", err)
	}
	if want := fmt.Sprintf("bind %q: ", s.SyncDN); !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "wrong-password-123") {
		t.Errorf("error %q", err)
	}
	cfg = newConfig(s)
	cfg.BindDN = ""
	if _, err := ldapsync.Connect(context.Background(), cfg, nil); !errors.Is(err, ldapsync.ErrInvalidConfig) {
		t.Errorf("Connect with an invalid config: %v", err)
	}
}

func TestIntegrationEntryWithoutExternalID(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.Options{UnlimitedSync: true})
	s.AddLDIF(t, `dn: uid=has,`+s.PeopleDN+`
objectClass: inetOrgPerson
uid: has
cn: Has
sn: Has
employeeNumber: 1001

dn: uid=lacks,`+s.PeopleDN+`
objectClass: inetOrgPerson
uid: lacks
cn: Lacks
sn: Lacks
`)
	cfg := newConfig(s)
	cfg.Attributes.ExternalID = "employeeNumber"
	got, res, err := readAll(t, connect(t, cfg), ldapsync.Full())
	want := fmt.Sprintf(`read users: 1 entries skipped for want of a usable employeeNumber (first "uid=lacks,%s": `+
		`no external ID: employeeNumber is missing); until they are fixed no read is complete`, s.PeopleDN)
	if err == nil || err.Error() != want {
		t.Errorf("error = %v\nwant %s", err, want)
	}
	if res.Complete || res.Skipped != 1 || res.Entries != 1 || got["has"].ExternalID != "1001" || res.Cursor != "" {
		t.Errorf("result %+v, entries %v", res, got)
	}
}
