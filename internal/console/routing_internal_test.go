package console

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// TestRingText: a ring plan written for the form reads back as the same
// plan, and the text admins type reads as they mean it.
func TestRingText(t *testing.T) {
	s := func(d time.Duration) pbxusers.Seconds { return pbxusers.Seconds(d) }
	for _, tc := range []struct {
		name, mode, text string
		want             pbxusers.RingPlan
	}{
		{"empty", "", "", pbxusers.RingPlan{}},
		{"own devices", "", "own", pbxusers.RingPlan{Steps: []pbxusers.RingStep{{Targets: []pbxusers.RingTarget{{Kind: pbxusers.TargetOwnDevices}}}}}},
		{"backup routing", "sequential", "own 60s\n+4930123456 20s", pbxusers.RingPlan{Mode: pbxusers.RingSequential, Steps: []pbxusers.RingStep{
			{Targets: []pbxusers.RingTarget{{Kind: pbxusers.TargetOwnDevices}}, Timeout: s(time.Minute)},
			{Targets: []pbxusers.RingTarget{{Kind: pbxusers.TargetExternal, Value: "+4930123456"}}, Timeout: s(20 * time.Second)}}}},
		{"simultaneous with delays", "simultaneous", "apps device:d1@2.5 user:u7@10 25s", pbxusers.RingPlan{Mode: pbxusers.RingSimultaneous,
			Steps: []pbxusers.RingStep{{Timeout: s(25 * time.Second), Targets: []pbxusers.RingTarget{{Kind: pbxusers.TargetApps},
				{Kind: pbxusers.TargetDevice, Value: "d1", Delay: s(2500 * time.Millisecond)},
				{Kind: pbxusers.TargetUser, Value: "u7", Delay: s(10 * time.Second)}}}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseRing(tc.mode, tc.text, "ring", idRefs)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.text, ringText(got, idRefs))
		})
	}
	for text, want := range map[string]string{
		"+4930@soon": `ring: delay "soon" is not a number of seconds`,
		"own 1e3s":   "", // read as a target, which the library then refuses
	} {
		_, err := parseRing("", text, "ring", idRefs)
		if want == "" {
			assert.NoError(t, err, text)
			continue
		}
		assert.EqualError(t, err, want, text)
	}
}
