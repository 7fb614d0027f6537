// Package copytest fills a store with every kind of object a pbxgate
// installation holds, through pbxusers.Directory, and compares two stores
// object by object: the fixture of the storecopy tests and of the binary's
// "db copy" tests.
package copytest

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// DefaultBulkN is how many extra people Populate creates in tenant "acme"
// unless told otherwise: more than one page (pbxusers.MaxPageSize) so that
// paging is exercised.
const DefaultBulkN = 1100

// Fixture is what Populate made and what a copy must keep working.
type Fixture struct {
	// Tenants are the tenant ids, sorted.
	Tenants []string
	// Tokens maps each live API token (the whole bearer token) to its
	// tenant: after a copy each must authenticate against the target.
	Tokens map[string]string
	// Passwords maps "tenant/userName" to the password set for the user.
	Passwords map[string]string
	// Directories are the LDAP directories that have sync state, as
	// {tenant, name}; "acme"/"hr" has state but no sync run, so only a
	// copy told its name finds it.
	Directories [][2]string
	// ClaimedMail is how many pending messages Populate left claimed by a
	// worker that never finished.
	ClaimedMail int
	// SetupLinks are set-password links issued (a copy cannot carry them).
	SetupLinks []string
}

// Options tune Populate.
type Options struct {
	// BulkN is how many plain people to add to tenant "acme"; 0 means
	// DefaultBulkN, -1 none.
	BulkN int
}

