package pbxusers_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/pbxusers"
)

const (
	backupNumber = "+4915112345678"
	officeNumber = "+4930111"
	sec          = pbxusers.Seconds(time.Second)
)

// testFrames are the tenant's time frames: business hours in the user's
// zone and a holiday calendar.
func testFrames() map[string]pbxusers.TimeFrame {
	return map[string]pbxusers.TimeFrame{
		"business": businessHours(),
		"holidays": {ID: "holidays", Name: "Holidays", Entries: []pbxusers.TimeFrameEntry{
			holiday(pbxusers.Holiday{Name: "Christmas", Fixed: "12-25"}),
			holiday(pbxusers.Holiday{Name: "Independence Day", Fixed: "07-04", Observance: pbxusers.ObservePriorWorkday}),
			holiday(pbxusers.Holiday{Name: "Thanksgiving", Nth: &pbxusers.NthWeekday{Month: time.November, Week: 4, Weekday: time.Thursday}}),
		}},
	}
}

// officePolicy forwards on holidays to voicemail, rings during business
// hours and forwards to the office number after hours.
func officePolicy() pbxusers.RoutingPolicy {
	return pbxusers.RoutingPolicy{Rules: []pbxusers.AnsweringRule{
		{ID: "holiday", Name: "Holidays", Enabled: true,
			When: pbxusers.Condition{TimeFrames: []string{"holidays"}}, Always: dest(pbxusers.DestVoicemail, "")},
		{ID: "business", Name: "Business", Enabled: true,
			When: pbxusers.Condition{TimeFrames: []string{"business"}}},
		{ID: "after-hours", Name: "After hours", Enabled: true,
			When:   pbxusers.Condition{TimeFrames: []string{"business"}, NotInTimeFrames: true},
			Always: dest(pbxusers.DestExternal, officeNumber)},
	}}
}

// subject returns an active, available user with a desk phone, the apps and
// voicemail.
func subject(id string, loc *time.Location, p pbxusers.RoutingPolicy) pbxusers.RouteSubject {
	return pbxusers.RouteSubject{UserID: id, Name: id, Location: loc, Policy: p, VoicemailEnabled: true,
		Devices: []string{id + "-desk"}, AppsEnabled: true, Active: true}
}

// own is the step ringing a user's apps and desk phone.
func own(id string, timeout time.Duration) pbxusers.RouteStep {
	return pbxusers.RouteStep{Timeout: pbxusers.Seconds(timeout), Targets: []pbxusers.RouteTarget{
		{Kind: pbxusers.TargetApps, Value: id, UserID: id},
		{Kind: pbxusers.TargetDevice, Value: id + "-desk", UserID: id},
	}}
}

func external(number string, timeout time.Duration) pbxusers.RouteStep {
	return pbxusers.RouteStep{Timeout: pbxusers.Seconds(timeout), Targets: []pbxusers.RouteTarget{
		{Kind: pbxusers.TargetExternal, Value: number}}}
}

func voicemailOf(id string) pbxusers.Destination {
	return pbxusers.Destination{Kind: pbxusers.DestVoicemail, Target: id}
}

var hangup = pbxusers.Destination{Kind: pbxusers.DestHangup}

// whys returns every trace line of the plan, its hops and busy branches.
func whys(p *pbxusers.RoutePlan) []string {
	if p == nil {
		return nil
	}
	var out []string
	for _, e := range p.Trace {
		out = append(out, e.Why)
	}
	out = append(out, whys(p.OnBusy)...)
	return append(out, whys(p.Next)...)
}

