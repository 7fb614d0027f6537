package pbxusers_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// populate fills tenant acme with users of every kind generated from seed,
// each with every field a user can hold: routing with rules over time
// frames, forwards, queue memberships, managers, overrides, devices,
// numbers, custom fields, IP restriction, notifications, caller-ID lists,
// addresses, photos, roles, entitlements, owners other than manual.
func populate(t testing.TB, d *pbxusers.Directory, seed uint64, n int) {
	t.Helper()
	ctx := context.Background()
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	pick := func(s ...string) string { return s[r.IntN(len(s))] }
	chance := func(p float64) bool { return r.Float64() < p }

	var profiles, teams, frames []string
	for i := range 3 {
		p, err := d.CreateProfile(ctx, "acme", pbxusers.Profile{Name: fmt.Sprintf("Profile %d", i)})
		require.NoError(t, err)
		profiles = append(profiles, p.ID)
		tm, err := d.CreateTeam(ctx, "acme", pbxusers.Team{Name: fmt.Sprintf("Team %d", i)}, nil)
		require.NoError(t, err)
		teams = append(teams, tm.ID)
	}
	for i, days := range [][]time.Weekday{{1, 2, 3, 4, 5}, {0, 6}} {
		tf, err := d.CreateTimeFrame(ctx, "acme", pbxusers.TimeFrame{ID: fmt.Sprintf("tf%d", i), Name: "Frame",
			Entries: []pbxusers.TimeFrameEntry{{Weekly: &pbxusers.Weekly{Days: days, From: pbxusers.ClockAt(8, 0), To: pbxusers.ClockAt(17, 30)}}}})
		require.NoError(t, err)
		frames = append(frames, tf.ID)
	}

	kinds := []pbxusers.UserKind{pbxusers.KindCallQueue, pbxusers.KindAutoAttendant, pbxusers.KindConferenceBridge}
	var people, queues, system []pbxusers.User
	number := func() string { return fmt.Sprintf("+4930%07d", r.IntN(10_000_000)) }
	attrs := func(prefix string) []pbxusers.Attribute {
		var out []pbxusers.Attribute
		for i := range r.IntN(3) {
			out = append(out, pbxusers.Attribute{Value: fmt.Sprintf("%s-%d", prefix, i), Display: pick("", "Shown"), Type: pick("", "work"), Primary: i == 0 && chance(0.5)})
		}
		return out
	}
	dest := func(self string) *pbxusers.Destination {
		switch r.IntN(6) {
		case 0:
			return nil
		case 1:
			return &pbxusers.Destination{Kind: pbxusers.DestVoicemail}
		case 2:
			return &pbxusers.Destination{Kind: pbxusers.DestExternal, Target: number(), Timeout: pbxusers.Seconds(time.Duration(r.IntN(60)+1) * time.Second)}
		case 3:
			if len(people) > 0 {
				if other := people[r.IntN(len(people))].ID; other != self {
					return &pbxusers.Destination{Kind: pbxusers.DestUser, Target: other}
				}
			}
		case 4:
			if len(queues) > 0 {
				return &pbxusers.Destination{Kind: pbxusers.DestQueue, Target: queues[r.IntN(len(queues))].ID}
			}
		}
		return &pbxusers.Destination{Kind: pbxusers.DestHangup}
	}
	routing := func(self string) pbxusers.RoutingPolicy {
		var p pbxusers.RoutingPolicy
		switch r.IntN(4) {
		case 0:
			return p
		case 1:
			p = pbxusers.BackupRouting(number(), time.Duration(r.IntN(50)+10)*time.Second, 0)
		case 2:
			p = pbxusers.RoutingPolicy{AnswerMode: pbxusers.AnswerPhoneNumber, ForwardNumber: number()}
		}
		p.RingTimeout = pbxusers.Seconds(time.Duration(r.IntN(40)+5) * time.Second)
		p.CallWaiting = chance(0.5)
		if chance(0.5) {
			p.AllowCallers = []string{"+4930*", number()}
			p.RejectCallers = []string{"+1900*"}
			p.RejectAnonymous = chance(0.5)
		}
		for i := range r.IntN(3) {
			rule := pbxusers.AnsweringRule{ID: fmt.Sprintf("r%d", i), Name: pick("", "After hours", "Weekend"), Enabled: chance(0.8),
				When:       pbxusers.Condition{TimeFrames: []string{frames[r.IntN(len(frames))]}, NotInTimeFrames: chance(0.5)},
				OnNoAnswer: dest(self), OnBusy: dest(self), Final: dest(self)}
			if chance(0.3) {
				rule.DND = true
			}
			p.Rules = append(p.Rules, rule)
		}
		if chance(0.3) {
			until := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
			p.Override = &pbxusers.ManualOverride{Destination: &pbxusers.Destination{Kind: pbxusers.DestVoicemail}, Until: &until, Reason: "leave"}
		}
		require.NoError(t, p.Validate())
		return p
	}

	for i := range n {
		kind := pbxusers.KindPerson
		if i%4 == 3 {
			kind = kinds[r.IntN(len(kinds))]
		}
		u := pbxusers.User{
			Kind:          kind,
			UserName:      fmt.Sprintf("user%03d@acme.example", i),
			Name:          pbxusers.Name{Given: pick("Ada", "Zoë", "Ünal", ""), Family: pick("Lovelace", "Ünïcode", "O'Brien, Jr.", ""), Middle: pick("", "M"), Prefix: pick("", "Dr."), Suffix: pick("", "III"), Formatted: pick("", "Dr. Ada M. Lovelace")},
			DisplayName:   pick("", "Ada \"the first\" L.", "Semi;colon"),
			Nickname:      pick("", "Ada"),
			Title:         pick("", "Engineer", "Head of \"Sales\""),
			Extension:     fmt.Sprintf("%d", 200+i),
			StationNumber: pick("", fmt.Sprintf("%d", 9000+i)),
			Language:      pick("", "en-US", "de", "fr-CA"),
			TimeZone:      pick("", "Europe/Berlin", "America/New_York"),
			CustomID:      pick("", fmt.Sprintf("C-%d", i)),
			Location:      pick("", "Berlin", "Remote, EU"),
			Enterprise:    pbxusers.Enterprise{EmployeeNumber: pick("", "E1"), CostCenter: pick("", "CC"), Organization: pick("", "Acme"), Division: pick("", "EMEA"), Department: pick("", "Sales")},
			Role:          pbxusers.Role(pick("user", "agent", "supervisor", "admin")),
			Recording:     pbxusers.RecordingMode(pick("never", "always", "on_demand")),
			Status:        pbxusers.Status(pick("active", "active", "inactive")),
			Photos:        attrs("https://img.example/p"),
			Roles:         attrs("role"),
			Entitlements:  attrs("ent"),
		}
		if kind == pbxusers.KindPerson {
			u.Emails = []pbxusers.Email{{Value: fmt.Sprintf("u%d@acme.example", i), Type: "work", Primary: true}}
			if chance(0.5) {
				u.Emails = append(u.Emails, pbxusers.Email{Value: fmt.Sprintf("home%d@example.org", i), Type: "home"})
			}
			u.PhoneNumbers = []pbxusers.PhoneNumber{{Number: number(), Type: pbxusers.PhoneWork, Primary: chance(0.5)}}
			if chance(0.5) {
				u.PhoneNumbers = append(u.PhoneNumbers, pbxusers.PhoneNumber{Number: number(), Type: pbxusers.PhoneMobile}, pbxusers.PhoneNumber{Number: number(), Type: pbxusers.PhoneHome, Ext: "12"})
			}
			u.Features = pbxusers.Features{MobileApp: chance(0.5), WebCalls: chance(0.5), Voicemail: chance(0.5), HotDesking: chance(0.3), MultipleCallerID: chance(0.5), BusyReject: chance(0.3)}
			u.CallerID = pbxusers.CallerID{Number: number(), Name: pick("", "Acme Sales"), Anonymous: chance(0.2), Emergency: pick("", "+4930112233")}
			if u.Features.MultipleCallerID {
				u.CallerID.Allowed = []string{number(), number()}
			}
			u.Notifications = []pbxusers.Notification{pbxusers.NotifyMissedCall}
			if chance(0.5) {
				u.Notifications = append(u.Notifications, pbxusers.NotifyVoicemail)
			}
			u.IPRestriction = pbxusers.IPRestriction{Enabled: chance(0.5), Allowed: []string{"10.0.0.0/8", "192.168.1.7"}}
			u.Addresses = []pbxusers.Address{{StreetAddress: "Unter den Linden 1", Locality: "Berlin", PostalCode: "10117", Country: "DE", Type: "work", Primary: true}}
			u.CustomFields = map[string]string{"shoe": pick("42", "a;b,c \"q\""), "cost": "7"}
			u.Profiles = []string{profiles[r.IntN(len(profiles))]}
			u.Teams = []string{teams[r.IntN(len(teams))]}
			u.Overrides = pbxusers.PermissionSet{pbxusers.PermAnswerTexts: pbxusers.Bool(chance(0.5)), pbxusers.PermMaxActiveCalls: pbxusers.Limit(int64(r.IntN(5))),
				pbxusers.PermLocationReports: pbxusers.Scope("Berlin", "Hamburg")}
			u.Password.MustChange = chance(0.3)
			if chance(0.3) {
				u.Password.Mode, u.Password.New = pbxusers.PasswordManual, "correct horse battery staple"
			}
			if len(people) > 0 && chance(0.6) {
				u.ManagerID = people[r.IntN(len(people))].ID
			}
			for j, q := range queues {
				if chance(0.5) {
					u.Queues = append(u.Queues, pbxusers.QueueMembership{QueueID: q.ID, Priority: r.IntN(3), DefaultOutbound: j == 0})
				}
			}
		}
		if kind == pbxusers.KindCallQueue && chance(0.7) {
			u.Queue = &pbxusers.QueueSettings{Dispatch: pick("ring_all", "round_robin"), MaxWaitSeconds: r.IntN(600)}
		}
		u.Routing = routing("")
		ctxFor := ctx
		switch r.IntN(3) {
		case 1:
			ctxFor = pbxusers.WithActor(ctx, pbxusers.Actor{Source: pbxusers.SourceSCIM, Name: "okta"})
			u.Owner.ExternalID = fmt.Sprintf("okta-%d", i)
		case 2:
			u.Owner = pbxusers.Owner{Source: pbxusers.SourceManual, ExternalID: pick("", fmt.Sprintf("hr-%d", i))}
		}
		created, err := d.CreateUser(ctxFor, "acme", u)
		require.NoError(t, err, "user %d", i)
		if kind == pbxusers.KindPerson {
			people = append(people, created)
			if chance(0.5) {
				_, err := d.AddDevice(ctx, "acme", pbxusers.Device{UserID: created.ID, Label: "Desk", Model: "Yealink T54W"})
				require.NoError(t, err)
			}
			if chance(0.5) {
				_, err := d.AssignNumber(ctx, "acme", fmt.Sprintf("+4940%07d", i), created.ID, "DID")
				require.NoError(t, err)
			}
			if chance(0.3) { // routing that forwards to other people and queues
				_, err := d.ModifyUser(ctx, "acme", created.ID, func(u *pbxusers.User) error { u.Routing = routing(created.ID); return nil })
				require.NoError(t, err)
			}
		} else {
			system = append(system, created)
			if kind == pbxusers.KindCallQueue {
				queues = append(queues, created)
			}
		}
	}
	// A hot-desk device and a free number belong to nobody and stay so.
	_, err := d.AddDevice(ctx, "acme", pbxusers.Device{Kind: pbxusers.DeviceDeskPhone, Label: "Lobby", HotDesk: true})
	require.NoError(t, err)
	_, err = d.AssignNumber(ctx, "acme", "+4940999999", "", "spare")
	require.NoError(t, err)
	_ = system
}

