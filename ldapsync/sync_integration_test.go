package ldapsync_test

// Integration tests of the sync: a throwaway slapd (package ldaptest; the
// tests skip without slapd) synced into a SQLite store in t.TempDir().
//
//	go test -run IntegrationSync ./ldapsync/

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pbxgate/pbxgate/ldapsync"
	"github.com/pbxgate/pbxgate/ldapsync/ldaptest"
	"github.com/pbxgate/pbxgate/pbxusers"
	"github.com/pbxgate/pbxgate/pbxusers/sqlite"
)

const tenantID = "tenant-1" // newConfig's tenant

// newDirectory returns a Directory over a fresh SQLite file with the tenant
// the configs sync into (region CH, for national phone numbers).
func newDirectory(t testing.TB) *pbxusers.Directory {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "pbx.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	dir := pbxusers.New(store, pbxusers.Options{PasswordCost: 4})
	if _, err := dir.CreateTenant(ctx, pbxusers.Tenant{ID: tenantID, Region: "CH"}); err != nil {
		t.Fatal(err)
	}
	return dir
}

func newSyncer(t testing.TB, dir *pbxusers.Directory, cfg ldapsync.Config) *ldapsync.Syncer {
	t.Helper()
	return ldapsync.New(dir, cfg, ldapsync.Options{Logger: slog.New(slog.NewTextHandler(t.Output(), nil)), BatchN: 50})
}

// mustSync runs a sync that must succeed.
func mustSync(t testing.TB, sy *ldapsync.Syncer, opts ldapsync.RunOptions) ldapsync.Result {
	t.Helper()
	res, err := sy.Run(context.Background(), opts)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.Run.Status != pbxusers.SyncOK || res.Plan.Status != pbxusers.SyncOK {
		t.Fatalf("run status %s / %s: %s", res.Run.Status, res.Plan.Status, res.Plan.Message)
	}
	return res
}

// users returns every user of the tenant by userName.
func users(t testing.TB, dir *pbxusers.Directory) map[string]pbxusers.User {
	t.Helper()
	out := map[string]pbxusers.User{}
	for offset := 0; ; offset += pbxusers.MaxPageSize {
		page, err := dir.ListUsers(context.Background(), tenantID, pbxusers.UserQuery{Offset: offset, Limit: pbxusers.MaxPageSize})
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range page.Users {
			out[u.UserName] = u
		}
		if offset+len(page.Users) >= page.Total || len(page.Users) == 0 {
			return out
		}
	}
}

func counts(r ldapsync.Result) ldapsync.Counts { return r.Plan.Counts }

// person is LDIF for an inetOrgPerson with AD-style account flags.
func person(uid, peopleDN string, extra ...string) string {
	return fmt.Sprintf("dn: uid=%s,%s\nobjectClass: inetOrgPerson\nobjectClass: AsteriskExtension\nobjectClass: ADAccount\n"+
		"uid: %s\ncn: %s\nsn: %s\nuserAccountControl: 512\n%s\n\n", uid, peopleDN, uid, uid, uid, strings.Join(extra, "\n"))
}

func modify(t testing.TB, conn *ldap.Conn, dn string, attrValues ...string) {
	t.Helper()
	req := ldap.NewModifyRequest(dn, nil)
	for i := 0; i+1 < len(attrValues); i += 2 {
		req.Replace(attrValues[i], []string{attrValues[i+1]})
	}
	if err := conn.Modify(req); err != nil {
		t.Fatalf("modify %s: %v", dn, err)
	}
}

// seedOrg adds anna (manager of bob), bob and carol, and groups: sales
// (anna, bob) inside staff, and support (carol).
func seedOrg(t testing.TB, s *ldaptest.Server) {
	t.Helper()
	p, g := s.PeopleDN, s.GroupsDN
	s.AddLDIF(t, person("bob", p, "givenName: Bob", "sn: Builder", "mail: bob@example.org",
		"manager: uid=anna,"+p, "AstExtension: 202", "telephoneNumber: 044 555 02 02")+
		person("anna", p, "givenName: Anna", "displayName: Anna Alt", "mail: anna@example.org",
			"mail: a.alt@example.org", "AstExtension: 201", "telephoneNumber: +41 44 555 02 01",
			"mobile: +41 79 555 02 01", "title: Head of Sales", "l: Zürich", "preferredLanguage: de-CH",
			"departmentNumber: Sales")+
		person("carol", p, "givenName: Carol", "mail: carol@example.org", "AstExtension: 203")+
		fmt.Sprintf("dn: cn=sales,%[2]s\nobjectClass: groupOfNames\ncn: sales\nmember: uid=anna,%[1]s\nmember: uid=bob,%[1]s\n\n"+
			"dn: cn=staff,%[2]s\nobjectClass: groupOfNames\ncn: staff\nmember: cn=sales,%[2]s\n\n"+
			"dn: cn=support,%[2]s\nobjectClass: groupOfNames\ncn: support\nmember: uid=carol,%[1]s\n", p, g))
}

// orgConfig maps staff to the agent profile, sales and support to teams.
func orgConfig(s *ldaptest.Server) ldapsync.Config {
	cfg := newConfig(s)
	cfg.GroupMappings = []ldapsync.GroupMapping{
		{Group: "staff", Profiles: []string{"agent"}},
		{Group: "cn=sales," + s.GroupsDN, Teams: []string{"Sales"}},
		{Group: "support", Teams: []string{"Support"}, Profiles: []string{"agent"}},
	}
	return cfg
}

func createProfileAndTeams(t testing.TB, dir *pbxusers.Directory) (profile string, teams map[string]string) {
	t.Helper()
	ctx := context.Background()
	p, err := dir.CreateProfile(ctx, tenantID, pbxusers.Profile{Name: "agent"})
	if err != nil {
		t.Fatal(err)
	}
	teams = map[string]string{}
	for _, name := range []string{"Sales", "Support"} {
		tm, err := dir.CreateTeam(ctx, tenantID, pbxusers.Team{Name: name}, nil)
		if err != nil {
			t.Fatal(err)
		}
		teams[name] = tm.ID
	}
	return p.ID, teams
}