func TestResolve(t *testing.T) {
	berlin := MustLoadLocation(t, "Europe/Berlin")
	newYork := MustLoadLocation(t, "America/New_York")
	monday10 := MustParseLocal(t, "2026-03-30 10:00", berlin)
	monday1905 := MustParseLocal(t, "2026-03-30 19:05", berlin)
	until := MustParseLocal(t, "2026-03-30 12:00", berlin)

	with := func(s pbxusers.RouteSubject, f func(*pbxusers.RouteSubject)) pbxusers.RouteSubject {
		f(&s)
		return s
	}
	alice := func(p pbxusers.RoutingPolicy) pbxusers.RouteSubject { return subject("alice", berlin, p) }
	bob := subject("bob", berlin, pbxusers.RoutingPolicy{})
	forwardTo := func(id string) pbxusers.RoutingPolicy {
		return pbxusers.RoutingPolicy{Default: pbxusers.AnsweringRule{Always: dest(pbxusers.DestUser, id)}}
	}
	chain := func(n, limit int) []pbxusers.RouteSubject {
		var users []pbxusers.RouteSubject
		for i := range n {
			p := forwardTo("u" + strconv.Itoa(i+1))
			if i == 0 {
				p.MaxForwardHops = limit
			}
			users = append(users, subject("u"+strconv.Itoa(i), berlin, p))
		}
		return users
	}
	backup := pbxusers.BackupRouting(backupNumber, 0, 0)

	for _, tt := range []struct {
		name      string
		users     []pbxusers.RouteSubject // the first is called
		call      pbxusers.Call
		wantRule  string
		wantSteps []pbxusers.RouteStep
		wantThen  pbxusers.Destination
		wantHops  []string // default: only the called user
		wantFinal *pbxusers.Destination
		wantBusy  *pbxusers.RoutePlan // OnBusy, without trace
		wantWhy   []string            // lines that must appear in the trace
	}{
		{
			name:      "business hours rule rings own devices, then voicemail",
			users:     []pbxusers.RouteSubject{alice(officePolicy())},
			call:      pbxusers.Call{From: "+4930999", At: monday10},
			wantRule:  "business",
			wantSteps: []pbxusers.RouteStep{own("alice", 30*time.Second)},
			wantThen:  voicemailOf("alice"),
			wantWhy: []string{
				"rule 'Holidays' skipped: time frame 'Holidays' not active at Mon 2026-03-30 10:00 Europe/Berlin",
				"rule 'Business' applies: time frame 'Business hours' active at Mon 2026-03-30 10:00 Europe/Berlin",
				"ring 2 endpoint(s) for 30s",
				"no answer → voicemail of alice",
			},
		},
		{
			name:     "after-hours rule forwards to the office number",
			users:    []pbxusers.RouteSubject{alice(officePolicy())},
			call:     pbxusers.Call{From: "+4930999", At: monday1905},
			wantRule: "after-hours",
			wantThen: pbxusers.Destination{Kind: pbxusers.DestExternal, Target: officeNumber},
			wantWhy: []string{
				"rule 'Business' skipped: time frame 'Business hours' not active at Mon 2026-03-30 19:05 Europe/Berlin",
				"rule 'After hours' applies: time frame 'Business hours' not active at Mon 2026-03-30 19:05 Europe/Berlin",
				"forward always → forward to " + officeNumber,
			},
		},
		{
			name:     "fixed-date holiday beats business hours",
			users:    []pbxusers.RouteSubject{alice(officePolicy())},
			call:     pbxusers.Call{At: MustParseLocal(t, "2026-12-25 10:00", berlin)},
			wantRule: "holiday",
			wantThen: voicemailOf("alice"),
			wantWhy:  []string{"rule 'Holidays' applies: time frame 'Holidays' active at Fri 2026-12-25 10:00 Europe/Berlin"},
		},
		{
			name:     "nth-weekday holiday (Thanksgiving) in New York",
			users:    []pbxusers.RouteSubject{subject("bob", newYork, officePolicy())},
			call:     pbxusers.Call{At: MustParseLocal(t, "2026-11-26 10:00", newYork)},
			wantRule: "holiday",
			wantThen: voicemailOf("bob"),
		},
		{
			name:     "Saturday holiday observed on Friday",
			users:    []pbxusers.RouteSubject{subject("bob", newYork, officePolicy())},
			call:     pbxusers.Call{At: MustParseLocal(t, "2026-07-03 10:00", newYork)},
			wantRule: "holiday",
			wantThen: voicemailOf("bob"),
			wantWhy:  []string{"rule 'Holidays' applies: time frame 'Holidays' active at Fri 2026-07-03 10:00 America/New_York"},
		},
		{
			name:     "the Saturday itself is just after hours",
			users:    []pbxusers.RouteSubject{subject("bob", newYork, officePolicy())},
			call:     pbxusers.Call{At: MustParseLocal(t, "2026-07-04 10:00", newYork)},
			wantRule: "after-hours",
			wantThen: pbxusers.Destination{Kind: pbxusers.DestExternal, Target: officeNumber},
		},
		{
			name:      "same instant: business hours in New York",
			users:     []pbxusers.RouteSubject{subject("bob", newYork, officePolicy())},
			call:      pbxusers.Call{At: MustParseUTC(t, "2026-03-30T15:30Z")},
			wantRule:  "business",
			wantSteps: []pbxusers.RouteStep{own("bob", 30*time.Second)},
			wantThen:  voicemailOf("bob"),
			wantWhy:   []string{"rule 'Business' applies: time frame 'Business hours' active at Mon 2026-03-30 11:30 America/New_York"},
		},
		{
			name:     "same instant: after hours in Berlin",
			users:    []pbxusers.RouteSubject{alice(officePolicy())},
			call:     pbxusers.Call{At: MustParseUTC(t, "2026-03-30T15:30Z")},
			wantRule: "after-hours",
			wantThen: pbxusers.Destination{Kind: pbxusers.DestExternal, Target: officeNumber},
			wantWhy:  []string{"rule 'After hours' applies: time frame 'Business hours' not active at Mon 2026-03-30 17:30 Europe/Berlin"},
		},
		{
			name:      "zero policy: ring own devices 30s, then voicemail",
			users:     []pbxusers.RouteSubject{alice(pbxusers.RoutingPolicy{})},
			call:      pbxusers.Call{At: monday10},
			wantRule:  pbxusers.DefaultRuleID,
			wantSteps: []pbxusers.RouteStep{own("alice", 30*time.Second)},
			wantThen:  voicemailOf("alice"),
			wantWhy:   []string{"no rule applies: default rule", "no answer → voicemail of alice"},
		},
		{
			name:      "no answer without voicemail hangs up",
			users:     []pbxusers.RouteSubject{with(alice(pbxusers.RoutingPolicy{RingTimeout: 20 * sec}), func(s *pbxusers.RouteSubject) { s.VoicemailEnabled = false })},
			call:      pbxusers.Call{At: monday10},
			wantRule:  pbxusers.DefaultRuleID,
			wantSteps: []pbxusers.RouteStep{own("alice", 20*time.Second)},
			wantThen:  hangup,
			wantWhy:   []string{"no answer → hang up"},
		},
		{
			name: "no answer forwards to a user, whose plan follows",
			users: []pbxusers.RouteSubject{
				alice(pbxusers.RoutingPolicy{Default: pbxusers.AnsweringRule{OnNoAnswer: dest(pbxusers.DestUser, "bob")}}), bob},
			call:      pbxusers.Call{At: monday10},
			wantRule:  pbxusers.DefaultRuleID,
			wantSteps: []pbxusers.RouteStep{own("alice", 30*time.Second)},
			wantThen:  pbxusers.Destination{Kind: pbxusers.DestUser, Target: "bob"},
			wantHops:  []string{"alice", "bob"},
			wantFinal: &pbxusers.Destination{Kind: pbxusers.DestVoicemail, Target: "bob"},
			wantBusy:  &pbxusers.RoutePlan{UserID: "alice", Rule: pbxusers.DefaultRuleID, Then: voicemailOf("alice")},
			wantWhy:   []string{"no answer → forward to user bob (hop 1)", "endpoints busy → voicemail of alice"},
		},
		{
			name: "busy without call waiting goes to the backup number",
			users: []pbxusers.RouteSubject{with(alice(pbxusers.RoutingPolicy{Default: pbxusers.AnsweringRule{
				OnBusy: dest(pbxusers.DestExternal, backupNumber)}}), func(s *pbxusers.RouteSubject) { s.State = pbxusers.PresenceBusy })},
			call:     pbxusers.Call{At: monday10},
			wantRule: pbxusers.DefaultRuleID,
			wantThen: pbxusers.Destination{Kind: pbxusers.DestExternal, Target: backupNumber},
			wantWhy:  []string{"on a call without call waiting → forward to " + backupNumber},
		},
		{
			name: "busy with call waiting rings; devices answering busy go to the backup number",
			users: []pbxusers.RouteSubject{with(alice(pbxusers.RoutingPolicy{CallWaiting: true, Default: pbxusers.AnsweringRule{
				OnBusy: dest(pbxusers.DestExternal, backupNumber)}}), func(s *pbxusers.RouteSubject) { s.State = pbxusers.PresenceBusy })},
			call:      pbxusers.Call{At: monday10},
			wantRule:  pbxusers.DefaultRuleID,
			wantSteps: []pbxusers.RouteStep{own("alice", 30*time.Second)},
			wantThen:  voicemailOf("alice"),
			wantBusy: &pbxusers.RoutePlan{UserID: "alice", Rule: pbxusers.DefaultRuleID,
				Then: pbxusers.Destination{Kind: pbxusers.DestExternal, Target: backupNumber}},
		},
		{
			name: "busy with busy/reject rejects even with call waiting",
			users: []pbxusers.RouteSubject{with(alice(pbxusers.RoutingPolicy{CallWaiting: true}), func(s *pbxusers.RouteSubject) {
				s.State, s.BusyReject = pbxusers.PresenceBusy, true
			})},
			call:     pbxusers.Call{At: monday10},
			wantRule: pbxusers.DefaultRuleID,
			wantThen: pbxusers.Destination{Kind: pbxusers.DestReject},
			wantWhy:  []string{"on a call with busy/reject on → reject"},
		},
		{
			name: "busy with busy/reject takes OnBusy when set",
			users: []pbxusers.RouteSubject{with(alice(pbxusers.RoutingPolicy{BusyPolicy: pbxusers.BusyDeviceReportsBusy, Default: pbxusers.AnsweringRule{
				OnBusy: dest(pbxusers.DestExternal, backupNumber)}}), func(s *pbxusers.RouteSubject) {
				s.State, s.BusyReject = pbxusers.PresenceBusy, true
			})},
			call:     pbxusers.Call{At: monday10},
			wantRule: pbxusers.DefaultRuleID,
			wantThen: pbxusers.Destination{Kind: pbxusers.DestExternal, Target: backupNumber},
		},
		{
			name:      "busy/reject does nothing while available",
			users:     []pbxusers.RouteSubject{with(alice(pbxusers.RoutingPolicy{}), func(s *pbxusers.RouteSubject) { s.BusyReject = true })},
			call:      pbxusers.Call{At: monday10},
			wantRule:  pbxusers.DefaultRuleID,
			wantSteps: []pbxusers.RouteStep{own("alice", 30*time.Second)},
			wantThen:  voicemailOf("alice"),
		},
		{
			name: "busy under device_reports_busy rings",
			users: []pbxusers.RouteSubject{with(alice(pbxusers.RoutingPolicy{BusyPolicy: pbxusers.BusyDeviceReportsBusy}),
				func(s *pbxusers.RouteSubject) { s.State = pbxusers.PresenceBusy })},
			call:      pbxusers.Call{At: monday10},
			wantRule:  pbxusers.DefaultRuleID,
			wantSteps: []pbxusers.RouteStep{own("alice", 30*time.Second)},
			wantThen:  voicemailOf("alice"),
		},
		{
			name: "offline goes to OnUnavailable",
			users: []pbxusers.RouteSubject{with(alice(pbxusers.RoutingPolicy{Default: pbxusers.AnsweringRule{
				OnUnavailable: dest(pbxusers.DestQueue, "support")}}), func(s *pbxusers.RouteSubject) { s.State = pbxusers.PresenceOffline })},
			call:     pbxusers.Call{At: monday10},
			wantRule: pbxusers.DefaultRuleID,
			wantThen: pbxusers.Destination{Kind: pbxusers.DestQueue, Target: "support"},
			wantWhy:  []string{"offline → queue support"},
		},
		{
			name: "nothing to ring (no devices, apps off) is unavailable",
			users: []pbxusers.RouteSubject{with(alice(pbxusers.RoutingPolicy{Default: pbxusers.AnsweringRule{
				OnUnavailable: dest(pbxusers.DestQueue, "support")}}), func(s *pbxusers.RouteSubject) { s.Devices, s.AppsEnabled = nil, false })},
			call:     pbxusers.Call{At: monday10},
			wantRule: pbxusers.DefaultRuleID,
			wantThen: pbxusers.Destination{Kind: pbxusers.DestQueue, Target: "support"},
			wantWhy:  []string{"no device or app to ring → queue support"},
		},
		{
			name:  "ip_phone mode never rings the apps",
			users: []pbxusers.RouteSubject{alice(pbxusers.RoutingPolicy{AnswerMode: pbxusers.AnswerIPPhone})},
			call:  pbxusers.Call{At: monday10},
			wantSteps: []pbxusers.RouteStep{{Timeout: 30 * sec, Targets: []pbxusers.RouteTarget{
				{Kind: pbxusers.TargetDevice, Value: "alice-desk", UserID: "alice"}}}},
			wantRule: pbxusers.DefaultRuleID,
			wantThen: voicemailOf("alice"),
		},
		{
			name:     "DND sends a caller to voicemail",
			users:    []pbxusers.RouteSubject{alice(pbxusers.RoutingPolicy{AllowCallers: []string{"+4917*"}, Default: pbxusers.AnsweringRule{DND: true}})},
			call:     pbxusers.Call{From: "+4930999", At: monday10},
			wantRule: pbxusers.DefaultRuleID,
			wantThen: voicemailOf("alice"),
			wantWhy:  []string{"do not disturb → voicemail of alice"},
		},
		{
			name:      "DND lets an allowed caller ring",
			users:     []pbxusers.RouteSubject{alice(pbxusers.RoutingPolicy{AllowCallers: []string{"+4917*"}, Default: pbxusers.AnsweringRule{DND: true}})},
			call:      pbxusers.Call{From: "+4917012345", At: monday10},
			wantRule:  pbxusers.DefaultRuleID,
			wantSteps: []pbxusers.RouteStep{own("alice", 30*time.Second)},
			wantThen:  voicemailOf("alice"),
			wantWhy:   []string{"do not disturb bypassed: caller +4917012345 allowed"},
		},
		{
			name: "presence DND goes to OnDND, a forward to another user",
			users: []pbxusers.RouteSubject{with(alice(pbxusers.RoutingPolicy{Default: pbxusers.AnsweringRule{
				OnDND: dest(pbxusers.DestUser, "bob")}}), func(s *pbxusers.RouteSubject) { s.State = pbxusers.PresenceDND }), bob},
			call:      pbxusers.Call{At: monday10},
			wantRule:  pbxusers.DefaultRuleID,
			wantThen:  pbxusers.Destination{Kind: pbxusers.DestUser, Target: "bob"},
			wantHops:  []string{"alice", "bob"},
			wantFinal: &pbxusers.Destination{Kind: pbxusers.DestVoicemail, Target: "bob"},
			wantWhy:   []string{"do not disturb → forward to user bob (hop 1)"},
		},
		{
			name:     "caller on the reject list is rejected",
			users:    []pbxusers.RouteSubject{alice(pbxusers.RoutingPolicy{RejectCallers: []string{"+1900*"}, AllowCallers: []string{"+19005550100"}})},
			call:     pbxusers.Call{From: "+19005550199", At: monday10},
			wantThen: pbxusers.Destination{Kind: pbxusers.DestReject},
			wantWhy:  []string{"caller +19005550199 on the reject list → reject"},
		},
		{
			name:      "allowed caller beats the reject list",
			users:     []pbxusers.RouteSubject{alice(pbxusers.RoutingPolicy{RejectCallers: []string{"+1900*"}, AllowCallers: []string{"+19005550100"}})},
			call:      pbxusers.Call{From: "+19005550100", At: monday10},
			wantRule:  pbxusers.DefaultRuleID,
			wantSteps: []pbxusers.RouteStep{own("alice", 30*time.Second)},
			wantThen:  voicemailOf("alice"),
		},
		{
			name:     "anonymous caller rejected",
			users:    []pbxusers.RouteSubject{alice(pbxusers.RoutingPolicy{RejectAnonymous: true, AllowCallers: []string{"*"}})},
			call:     pbxusers.Call{At: monday10},
			wantThen: pbxusers.Destination{Kind: pbxusers.DestReject},
			wantWhy:  []string{"anonymous caller rejected"},
		},
		{
			name:      "anonymous caller rings without RejectAnonymous",
			users:     []pbxusers.RouteSubject{alice(pbxusers.RoutingPolicy{RejectCallers: []string{"*"}})},
			call:      pbxusers.Call{At: monday10},
			wantRule:  pbxusers.DefaultRuleID,
			wantSteps: []pbxusers.RouteStep{own("alice", 30*time.Second)},
			wantThen:  voicemailOf("alice"),
		},
		{
			name:      "forward loop A→B→A stops at B's voicemail",
			users:     []pbxusers.RouteSubject{alice(forwardTo("bob")), subject("bob", berlin, forwardTo("alice"))},
			call:      pbxusers.Call{At: monday10},
			wantRule:  pbxusers.DefaultRuleID,
			wantThen:  pbxusers.Destination{Kind: pbxusers.DestUser, Target: "bob"},
			wantHops:  []string{"alice", "bob"},
			wantFinal: &pbxusers.Destination{Kind: pbxusers.DestVoicemail, Target: "bob"},
			wantWhy: []string{
				"forward always → forward to user bob (hop 1)",
				"forward always → forward to user alice would loop (alice → bob → alice); stopped → voicemail of bob",
			},
		},
		{
			name: "forward loop without voicemail hangs up",
			users: []pbxusers.RouteSubject{alice(forwardTo("bob")),
				with(subject("bob", berlin, forwardTo("alice")), func(s *pbxusers.RouteSubject) { s.VoicemailEnabled = false })},
			call:      pbxusers.Call{At: monday10},
			wantRule:  pbxusers.DefaultRuleID,
			wantThen:  pbxusers.Destination{Kind: pbxusers.DestUser, Target: "bob"},
			wantHops:  []string{"alice", "bob"},
			wantFinal: &hangup,
		},
		{
			name:     "forward to oneself is a loop",
			users:    []pbxusers.RouteSubject{alice(forwardTo("alice"))},
			call:     pbxusers.Call{At: monday10},
			wantRule: pbxusers.DefaultRuleID,
			wantThen: voicemailOf("alice"),
			wantWhy:  []string{"forward always → forward to user alice would loop (alice → alice); stopped → voicemail of alice"},
		},
		{
			name:      "hop limit of the called user",
			users:     chain(8, 3),
			call:      pbxusers.Call{At: monday10},
			wantRule:  pbxusers.DefaultRuleID,
			wantThen:  pbxusers.Destination{Kind: pbxusers.DestUser, Target: "u1"},
			wantHops:  []string{"u0", "u1", "u2", "u3"},
			wantFinal: &pbxusers.Destination{Kind: pbxusers.DestVoicemail, Target: "u3"},
			wantWhy:   []string{"forward always → forward to user u4 exceeds the hop limit of 3; stopped → voicemail of u3"},
		},
		{
			name:      "default hop limit is 5",
			users:     chain(8, 0),
			call:      pbxusers.Call{At: monday10},
			wantRule:  pbxusers.DefaultRuleID,
			wantThen:  pbxusers.Destination{Kind: pbxusers.DestUser, Target: "u1"},
			wantHops:  []string{"u0", "u1", "u2", "u3", "u4", "u5"},
			wantFinal: &pbxusers.Destination{Kind: pbxusers.DestVoicemail, Target: "u5"},
		},
		{
			name:     "forward to an unknown user stops",
			users:    []pbxusers.RouteSubject{alice(forwardTo("ghost"))},
			call:     pbxusers.Call{At: monday10},
			wantRule: pbxusers.DefaultRuleID,
			wantThen: voicemailOf("alice"),
			wantWhy:  []string{"forward always → forward to unknown user ghost; stopped → voicemail of alice"},
		},
		{
			name: "override before expiry forces a disabled rule",
			users: []pbxusers.RouteSubject{alice(func() pbxusers.RoutingPolicy {
				p := officePolicy()
				p.Rules = append(p.Rules, pbxusers.AnsweringRule{ID: "closed", Name: "Closed", Always: dest(pbxusers.DestAutoAttendant, "closed-menu")})
				p.Override = &pbxusers.ManualOverride{Rule: "closed", Until: &until, Reason: "team event"}
				return p
			}())},
			call:     pbxusers.Call{At: monday10},
			wantRule: "closed",
			wantThen: pbxusers.Destination{Kind: pbxusers.DestAutoAttendant, Target: "closed-menu"},
			wantWhy:  []string{"manual override (team event) forces rule 'Closed'", "forward always → auto attendant closed-menu"},
		},
		{
			name: "override after expiry is ignored",
			users: []pbxusers.RouteSubject{alice(func() pbxusers.RoutingPolicy {
				p := officePolicy()
				p.Rules = append(p.Rules, pbxusers.AnsweringRule{ID: "closed", Always: dest(pbxusers.DestAutoAttendant, "closed-menu")})
				p.Override = &pbxusers.ManualOverride{Rule: "closed", Until: &until, Reason: "team event"}
				return p
			}())},
			call:      pbxusers.Call{At: until},
			wantRule:  "business",
			wantSteps: []pbxusers.RouteStep{own("alice", 30*time.Second)},
			wantThen:  voicemailOf("alice"),
			wantWhy:   []string{"override (team event) expired at 2026-03-30 12:00 CEST, ignored"},
		},
		{
			name: "override destination forwards to a user",
			users: []pbxusers.RouteSubject{alice(pbxusers.RoutingPolicy{Override: &pbxusers.ManualOverride{
				Destination: dest(pbxusers.DestUser, "bob"), Reason: "sick"}}), bob},
			call:      pbxusers.Call{At: monday10},
			wantThen:  pbxusers.Destination{Kind: pbxusers.DestUser, Target: "bob"},
			wantHops:  []string{"alice", "bob"},
			wantFinal: &pbxusers.Destination{Kind: pbxusers.DestVoicemail, Target: "bob"},
			wantWhy:   []string{"manual override (sick) → forward to user bob (hop 1)"},
		},
		{
			name: "will_not_answer goes to OnUnavailable",
			users: []pbxusers.RouteSubject{alice(pbxusers.RoutingPolicy{AnswerMode: pbxusers.AnswerWillNotAnswer,
				Default: pbxusers.AnsweringRule{OnUnavailable: dest(pbxusers.DestUser, "bob"), Final: dest(pbxusers.DestHangup, "")}}), bob},
			call:      pbxusers.Call{At: monday10},
			wantRule:  pbxusers.DefaultRuleID,
			wantThen:  pbxusers.Destination{Kind: pbxusers.DestUser, Target: "bob"},
			wantHops:  []string{"alice", "bob"},
			wantFinal: &pbxusers.Destination{Kind: pbxusers.DestVoicemail, Target: "bob"},
			wantWhy:   []string{"answer mode will_not_answer → forward to user bob (hop 1)"},
		},
		{
			name: "will_not_answer without OnUnavailable goes to Final",
			users: []pbxusers.RouteSubject{alice(pbxusers.RoutingPolicy{AnswerMode: pbxusers.AnswerWillNotAnswer,
				Default: pbxusers.AnsweringRule{Final: dest(pbxusers.DestQueue, "managers")}})},
			call:     pbxusers.Call{At: monday10},
			wantRule: pbxusers.DefaultRuleID,
			wantThen: pbxusers.Destination{Kind: pbxusers.DestQueue, Target: "managers"},
		},
		{
			name: "phone_number mode rings the forward number even when offline",
			users: []pbxusers.RouteSubject{with(alice(pbxusers.RoutingPolicy{AnswerMode: pbxusers.AnswerPhoneNumber, ForwardNumber: backupNumber}),
				func(s *pbxusers.RouteSubject) { s.State = pbxusers.PresenceOffline })},
			call:     pbxusers.Call{At: monday10},
			wantRule: pbxusers.DefaultRuleID,
			wantSteps: []pbxusers.RouteStep{{Timeout: 30 * sec, Targets: []pbxusers.RouteTarget{
				{Kind: pbxusers.TargetExternal, Value: backupNumber, UserID: "alice"}}}},
			wantThen: voicemailOf("alice"),
			wantWhy:  []string{"answer mode phone_number → ring " + backupNumber + " for 30s"},
		},
		{
			name: "inactive user never rings",
			users: []pbxusers.RouteSubject{with(alice(pbxusers.RoutingPolicy{Default: pbxusers.AnsweringRule{
				OnUnavailable: dest(pbxusers.DestUser, "bob")}}), func(s *pbxusers.RouteSubject) { s.Active = false }), bob},
			call:      pbxusers.Call{At: monday10},
			wantThen:  pbxusers.Destination{Kind: pbxusers.DestUser, Target: "bob"},
			wantHops:  []string{"alice", "bob"},
			wantFinal: &pbxusers.Destination{Kind: pbxusers.DestVoicemail, Target: "bob"},
			wantWhy:   []string{"user inactive → forward to user bob (hop 1)"},
		},
		{
			name:      "Aloware backup routing, user available: apps 60s, backup 20s, voicemail",
			users:     []pbxusers.RouteSubject{alice(backup)},
			call:      pbxusers.Call{At: monday10},
			wantRule:  pbxusers.DefaultRuleID,
			wantSteps: []pbxusers.RouteStep{own("alice", 60*time.Second), external(backupNumber, 20*time.Second)},
			wantThen:  voicemailOf("alice"),
			wantBusy: &pbxusers.RoutePlan{UserID: "alice", Rule: pbxusers.DefaultRuleID,
				Steps: []pbxusers.RouteStep{external(backupNumber, 20*time.Second)}, Then: voicemailOf("alice")},
			wantWhy: []string{"ring 2 steps (60s, 20s)"},
		},
		{
			name:      "Aloware backup routing, user unavailable: backup 20s at once",
			users:     []pbxusers.RouteSubject{with(alice(backup), func(s *pbxusers.RouteSubject) { s.State = pbxusers.PresenceOffline })},
			call:      pbxusers.Call{At: monday10},
			wantRule:  pbxusers.DefaultRuleID,
			wantSteps: []pbxusers.RouteStep{external(backupNumber, 20*time.Second)},
			wantThen:  voicemailOf("alice"),
			wantWhy:   []string{"offline → ring " + backupNumber + " for 20s", "no answer → voicemail of alice"},
		},
		{
			name: "Aloware backup routing, apps logged out and no voicemail",
			users: []pbxusers.RouteSubject{with(alice(backup), func(s *pbxusers.RouteSubject) {
				s.AppsEnabled, s.Devices, s.VoicemailEnabled = false, nil, false
			})},
			call:      pbxusers.Call{At: monday10},
			wantRule:  pbxusers.DefaultRuleID,
			wantSteps: []pbxusers.RouteStep{external(backupNumber, 20*time.Second)},
			wantThen:  hangup,
			wantWhy:   []string{"no device or app to ring → ring " + backupNumber + " for 20s", "no answer → hang up"},
		},
		{
			name: "sequential plan with a colleague and a confirmed external number",
			users: []pbxusers.RouteSubject{alice(pbxusers.RoutingPolicy{Default: pbxusers.AnsweringRule{
				Ring: pbxusers.RingPlan{Mode: pbxusers.RingSequential, Steps: []pbxusers.RingStep{
					{Timeout: 20 * sec, Targets: []pbxusers.RingTarget{{Kind: pbxusers.TargetDevice, Value: "alice-desk"}, {Kind: pbxusers.TargetUser, Value: "bob", Delay: 5 * sec}}},
					{Targets: []pbxusers.RingTarget{{Kind: pbxusers.TargetUser, Value: "carol"}}},
					{Timeout: 40 * sec, Targets: []pbxusers.RingTarget{{Kind: pbxusers.TargetExternal, Value: backupNumber, ConfirmAnswer: true}}},
				}}}}),
				bob,
				with(subject("carol", berlin, pbxusers.RoutingPolicy{}), func(s *pbxusers.RouteSubject) { s.State = pbxusers.PresenceOffline }),
			},
			call:     pbxusers.Call{At: monday10},
			wantRule: pbxusers.DefaultRuleID,
			wantSteps: []pbxusers.RouteStep{
				{Timeout: 20 * sec, Targets: []pbxusers.RouteTarget{
					{Kind: pbxusers.TargetDevice, Value: "alice-desk", UserID: "alice"},
					{Kind: pbxusers.TargetApps, Value: "bob", UserID: "bob", Delay: 5 * sec},
					{Kind: pbxusers.TargetDevice, Value: "bob-desk", UserID: "bob", Delay: 5 * sec},
				}},
				{Timeout: 40 * sec, Targets: []pbxusers.RouteTarget{{Kind: pbxusers.TargetExternal, Value: backupNumber, ConfirmAnswer: true}}},
			},
			wantThen: voicemailOf("alice"),
			wantWhy:  []string{"ring target user carol skipped: offline", "ring step 2 skipped: nothing reachable", "ring 2 steps (20s, 40s)"},
		},
		{
			name: "conditions: call type, callers and presence",
			users: []pbxusers.RouteSubject{with(alice(pbxusers.RoutingPolicy{Rules: []pbxusers.AnsweringRule{
				{ID: "internal", Enabled: true, When: pbxusers.Condition{CallType: pbxusers.CallTypeInternal}, Always: dest(pbxusers.DestHangup, "")},
				{ID: "vip", Enabled: true, When: pbxusers.Condition{Callers: []string{"+4989*"}}, Always: dest(pbxusers.DestHangup, "")},
				{ID: "off", Always: dest(pbxusers.DestHangup, "")},
				{ID: "ghost-frame", Enabled: true, When: pbxusers.Condition{TimeFrames: []string{"nope"}, NotInTimeFrames: true}, Always: dest(pbxusers.DestHangup, "")},
				{ID: "away", Enabled: true, When: pbxusers.Condition{States: []pbxusers.PresenceState{pbxusers.PresenceAway}, CallType: pbxusers.CallTypeExternal},
					Always: dest(pbxusers.DestVoicemail, "")},
			}}), func(s *pbxusers.RouteSubject) { s.State = pbxusers.PresenceAway })},
			call:     pbxusers.Call{From: "+4930999", At: monday10},
			wantRule: "away",
			wantThen: voicemailOf("alice"),
			wantWhy: []string{
				"rule 'internal' skipped: internal calls only",
				"rule 'vip' skipped: caller +4930999 not listed",
				"rule 'off' skipped: disabled",
				"rule 'ghost-frame' skipped: time frame 'nope' unknown",
				"rule 'away' applies",
			},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			subjects := make(map[string]pbxusers.RouteSubject, len(tt.users))
			for _, u := range tt.users {
				subjects[u.UserID] = u
			}
			to := tt.users[0].UserID
			plan, err := pbxusers.Resolve(tt.call, to, subjects, testFrames())
			require.NoError(t, err)
			t.Log("\n" + plan.String())

			assert.Equal(t, to, plan.UserID)
			assert.Equal(t, 0, plan.Hop)
			assert.Equal(t, tt.wantRule, plan.Rule, "rule")
			assert.Equal(t, tt.wantSteps, plan.Steps, "steps")
			assert.Equal(t, tt.wantThen, plan.Then, "then")
			wantHops := tt.wantHops
			if wantHops == nil {
				wantHops = []string{to}
			}
			assert.Equal(t, wantHops, plan.Hops(), "hops")
			wantFinal := tt.wantThen
			if tt.wantFinal != nil {
				wantFinal = *tt.wantFinal
			}
			assert.Equal(t, wantFinal, plan.Final(), "final")
			if tt.wantBusy == nil {
				assert.Nil(t, plan.OnBusy, "on busy")
			} else if assert.NotNil(t, plan.OnBusy, "on busy") {
				got := *plan.OnBusy
				got.Trace = nil
				assert.Equal(t, *tt.wantBusy, got, "on busy")
			}
			all := whys(&plan)
			for _, w := range tt.wantWhy {
				assert.Contains(t, all, w)
			}
			for i, e := range plan.Trace {
				assert.Equal(t, to, e.UserID, "trace[%d]", i)
			}
			for q, hop := plan.Next, 1; q != nil; q, hop = q.Next, hop+1 {
				assert.Equal(t, hop, q.Hop)
			}
		})
	}
}