// Populate fills d's store with two tenants and every kind of object:
// profiles (one bound to a team), a time frame, call queues, people with
// managers, queue and team memberships, routing that forwards to users and
// uses the time frame, passwords, an LDAP-owned user, an inactive one,
// devices, numbers, live and revoked tokens, webhooks (one with a failed
// delivery and a worker lease), mail in every status with
// attempts (and one message left claimed), set-password links, sync runs,
// sync state and a lease. Writes to both tenants interleave, so their
// change seqs do too.
func Populate(t testing.TB, d *pbxusers.Directory, opts Options) Fixture {
	t.Helper()
	ctx := context.Background()
	f := Fixture{Tokens: map[string]string{}, Passwords: map[string]string{}}
	must := func(err error) {
		t.Helper()
		require.NoError(t, err)
	}
	tenant := func(tn pbxusers.Tenant) {
		_, err := d.CreateTenant(ctx, tn)
		must(err)
		f.Tenants = append(f.Tenants, tn.ID)
	}
	tenant(pbxusers.Tenant{ID: "acme", Name: "Acme GmbH", TimeZone: "Europe/Berlin", Region: "DE"})
	tenant(pbxusers.Tenant{ID: "globex", Name: "Globex Inc.", TimeZone: "America/New_York", Region: "US"})
	sort.Strings(f.Tenants)

	sup, err := d.CreateProfile(ctx, "acme", pbxusers.Profile{Name: "Supervisor", Description: "Watches live calls",
		Role: pbxusers.RoleSupervisor, Priority: 1,
		Grants: pbxusers.PermissionSet{pbxusers.PermLiveCallMonitoring: pbxusers.Bool(true), pbxusers.PermChatLimit: pbxusers.Limit(10)}})
	must(err)
	agent, err := d.CreateProfile(ctx, "acme", pbxusers.Profile{Name: "Agent", Grants: pbxusers.PermissionSet{pbxusers.PermChatLimit: pbxusers.Limit(3)}})
	must(err)
	_, err = d.CreateProfile(ctx, "globex", pbxusers.Profile{Name: "Agent"})
	must(err)
	hours, err := d.CreateTimeFrame(ctx, "acme", pbxusers.TimeFrame{Name: "Business hours", TimeZone: "Europe/Berlin",
		Entries: []pbxusers.TimeFrameEntry{{Weekly: &pbxusers.Weekly{Days: []time.Weekday{time.Monday, time.Tuesday, time.Friday},
			From: pbxusers.ClockAt(9, 0), To: pbxusers.ClockAt(17, 30)}}}})
	must(err)

	user := func(tenant string, u pbxusers.User) pbxusers.User {
		t.Helper()
		out, err := d.CreateUser(ctx, tenant, u)
		require.NoError(t, err, "create %s", u.UserName)
		return out
	}
	person := func(name, ext string) pbxusers.User {
		return pbxusers.User{UserName: name, Name: pbxusers.Name{Given: "Given " + name, Family: "Family"},
			Emails: []pbxusers.Email{{Value: name + "@example.org", Type: "work", Primary: true}}, Extension: ext}
	}
	queue := user("acme", pbxusers.User{UserName: "sales-queue", Kind: pbxusers.KindCallQueue, Extension: "600",
		Queue: &pbxusers.QueueSettings{Dispatch: "round_robin", MaxWaitSeconds: 90}})
	support := user("acme", pbxusers.User{UserName: "support-queue", Kind: pbxusers.KindCallQueue, Extension: "601"})
	user("globex", person("hank", "100"))
	boss := user("acme", person("boss", "200"))

	a := person("ada", "201")
	a.ManagerID, a.Title, a.Role = boss.ID, "Analyst", pbxusers.RoleSupervisor
	a.Profiles = []string{sup.ID, agent.ID}
	a.Queues = []pbxusers.QueueMembership{{QueueID: queue.ID, Priority: 2, DefaultOutbound: true}, {QueueID: support.ID, Priority: 1}}
	a.PhoneNumbers = []pbxusers.PhoneNumber{{Number: "+4917612345678", Type: pbxusers.PhoneMobile, Primary: true}}
	a.CustomFields = map[string]string{"costCentre": "4711", "badge": "A-1"}
	a.Features = pbxusers.Features{Voicemail: true, MobileApp: true}
	a.Routing = pbxusers.BackupRouting("+4930999999", 0, 0)
	a.Routing.Rules = []pbxusers.AnsweringRule{{ID: "office", Name: "Office", Enabled: true,
		When: pbxusers.Condition{TimeFrames: []string{hours.ID}}}}
	a.Routing.Default.OnBusy = &pbxusers.Destination{Kind: pbxusers.DestUser, Target: boss.ID}
	ada := user("acme", a)
	must(d.SetPassword(ctx, "acme", ada.ID, "ada's long passphrase"))
	f.Passwords["acme/ada"] = "ada's long passphrase"

	hankTok, _, err := d.CreateToken(ctx, "globex", "okta")
	must(err)
	f.Tokens[hankTok] = "globex"

	b := person("bob", "202")
	b.Owner = pbxusers.Owner{Source: pbxusers.SourceLDAP, ExternalID: "3f1c0a2e-0000-4000-8000-000000000202", Directory: "corp",
		Synced: map[string]string{"title": "Engineer", "emails": "bob@example.org"}, Hash: "h:202"}
	b.Title = "Engineer"
	b.ManagerID = ada.ID
	bob := user("acme", b)
	carol := user("acme", person("carol", "203"))
	_, err = d.DeactivateUser(ctx, "acme", carol.ID)
	must(err)
	must(d.SetPassword(ctx, "globex", mustLookup(t, d, "globex", "hank").ID, "hank's long passphrase"))
	f.Passwords["globex/hank"] = "hank's long passphrase"

	team, err := d.CreateTeam(ctx, "acme", pbxusers.Team{Name: "Sales", Profiles: []string{sup.ID}}, []string{ada.ID, bob.ID})
	must(err)
	_, err = d.CreateTeam(ctx, "acme", pbxusers.Team{Name: "Night shift", Owner: pbxusers.Owner{Source: pbxusers.SourceSCIM, ExternalID: "grp-7"}}, nil)
	must(err)
	_, err = d.AddTeamMembers(ctx, "acme", team.ID, []string{carol.ID})
	must(err)

	_, err = d.AddDevice(ctx, "acme", pbxusers.Device{UserID: ada.ID, Kind: pbxusers.DeviceDeskPhone, MAC: "00:1a:2b:3c:4d:5e", Model: "Yealink T54W", Label: "Ada's desk"})
	must(err)
	_, err = d.AddDevice(ctx, "acme", pbxusers.Device{HotDesk: true, Label: "Desk 4"})
	must(err)
	_, err = d.AssignNumber(ctx, "acme", "+4930123456", ada.ID, "Ada direct")
	must(err)
	_, err = d.AssignNumber(ctx, "acme", "+4930123457", "", "Spare")
	must(err)
	_, err = d.AssignNumber(ctx, "globex", "+12025550143", "", "Main line")
	must(err)

	acmeTok, _, err := d.CreateToken(ctx, "acme", "entra")
	must(err)
	f.Tokens[acmeTok] = "acme"
	_, revoked, err := d.CreateToken(ctx, "acme", "old")
	must(err)
	must(d.RevokeToken(ctx, "acme", revoked.ID))
	hook, _, err := d.CreateWebhook(ctx, "acme", pbxusers.WebhookInput{URL: "https://pbx.acme.example/pbxgate?key=k1"})
	must(err)
	_, _, err = d.CreateWebhook(ctx, "globex", pbxusers.WebhookInput{URL: "https://pbx.globex.example/in"})
	must(err)
	bulk := opts.BulkN
	if bulk == 0 {
		bulk = DefaultBulkN
	}
	if bulk > 0 {
		must(d.Batch(ctx, "acme", func(bt *pbxusers.Batch) error {
			for i := 0; i < bulk; i++ {
				u := person(fmt.Sprintf("bulk%05d", i), fmt.Sprintf("%d", 3000+i))
				if i%7 == 0 {
					u.Teams = []string{team.ID}
				}
				if _, err := bt.CreateUser(u); err != nil {
					return err
				}
			}
			return nil
		}))
	}
	user("globex", person("iris", "101"))

	// Mail: every person with an address got a welcome mail. Send some,
	// fail one, retry one, leave one claimed by a worker that died.
	claimed, err := d.ClaimMail(ctx, "worker-a", time.Minute, 6)
	must(err)
	require.Len(t, claimed, 6)
	for i, m := range claimed[:5] {
		switch i {
		case 0, 1:
			m.Status, m.Attempts = pbxusers.MailSent, 1
			must(d.FinishMail(ctx, m, pbxusers.MailAttempt{OK: true, Code: 250}))
		case 2:
			m.Status, m.Attempts, m.LastError = pbxusers.MailFailed, 1, "550 no such user"
			must(d.FinishMail(ctx, m, pbxusers.MailAttempt{Code: 550, Error: "550 no such user"}))
		case 3:
			m.Status, m.Attempts, m.LastError = pbxusers.MailPending, 1, "421 try later"
			m.NextAttempt = time.Now().Add(time.Hour).UTC().Truncate(time.Microsecond)
			must(d.FinishMail(ctx, m, pbxusers.MailAttempt{Temporary: true, Code: 421, Error: "421 try later"}))
		case 4:
			m.Status, m.Attempts, m.LastError = pbxusers.MailFailed, 1, "550 mailbox full"
			must(d.FinishMail(ctx, m, pbxusers.MailAttempt{Code: 550, Error: "550 mailbox full"}))
			must(d.RetryMail(ctx, m.TenantID, m.ID))
		}
	}
	f.ClaimedMail = 1 // claimed[5]
	_, err = d.QueueTestMail(ctx, "globex", "it@globex.example")
	must(err)

	link, _, err := d.IssueSetupLink(ctx, "acme", bob.ID, pbxusers.SetupWelcome, 0)
	must(err)
	f.SetupLinks = append(f.SetupLinks, link)

	run, err := d.StartSyncRun(ctx, pbxusers.SyncRun{TenantID: "acme", Directory: "corp", Mode: "full"})
	must(err)
	run.Status, run.Read, run.Created, run.Conflicts = pbxusers.SyncOK, 2, 1, []string{"carol: owned by manual"}
	_, err = d.FinishSyncRun(ctx, run)
	must(err)
	_, err = d.StartSyncRun(ctx, pbxusers.SyncRun{TenantID: "globex", Directory: "ad", Mode: "incremental", DryRun: true})
	must(err)
	run2, err := d.StartSyncRun(ctx, pbxusers.SyncRun{TenantID: "acme", Directory: "corp", Mode: "incremental"})
	must(err)
	run2.Status, run2.Message = pbxusers.SyncBlocked, "would deactivate 40% of the directory's users"
	_, err = d.FinishSyncRun(ctx, run2)
	must(err)
	now := time.Now().UTC().Truncate(time.Microsecond)
	must(d.PutSyncState(ctx, pbxusers.SyncState{TenantID: "acme", Directory: "corp", Cursor: "20260501020000Z", LastFull: now, LastRun: now}))
	must(d.PutSyncState(ctx, pbxusers.SyncState{TenantID: "acme", Directory: "hr", Cursor: "usn:4711", LastRun: now}))
	f.Directories = [][2]string{{"acme", "corp"}, {"acme", "hr"}}
	// A delivery that failed once, and a lease (not copied).
	hooks, err := d.ClaimWebhooks(ctx, "copytest-worker", time.Hour, 10)
	must(err)
	require.NotEmpty(t, hooks)
	for _, w := range hooks {
		if w.ID == hook.ID {
			w.PendingSeq, w.Attempts, w.LastError, w.NextAttempt = w.DeliveredSeq+3, 1, "the receiver answered 503", w.NextAttempt.Add(time.Minute)
			must(d.FinishWebhook(ctx, w))
		}
	}

	ok, err := d.AcquireLease(ctx, "ldap:acme/corp", "host:1", time.Hour)
	must(err)
	require.True(t, ok)

	// A last change of each tenant, after everything else.
	_, err = d.ModifyUser(ctx, "acme", ada.ID, func(u *pbxusers.User) error { u.Nickname = "Countess"; return nil })
	must(err)
	_, err = d.UpdateTenant(ctx, pbxusers.Tenant{ID: "globex", Name: "Globex Corporation", TimeZone: "America/New_York", Region: "US", Version: 1})
	must(err)
	return f
}