func TestIntegrationSyncInitialFull(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.Options{UnlimitedSync: true})
	seedOrg(t, s)
	dir := newDirectory(t)
	profile, teams := createProfileAndTeams(t, dir)
	sy := newSyncer(t, dir, orgConfig(s))

	var stages []string
	res := mustSync(t, sy, ldapsync.RunOptions{Progress: func(stage string, done, total int) {
		if len(stages) == 0 || stages[len(stages)-1] != stage {
			stages = append(stages, stage)
		}
	}})
	if c := counts(res); c.Read != 3 || c.Created != 3 || c.Updated != 0 || c.Conflicts != 0 || c.Errors != 0 {
		t.Fatalf("counts %+v, errors %q", c, res.Plan.Errors)
	}
	if !slices.Contains(stages, ldapsync.StageLoad) || !slices.Contains(stages, ldapsync.StageRead) || !slices.Contains(stages, ldapsync.StageApply) {
		t.Errorf("progress stages %q", stages)
	}
	got := users(t, dir)
	anna, bob, carol := got["anna"], got["bob"], got["carol"]
	read, _ := mustReadAll(t, connect(t, newConfig(s)), ldapsync.Full())
	if anna.Owner.Source != pbxusers.SourceLDAP || anna.Owner.Directory != "test" || anna.Owner.ExternalID != read["anna"].ExternalID ||
		anna.Owner.Hash == "" || anna.Owner.Synced["extension"] != "201" {
		t.Errorf("anna owner %+v", anna.Owner)
	}
	if anna.Name.Given != "Anna" || anna.Name.Family != "anna" || anna.DisplayName != "Anna Alt" || anna.Extension != "201" ||
		anna.Title != "Head of Sales" || anna.Location != "Zürich" || anna.Language != "de-CH" || anna.Enterprise.Department != "Sales" {
		t.Errorf("anna fields %+v", anna)
	}
	wantEmails := []pbxusers.Email{{Value: "anna@example.org", Type: "work", Primary: true}, {Value: "a.alt@example.org", Type: "work"}}
	if !slices.Equal(anna.Emails, wantEmails) {
		t.Errorf("anna emails %+v", anna.Emails)
	}
	wantPhones := []pbxusers.PhoneNumber{{Number: "+41445550201", Type: "work", Primary: true}, {Number: "+41795550201", Type: "mobile"}}
	if !slices.Equal(anna.PhoneNumbers, wantPhones) {
		t.Errorf("anna phones %+v", anna.PhoneNumbers)
	}
	if bob.PhoneNumbers[0].Number != "+41445550202" { // national number read with the tenant's region
		t.Errorf("bob phones %+v", bob.PhoneNumbers)
	}
	if bob.ManagerID != anna.ID || anna.ManagerID != "" {
		t.Errorf("bob's manager %q, want anna %q", bob.ManagerID, anna.ID)
	}
	if !slices.Equal(anna.Profiles, []string{profile}) || !slices.Equal(anna.Teams, []string{teams["Sales"]}) ||
		!slices.Equal(carol.Profiles, []string{profile}) || !slices.Equal(carol.Teams, []string{teams["Support"]}) {
		t.Errorf("profiles/teams: anna %q %q, carol %q %q", anna.Profiles, anna.Teams, carol.Profiles, carol.Teams)
	}
	if anna.Status != pbxusers.StatusActive || anna.Password.Mode != pbxusers.PasswordInvite || anna.Password.IsSet {
		t.Errorf("anna status %s password %+v", anna.Status, anna.Password)
	}
	mails, err := dir.ListMail(context.Background(), tenantID, pbxusers.MailQuery{})
	if err != nil {
		t.Fatal(err)
	}
	welcomed := map[string]bool{}
	for _, m := range mails {
		if m.Kind == pbxusers.MailWelcome {
			welcomed[m.To] = true
		}
	}
	if len(welcomed) != 3 || !welcomed["anna@example.org"] {
		t.Errorf("welcome mails to %v", welcomed)
	}
	changes, err := dir.Changes(context.Background(), tenantID, pbxusers.ChangeQuery{Entity: "user", EntityID: anna.ID})
	if err != nil || len(changes) == 0 || changes[0].Actor != (pbxusers.Actor{Source: pbxusers.SourceLDAP, Name: "test"}) {
		t.Errorf("anna's changes %+v, %v", changes, err)
	}

	runs, err := sy.History(context.Background(), 10)
	if err != nil || len(runs) != 1 {
		t.Fatalf("history %+v, %v", runs, err)
	}
	if r := runs[0]; r.Status != pbxusers.SyncOK || r.Mode != "full" || r.Read != 3 || r.Created != 3 || r.Finished == nil || r.DryRun {
		t.Errorf("history record %+v", r)
	}

	// Nothing changed: nothing is written.
	again := mustSync(t, sy, ldapsync.RunOptions{})
	if c := counts(again); c.Unchanged != 3 || c.Created+c.Updated+c.Deactivated+c.Reactivated != 0 || len(again.Plan.Actions) != 0 {
		t.Errorf("second run %+v", c)
	}
	if after := users(t, dir); after["anna"].Version != anna.Version || after["bob"].Version != bob.Version {
		t.Errorf("versions changed: anna %d→%d", anna.Version, after["anna"].Version)
	}
}

func TestIntegrationSyncChangeRenameMove(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.Options{UnlimitedSync: true})
	seedOrg(t, s)
	s.AddLDIF(t, "dn: ou=sales,"+s.BaseDN+"\nobjectClass: organizationalUnit\nou: sales\n")
	dir := newDirectory(t)
	createProfileAndTeams(t, dir)
	sy := newSyncer(t, dir, orgConfig(s))
	mustSync(t, sy, ldapsync.RunOptions{})
	before := users(t, dir)
	admin := s.Conn(t)

	modify(t, admin, "uid=carol,"+s.PeopleDN, "title", "Support Lead", "mail", "carol.c@example.org")
	// Rename bob (the old RDN value goes), and move anna to another OU.
	if err := admin.ModifyDN(ldap.NewModifyDNRequest("uid=bob,"+s.PeopleDN, "uid=robert", true, "")); err != nil {
		t.Fatal(err)
	}
	if err := admin.ModifyDN(ldap.NewModifyDNRequest("uid=anna,"+s.PeopleDN, "uid=anna", true, "ou=sales,"+s.BaseDN)); err != nil {
		t.Fatal(err)
	}
	// Group members and manager follow, as AD (and slapo-refint) do.
	modify(t, admin, "uid=robert,"+s.PeopleDN, "manager", "uid=anna,ou=sales,"+s.BaseDN)
	groups := ldap.NewModifyRequest("cn=sales,"+s.GroupsDN, nil)
	groups.Replace("member", []string{"uid=anna,ou=sales," + s.BaseDN, "uid=robert," + s.PeopleDN})
	if err := admin.Modify(groups); err != nil {
		t.Fatal(err)
	}
	res := mustSync(t, sy, ldapsync.RunOptions{})
	if c := counts(res); c.Created != 0 || c.Updated != 2 || c.Deactivated != 0 || c.Unchanged != 1 {
		t.Errorf("counts %+v; actions %+v", c, res.Plan.Actions)
	}
	after := users(t, dir)
	if len(after) != 3 {
		t.Fatalf("users %v", slices.Sorted(func(yield func(string) bool) {
			for k := range after {
				if !yield(k) {
					return
				}
			}
		}))
	}
	robert, carol, anna := after["robert"], after["carol"], after["anna"]
	if robert.ID != before["bob"].ID || robert.Owner.ExternalID != before["bob"].Owner.ExternalID {
		t.Errorf("rename created a new user: %s vs %s", robert.ID, before["bob"].ID)
	}
	if carol.ID != before["carol"].ID || carol.Title != "Support Lead" || carol.PrimaryEmail() != "carol.c@example.org" ||
		len(carol.Emails) != 1 {
		t.Errorf("carol %+v", carol)
	}
	// The move changes only the DN: no user field, but the stored hash.
	if anna.ID != before["anna"].ID || anna.Owner.Hash == before["anna"].Owner.Hash || anna.Status != pbxusers.StatusActive ||
		anna.Version != before["anna"].Version+1 || !slices.Equal(anna.Teams, before["anna"].Teams) {
		t.Errorf("anna after move %+v", anna.Owner)
	}
	fields := map[string][]string{}
	for _, a := range res.Plan.Actions {
		fields[a.UserName] = a.Fields
	}
	// robert's manager DN changed, but to the same user.
	if !slices.Equal(fields["robert"], []string{"userName"}) || !slices.Equal(fields["carol"], []string{"emails", "title"}) ||
		fields["anna"] != nil {
		t.Errorf("changed fields %q", fields)
	}
	// bob's manager link survives the manager's move (she has the same id).
	if robert.ManagerID != anna.ID {
		t.Errorf("robert's manager %q, want %q", robert.ManagerID, anna.ID)
	}
}

