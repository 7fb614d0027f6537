package pbxusers_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/pbxusers"
)

func dest(kind pbxusers.DestinationKind, target string) *pbxusers.Destination {
	return &pbxusers.Destination{Kind: kind, Target: target}
}

func TestRoutingPolicyValidateValid(t *testing.T) {
	until := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	for name, p := range map[string]pbxusers.RoutingPolicy{
		"zero":           {},
		"backup routing": pbxusers.BackupRouting("+4915112345678", 0, 0),
		"forward all":    pbxusers.ForwardAll("+12125550100"),
		"after hours":    pbxusers.AfterHours("business", *dest(pbxusers.DestVoicemail, "")),
		"full": {
			AnswerMode: pbxusers.AnswerIPPhone, RingTimeout: pbxusers.Seconds(25 * time.Second),
			CallWaiting: true, BusyPolicy: pbxusers.BusyDeviceReportsBusy,
			AllowCallers: []string{"+4930123456", "1001", "+4930*", "*"}, RejectCallers: []string{"+1900*"},
			RejectAnonymous: true, MaxForwardHops: 3,
			Override: &pbxusers.ManualOverride{Rule: "holiday", Until: &until, Reason: "closed"},
			Rules: []pbxusers.AnsweringRule{{
				ID: "holiday", Enabled: true,
				When: pbxusers.Condition{TimeFrames: []string{"holidays"}, CallType: pbxusers.CallTypeExternal,
					Callers: []string{"+49*"}, States: []pbxusers.PresenceState{pbxusers.PresenceAvailable}},
				Ring: pbxusers.RingPlan{Mode: pbxusers.RingSequential, Steps: []pbxusers.RingStep{
					{Targets: []pbxusers.RingTarget{{Kind: pbxusers.TargetOwnDevices}, {Kind: pbxusers.TargetUser, Value: "bob", Delay: pbxusers.Seconds(5 * time.Second)}}},
					{Targets: []pbxusers.RingTarget{{Kind: pbxusers.TargetExternal, Value: "+4915112345678", ConfirmAnswer: true}}, Timeout: pbxusers.Seconds(40 * time.Second)},
				}},
				OnBusy: dest(pbxusers.DestQueue, "sales"), OnNoAnswer: dest(pbxusers.DestUser, "bob"),
				OnUnavailable: dest(pbxusers.DestVoicemail, "bob"), OnDND: dest(pbxusers.DestBusy, ""),
				Final: &pbxusers.Destination{Kind: pbxusers.DestExternal, Target: "+12125550100", Timeout: pbxusers.Seconds(20 * time.Second)},
			}},
		},
	} {
		assert.NoError(t, p.Validate(), name)
	}
}