func TestResolveTraceNamesRuleAndTimeFrame(t *testing.T) {
	berlin := MustLoadLocation(t, "Europe/Berlin")
	subjects := map[string]pbxusers.RouteSubject{"alice": subject("alice", berlin, officePolicy())}
	plan, err := pbxusers.Resolve(pbxusers.Call{At: MustParseLocal(t, "2026-03-30 19:05", berlin)}, "alice", subjects, testFrames())
	require.NoError(t, err)
	require.Len(t, plan.Trace, 4)
	assert.Equal(t, pbxusers.TraceEntry{UserID: "alice", Rule: "holiday", TimeFrame: "holidays",
		Why: "rule 'Holidays' skipped: time frame 'Holidays' not active at Mon 2026-03-30 19:05 Europe/Berlin"}, plan.Trace[0])
	assert.Equal(t, pbxusers.TraceEntry{UserID: "alice", Rule: "after-hours", TimeFrame: "business",
		Why: "rule 'After hours' applies: time frame 'Business hours' not active at Mon 2026-03-30 19:05 Europe/Berlin"}, plan.Trace[2])
	assert.Equal(t, pbxusers.TraceEntry{UserID: "alice", Rule: "after-hours",
		Why: "forward always → forward to " + officeNumber}, plan.Trace[3])
}

