package pbxusers_test

import (
	"testing"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// BenchmarkResolve routes an after-hours call through a policy with five
// rules and three time frames, with one forward to another user who rings.
func BenchmarkResolve(b *testing.B) {
	berlin := MustLoadLocation(b, "Europe/Berlin")
	holidays := testFrames()["holidays"]
	business := businessHours()
	business.Except = holidays.Entries
	frames := map[string]pbxusers.TimeFrame{
		"business": business,
		"holidays": holidays,
		"lunch": {ID: "lunch", Name: "Lunch", Entries: []pbxusers.TimeFrameEntry{
			weekly(pbxusers.ClockAt(12, 0), pbxusers.ClockAt(13, 0), workdays...)}},
	}
	alice := subject("alice", berlin, pbxusers.RoutingPolicy{
		AllowCallers:  []string{"+4917*"},
		RejectCallers: []string{"+1900*"},
		Rules: []pbxusers.AnsweringRule{
			{ID: "holiday", Name: "Holidays", Enabled: true,
				When: pbxusers.Condition{TimeFrames: []string{"holidays"}}, Always: dest(pbxusers.DestVoicemail, "")},
			{ID: "lunch", Name: "Lunch", Enabled: true,
				When: pbxusers.Condition{TimeFrames: []string{"lunch"}}, OnNoAnswer: dest(pbxusers.DestQueue, "support")},
			{ID: "vip", Name: "VIP", Enabled: true,
				When: pbxusers.Condition{Callers: []string{"+4989*"}}, OnNoAnswer: dest(pbxusers.DestUser, "bob")},
			{ID: "internal", Name: "Internal", Enabled: true,
				When: pbxusers.Condition{CallType: pbxusers.CallTypeInternal}, OnNoAnswer: dest(pbxusers.DestVoicemail, "")},
			{ID: "after-hours", Name: "After hours", Enabled: true,
				When:   pbxusers.Condition{TimeFrames: []string{"business"}, NotInTimeFrames: true},
				Always: dest(pbxusers.DestUser, "bob")},
		},
	})
	subjects := map[string]pbxusers.RouteSubject{
		"alice": alice,
		"bob":   subject("bob", berlin, pbxusers.RoutingPolicy{}),
	}
	call := pbxusers.Call{From: "+4930999", At: MustParseLocal(b, "2026-03-30 19:05", berlin)}

	plan, err := pbxusers.Resolve(call, "alice", subjects, frames)
	if err != nil {
		b.Fatal(err)
	}
	if plan.Rule != "after-hours" || plan.Next == nil || len(plan.Next.Steps) != 1 || plan.Final().Target != "bob" {
		b.Fatalf("unexpected plan:\n%s", plan)
	}

	b.ReportAllocs()
	for b.Loop() {
		if _, err := pbxusers.Resolve(call, "alice", subjects, frames); err != nil {
			b.Fatal(err)
		}
	}
}