func TestIntegrationSyncDisableDeleteReactivate(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.Options{UnlimitedSync: true, Bulk: bulkUsers(30)})
	s.AddLDIF(t, "dn: ou=former,"+s.BaseDN+"\nobjectClass: organizationalUnit\nou: former\n")
	s.AddLDIF(t, person("dora", s.PeopleDN, "mail: dora@example.org")+person("emil", s.PeopleDN, "mail: emil@example.org")+
		person("fritz", s.PeopleDN))
	dir := newDirectory(t)
	cfg := newConfig(s)
	cfg.UserBaseDN = s.PeopleDN
	cfg.DisabledFilter = "(userAccountControl:1.2.840.113556.1.4.803:=2)" // AD's ACCOUNTDISABLE bit
	sy := newSyncer(t, dir, cfg)
	if c := counts(mustSync(t, sy, ldapsync.RunOptions{})); c.Created != 33 {
		t.Fatalf("first run %+v", c)
	}
	admin := s.Conn(t)
	modify(t, admin, "uid=dora,"+s.PeopleDN, "userAccountControl", "514") // disabled
	if err := admin.Del(ldap.NewDelRequest("uid=emil,"+s.PeopleDN, nil)); err != nil {
		t.Fatal(err)
	}
	// fritz leaves the searched subtree, as when an account is archived.
	if err := admin.ModifyDN(ldap.NewModifyDNRequest("uid=fritz,"+s.PeopleDN, "uid=fritz", true, "ou=former,"+s.BaseDN)); err != nil {
		t.Fatal(err)
	}
	res := mustSync(t, sy, ldapsync.RunOptions{})
	if c := counts(res); c.Deactivated != 3 || c.Read != 31 {
		t.Fatalf("counts %+v, actions %+v", c, res.Plan.Actions)
	}
	got := users(t, dir)
	for _, name := range []string{"dora", "emil", "fritz"} {
		if u, ok := got[name]; !ok || u.Status != pbxusers.StatusInactive || u.DeactivatedBy != pbxusers.SourceLDAP {
			t.Errorf("%s: %+v (exists %v)", name, u.Status, ok)
		}
	}
	if len(got) != 33 {
		t.Errorf("%d users; the sync must never delete", len(got))
	}
	// Unchanged since: nothing happens.
	if c := counts(mustSync(t, sy, ldapsync.RunOptions{})); c.Deactivated+c.Reactivated+c.Updated != 0 {
		t.Errorf("third run %+v", c)
	}

	// An admin deactivates user000007 by hand: the directory never brings it back.
	ctx := context.Background()
	if _, err := dir.DeactivateUser(ctx, tenantID, got["user000007"].ID); err != nil {
		t.Fatal(err)
	}
	modify(t, admin, "uid=dora,"+s.PeopleDN, "userAccountControl", "512")
	if err := admin.ModifyDN(ldap.NewModifyDNRequest("uid=fritz,ou=former,"+s.BaseDN, "uid=fritz", true, s.PeopleDN)); err != nil {
		t.Fatal(err)
	}
	modify(t, admin, "uid=user000007,"+s.PeopleDN, "title", "Still here")
	res = mustSync(t, sy, ldapsync.RunOptions{})
	if c := counts(res); c.Reactivated != 2 || c.Updated != 1 {
		t.Errorf("back: counts %+v, actions %+v", c, res.Plan.Actions)
	}
	got = users(t, dir)
	if got["dora"].Status != pbxusers.StatusActive || got["fritz"].Status != pbxusers.StatusActive || got["emil"].Status != pbxusers.StatusInactive {
		t.Errorf("after return: dora %s, fritz %s, emil %s", got["dora"].Status, got["fritz"].Status, got["emil"].Status)
	}
	if u := got["user000007"]; u.Status != pbxusers.StatusInactive || u.DeactivatedBy != pbxusers.SourceManual || u.Title != "Still here" {
		t.Errorf("admin-deactivated user: %s by %s, title %q", u.Status, u.DeactivatedBy, u.Title)
	}

	// An admin reactivates emil although the directory still lacks him:
	// the sync leaves that alone.
	if _, err := dir.ActivateUser(ctx, tenantID, got["emil"].ID); err != nil {
		t.Fatal(err)
	}
	if c := counts(mustSync(t, sy, ldapsync.RunOptions{})); c.Deactivated != 0 {
		t.Errorf("admin's reactivation undone: %+v", c)
	}
}