func TestResolveTimeFrameZone(t *testing.T) {
	berlin := MustLoadLocation(t, "Europe/Berlin")
	subjects := map[string]pbxusers.RouteSubject{"alice": subject("alice", berlin, officePolicy())}
	frames := testFrames()
	nyBusiness := frames["business"]
	nyBusiness.TimeZone = "America/New_York"
	frames["business"] = nyBusiness
	call := pbxusers.Call{At: MustParseUTC(t, "2026-03-30T15:30Z")} // 17:30 Berlin, 11:30 New York

	_, err := pbxusers.Resolve(call, "alice", subjects, frames)
	require.ErrorIs(t, err, pbxusers.ErrInvalid, "a zone that was not loaded is an error, not a silent guess")
	assert.Contains(t, err.Error(), `time zone "America/New_York" not loaded`)

	frames["business"], err = nyBusiness.Loaded()
	require.NoError(t, err)
	plan, err := pbxusers.Resolve(call, "alice", subjects, frames)
	require.NoError(t, err)
	assert.Equal(t, "business", plan.Rule, "the frame's own zone wins over the user's")
	assert.Contains(t, whys(&plan), "rule 'Business' applies: time frame 'Business hours' active at Mon 2026-03-30 11:30 America/New_York")
}

func TestResolveUnknownUser(t *testing.T) {
	_, err := pbxusers.Resolve(pbxusers.Call{}, "nobody", nil, nil)
	require.ErrorIs(t, err, pbxusers.ErrNotFound)
	assert.Contains(t, err.Error(), `"nobody"`)
}

