package pbxusers_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/pbxusers"
	"github.com/pbxgate/pbxgate/pbxusers/sqlite"
)

// mustDir opens a Directory over a real SQLite file in the test's temp dir
// with tenant "acme" (region DE, Europe/Berlin).
func mustDir(t testing.TB) *pbxusers.Directory {
	t.Helper()
	return mustDirIn(t, t.TempDir())
}

// mustDirIn is mustDir with the database in dir.
func mustDirIn(t testing.TB, dir string) *pbxusers.Directory {
	t.Helper()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(dir, "pbx.db"))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	d := pbxusers.New(s, pbxusers.Options{PasswordCost: 4})
	_, err = d.CreateTenant(ctx, pbxusers.Tenant{ID: "acme", Name: "Acme", Region: "DE", TimeZone: "Europe/Berlin"})
	require.NoError(t, err)
	return d
}

func validPerson() pbxusers.User {
	return pbxusers.User{
		UserName:  "ada@acme.example",
		Name:      pbxusers.Name{Given: "Ada", Family: "Lovelace"},
		Emails:    []pbxusers.Email{{Value: "ada@acme.example", Type: "work", Primary: true}},
		Extension: "201",
	}
}

func TestCreateUserValidation(t *testing.T) {
	d := mustDir(t)
	ctx := context.Background()
	cases := []struct {
		name   string
		edit   func(u *pbxusers.User)
		fields []string // every field the error must name
	}{
		{"userName required", func(u *pbxusers.User) { u.UserName = " " }, []string{"userName"}},
		{"userName with space", func(u *pbxusers.User) { u.UserName = "ada lovelace" }, []string{"userName"}},
		{"bad email", func(u *pbxusers.User) { u.Emails[0].Value = "ada(at)acme" }, []string{"emails[0].value"}},
		{"email with name", func(u *pbxusers.User) { u.Emails[0].Value = "Ada <ada@acme.example>" }, []string{"emails[0].value"}},
		{"two primaries", func(u *pbxusers.User) {
			u.Emails = append(u.Emails, pbxusers.Email{Value: "a2@acme.example", Primary: true})
		}, []string{"emails"}},
		{"extension letters", func(u *pbxusers.User) { u.Extension = "20a" }, []string{"extension"}},
		{"reserved extension", func(u *pbxusers.User) { u.Extension = "112" }, []string{"extension"}},
		{"phone number", func(u *pbxusers.User) {
			u.PhoneNumbers = []pbxusers.PhoneNumber{{Number: "call me"}}
		}, []string{"phoneNumbers[0].number"}},
		{"caller id", func(u *pbxusers.User) { u.CallerID.Number = "12" }, []string{"callerId.number"}},
		{"multiple caller id needs the feature", func(u *pbxusers.User) {
			u.CallerID.Allowed = []string{"+4930123456"}
		}, []string{"callerId.allowed"}},
		{"language", func(u *pbxusers.User) { u.Language = "english!" }, []string{"language"}},
		{"time zone", func(u *pbxusers.User) { u.TimeZone = "Mars/Olympus" }, []string{"timeZone"}},
		{"kind", func(u *pbxusers.User) { u.Kind = "robot" }, []string{"kind"}},
		{"role", func(u *pbxusers.User) { u.Role = "god" }, []string{"role"}},
		{"recording", func(u *pbxusers.User) { u.Recording = "sometimes" }, []string{"recording"}},
		{"ip restriction", func(u *pbxusers.User) {
			u.IPRestriction = pbxusers.IPRestriction{Enabled: true, Allowed: []string{"10.0.0.300"}}
		}, []string{"ipRestriction.allowed[0]"}},
		{"ip restriction empty", func(u *pbxusers.User) { u.IPRestriction.Enabled = true }, []string{"ipRestriction.allowed"}},
		{"notification", func(u *pbxusers.User) { u.Notifications = []pbxusers.Notification{"gossip"} }, []string{"notifications[0]"}},
		{"password policy", func(u *pbxusers.User) { u.Password.New = "short" }, []string{"password"}},
		{"unknown override", func(u *pbxusers.User) {
			u.Overrides = pbxusers.PermissionSet{"calls.teleport": pbxusers.Bool(true)}
		}, []string{"overrides.calls.teleport"}},
		{"override kind", func(u *pbxusers.User) {
			u.Overrides = pbxusers.PermissionSet{pbxusers.PermChatLimit: pbxusers.Bool(true)}
		}, []string{"overrides.chat.limit"}},
		{"unknown manager", func(u *pbxusers.User) { u.ManagerID = "nobody" }, []string{"managerId"}},
		{"unknown queue", func(u *pbxusers.User) {
			u.Queues = []pbxusers.QueueMembership{{QueueID: "nowhere"}}
		}, []string{"queues[0].queueId"}},
		{"queue settings on a person", func(u *pbxusers.User) { u.Queue = &pbxusers.QueueSettings{} }, []string{"queue"}},
		{"control characters", func(u *pbxusers.User) { u.DisplayName = "Ada\x00" }, []string{"displayName"}},
		{"routing", func(u *pbxusers.User) { u.Routing.AnswerMode = "telepathy" }, []string{"routing.answerMode"}},
		{"many at once", func(u *pbxusers.User) {
			u.UserName, u.Extension, u.Language = "", "x", "!!"
		}, []string{"userName", "extension", "language"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := validPerson()
			tc.edit(&u)
			_, err := d.CreateUser(ctx, "acme", u)
			require.ErrorIs(t, err, pbxusers.ErrInvalid)
			var ve *pbxusers.ValidationError
			require.True(t, errors.As(err, &ve))
			for _, f := range tc.fields {
				assert.True(t, ve.Has(f), "error should name %q: %v", f, err)
			}
		})
	}
	// And nothing was written by any of them.
	page, err := d.ListUsers(ctx, "acme", pbxusers.UserQuery{IncludeSystem: true, Limit: -1})
	require.NoError(t, err)
	assert.Zero(t, page.Total)
}

