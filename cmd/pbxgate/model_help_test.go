package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// The device, number, time frame, routing and override commands keep the
// flags issue 13 and the README name, and say "did you mean".
func TestCLIModelCommandsHelp(t *testing.T) {
	e := newCLIEnv(t)
	for _, doc := range [][]string{
		{"devices", "add", "--kind", "--mac", "--model", "--label", "--sip-id", "--tenant"},
		{"devices", "list", "--user", "--output"}, {"devices", "rotate", "--tenant"}, {"devices", "remove", "--yes"},
		{"numbers", "assign", "--user", "--label"}, {"numbers", "list", "--user", "--output"}, {"numbers", "release", "--yes"},
		{"timeframes", "create", "--file"}, {"timeframes", "list", "--output"}, {"timeframes", "delete", "--yes", "--cascade"},
		{"routing", "show", "--output"}, {"routing", "set", "--file"},
		{"users", "override", "--unset"},
	} {
		out := e.ok(append(doc[:2:2], "-h")...)
		assert.Contains(t, out, "Example", "pbxgate %s %s -h", doc[0], doc[1])
		for _, f := range doc[2:] {
			assert.Contains(t, out, "  "+f, "pbxgate %s %s -h lists %s", doc[0], doc[1], f)
		}
	}
	for _, g := range []string{"devices", "numbers", "timeframes", "routing"} {
		assert.Contains(t, e.ok("help"), "  "+g)
	}
	assert.Contains(t, e.fail(2, "devices", "rotaet", "x"), `did you mean "rotate"?`)
	assert.Contains(t, e.fail(2, "numbers", "list", "--yes"), "--yes is a flag of numbers release, not of numbers list")
	assert.Contains(t, e.fail(2, "timeframe", "list"), `did you mean "timeframes"?`)
	assert.True(t, strings.Contains(e.ok("completion", "bash"), "timeframes"), "completion knows the new groups")
}