func TestRoutingPolicyValidate(t *testing.T) {
	for _, tt := range []struct {
		name   string
		policy pbxusers.RoutingPolicy
		fields []string
	}{
		{"top-level fields", pbxusers.RoutingPolicy{
			AnswerMode: "carrier-pigeon", ForwardNumber: "0301234", RingTimeout: -1,
			BusyPolicy: "sometimes", AllowCallers: []string{"+49 30"}, RejectCallers: []string{"", "+0*", "12a"},
			MaxForwardHops: 21,
		}, []string{"answerMode", "forwardNumber", "ringTimeout", "busyPolicy", "allowCallers[0]",
			"rejectCallers[0]", "rejectCallers[1]", "rejectCallers[2]", "maxForwardHops"}},
		{"phone number mode needs a number", pbxusers.RoutingPolicy{AnswerMode: pbxusers.AnswerPhoneNumber},
			[]string{"forwardNumber"}},
		{"timeout too large", pbxusers.RoutingPolicy{RingTimeout: pbxusers.Seconds(2 * time.Hour)}, []string{"ringTimeout"}},
		{"rule ids", pbxusers.RoutingPolicy{Rules: []pbxusers.AnsweringRule{
			{}, {ID: "a"}, {ID: "a"}, {ID: pbxusers.DefaultRuleID},
		}}, []string{"rules[0].id", "rules[2].id", "rules[3].id"}},
		{"conditions", pbxusers.RoutingPolicy{Rules: []pbxusers.AnsweringRule{{ID: "a", When: pbxusers.Condition{
			TimeFrames: []string{"x", "", "x"}, CallType: "mobile", Callers: []string{"abc"},
			States: []pbxusers.PresenceState{"sleeping"},
		}}, {ID: "b", When: pbxusers.Condition{NotInTimeFrames: true}}}},
			[]string{"rules[0].when.timeFrames[1]", "rules[0].when.timeFrames[2]", "rules[0].when.callType",
				"rules[0].when.callers[0]", "rules[0].when.states[0]", "rules[1].when.notInTimeFrames"}},
		{"destinations", pbxusers.RoutingPolicy{Rules: []pbxusers.AnsweringRule{{ID: "a",
			Always:        dest(pbxusers.DestUser, ""),
			OnBusy:        dest(pbxusers.DestExternal, "+49-30"),
			OnNoAnswer:    dest("", ""),
			OnUnavailable: dest("fax", "x"),
			OnDND:         dest(pbxusers.DestHangup, "someone"),
			Final:         &pbxusers.Destination{Kind: pbxusers.DestVoicemail, Timeout: pbxusers.Seconds(time.Second)},
		}}}, []string{"rules[0].always.target", "rules[0].onBusy.target", "rules[0].onNoAnswer.kind",
			"rules[0].onUnavailable.kind", "rules[0].onDnd.target", "rules[0].final.timeout"}},
		{"ring plan", pbxusers.RoutingPolicy{Rules: []pbxusers.AnsweringRule{
			{ID: "seq", Ring: pbxusers.RingPlan{Mode: pbxusers.RingSequential}},
			{ID: "sim", Ring: pbxusers.RingPlan{Steps: []pbxusers.RingStep{{Targets: []pbxusers.RingTarget{{Kind: pbxusers.TargetOwnDevices}}}, {}}}},
			{ID: "mode", Ring: pbxusers.RingPlan{Mode: "random"}},
			{ID: "steps", Ring: pbxusers.RingPlan{Mode: pbxusers.RingSequential, Steps: []pbxusers.RingStep{
				{Targets: []pbxusers.RingTarget{{Kind: pbxusers.TargetOwnDevices}}},
				{Timeout: -1},
				{Timeout: pbxusers.Seconds(10 * time.Second), Targets: []pbxusers.RingTarget{
					{Kind: pbxusers.TargetUser},
					{Kind: pbxusers.TargetExternal, Value: "555"},
					{Kind: pbxusers.TargetDevice, Value: "d1", ConfirmAnswer: true},
					{Kind: pbxusers.TargetApps, Value: "x"},
					{Kind: "pager", Value: "x"},
					{},
					{Kind: pbxusers.TargetOwnDevices, Delay: pbxusers.Seconds(10 * time.Second)},
					{Kind: pbxusers.TargetOwnDevices, Delay: -1},
				}},
			}}},
		}}, []string{"rules[0].ring.steps", "rules[1].ring.steps", "rules[1].ring.steps[1].targets", "rules[2].ring.mode",
			"rules[3].ring.steps[1].timeout", "rules[3].ring.steps[1].targets",
			"rules[3].ring.steps[2].targets[0].value", "rules[3].ring.steps[2].targets[1].value",
			"rules[3].ring.steps[2].targets[2].confirmAnswer", "rules[3].ring.steps[2].targets[3].value",
			"rules[3].ring.steps[2].targets[4].kind", "rules[3].ring.steps[2].targets[5].kind",
			"rules[3].ring.steps[2].targets[6].delay", "rules[3].ring.steps[2].targets[7].delay"}},
		{"default rule", pbxusers.RoutingPolicy{Default: pbxusers.AnsweringRule{ID: "catch-all",
			When: pbxusers.Condition{CallType: pbxusers.CallTypeInternal}, Always: dest(pbxusers.DestExternal, "")}},
			[]string{"default.id", "default.when", "default.always.target"}},
		{"override without choice", pbxusers.RoutingPolicy{Override: &pbxusers.ManualOverride{Reason: "x"}}, []string{"override"}},
		{"override with both", pbxusers.RoutingPolicy{Override: &pbxusers.ManualOverride{Rule: "a", Destination: dest(pbxusers.DestHangup, "")}}, []string{"override"}},
		{"override unknown rule", pbxusers.RoutingPolicy{Override: &pbxusers.ManualOverride{Rule: "a"}}, []string{"override.rule"}},
		{"override destination", pbxusers.RoutingPolicy{Override: &pbxusers.ManualOverride{Destination: dest(pbxusers.DestConference, "")}}, []string{"override.destination.target"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.policy.Validate()
			require.ErrorIs(t, err, pbxusers.ErrInvalid)
			var ve *pbxusers.ValidationError
			require.True(t, errors.As(err, &ve))
			var got []string
			for _, f := range ve.Fields {
				got = append(got, f.Field)
			}
			assert.ElementsMatch(t, tt.fields, got, err.Error())
		})
	}
}