func TestEveryKindOfUser(t *testing.T) {
	d := mustDir(t)
	ctx := context.Background()
	queue, err := d.CreateUser(ctx, "acme", pbxusers.User{UserName: "sales-queue", Kind: pbxusers.KindCallQueue,
		Extension: "600", DisplayName: "Sales", Queue: &pbxusers.QueueSettings{Dispatch: "round_robin", MaxWaitSeconds: 300}})
	require.NoError(t, err)
	for _, k := range []pbxusers.UserKind{pbxusers.KindAutoAttendant, pbxusers.KindConferenceBridge} {
		_, err := d.CreateUser(ctx, "acme", pbxusers.User{UserName: string(k), Kind: k})
		require.NoError(t, err)
	}
	sup, err := d.CreateProfile(ctx, "acme", pbxusers.Profile{Name: "Supervisor", Role: pbxusers.RoleSupervisor,
		Grants: pbxusers.PermissionSet{pbxusers.PermLiveCallMonitoring: pbxusers.Bool(true)}})
	require.NoError(t, err)
	u := validPerson()
	u.Nickname, u.StationNumber, u.Role, u.Location = "Countess", "90201", pbxusers.RoleAgent, "London"
	u.PhoneNumbers = []pbxusers.PhoneNumber{{Number: "tel:+44-20-7946-0018;ext=12", Type: pbxusers.PhoneWork, Primary: true}}
	u.CallerID = pbxusers.CallerID{Number: "+442079460018", Anonymous: true, Allowed: []string{"+442079460019"}}
	u.Features = pbxusers.Features{MobileApp: true, Voicemail: true, MultipleCallerID: true, HotDesking: true}
	u.IPRestriction = pbxusers.IPRestriction{Enabled: true, Allowed: []string{"192.168.1.1", "10.1.2.3/8"}}
	u.Notifications = []pbxusers.Notification{pbxusers.NotifyMissedCall}
	u.Queues = []pbxusers.QueueMembership{{QueueID: queue.ID, Priority: 1, DefaultOutbound: true}}
	u.Profiles = []string{sup.ID}
	u.CustomID, u.CustomFields = "EMP-7", map[string]string{"badge": "42"}
	u.Recording = pbxusers.RecordOnDemand
	u.Password = pbxusers.Password{New: "analytical engine", MustChange: true}
	u.Routing = pbxusers.BackupRouting("+447911123456", 0, 0)
	a, err := d.CreateUser(ctx, "acme", u)
	require.NoError(t, err)
	assert.Equal(t, "+442079460018", a.PhoneNumbers[0].Number)
	assert.Equal(t, "12", a.PhoneNumbers[0].Ext)
	assert.Equal(t, []string{"192.168.1.1", "10.0.0.0/8"}, a.IPRestriction.Allowed)
	assert.Equal(t, pbxusers.PasswordManual, a.Password.Mode)
	assert.True(t, a.Password.IsSet)
	assert.Empty(t, a.Password.New, "the password is never returned")
	got, err := d.GetUser(ctx, "acme", a.ID)
	require.NoError(t, err)
	assert.Equal(t, a, got)
	assert.Equal(t, "+447911123456", got.Routing.BackupNumber())

	dev, err := d.AddDevice(ctx, "acme", pbxusers.Device{UserID: a.ID, Kind: pbxusers.DeviceSoftphone})
	require.NoError(t, err)
	assert.NotEmpty(t, dev.Secret)

	// System users are hidden unless asked for.
	page, err := d.ListUsers(ctx, "acme", pbxusers.UserQuery{})
	require.NoError(t, err)
	assert.Equal(t, 1, page.Total)
	page, err = d.ListUsers(ctx, "acme", pbxusers.UserQuery{IncludeSystem: true})
	require.NoError(t, err)
	assert.Equal(t, 4, page.Total)

	_, err = d.Login(ctx, "acme", "ADA@acme.example", "analytical engine")
	require.NoError(t, err)
	_, err = d.Login(ctx, "acme", "ada@acme.example", "wrong password")
	require.ErrorIs(t, err, pbxusers.ErrUnauthenticated)
	_, err = d.Login(ctx, "acme", "nobody", "analytical engine")
	require.ErrorIs(t, err, pbxusers.ErrUnauthenticated)
}