func TestIntegrationSyncAdminEditSurvives(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.Options{UnlimitedSync: true})
	seedOrg(t, s)
	dir := newDirectory(t)
	createProfileAndTeams(t, dir)
	sy := newSyncer(t, dir, orgConfig(s))
	mustSync(t, sy, ldapsync.RunOptions{})
	ctx := context.Background()
	anna := users(t, dir)["anna"]
	// The admin changes the title, adds a home address, an extra profile
	// and the display name.
	extra, err := dir.CreateProfile(ctx, tenantID, pbxusers.Profile{Name: "recording"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dir.ModifyUser(ctx, tenantID, anna.ID, func(u *pbxusers.User) error {
		u.Title = "Chief Sales Officer"
		u.DisplayName = "Anna (admin)"
		u.Emails = append(u.Emails, pbxusers.Email{Value: "anna@home.example", Type: "home"})
		u.Profiles = append(u.Profiles, extra.ID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// The directory changes the display name and the mobile number.
	modify(t, s.Conn(t), "uid=anna,"+s.PeopleDN, "displayName", "Anna Alt-Neu", "mobile", "+41 79 555 99 99")
	res := mustSync(t, sy, ldapsync.RunOptions{})
	if c := counts(res); c.Updated != 1 {
		t.Fatalf("counts %+v", c)
	}
	if a := res.Plan.Actions[0]; !slices.Equal(a.Fields, []string{"displayName", "phoneNumbers.mobile"}) {
		t.Errorf("changed fields %q", a.Fields)
	}
	got := users(t, dir)["anna"]
	if got.Title != "Chief Sales Officer" {
		t.Errorf("the admin's title was undone: %q", got.Title)
	}
	if got.DisplayName != "Anna Alt-Neu" { // the directory changed it after the admin did
		t.Errorf("display name %q", got.DisplayName)
	}
	if !slices.ContainsFunc(got.Emails, func(e pbxusers.Email) bool { return e.Value == "anna@home.example" }) ||
		!slices.Contains(got.Profiles, extra.ID) {
		t.Errorf("admin's address or profile dropped: %+v %q", got.Emails, got.Profiles)
	}
	if !slices.ContainsFunc(got.PhoneNumbers, func(p pbxusers.PhoneNumber) bool { return p.Number == "+41795559999" }) ||
		slices.ContainsFunc(got.PhoneNumbers, func(p pbxusers.PhoneNumber) bool { return p.Number == "+41795550201" }) {
		t.Errorf("phones %+v", got.PhoneNumbers)
	}
}

func TestIntegrationSyncDirectoryDown(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.Options{Local: true, UnlimitedSync: true, Bulk: bulkUsers(300)})
	dir := newDirectory(t)
	cfg := newConfig(s)
	cfg.PageSize = 50
	cfg.RequestTimeout = 5 * time.Second
	sy := newSyncer(t, dir, cfg)
	mustSync(t, sy, ldapsync.RunOptions{})
	admin := s.Conn(t)
	modify(t, admin, "uid=user000299,"+s.PeopleDN, "title", "changed before the outage")

	// slapd dies in the middle of the read.
	killed := false
	res, err := sy.Run(context.Background(), ldapsync.RunOptions{Progress: func(stage string, done, total int) {
		if stage == ldapsync.StageRead && done >= 100 && !killed {
			killed = true
			s.Kill(t)
		}
	}})
	if err == nil || res.Run.Status != pbxusers.SyncFailed || !strings.Contains(res.Run.Message, "nobody was deactivated") {
		t.Fatalf("run during outage: err %v, status %s, message %q", err, res.Run.Status, res.Run.Message)
	}
	t.Logf("message: %s", res.Run.Message)
	for name, u := range users(t, dir) {
		if u.Status != pbxusers.StatusActive {
			t.Errorf("%s deactivated during an outage", name)
		}
	}
	// Down from the start: the connection fails.
	res, err = sy.Run(context.Background(), ldapsync.RunOptions{})
	if err == nil || res.Run.Status != pbxusers.SyncFailed || res.Run.Read != 0 {
		t.Fatalf("run while down: %v, %+v", err, res.Run)
	}

	s.Restart(t)
	res = mustSync(t, sy, ldapsync.RunOptions{})
	if c := counts(res); c.Read != 300 || c.Updated != 1 || c.Deactivated != 0 {
		t.Errorf("after the outage: %+v", c)
	}
	runs, _ := sy.History(context.Background(), 10)
	var statuses []pbxusers.SyncStatus
	for _, r := range runs {
		statuses = append(statuses, r.Status)
	}
	if !slices.Equal(statuses, []pbxusers.SyncStatus{pbxusers.SyncOK, pbxusers.SyncFailed, pbxusers.SyncFailed, pbxusers.SyncOK}) {
		t.Errorf("history statuses %q", statuses)
	}
}

func TestIntegrationSyncGuardEmptyResult(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.Options{UnlimitedSync: true, Bulk: bulkUsers(20)})
	dir := newDirectory(t)
	cfg := newConfig(s)
	mustSync(t, newSyncer(t, dir, cfg), ldapsync.RunOptions{})

	cfg.UserFilter = "(&(objectClass=inetOrgPerson)(uid=nobody-is-called-this))" // a filter edited by mistake
	sy := newSyncer(t, dir, cfg)
	res, err := sy.Run(context.Background(), ldapsync.RunOptions{})
	if !errors.Is(err, ldapsync.ErrBlocked) || res.Run.Status != pbxusers.SyncBlocked {
		t.Fatalf("empty read: err %v, status %s", err, res.Run.Status)
	}
	t.Logf("message: %s", res.Run.Message)
	if !strings.Contains(res.Run.Message, "returned no users") || !strings.Contains(res.Run.Message, "--force") {
		t.Errorf("message %q does not say why and how to proceed", res.Run.Message)
	}
	for name, u := range users(t, dir) {
		if u.Status != pbxusers.StatusActive {
			t.Errorf("%s deactivated by an empty read", name)
		}
	}
	// Forced, the empty directory deactivates everyone.
	res = mustSync(t, sy, ldapsync.RunOptions{Force: true})
	if c := counts(res); c.Deactivated != 20 || !res.Run.Forced {
		t.Errorf("forced: %+v", c)
	}
}

func TestIntegrationSyncGuardShare(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.Options{UnlimitedSync: true, Bulk: bulkUsers(20)})
	dir := newDirectory(t)
	sy := newSyncer(t, dir, newConfig(s))
	mustSync(t, sy, ldapsync.RunOptions{})
	admin := s.Conn(t)
	for i := range 6 { // 30% leave
		if err := admin.Del(ldap.NewDelRequest(fmt.Sprintf("uid=user%06d,%s", i, s.PeopleDN), nil)); err != nil {
			t.Fatal(err)
		}
	}
	modify(t, admin, "uid=user000010,"+s.PeopleDN, "title", "Promoted")

	// A dry run shows what would be withheld.
	dry, err := sy.Run(context.Background(), ldapsync.RunOptions{DryRun: true})
	if !errors.Is(err, ldapsync.ErrBlocked) || dry.Plan.Counts.Withheld != 6 || dry.Plan.Counts.Updated != 1 || !dry.Run.DryRun {
		t.Fatalf("dry run: %v %+v", err, dry.Plan.Counts)
	}

	res, err := sy.Run(context.Background(), ldapsync.RunOptions{})
	if !errors.Is(err, ldapsync.ErrBlocked) || res.Run.Status != pbxusers.SyncBlocked {
		t.Fatalf("30%% missing: err %v, status %s", err, res.Run.Status)
	}
	t.Logf("message: %s", res.Run.Message)
	if !strings.Contains(res.Run.Message, "6 of 20 active users (30.0%)") || !strings.Contains(res.Run.Message, "--force") {
		t.Errorf("message %q", res.Run.Message)
	}
	withheld := 0
	for _, a := range res.Plan.Actions {
		if a.Op == ldapsync.OpDeactivate && a.Withheld {
			withheld++
		}
	}
	if c := counts(res); c.Deactivated != 0 || c.Withheld != 6 || withheld != 6 || c.Updated != 1 {
		t.Errorf("blocked run counts %+v, %d withheld actions", c, withheld)
	}
	inactive := 0
	for _, u := range users(t, dir) {
		if u.Status != pbxusers.StatusActive {
			inactive++
		}
	}
	if inactive != 0 {
		t.Errorf("%d users deactivated by a blocked run", inactive)
	}
	if got := users(t, dir)["user000010"].Title; got != "Promoted" {
		t.Errorf("a blocked run still applies updates; title %q", got)
	}
	// The config flag lets it through, as --force does.
	cfg := newConfig(s)
	cfg.Force = true
	res = mustSync(t, newSyncer(t, dir, cfg), ldapsync.RunOptions{})
	if c := counts(res); c.Deactivated != 6 {
		t.Errorf("forced: %+v", c)
	}
}

func TestIntegrationSyncIncremental(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.Options{UnlimitedSync: true, Bulk: bulkUsers(40)})
	time.Sleep(2100 * time.Millisecond) // see TestIntegrationIncremental
	admin := s.Conn(t)
	modify(t, admin, "uid=user000000,"+s.PeopleDN, "title", "marker")
	dir := newDirectory(t)
	cfg := newConfig(s)
	cfg.FullEvery = time.Hour
	sy := newSyncer(t, dir, cfg)
	first := mustSync(t, sy, ldapsync.RunOptions{})
	if first.Run.Mode != "full" || counts(first).Created != 40 {
		t.Fatalf("first run %s %+v", first.Run.Mode, counts(first))
	}
	st, err := dir.SyncState(context.Background(), tenantID, "test")
	if err != nil || st.Cursor == "" || st.LastFull.IsZero() {
		t.Fatalf("state %+v %v", st, err)
	}

	modify(t, admin, "uid=user000007,"+s.PeopleDN, "title", "Supervisor")
	s.AddLDIF(t, person("newbie", s.PeopleDN, "mail: newbie@example.org"))
	if err := admin.Del(ldap.NewDelRequest("uid=user000003,"+s.PeopleDN, nil)); err != nil {
		t.Fatal(err)
	}
	inc := mustSync(t, sy, ldapsync.RunOptions{})
	c := counts(inc)
	if inc.Run.Mode != "incremental" || c.Read > 5 || c.Created != 1 || c.Updated != 1 || c.Deactivated != 0 || c.Withheld != 0 {
		t.Errorf("incremental %s: %+v", inc.Run.Mode, c)
	}
	if users(t, dir)["user000003"].Status != pbxusers.StatusActive {
		t.Error("an incremental run deactivated a missing user")
	}
	// Nothing changed: the incremental run reads (almost) nothing.
	if c := counts(mustSync(t, sy, ldapsync.RunOptions{})); c.Read > 5 || c.Created+c.Updated+c.Deactivated != 0 {
		t.Errorf("no-change incremental %+v", c)
	}
	// A full run (asked for, or once FullEvery passed) deactivates.
	full := mustSync(t, sy, ldapsync.RunOptions{Full: true})
	if full.Run.Mode != "full" || counts(full).Deactivated != 1 {
		t.Errorf("full %s %+v", full.Run.Mode, counts(full))
	}
}