func mustLookup(t testing.TB, d *pbxusers.Directory, tenant, userName string) pbxusers.User {
	t.Helper()
	u, err := d.LookupUser(context.Background(), tenant, pbxusers.KeyUserName, userName)
	require.NoError(t, err)
	return u
}

// RequireSame compares two directories over the same installation (a
// source and its copy) object by object, through the Directory API: tenants,
// profiles, time frames, every user (with memberships, routing and the
// password: Login with Fixture.Passwords), teams with their members,
// devices, numbers, tokens (each of Fixture.Tokens authenticates on the
// copy), the whole change log, the outbox with every attempt, sync runs and
// sync state.
func RequireSame(t testing.TB, f Fixture, src, dst *pbxusers.Directory) {
	t.Helper()
	ctx := context.Background()
	same := func(what string, a, b any, err1, err2 error) {
		t.Helper()
		require.NoError(t, err1, what)
		require.NoError(t, err2, what)
		if va, vb := reflect.ValueOf(a), reflect.ValueOf(b); va.Kind() == reflect.Slice && va.Len() == 0 && vb.Len() == 0 {
			return // backends differ in nil versus empty lists
		}
		require.Equal(t, a, b, what)
	}
	t1, e1 := src.ListTenants(ctx)
	t2, e2 := dst.ListTenants(ctx)
	same("tenants", t1, t2, e1, e2)
	for _, tn := range f.Tenants {
		p1, e1 := src.ListProfiles(ctx, tn)
		p2, e2 := dst.ListProfiles(ctx, tn)
		same("profiles of "+tn, p1, p2, e1, e2)
		tf1, e1 := src.ListTimeFrames(ctx, tn)
		tf2, e2 := dst.ListTimeFrames(ctx, tn)
		same("time frames of "+tn, tf1, tf2, e1, e2)

		q := pbxusers.UserQuery{IncludeSystem: true, Limit: pbxusers.MaxPageSize}
		for offset := 0; ; offset += pbxusers.MaxPageSize {
			q.Offset = offset
			u1, e1 := src.ListUsers(ctx, tn, q)
			u2, e2 := dst.ListUsers(ctx, tn, q)
			for _, p := range []*pbxusers.UserPage{&u1, &u2} {
				for i := range p.Users {
					slices.Sort(p.Users[i].Teams)
				}
			}
			same(fmt.Sprintf("users of %s from %d", tn, offset), u1, u2, e1, e2)
			if len(u1.Users) < pbxusers.MaxPageSize {
				break
			}
		}
		tm1, e1 := src.ListTeams(ctx, tn, pbxusers.TeamQuery{Limit: pbxusers.MaxPageSize})
		tm2, e2 := dst.ListTeams(ctx, tn, pbxusers.TeamQuery{Limit: pbxusers.MaxPageSize})
		same("teams of "+tn, tm1, tm2, e1, e2)
		for _, tm := range tm1.Teams {
			m1, n1, e1 := src.ListTeamMembers(ctx, tn, tm.ID, 0, pbxusers.MaxPageSize)
			m2, n2, e2 := dst.ListTeamMembers(ctx, tn, tm.ID, 0, pbxusers.MaxPageSize)
			same("members of team "+tm.Name, m1, m2, e1, e2)
			assert.Equal(t, n1, n2)
		}
		d1, e1 := src.ListDevices(ctx, tn, "")
		d2, e2 := dst.ListDevices(ctx, tn, "")
		same("devices of "+tn, d1, d2, e1, e2)
		n1, e1 := src.ListNumbers(ctx, tn, "")
		n2, e2 := dst.ListNumbers(ctx, tn, "")
		same("numbers of "+tn, n1, n2, e1, e2)
		k1, e1 := src.ListTokens(ctx, tn)
		k2, e2 := dst.ListTokens(ctx, tn)
		same("tokens of "+tn, k1, k2, e1, e2)
		// Webhooks with their secrets, as the store keeps them (the
		// Directory never shows a secret); worker leases are not copied.
		var w1, w2 []pbxusers.Webhook
		e1 = src.Store().View(ctx, func(tx pbxusers.Tx) error { var err error; w1, err = tx.ListWebhooks(ctx, tn); return err })
		e2 = dst.Store().View(ctx, func(tx pbxusers.Tx) error { var err error; w2, err = tx.ListWebhooks(ctx, tn); return err })
		for i := range w1 {
			w1[i].ClaimedBy, w1[i].ClaimedUntil = "", time.Time{}
			assert.NotEmpty(t, w1[i].Secret)
		}
		same("webhooks of "+tn, w1, w2, e1, e2)

		var after int64
		for page := 0; page < 1000; page++ { // bounded: 1000 pages of 1000
			c1, e1 := src.Changes(ctx, tn, pbxusers.ChangeQuery{AfterSeq: after, Limit: pbxusers.MaxPageSize})
			c2, e2 := dst.Changes(ctx, tn, pbxusers.ChangeQuery{AfterSeq: after, Limit: pbxusers.MaxPageSize})
			same(fmt.Sprintf("changes of %s after %d", tn, after), c1, c2, e1, e2)
			if len(c1) == 0 {
				break
			}
			after = c1[len(c1)-1].Seq
		}

		m1, e1 := src.ListMail(ctx, tn, pbxusers.MailQuery{Limit: pbxusers.MaxPageSize})
		m2, e2 := dst.ListMail(ctx, tn, pbxusers.MailQuery{Limit: pbxusers.MaxPageSize})
		for i := range m1 {
			m1[i].ClaimedBy, m1[i].ClaimedUntil = "", time.Time{} // worker claims are not copied
		}
		same("outbox of "+tn, m1, m2, e1, e2)
		for _, m := range m1 {
			_, a1, e1 := src.GetMail(ctx, tn, m.ID)
			_, a2, e2 := dst.GetMail(ctx, tn, m.ID)
			same(fmt.Sprintf("attempts of mail %d", m.ID), a1, a2, e1, e2)
		}
		r1, e1 := src.SyncRuns(ctx, tn, "", pbxusers.MaxPageSize)
		r2, e2 := dst.SyncRuns(ctx, tn, "", pbxusers.MaxPageSize)
		same("sync runs of "+tn, r1, r2, e1, e2)
	}
	for _, dir := range f.Directories {
		s1, e1 := src.SyncState(ctx, dir[0], dir[1])
		s2, e2 := dst.SyncState(ctx, dir[0], dir[1])
		same("sync state of "+dir[0]+"/"+dir[1], s1, s2, e1, e2)
	}
	c1, e1 := src.MailCounts(ctx)
	c2, e2 := dst.MailCounts(ctx)
	same("mail counts", c1, c2, e1, e2)

	for tok, tn := range f.Tokens {
		got, err := dst.Authenticate(ctx, tok)
		require.NoError(t, err, "a token of %s authenticates on the copy with the same secret", tn)
		assert.Equal(t, tn, got.TenantID)
	}
	for key, pw := range f.Passwords {
		var tn, name string
		for i := range key {
			if key[i] == '/' {
				tn, name = key[:i], key[i+1:]
				break
			}
		}
		_, err := dst.Login(ctx, tn, name, pw)
		require.NoError(t, err, "%s logs in on the copy with the same password", key)
	}
}