func TestSourceOwnership(t *testing.T) {
	d := mustDir(t)
	ctx := context.Background()
	ldap := pbxusers.WithActor(ctx, pbxusers.Actor{Source: pbxusers.SourceLDAP, Name: "corp-ad"})
	scim := pbxusers.WithActor(ctx, pbxusers.Actor{Source: pbxusers.SourceSCIM, Name: "okta"})

	u := validPerson()
	u.Owner.ExternalID, u.Owner.Directory = "0f3c-guid", "corp-ad"
	a, err := d.CreateUser(ldap, "acme", u)
	require.NoError(t, err)
	assert.Equal(t, pbxusers.SourceLDAP, a.Owner.Source)

	_, err = d.ModifyUser(scim, "acme", a.ID, func(u *pbxusers.User) error { u.Title = "x"; return nil })
	require.ErrorIs(t, err, pbxusers.ErrConflict)
	assert.True(t, pbxusers.IsOwnedBy(err), "%v", err)
	assert.Contains(t, err.Error(), "owned by source ldap (directory corp-ad)")
	require.ErrorIs(t, d.DeleteUser(scim, "acme", a.ID), pbxusers.ErrConflict)

	// A SCIM client cannot create a user owned by another source.
	v := validPerson()
	v.UserName, v.Emails, v.Extension = "bob", nil, ""
	v.Owner.Source = pbxusers.SourceLDAP
	_, err = d.CreateUser(scim, "acme", v)
	require.ErrorIs(t, err, pbxusers.ErrInvalid)

	// A duplicate userName from another source says who owns the original.
	dup := validPerson()
	dup.Emails, dup.Extension = nil, ""
	_, err = d.CreateUser(scim, "acme", dup)
	require.ErrorIs(t, err, pbxusers.ErrConflict)
	assert.Contains(t, err.Error(), "owned by source ldap")

	// An admin may edit, and may hand the user over.
	_, err = d.ModifyUser(ctx, "acme", a.ID, func(u *pbxusers.User) error { u.Title = "Admin edit"; return nil })
	require.NoError(t, err)
	_, err = d.TransferOwnership(scim, "acme", a.ID, pbxusers.Owner{Source: pbxusers.SourceSCIM})
	require.ErrorIs(t, err, pbxusers.ErrConflict, "only an admin transfers")
	moved, err := d.TransferOwnership(ctx, "acme", a.ID, pbxusers.Owner{Source: pbxusers.SourceSCIM, ExternalID: "00u1"})
	require.NoError(t, err)
	assert.Equal(t, pbxusers.SourceSCIM, moved.Owner.Source)
	_, err = d.ModifyUser(scim, "acme", a.ID, func(u *pbxusers.User) error { u.Title = "From Okta"; return nil })
	require.NoError(t, err)
	_, err = d.ModifyUser(ldap, "acme", a.ID, func(u *pbxusers.User) error { u.Title = "From AD"; return nil })
	require.ErrorIs(t, err, pbxusers.ErrConflict)

	// An identity provider may manage users an admin made by hand; the
	// owner stays manual. A directory sync may not.
	m := validPerson()
	m.UserName, m.Emails, m.Extension = "manual", nil, "299"
	manual, err := d.CreateUser(ctx, "acme", m)
	require.NoError(t, err)
	linked, err := d.ModifyUser(scim, "acme", manual.ID, func(u *pbxusers.User) error { u.Title = "Linked by Okta"; return nil })
	require.NoError(t, err)
	assert.Equal(t, pbxusers.SourceManual, linked.Owner.Source)
	_, err = d.ModifyUser(ldap, "acme", manual.ID, func(u *pbxusers.User) error { u.Title = "x"; return nil })
	require.ErrorIs(t, err, pbxusers.ErrConflict)

	log, err := d.Changes(ctx, "acme", pbxusers.ChangeQuery{EntityID: a.ID})
	require.NoError(t, err)
	var actions []pbxusers.Action
	for _, c := range log {
		actions = append(actions, c.Action)
	}
	assert.Equal(t, []pbxusers.Action{pbxusers.ActionCreate, pbxusers.ActionUpdate, pbxusers.ActionTransfer, pbxusers.ActionUpdate}, actions)
}