// allUsers returns every user of the tenant by id, system users included.
func allUsers(t testing.TB, d *pbxusers.Directory) map[string]pbxusers.User {
	t.Helper()
	page, err := d.ListUsers(context.Background(), "acme", pbxusers.UserQuery{IncludeSystem: true, Limit: pbxusers.MaxPageSize})
	require.NoError(t, err)
	out := map[string]pbxusers.User{}
	for _, u := range page.Users {
		out[u.ID] = u
	}
	return out
}

func exportAll(t testing.TB, d *pbxusers.Directory) []byte {
	t.Helper()
	var buf bytes.Buffer
	_, err := d.ExportCSV(context.Background(), "acme", &buf, pbxusers.UserQuery{IncludeSystem: true}, nil)
	require.NoError(t, err)
	return buf.Bytes()
}

// checkRoundTrip asserts that importing an unchanged export with Update
// changes nothing: "0 updated", the same users, devices, numbers and change
// log, and the same export again.
func checkRoundTrip(t testing.TB, d *pbxusers.Directory) {
	t.Helper()
	ctx := context.Background()
	before := allUsers(t, d)
	devices, err := d.ListDevices(ctx, "acme", "")
	require.NoError(t, err)
	numbers, err := d.ListNumbers(ctx, "acme", "")
	require.NoError(t, err)
	changes, err := d.Changes(ctx, "acme", pbxusers.ChangeQuery{Limit: pbxusers.MaxPageSize})
	require.NoError(t, err)
	csv := exportAll(t, d)

	res, err := d.ImportCSV(ctx, "acme", bytes.NewReader(csv), pbxusers.ImportOptions{Update: true})
	require.NoError(t, err)
	assert.Equal(t, pbxusers.ImportResult{Unchanged: len(before)}, res, "0 created, 0 updated")

	assert.Equal(t, before, allUsers(t, d))
	devicesAfter, err := d.ListDevices(ctx, "acme", "")
	require.NoError(t, err)
	assert.Equal(t, devices, devicesAfter)
	numbersAfter, err := d.ListNumbers(ctx, "acme", "")
	require.NoError(t, err)
	assert.Equal(t, numbers, numbersAfter)
	changesAfter, err := d.Changes(ctx, "acme", pbxusers.ChangeQuery{Limit: pbxusers.MaxPageSize})
	require.NoError(t, err)
	assert.Equal(t, len(changes), len(changesAfter), "the change log has no new entry")
	assert.Equal(t, string(csv), string(exportAll(t, d)))
}