// TestResolveNeverPanics feeds policies that fail Validate.
func TestResolveNeverPanics(t *testing.T) {
	bad := pbxusers.RoutingPolicy{
		AnswerMode: "weird", RingTimeout: -5, BusyPolicy: "x", MaxForwardHops: 1000,
		AllowCallers: []string{""}, RejectCallers: []string{"", "*"},
		Override: &pbxusers.ManualOverride{Rule: "missing"},
		Rules: []pbxusers.AnsweringRule{{Enabled: true, When: pbxusers.Condition{TimeFrames: []string{""}, CallType: "?", States: []pbxusers.PresenceState{"?"}},
			Ring:       pbxusers.RingPlan{Mode: "?", Steps: []pbxusers.RingStep{{Timeout: -1}, {Targets: []pbxusers.RingTarget{{}, {Kind: pbxusers.TargetUser}, {Kind: pbxusers.TargetExternal}}}}},
			OnNoAnswer: &pbxusers.Destination{}, Final: &pbxusers.Destination{Kind: "?"}}},
		Default: pbxusers.AnsweringRule{Always: &pbxusers.Destination{Kind: pbxusers.DestUser}},
	}
	bad2 := bad
	bad2.Rules = append([]pbxusers.AnsweringRule(nil), bad.Rules...)
	bad2.Rules[0].When = pbxusers.Condition{}
	bad2.Override = nil
	bad2.AnswerMode = pbxusers.AnswerPhoneNumber
	var wide []pbxusers.RouteSubject
	for i := range 40 {
		// Each user forwards on no answer and on busy to the next two: a
		// tree that must stay bounded.
		p := pbxusers.RoutingPolicy{MaxForwardHops: 1000, Default: pbxusers.AnsweringRule{
			OnNoAnswer: dest(pbxusers.DestUser, "w"+strconv.Itoa(i+1)),
			OnBusy:     dest(pbxusers.DestUser, "w"+strconv.Itoa(i+2))}}
		wide = append(wide, subject("w"+strconv.Itoa(i), nil, p))
	}
	for name, users := range map[string][]pbxusers.RouteSubject{
		"invalid policy":       {{UserID: "x", Active: true, Policy: bad}},
		"invalid phone mode":   {{UserID: "x", Active: true, Policy: bad2, State: "?"}},
		"no location":          {subject("x", nil, officePolicy())},
		"wide forwarding tree": wide,
	} {
		subjects := map[string]pbxusers.RouteSubject{}
		for _, u := range users {
			subjects[u.UserID] = u
		}
		for _, from := range []string{"", "*", "+4930"} {
			plan, err := pbxusers.Resolve(pbxusers.Call{From: from}, users[0].UserID, subjects, testFrames())
			require.NoError(t, err, name)
			assert.NotEmpty(t, plan.Then.Kind, name)
			assert.NotEmpty(t, plan.String(), name)
			n := 0
			var count func(p *pbxusers.RoutePlan)
			count = func(p *pbxusers.RoutePlan) {
				if p != nil {
					n++
					count(p.Next)
					count(p.OnBusy)
				}
			}
			count(&plan)
			assert.LessOrEqual(t, n, 32, name)
		}
	}
}