func TestEffectivePermissions(t *testing.T) {
	d := mustDir(t)
	ctx := context.Background()
	agent, err := d.CreateProfile(ctx, "acme", pbxusers.Profile{Name: "Agent", Grants: pbxusers.PermissionSet{
		pbxusers.PermChatLimit: pbxusers.Limit(3), pbxusers.PermAccessRecordings: pbxusers.Bool(true)}})
	require.NoError(t, err)
	sup, err := d.CreateProfile(ctx, "acme", pbxusers.Profile{Name: "Supervisor", Priority: 1, Grants: pbxusers.PermissionSet{
		pbxusers.PermLiveCallMonitoring: pbxusers.Bool(true), pbxusers.PermChatLimit: pbxusers.Limit(10),
		pbxusers.PermLocationOperations: pbxusers.Scope("London", "Leeds")}})
	require.NoError(t, err)
	team, err := d.CreateTeam(ctx, "acme", pbxusers.Team{Name: "Supervisors", Profiles: []string{sup.ID}}, nil)
	require.NoError(t, err)

	u := validPerson()
	u.Profiles = []string{agent.ID}
	u.Overrides = pbxusers.PermissionSet{pbxusers.PermAccessRecordings: pbxusers.Bool(false)}
	a, err := d.CreateUser(ctx, "acme", u)
	require.NoError(t, err)
	_, err = d.AddTeamMembers(ctx, "acme", team.ID, []string{a.ID})
	require.NoError(t, err)

	eff, err := d.Effective(ctx, "acme", a.ID)
	require.NoError(t, err)
	by := map[pbxusers.Permission]pbxusers.Effective{}
	for _, e := range eff {
		by[e.Permission] = e
	}
	assert.Len(t, eff, len(pbxusers.Catalogue()))
	cases := []struct {
		perm  pbxusers.Permission
		value string
		from  string
	}{
		{pbxusers.PermAccessRecordings, "false", "override"},
		{pbxusers.PermChatLimit, "3", `profile "Agent"`},
		{pbxusers.PermLiveCallMonitoring, "true", `profile "Supervisor" via team "Supervisors"`},
		{pbxusers.PermLocationOperations, "[London Leeds]", `profile "Supervisor" via team "Supervisors"`},
		{pbxusers.PermBroadcast, "false", "default"},
		{pbxusers.PermPortalAccess, "true", "default"},
	}
	for _, tc := range cases {
		e := by[tc.perm]
		assert.Equal(t, tc.value, e.Value.String(), tc.perm)
		assert.Equal(t, tc.from, e.From.String(), tc.perm)
	}
}