func TestRoutingPolicyJSON(t *testing.T) {
	until := time.Date(2026, 4, 1, 8, 0, 0, 0, time.UTC)
	p := pbxusers.BackupRouting("+4915112345678", 0, 0)
	p.RingTimeout = pbxusers.Seconds(1500 * time.Millisecond)
	p.Override = &pbxusers.ManualOverride{Destination: dest(pbxusers.DestVoicemail, ""), Until: &until}
	b, err := json.Marshal(p)
	require.NoError(t, err)
	assert.JSONEq(t, `{
		"answerMode": "apps",
		"ringTimeout": 1.5,
		"override": {"destination": {"kind": "voicemail"}, "until": "2026-04-01T08:00:00Z"},
		"default": {
			"name": "Backup routing",
			"ring": {"mode": "sequential", "steps": [
				{"targets": [{"kind": "own_devices"}], "timeout": 60},
				{"targets": [{"kind": "external", "value": "+4915112345678"}], "timeout": 20}
			]},
			"onBusy": {"kind": "external", "target": "+4915112345678", "timeout": 20},
			"onUnavailable": {"kind": "external", "target": "+4915112345678", "timeout": 20}
		}
	}`, string(b))
	var back pbxusers.RoutingPolicy
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, p, back)

	b, err = json.Marshal(pbxusers.RoutingPolicy{})
	require.NoError(t, err)
	assert.JSONEq(t, `{}`, string(b), "a zero policy stores nothing")

	var s pbxusers.Seconds
	for _, bad := range []string{`"30"`, `"30s"`, `1e300`, `true`} {
		assert.Error(t, json.Unmarshal([]byte(bad), &s), bad)
	}
	require.NoError(t, json.Unmarshal([]byte(`45`), &s))
	assert.Equal(t, 45*time.Second, s.Duration())
}

func refsPolicy() pbxusers.RoutingPolicy {
	return pbxusers.RoutingPolicy{
		Override: &pbxusers.ManualOverride{Destination: dest(pbxusers.DestUser, "carol")},
		Rules: []pbxusers.AnsweringRule{
			{ID: "a", When: pbxusers.Condition{TimeFrames: []string{"business", "lunch"}},
				Ring: pbxusers.RingPlan{Mode: pbxusers.RingSequential, Steps: []pbxusers.RingStep{
					{Targets: []pbxusers.RingTarget{{Kind: pbxusers.TargetUser, Value: "bob"}}},
					{Targets: []pbxusers.RingTarget{{Kind: pbxusers.TargetOwnDevices}, {Kind: pbxusers.TargetUser, Value: "bob"}}},
				}},
				OnNoAnswer: dest(pbxusers.DestUser, "bob"), Final: dest(pbxusers.DestVoicemail, "dave")},
			{ID: "b", When: pbxusers.Condition{TimeFrames: []string{"business"}, NotInTimeFrames: true},
				Ring: pbxusers.RingPlan{Mode: pbxusers.RingSequential, Steps: []pbxusers.RingStep{
					{Targets: []pbxusers.RingTarget{{Kind: pbxusers.TargetUser, Value: "bob"}}}}},
				OnBusy: dest(pbxusers.DestExternal, "+4930123456")},
		},
		Default: pbxusers.AnsweringRule{Always: dest(pbxusers.DestUser, "erin")},
	}
}

func TestRoutingPolicyRefs(t *testing.T) {
	p := refsPolicy()
	assert.Equal(t, []string{"carol", "bob", "dave", "erin"}, p.UserRefs())
	assert.Equal(t, []string{"business", "lunch"}, p.TimeFrameRefs())
	assert.Nil(t, pbxusers.RoutingPolicy{}.UserRefs())
	assert.Nil(t, pbxusers.RoutingPolicy{}.TimeFrameRefs())
}