func TestIntegrationSyncNestedGroups(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.Options{UnlimitedSync: true})
	p, g := s.PeopleDN, s.GroupsDN
	var ldif strings.Builder
	for _, u := range []string{"alice", "bob", "dave", "erin"} {
		ldif.WriteString(person(u, p))
	}
	fmt.Fprintf(&ldif, "dn: cn=all,%[2]s\nobjectClass: groupOfNames\ncn: all\nmember: cn=sales,%[2]s\n\n"+
		"dn: cn=sales,%[2]s\nobjectClass: groupOfNames\ncn: sales\nmember: uid=alice,%[1]s\nmember: cn=emea,%[2]s\n\n"+
		"dn: cn=emea,%[2]s\nobjectClass: groupOfUniqueNames\ncn: emea\nuniqueMember: uid=bob,%[1]s\n\n"+
		"dn: cn=loop-a,%[2]s\nobjectClass: groupOfNames\ncn: loop-a\nmember: cn=loop-b,%[2]s\nmember: uid=dave,%[1]s\n\n"+
		"dn: cn=loop-b,%[2]s\nobjectClass: groupOfNames\ncn: loop-b\nmember: cn=loop-a,%[2]s\n", p, g)
	s.AddLDIF(t, ldif.String())
	dir := newDirectory(t)
	ctx := context.Background()
	team := map[string]string{}
	for _, name := range []string{"Everyone", "EMEA", "Loop"} {
		tm, err := dir.CreateTeam(ctx, tenantID, pbxusers.Team{Name: name}, nil)
		if err != nil {
			t.Fatal(err)
		}
		team[name] = tm.ID
	}
	cfg := newConfig(s)
	cfg.GroupMappings = []ldapsync.GroupMapping{
		{Group: "all", Teams: []string{"Everyone"}},
		{Group: "emea", Teams: []string{"emea"}}, // team names match case-insensitively
		{Group: "loop-b", Teams: []string{"Loop", "Nonexistent"}},
	}
	res := mustSync(t, newSyncer(t, dir, cfg), ldapsync.RunOptions{})
	if len(res.Plan.Errors) != 1 || !strings.Contains(res.Plan.Errors[0], `team "Nonexistent"`) {
		t.Errorf("run errors %q", res.Plan.Errors)
	}
	got := users(t, dir)
	want := map[string][]string{
		"alice": {team["Everyone"]},
		"bob":   {team["Everyone"], team["EMEA"]},
		"dave":  {team["Loop"]},
		"erin":  nil,
	}
	for name, teams := range want {
		if !slices.Equal(got[name].Teams, teams) {
			t.Errorf("%s teams %q, want %q", name, got[name].Teams, teams)
		}
	}
	// Once the missing team exists, dave joins it without any directory change.
	nt, err := dir.CreateTeam(ctx, tenantID, pbxusers.Team{Name: "Nonexistent"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	mustSync(t, newSyncer(t, dir, cfg), ldapsync.RunOptions{})
	if teams := users(t, dir)["dave"].Teams; !slices.Contains(teams, nt.ID) {
		t.Errorf("dave's teams after the team was created: %q", teams)
	}
}

func TestIntegrationSyncPagedAndSizeLimit(t *testing.T) {
	const n = 1234 // more than the page size and slapd's 500 size limit
	t.Run("unlimited", func(t *testing.T) {
		s := ldaptest.Start(t, ldaptest.Options{UnlimitedSync: true, Bulk: bulkUsers(n)})
		dir := newDirectory(t)
		cfg := newConfig(s)
		cfg.PageSize = 200
		res := mustSync(t, ldapsync.New(dir, cfg, ldapsync.Options{}), ldapsync.RunOptions{})
		if c := counts(res); c.Read != n || c.Created != n || len(res.Plan.Actions) != ldapsync.DefaultMaxActionsN ||
			res.Plan.ActionsOmitted != n-ldapsync.DefaultMaxActionsN {
			t.Errorf("counts %+v, %d actions, %d omitted", c, len(res.Plan.Actions), res.Plan.ActionsOmitted)
		}
		if got := len(users(t, dir)); got != n {
			t.Errorf("%d users", got)
		}
	})
	t.Run("limited", func(t *testing.T) {
		s := ldaptest.Start(t, ldaptest.Options{Bulk: bulkUsers(n)})
		dir := newDirectory(t)
		cfg := newConfig(s)
		cfg.BindDN, cfg.BindPassword = s.RootDN, ldapsync.Secret(s.RootPassword) // the rootdn has no limits
		mustSync(t, ldapsync.New(dir, cfg, ldapsync.Options{}), ldapsync.RunOptions{})
		cfg = newConfig(s) // the sync account is capped at 500
		res, err := ldapsync.New(dir, cfg, ldapsync.Options{}).Run(context.Background(), ldapsync.RunOptions{})
		if !errors.Is(err, ldapsync.ErrBlocked) || !errors.Is(err, ldapsync.ErrSizeLimit) || res.Run.Status != pbxusers.SyncBlocked {
			t.Fatalf("size-limited read: %v, %s", err, res.Run.Status)
		}
		t.Logf("message: %s", res.Run.Message)
		if !strings.Contains(res.Run.Message, "size.prtotal=unlimited") || counts(res).Read != 500 || counts(res).Deactivated != 0 {
			t.Errorf("message %q, counts %+v", res.Run.Message, counts(res))
		}
		for name, u := range users(t, dir) {
			if u.Status != pbxusers.StatusActive {
				t.Fatalf("%s deactivated after a partial read", name)
			}
		}
	})
}

func TestIntegrationSyncNonASCII(t *testing.T) {
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
manager: cn=Jürgen Łącki,`+s.PeopleDN+`
`)
	dir := newDirectory(t)
	sy := newSyncer(t, dir, newConfig(s))
	mustSync(t, sy, ldapsync.RunOptions{})
	got := users(t, dir)
	j, y := got["jlacki"], got["yamada"]
	if j.Name.Given != "Jürgen" || j.Name.Family != "Łącki" || j.DisplayName != "Jürgen Łącki (Zürich)" || j.Location != "Zürich" {
		t.Errorf("jlacki %+v", j)
	}
	if y.Name.Given != "太郎" || y.Name.Family != "山田" || y.DisplayName != "山田 太郎" || y.Title != "営業部長" || y.ManagerID != j.ID {
		t.Errorf("yamada %+v", y)
	}
	if c := counts(mustSync(t, sy, ldapsync.RunOptions{})); c.Unchanged != 2 {
		t.Errorf("second run %+v", c)
	}
}

func TestIntegrationSyncConflictWithSCIM(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.Options{UnlimitedSync: true})
	seedOrg(t, s)
	dir := newDirectory(t)
	createProfileAndTeams(t, dir)
	// bob's address is taken by a SCIM user: a conflict only where the
	// tenant wants addresses unique (by default users may share one).
	tn, err := dir.GetTenant(context.Background(), tenantID)
	if err != nil {
		t.Fatal(err)
	}
	tn.UniqueEmails = true
	if _, err := dir.UpdateTenant(context.Background(), tn); err != nil {
		t.Fatal(err)
	}
	scim := pbxusers.WithActor(context.Background(), pbxusers.Actor{Source: pbxusers.SourceSCIM, Name: "okta"})
	anna, err := dir.CreateUser(scim, tenantID, pbxusers.User{UserName: "anna", Title: "from Okta",
		Owner: pbxusers.Owner{ExternalID: "okta-1"}})
	if err != nil {
		t.Fatal(err)
	}
	bob, err := dir.CreateUser(scim, tenantID, pbxusers.User{UserName: "bob.okta",
		Emails: []pbxusers.Email{{Value: "bob@example.org", Primary: true}}})
	if err != nil {
		t.Fatal(err)
	}
	sy := newSyncer(t, dir, orgConfig(s))
	res := mustSync(t, sy, ldapsync.RunOptions{})
	if c := counts(res); c.Created != 1 || c.Conflicts != 2 {
		t.Fatalf("counts %+v", c)
	}
	if len(res.Run.Conflicts) != 2 || !strings.Contains(strings.Join(res.Run.Conflicts, "\n"), "owned by source scim") {
		t.Errorf("run conflicts %q", res.Run.Conflicts)
	}
	t.Logf("conflicts: %q", res.Run.Conflicts)
	got := users(t, dir)
	if a := got["anna"]; a.ID != anna.ID || a.Version != anna.Version || a.Owner.Source != pbxusers.SourceSCIM || a.Title != "from Okta" {
		t.Errorf("the SCIM user was touched: %+v", a)
	}
	if b := got["bob.okta"]; b.Version != bob.Version || got["bob"].ID != "" {
		t.Errorf("bob: scim %+v, ldap %+v", b, got["bob"])
	}
	// carol, whose manager is a conflict, is created; the conflicts are
	// reported again on the next run, and nothing else happens.
	again, _ := sy.Run(context.Background(), ldapsync.RunOptions{})
	if c := counts(again); c.Conflicts != 2 || c.Created != 0 {
		t.Errorf("second run %+v", c)
	}
}

func TestIntegrationSyncConcurrentRunsRefused(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.Options{UnlimitedSync: true, Bulk: bulkUsers(200)})
	dir := newDirectory(t)
	cfg := newConfig(s)
	cfg.PageSize = 50
	first, second := newSyncer(t, dir, cfg), newSyncer(t, dir, cfg) // as the CLI and serve would

	inFirst, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	var firstErr error
	wg.Go(func() {
		_, firstErr = first.Run(context.Background(), ldapsync.RunOptions{Progress: func(stage string, done, total int) {
			if stage == ldapsync.StageRead {
				once.Do(func() { close(inFirst); <-release })
			}
		}})
	})
	<-inFirst
	_, err := second.Run(context.Background(), ldapsync.RunOptions{})
	_, errSame := first.Run(context.Background(), ldapsync.RunOptions{DryRun: true})
	close(release)
	wg.Wait()
	if !errors.Is(err, ldapsync.ErrBusy) || !errors.Is(errSame, ldapsync.ErrBusy) {
		t.Errorf("concurrent runs: %v; same Syncer: %v", err, errSame)
	}
	if firstErr != nil {
		t.Errorf("first run: %v", firstErr)
	}
	// The lease is released: the next run goes.
	mustSync(t, second, ldapsync.RunOptions{})
	runs, _ := second.History(context.Background(), 10)
	if len(runs) != 2 {
		t.Errorf("%d runs recorded, want 2 (refused runs are not recorded)", len(runs))
	}
}

func TestIntegrationSyncDryRun(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.Options{UnlimitedSync: true})
	seedOrg(t, s)
	dir := newDirectory(t)
	createProfileAndTeams(t, dir)
	sy := newSyncer(t, dir, orgConfig(s))
	ctx := context.Background()
	changesBefore, _ := dir.Changes(ctx, tenantID, pbxusers.ChangeQuery{Limit: pbxusers.MaxPageSize})

	res := mustSync(t, sy, ldapsync.RunOptions{DryRun: true})
	if c := counts(res); c.Created != 3 || len(res.Plan.Actions) != 3 || !res.Plan.DryRun || !res.Run.DryRun {
		t.Errorf("dry run plan %+v", res.Plan)
	}
	if got := users(t, dir); len(got) != 0 {
		t.Errorf("dry run created %d users", len(got))
	}
	mails, _ := dir.ListMail(ctx, tenantID, pbxusers.MailQuery{})
	changesAfter, _ := dir.Changes(ctx, tenantID, pbxusers.ChangeQuery{Limit: pbxusers.MaxPageSize})
	st, _ := dir.SyncState(ctx, tenantID, "test")
	if len(mails) != 0 || len(changesAfter) != len(changesBefore) || st.Cursor != "" || !st.LastRun.IsZero() {
		t.Errorf("dry run wrote: %d mails, %d→%d changes, state %+v", len(mails), len(changesBefore), len(changesAfter), st)
	}
	var table bytes.Buffer
	if err := res.Plan.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	t.Logf("table:\n%s", table.String())
	for _, want := range []string{"dry run (nothing written)", "ACTION", "create", "anna", "extension", "created 3", "status: succeeded"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q", want)
		}
	}
	js, err := json.Marshal(res)
	if err != nil || !strings.Contains(string(js), `"op":"create"`) || !strings.Contains(string(js), `"dryRun":true`) {
		t.Errorf("json %s, %v", js, err)
	}
	runs, _ := sy.History(ctx, 10)
	if len(runs) != 1 || !runs[0].DryRun || runs[0].Created != 3 {
		t.Errorf("history %+v", runs)
	}
	// The real run does what the dry run said.
	real := mustSync(t, sy, ldapsync.RunOptions{})
	if counts(real) != counts(res) {
		t.Errorf("real %+v, dry %+v", counts(real), counts(res))
	}
}

func TestIntegrationSyncTest(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.Options{UnlimitedSync: true})
	seedOrg(t, s)
	s.AddLDIF(t, person("zed", s.PeopleDN, "mail: not-an-address", "telephoneNumber: call me"))
	dir := newDirectory(t)
	createProfileAndTeams(t, dir)
	cfg := orgConfig(s)
	cfg.GroupMappings = append(cfg.GroupMappings, ldapsync.GroupMapping{Group: "support", Profiles: []string{"ghost"}})
	rep, err := newSyncer(t, dir, cfg).Test(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := rep.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	t.Logf("report:\n%s", out.String())
	if !rep.Connected || !rep.Complete || rep.Users != 4 || rep.Groups != 3 || len(rep.Samples) != 4 || rep.WithoutExtension != 1 {
		t.Errorf("report %+v", rep)
	}
	text := out.String()
	for _, want := range []string{`profile "ghost"`, `mail "not-an-address"`, `phone "call me"`, "bind: ok"} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if users(t, dir) != nil && len(users(t, dir)) != 0 {
		t.Error("Test wrote users")
	}
	cfg.BindPassword = "wrong-password"
	rep, err = newSyncer(t, dir, cfg).Test(context.Background())
	if err == nil || rep.Connected || strings.Contains(err.Error(), "wrong-password") {
		t.Errorf("wrong password: %v %+v", err, rep)
	}
}

func TestIntegrationSyncMetrics(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.Options{UnlimitedSync: true})
	seedOrg(t, s)
	dir := newDirectory(t)
	reg := prometheus.NewRegistry()
	opts := ldapsync.Options{Registerer: reg}
	// Before any run, the directory's series exist at zero.
	_ = ldapsync.New(dir, newConfig(s), opts)
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	zero := 0
	for _, f := range fams {
		if f.GetName() == "pbxgate_ldap_sync_runs_total" || f.GetName() == "pbxgate_ldap_sync_users_total" {
			for _, m := range f.GetMetric() {
				if m.GetCounter().GetValue() == 0 {
					zero++
				}
			}
		}
	}
	if zero != 3+8 {
		t.Errorf("series at zero before the first run: %d, want 11", zero)
	}
	mustSync(t, ldapsync.New(dir, newConfig(s), opts), ldapsync.RunOptions{})
	mustSync(t, ldapsync.New(dir, newConfig(s), opts), ldapsync.RunOptions{}) // a second Syncer shares the metrics
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			key := f.GetName()
			for _, l := range m.GetLabel() {
				if l.GetName() == "status" || l.GetName() == "action" {
					key += "/" + l.GetValue()
				}
			}
			values[key] += m.GetCounter().GetValue() + m.GetGauge().GetValue() + float64(m.GetHistogram().GetSampleCount())
		}
	}
	if values["pbxgate_ldap_sync_runs_total/succeeded"] != 2 || values["pbxgate_ldap_sync_users_total/created"] != 3 ||
		values["pbxgate_ldap_sync_users_total/unchanged"] != 3 || values["pbxgate_ldap_sync_duration_seconds"] != 2 ||
		values["pbxgate_ldap_sync_last_success_timestamp_seconds"] == 0 {
		t.Errorf("metrics %v", values)
	}
}

func TestIntegrationSyncRefusedValues(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.Options{UnlimitedSync: true})
	s.AddLDIF(t, person("vera", s.PeopleDN, "mail: vera@example.org", "mail: not an address",
		"telephoneNumber: call me", "telephoneNumber: +41 44 555 01 01", "preferredLanguage: !!", "AstExtension: 12ab")+
		person("walt", s.PeopleDN, "mail: walt@example.org", "AstExtension: 301"))
	dir := newDirectory(t)
	sy := newSyncer(t, dir, newConfig(s))
	res := mustSync(t, sy, ldapsync.RunOptions{})
	if c := counts(res); c.Created != 2 || c.Errors == 0 {
		t.Fatalf("counts %+v", c)
	}
	t.Logf("errors: %q", res.Run.Errors)
	all := strings.Join(res.Run.Errors, "\n")
	for _, want := range []string{`"call me"`, `"not an address"`, "language", "extension"} {
		if !strings.Contains(all, want) {
			t.Errorf("errors do not mention %s", want)
		}
	}
	v := users(t, dir)["vera"]
	if v.PrimaryEmail() != "vera@example.org" || len(v.PhoneNumbers) != 1 || v.PhoneNumbers[0].Number != "+41445550101" ||
		v.Language != "" || v.Extension != "" {
		t.Errorf("vera %+v", v)
	}
	// The refused values stay pending: fixed in the directory, they arrive.
	modify(t, s.Conn(t), "uid=vera,"+s.PeopleDN, "AstExtension", "302", "preferredLanguage", "fr-CH")
	res = mustSync(t, sy, ldapsync.RunOptions{})
	if v := users(t, dir)["vera"]; v.Extension != "302" || v.Language != "fr-CH" || counts(res).Updated != 1 {
		t.Errorf("after the fix: vera %q %q, %+v", v.Extension, v.Language, counts(res))
	}
}

func TestIntegrationSyncLeaseRenewedDuringLongRun(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.Options{UnlimitedSync: true, Bulk: bulkUsers(20)})
	dir := newDirectory(t)
	opts := ldapsync.Options{LeaseTTL: 300 * time.Millisecond}
	long, other := ldapsync.New(dir, newConfig(s), opts), ldapsync.New(dir, newConfig(s), opts)
	inRun, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	done := make(chan error, 1)
	go func() {
		_, err := long.Run(context.Background(), ldapsync.RunOptions{Progress: func(string, int, int) {
			once.Do(func() { close(inRun); <-release })
		}})
		done <- err
	}()
	<-inRun
	time.Sleep(time.Second) // three TTLs: without renewal the lease would be gone
	_, err := other.Run(context.Background(), ldapsync.RunOptions{})
	close(release)
	if !errors.Is(err, ldapsync.ErrBusy) {
		t.Errorf("second run during a long one: %v", err)
	}
	if err := <-done; err != nil {
		t.Errorf("long run: %v", err)
	}
}

// A change of groupMappings or of the attribute mapping reaches every user
// on the next full run, also users whose directory entry did not change,
// and the run says that the mapping changed (issue 11).
func TestIntegrationSyncMappingChangeReachesEveryUser(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.Options{UnlimitedSync: true})
	seedOrg(t, s)
	dir := newDirectory(t)
	profile, teams := createProfileAndTeams(t, dir)
	cfg := orgConfig(s)
	first := mustSync(t, newSyncer(t, dir, cfg), ldapsync.RunOptions{})
	if first.Plan.MappingChanged || first.Plan.Counts.Remapped != 0 {
		t.Errorf("first run says the mapping changed: %+v", first.Plan)
	}

	// sales now gives the Support team, staff no longer gives a profile.
	cfg.GroupMappings = []ldapsync.GroupMapping{
		{Group: "cn=sales," + s.GroupsDN, Teams: []string{"Support"}},
		{Group: "support", Teams: []string{"Support"}},
	}
	res := mustSync(t, newSyncer(t, dir, cfg), ldapsync.RunOptions{})
	if c := counts(res); c.Updated != 3 || c.Unchanged != 0 || c.Remapped != 3 || !res.Plan.MappingChanged {
		t.Errorf("after groupMappings changed: counts %+v, mapping changed %v", c, res.Plan.MappingChanged)
	}
	var table bytes.Buffer
	if err := res.Plan.WriteTable(&table); err != nil || !strings.Contains(table.String(), "mapping changed") {
		t.Errorf("table does not say the mapping changed (%v):\n%s", err, table.String())
	}
	got := users(t, dir)
	for _, name := range []string{"anna", "bob", "carol"} {
		if u := got[name]; len(u.Profiles) != 0 || !slices.Equal(u.Teams, []string{teams["Support"]}) {
			t.Errorf("%s: profiles %q teams %q, want none and [Support]", name, u.Profiles, u.Teams)
		}
	}

	again := mustSync(t, newSyncer(t, dir, cfg), ldapsync.RunOptions{})
	if c := counts(again); c.Unchanged != 3 || c.Updated != 0 || c.Remapped != 0 || again.Plan.MappingChanged {
		t.Errorf("same mapping again: counts %+v, mapping changed %v", c, again.Plan.MappingChanged)
	}

	// No groupMappings at all: what the directory gave is taken back, an
	// admin's own profile stays.
	ctx := context.Background()
	if _, err := dir.ModifyUser(ctx, tenantID, got["carol"].ID, func(u *pbxusers.User) error {
		u.Profiles = []string{profile}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	cfg.GroupMappings = nil
	none := mustSync(t, newSyncer(t, dir, cfg), ldapsync.RunOptions{})
	if c := counts(none); c.Updated != 3 || c.Remapped != 3 || !none.Plan.MappingChanged {
		t.Errorf("after groupMappings were removed: counts %+v", c)
	}
	got = users(t, dir)
	for _, name := range []string{"anna", "bob", "carol"} {
		wantProfiles := []string(nil)
		if name == "carol" {
			wantProfiles = []string{profile}
		}
		if u := got[name]; !slices.Equal(u.Profiles, wantProfiles) || len(u.Teams) != 0 {
			t.Errorf("%s: profiles %q teams %q, want %q and none", name, u.Profiles, u.Teams, wantProfiles)
		}
	}

	// An attribute mapping change is a mapping change too.
	cfg.Attributes.Title = ""
	attr := mustSync(t, newSyncer(t, dir, cfg), ldapsync.RunOptions{})
	if c := counts(attr); c.Remapped != 3 || !attr.Plan.MappingChanged {
		t.Errorf("after the title mapping was dropped: counts %+v", c)
	}
}

// With incremental runs configured, the run after a mapping change reads
// everything, so the change does not wait for the next scheduled full run.
func TestIntegrationSyncMappingChangeMakesTheNextRunFull(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.Options{UnlimitedSync: true})
	seedOrg(t, s)
	time.Sleep(1100 * time.Millisecond) // the cursor lies after the seed, see TestIntegrationIncremental
	dir := newDirectory(t)
	createProfileAndTeams(t, dir)
	cfg := orgConfig(s)
	cfg.FullEvery = time.Hour
	if r := mustSync(t, newSyncer(t, dir, cfg), ldapsync.RunOptions{}); r.Run.Mode != "full" {
		t.Fatalf("first run %s", r.Run.Mode)
	}
	if r := mustSync(t, newSyncer(t, dir, cfg), ldapsync.RunOptions{}); r.Run.Mode != "incremental" || r.Plan.MappingChanged {
		t.Fatalf("second run %s, mapping changed %v", r.Run.Mode, r.Plan.MappingChanged)
	}
	cfg.GroupMappings = cfg.GroupMappings[:1] // staff → agent only: no teams
	res := mustSync(t, newSyncer(t, dir, cfg), ldapsync.RunOptions{})
	if c := counts(res); res.Run.Mode != "full" || !res.Plan.MappingChanged || c.Read != 3 || c.Updated != 3 {
		t.Errorf("run after the mapping changed: %s, mapping changed %v, counts %+v", res.Run.Mode, res.Plan.MappingChanged, c)
	}
	for name, u := range users(t, dir) {
		if len(u.Teams) != 0 {
			t.Errorf("%s still in teams %q", name, u.Teams)
		}
	}
	if r := mustSync(t, newSyncer(t, dir, cfg), ldapsync.RunOptions{}); r.Run.Mode != "incremental" {
		t.Errorf("run after that: %s", r.Run.Mode)
	}
}