func TestRouteThroughDirectory(t *testing.T) {
	d := mustDir(t)
	ctx := context.Background()
	hours, err := d.CreateTimeFrame(ctx, "acme", pbxusers.TimeFrame{Name: "Business hours", Entries: []pbxusers.TimeFrameEntry{{
		Weekly: &pbxusers.Weekly{Days: []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday},
			From: pbxusers.ClockAt(9, 0), To: pbxusers.ClockAt(17, 0)}}}})
	require.NoError(t, err)
	b := validPerson()
	b.UserName, b.Emails, b.Extension = "bob", nil, "202"
	b.Features.Voicemail = true
	bob, err := d.CreateUser(ctx, "acme", b)
	require.NoError(t, err)
	_, err = d.AddDevice(ctx, "acme", pbxusers.Device{UserID: bob.ID, SIPID: "bob-desk"})
	require.NoError(t, err)

	a := validPerson()
	a.Features.Voicemail = true
	a.Routing = pbxusers.AfterHours(hours.ID, pbxusers.Destination{Kind: pbxusers.DestUser, Target: bob.ID})
	ada, err := d.CreateUser(ctx, "acme", a)
	require.NoError(t, err)
	_, err = d.AddDevice(ctx, "acme", pbxusers.Device{UserID: ada.ID, SIPID: "ada-desk"})
	require.NoError(t, err)

	berlin, _ := time.LoadLocation("Europe/Berlin")
	office := time.Date(2026, 3, 4, 10, 0, 0, 0, berlin) // Wednesday
	plan, err := d.Route(ctx, "acme", ada.ID, pbxusers.Call{From: "+4930999", At: office}, "")
	require.NoError(t, err)
	require.NotEmpty(t, plan.Steps, plan.String())
	assert.Equal(t, "ada-desk", plan.Steps[0].Targets[0].Value, plan.String())

	evening := time.Date(2026, 3, 4, 19, 0, 0, 0, berlin)
	plan, err = d.Route(ctx, "acme", ada.ID, pbxusers.Call{From: "+4930999", At: evening}, "")
	require.NoError(t, err)
	assert.Contains(t, plan.Hops(), bob.ID, plan.String())
	assert.Contains(t, plan.String(), "After hours")

	// Bob and the time frame are in use by Ada's rules: deleting either is
	// refused naming her; with Cascade, Bob's delete removes the forward
	// from Ada's policy and the time frame's removes the after-hours rule.
	require.ErrorIs(t, d.DeleteTimeFrame(ctx, "acme", hours.ID), pbxusers.ErrInUse)
	err = d.DeleteUser(ctx, "acme", bob.ID)
	require.ErrorIs(t, err, pbxusers.ErrInUse)
	assert.Contains(t, err.Error(), `user "ada@acme.example" (routing)`)
	require.NoError(t, d.DeleteUser(ctx, "acme", bob.ID, pbxusers.Cascade()))
	plan, err = d.Route(ctx, "acme", ada.ID, pbxusers.Call{From: "+4930999", At: evening}, "")
	require.NoError(t, err)
	assert.NotContains(t, plan.Hops(), bob.ID, plan.String())
	require.NoError(t, d.DeleteTimeFrame(ctx, "acme", hours.ID, pbxusers.Cascade()))
	adaNow, err := d.GetUser(ctx, "acme", ada.ID)
	require.NoError(t, err)
	assert.Empty(t, adaNow.Routing.TimeFrameRefs())
	plan, err = d.Route(ctx, "acme", ada.ID, pbxusers.Call{From: "+4930999", At: evening}, "")
	require.NoError(t, err)
	assert.NotContains(t, plan.String(), "After hours")

	_, err = d.Route(ctx, "acme", "nobody", pbxusers.Call{At: evening}, "")
	require.ErrorIs(t, err, pbxusers.ErrNotFound)
}

func TestConditionalDeletesAndMemberChanges(t *testing.T) {
	d := mustDir(t)
	ctx := context.Background()
	errStale := errors.New("stale")
	at := func(v int64) func(pbxusers.User) error {
		return func(u pbxusers.User) error {
			if u.Version != v {
				return errStale
			}
			return nil
		}
	}
	u, err := d.CreateUser(ctx, "acme", validPerson())
	require.NoError(t, err)
	require.ErrorIs(t, d.DeleteUserIf(ctx, "acme", u.ID, at(u.Version+1)), errStale)
	_, err = d.GetUser(ctx, "acme", u.ID)
	require.NoError(t, err, "a failed check deletes nothing")

	tm, err := d.CreateTeam(ctx, "acme", pbxusers.Team{Name: "Sales"}, nil)
	require.NoError(t, err)
	teamAt := func(v int64) func(pbxusers.Team) error {
		return func(t pbxusers.Team) error {
			if t.Version != v {
				return errStale
			}
			return nil
		}
	}
	_, err = d.ChangeTeamMembersIf(ctx, "acme", tm.ID, pbxusers.MemberChange{Add: []string{u.ID}}, teamAt(tm.Version+1))
	require.ErrorIs(t, err, errStale)
	got, err := d.ChangeTeamMembersIf(ctx, "acme", tm.ID, pbxusers.MemberChange{Add: []string{u.ID}}, teamAt(tm.Version))
	require.NoError(t, err)
	assert.Equal(t, 1, got.Members)
	got, err = d.ChangeTeamMembersIf(ctx, "acme", tm.ID, pbxusers.MemberChange{Replace: true}, nil)
	require.NoError(t, err)
	assert.Equal(t, 0, got.Members, "replace with nothing empties the team")
	require.ErrorIs(t, d.DeleteTeamIf(ctx, "acme", tm.ID, teamAt(1)), errStale)
	require.NoError(t, d.DeleteTeamIf(ctx, "acme", tm.ID, teamAt(got.Version)))
	require.NoError(t, d.DeleteUserIf(ctx, "acme", u.ID, at(u.Version)))
}

