package main

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCLIRouting(t *testing.T) {
	e := newCLIEnv(t)
	e.ok("tenant", "create", "acme", "--region", "DE")
	e.ok("users", "add", "ada@acme.example", "--extension", "201")
	e.ok("timeframes", "create", "business-hours", "--file", writeFile(t, "hours.json", businessHours))

	code, _, errs := e.run(afterHoursPolicy, "routing", "set", "201", "--file", "-")
	require.Equal(t, 0, code, errs)
	assert.Contains(t, errs, "routing policy set (version 2)")
	show := e.ok("routing", "show", "ada@acme.example")
	assert.Contains(t, show, "ring timeout      20s")
	assert.Contains(t, show, "after-hours (enabled, not in business-hours)")

	// show --output json is what set --file reads: a round trip changes nothing.
	raw := e.ok("routing", "show", "201", "--output", "json")
	var p map[string]any
	require.NoError(t, json.Unmarshal([]byte(raw), &p))
	assert.EqualValues(t, 20, p["ringTimeout"])
	code, _, errs = e.run(raw, "routing", "set", "201", "--file", "-")
	require.Equal(t, 0, code, errs)
	assert.Contains(t, errs, "nothing changed")

	// Evening on a weekday: the after-hours rule sends it to voicemail.
	assert.Contains(t, e.ok("route", "explain", "201", "--at", "2026-03-03T20:00:00+01:00"), "after-hours")

	// The likely mistake: several invalid fields, every one named, nothing written.
	bad := writeFile(t, "bad.json", `{"answerMode": "carrier_pigeon", "ringTimeout": 99999, "rules": [{"enabled": true}]}`)
	errs = e.fail(1, "routing", "set", "201", "--file", bad)
	assert.Contains(t, errs, `routing.answerMode: unknown answer mode "carrier_pigeon"`)
	assert.Contains(t, errs, "routing.ringTimeout: 99999s exceeds the maximum of 3600s")
	assert.Contains(t, errs, "routing.rules[0].id: required")
	assert.Equal(t, raw, e.ok("routing", "show", "201", "--output", "json"), "nothing written")
	assert.Contains(t, e.fail(2, "routing", "set", "201"), "routing set needs --file")
	assert.Contains(t, e.fail(1, "routing", "show", "nobody"), `no user "nobody" in tenant "acme"`)
}