func TestCSVRoundTrip(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			d := mustDir(t)
			populate(t, d, seed, 24)
			checkRoundTrip(t, d)
		})
	}
}

// FuzzCSVRoundTrip checks the round trip over tenants generated from the
// fuzzer's seed: go test -fuzz FuzzCSVRoundTrip ./pbxusers/
func FuzzCSVRoundTrip(f *testing.F) {
	for _, seed := range []uint64{10, 11} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, seed uint64) {
		// Each input gets its own database: t.TempDir is shared by the
		// inputs of one fuzz run.
		dir, err := os.MkdirTemp("", "pbxgate-fuzz-")
		require.NoError(t, err)
		t.Cleanup(func() { os.RemoveAll(dir) })
		d := mustDirIn(t, dir)
		populate(t, d, seed, 12)
		checkRoundTrip(t, d)
	})
}

// TestCSVPartialCells checks that a cell changes exactly what it names: the
// email cell edits the primary address and keeps the others; backupNumber
// keeps the answering rules; a row naming its manager on a later row works.
func TestCSVPartialCells(t *testing.T) {
	d := mustDir(t)
	populate(t, d, 7, 8)
	ctx := context.Background()
	csv := exportAll(t, d)
	lines := strings.SplitN(string(csv), "\n", 2)
	_ = lines

	ada, err := d.CreateUser(ctx, "acme", pbxusers.User{UserName: "ada", Extension: "120",
		Emails: []pbxusers.Email{{Value: "ada@acme.example", Type: "work", Primary: true}, {Value: "ada@home.example", Type: "home"}},
		Routing: pbxusers.RoutingPolicy{AllowCallers: []string{"+49*"}, Rules: []pbxusers.AnsweringRule{{ID: "wk", Enabled: true,
			When: pbxusers.Condition{TimeFrames: []string{"tf1"}}, Always: &pbxusers.Destination{Kind: pbxusers.DestVoicemail}}}}})
	require.NoError(t, err)

	res, err := d.ImportCSV(ctx, "acme", strings.NewReader("userName,email,backupNumber,manager\nada,ada@new.example,+4930555555,zed\nzed,,,\n"), pbxusers.ImportOptions{Update: true})
	require.NoError(t, err)
	assert.Equal(t, 1, res.Updated)
	assert.Equal(t, 1, res.Created)
	got, err := d.GetUser(ctx, "acme", ada.ID)
	require.NoError(t, err)
	assert.Equal(t, []pbxusers.Email{{Value: "ada@new.example", Type: "work", Primary: true}, {Value: "ada@home.example", Type: "home"}}, got.Emails)
	assert.Equal(t, "+4930555555", got.Routing.BackupNumber())
	assert.Equal(t, ada.Routing.Rules, got.Routing.Rules, "the answering rules stay")
	assert.Equal(t, ada.Routing.AllowCallers, got.Routing.AllowCallers)
	zed, err := d.LookupUser(ctx, "acme", pbxusers.KeyUserName, "zed")
	require.NoError(t, err)
	assert.Equal(t, zed.ID, got.ManagerID, "a manager on a later row is found")
}

// TestCSVPhoneNumberUserRoundTrip is the report of issue 11: a user who
// answers on a phone number exported and could not be imported back.
func TestCSVPhoneNumberUserRoundTrip(t *testing.T) {
	d := mustDir(t)
	ctx := context.Background()
	_, err := d.CreateUser(ctx, "acme", pbxusers.User{UserName: "pat", Extension: "230",
		Routing: pbxusers.RoutingPolicy{AnswerMode: pbxusers.AnswerPhoneNumber, ForwardNumber: "+4930123456"}})
	require.NoError(t, err)
	checkRoundTrip(t, d)
	// An export of the old columns only (without routing) reads back too.
	res, err := d.ImportCSV(ctx, "acme", strings.NewReader("userName,answerMode,backupNumber\npat,phone_number,\n"), pbxusers.ImportOptions{Update: true})
	require.NoError(t, err)
	assert.Equal(t, pbxusers.ImportResult{Unchanged: 1}, res)
}