func TestRoutePlanString(t *testing.T) {
	berlin := MustLoadLocation(t, "Europe/Berlin")
	subjects := map[string]pbxusers.RouteSubject{
		"alice": subject("alice", berlin, pbxusers.RoutingPolicy{Default: pbxusers.AnsweringRule{OnNoAnswer: dest(pbxusers.DestUser, "bob")}}),
		"bob":   subject("bob", berlin, pbxusers.RoutingPolicy{}),
	}
	plan, err := pbxusers.Resolve(pbxusers.Call{}, "alice", subjects, nil)
	require.NoError(t, err)
	s := plan.String()
	for _, want := range []string{
		"user alice (hop 0, rule default)",
		"step 1, 30s: apps alice device alice-desk",
		"then: user bob",
		"  user bob (hop 1, rule default)",
		"then: voicemail of bob",
		"on busy:",
	} {
		assert.True(t, strings.Contains(s, want), "%q not in\n%s", want, s)
	}
}

// TestResolveLongTrace checks that every entry of a long trace keeps its
// own text.
func TestResolveLongTrace(t *testing.T) {
	p := pbxusers.RoutingPolicy{}
	for i := range 40 {
		p.Rules = append(p.Rules, pbxusers.AnsweringRule{ID: "r" + strconv.Itoa(i)})
	}
	subjects := map[string]pbxusers.RouteSubject{"alice": subject("alice", nil, p)}
	plan, err := pbxusers.Resolve(pbxusers.Call{}, "alice", subjects, nil)
	require.NoError(t, err)
	require.Len(t, plan.Trace, 43)
	for i := range 40 {
		assert.Equal(t, pbxusers.TraceEntry{UserID: "alice", Rule: "r" + strconv.Itoa(i),
			Why: "rule 'r" + strconv.Itoa(i) + "' skipped: disabled"}, plan.Trace[i])
	}
	assert.Equal(t, []string{"no rule applies: default rule", "ring 2 endpoint(s) for 30s", "no answer → voicemail of alice"},
		whys(&plan)[40:])
}