// TestWelcomeMailOnActivation: a user created inactive, or without an
// address, gets the welcome mail when they are activated or given one; a
// user who got one before does not get a second; the tenant can turn it off.
func TestWelcomeMailOnActivation(t *testing.T) {
	d := mustDir(t)
	ctx := context.Background()
	welcomes := func(userID string) int {
		mail, err := d.ListMail(ctx, "acme", pbxusers.MailQuery{UserID: userID})
		require.NoError(t, err)
		n := 0
		for _, m := range mail {
			if m.Kind == pbxusers.MailWelcome {
				n++
			}
		}
		return n
	}
	u := validPerson()
	u.Status = pbxusers.StatusInactive
	ada, err := d.CreateUser(ctx, "acme", u)
	require.NoError(t, err)
	assert.Zero(t, welcomes(ada.ID), "inactive users get no mail")
	_, err = d.ActivateUser(ctx, "acme", ada.ID)
	require.NoError(t, err)
	assert.Equal(t, 1, welcomes(ada.ID), "activation queues the welcome mail")
	_, err = d.DeactivateUser(ctx, "acme", ada.ID)
	require.NoError(t, err)
	_, err = d.ActivateUser(ctx, "acme", ada.ID)
	require.NoError(t, err)
	assert.Equal(t, 1, welcomes(ada.ID), "no second welcome mail")

	bob, err := d.CreateUser(ctx, "acme", pbxusers.User{UserName: "bob", Extension: "202"})
	require.NoError(t, err)
	_, err = d.ModifyUser(ctx, "acme", bob.ID, func(u *pbxusers.User) error {
		u.Emails = []pbxusers.Email{{Value: "bob@acme.example"}}
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, 1, welcomes(bob.ID), "an address given later queues the welcome mail")

	tn, err := d.GetTenant(ctx, "acme")
	require.NoError(t, err)
	tn.DisableWelcomeOnActivation = true
	_, err = d.UpdateTenant(ctx, tn)
	require.NoError(t, err)
	cy := pbxusers.User{UserName: "cy", Extension: "203", Status: pbxusers.StatusInactive, Emails: []pbxusers.Email{{Value: "cy@acme.example"}}}
	cyu, err := d.CreateUser(ctx, "acme", cy)
	require.NoError(t, err)
	_, err = d.ActivateUser(ctx, "acme", cyu.ID)
	require.NoError(t, err)
	assert.Zero(t, welcomes(cyu.ID), "the tenant turned it off")
}

// TestRouteBusyReject: the busy/reject feature drives routing.
func TestRouteBusyReject(t *testing.T) {
	d := mustDir(t)
	ctx := context.Background()
	u := validPerson()
	u.Features = pbxusers.Features{MobileApp: true, BusyReject: true}
	ada, err := d.CreateUser(ctx, "acme", u)
	require.NoError(t, err)
	plan, err := d.Route(ctx, "acme", ada.ID, pbxusers.Call{From: "+4930123456", At: time.Now()}, pbxusers.PresenceBusy)
	require.NoError(t, err)
	assert.Equal(t, pbxusers.DestReject, plan.Then.Kind, "%s", plan)
	plan, err = d.Route(ctx, "acme", ada.ID, pbxusers.Call{From: "+4930123456", At: time.Now()}, pbxusers.PresenceAvailable)
	require.NoError(t, err)
	assert.NotEmpty(t, plan.Steps, "available: it rings")
}