func TestRoutingPolicyWithoutUser(t *testing.T) {
	p := refsPolicy()
	before, err := json.Marshal(p)
	require.NoError(t, err)

	got, changed := p.WithoutUser("bob")
	require.True(t, changed)
	require.NoError(t, got.Validate())
	assert.Equal(t, []string{"carol", "dave", "erin"}, got.UserRefs())
	assert.Nil(t, got.Rules[0].OnNoAnswer, "a forward to the deleted user falls through")
	assert.Equal(t, []pbxusers.RingStep{{Targets: []pbxusers.RingTarget{{Kind: pbxusers.TargetOwnDevices}}}},
		got.Rules[0].Ring.Steps, "the step only ringing bob is dropped, bob is dropped from the other")
	assert.Equal(t, pbxusers.RingPlan{}, got.Rules[1].Ring, "a plan left empty rings the own devices")
	assert.Equal(t, dest(pbxusers.DestExternal, "+4930123456"), got.Rules[1].OnBusy)

	after, err := json.Marshal(p)
	require.NoError(t, err)
	assert.JSONEq(t, string(before), string(after), "the receiver is not modified")

	got, changed = p.WithoutUser("carol")
	require.True(t, changed)
	assert.Nil(t, got.Override)
	got, changed = got.WithoutUser("dave")
	require.True(t, changed)
	assert.Nil(t, got.Rules[0].Final, "a voicemail of the deleted user is removed too")
	got, changed = got.WithoutUser("erin")
	require.True(t, changed)
	assert.Nil(t, got.Default.Always)

	_, changed = p.WithoutUser("nobody")
	assert.False(t, changed)
	_, changed = p.WithoutUser("")
	assert.False(t, changed)
}

// TestWithBackupNumber checks that setting, changing or removing a backup
// number changes only the backup number: rules, lists, timeouts, the answer
// mode and the override stay.
func TestWithBackupNumber(t *testing.T) {
	const old, nu = "+4930111111", "+4930222222"
	rich := pbxusers.RoutingPolicy{
		AnswerMode:    pbxusers.AnswerIPPhone,
		RingTimeout:   pbxusers.Seconds(25 * time.Second),
		AllowCallers:  []string{"+49*"},
		RejectCallers: []string{"+1900*"},
		Rules: []pbxusers.AnsweringRule{{ID: "after-hours", Enabled: true,
			When:   pbxusers.Condition{TimeFrames: []string{"tf1"}, NotInTimeFrames: true},
			Always: dest(pbxusers.DestVoicemail, "")}},
		Default: pbxusers.AnsweringRule{OnNoAnswer: dest(pbxusers.DestQueue, "q1")},
	}
	withBackup := rich.WithBackupNumber(old)

	for _, tt := range []struct {
		name   string
		in     pbxusers.RoutingPolicy
		number string
		want   pbxusers.RoutingPolicy
	}{
		{name: "same number changes nothing", in: withBackup, number: old, want: withBackup},
		{name: "no backup and none asked changes nothing", in: rich, number: "", want: rich},
		{name: "phone number mode without backup keeps its forward number",
			in:     pbxusers.RoutingPolicy{AnswerMode: pbxusers.AnswerPhoneNumber, ForwardNumber: old},
			number: "", want: pbxusers.RoutingPolicy{AnswerMode: pbxusers.AnswerPhoneNumber, ForwardNumber: old}},
		{name: "the preset's number is replaced in place", in: pbxusers.BackupRouting(old, 0, 0), number: nu,
			want: pbxusers.BackupRouting(nu, 0, 0)},
		{name: "removing restores the rich policy", in: withBackup, number: "", want: rich},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.in.WithBackupNumber(tt.number)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.number, got.BackupNumber())
		})
	}

	t.Run("adding keeps everything else", func(t *testing.T) {
		require.NoError(t, withBackup.Validate())
		assert.Equal(t, old, withBackup.BackupNumber())
		assert.Equal(t, rich.Rules, withBackup.Rules)
		assert.Equal(t, rich.AllowCallers, withBackup.AllowCallers)
		assert.Equal(t, rich.RejectCallers, withBackup.RejectCallers)
		assert.Equal(t, rich.AnswerMode, withBackup.AnswerMode)
		assert.Equal(t, rich.RingTimeout, withBackup.RingTimeout)
		assert.Equal(t, rich.Default.OnNoAnswer, withBackup.Default.OnNoAnswer)
		assert.Equal(t, pbxusers.RingSequential, withBackup.Default.Ring.Mode)
		require.Len(t, withBackup.Default.Ring.Steps, 2)
		assert.Equal(t, old, withBackup.Default.Ring.Steps[1].Targets[0].Value)
		changed := withBackup.WithBackupNumber(nu)
		assert.Equal(t, rich.Rules, changed.Rules)
		assert.Equal(t, nu, changed.Default.Ring.Steps[1].Targets[0].Value)
		assert.Equal(t, nu, changed.Default.OnBusy.Target)
	})
}
