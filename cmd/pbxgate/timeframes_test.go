package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// writeFile writes text to name in a test's temporary directory and
// returns its path.
func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(text), 0o600))
	return p
}

const businessHours = `{"name": "Business hours", "timeZone": "Europe/Berlin",
  "entries": [{"weekly": {"days": [1,2,3,4,5], "from": "09:00", "to": "17:00"}}],
  "except":  [{"holiday": {"name": "Christmas Day", "fixed": "12-25"}}]}`

const afterHoursPolicy = `{"ringTimeout": 20,
  "rules": [{"id": "after-hours", "enabled": true,
             "when": {"timeFrames": ["business-hours"], "notInTimeFrames": true},
             "always": {"kind": "voicemail"}}],
  "default": {"onNoAnswer": {"kind": "voicemail"}}}`

func TestCLITimeFrames(t *testing.T) {
	e := newCLIEnv(t)
	e.ok("tenant", "create", "acme", "--region", "DE")
	hours := writeFile(t, "hours.json", businessHours)
	assert.Equal(t, "business-hours\n", e.ok("timeframes", "create", "business-hours", "--file", hours))
	assert.Contains(t, e.fail(1, "timeframes", "create", "business-hours", "--file", hours), `time frame with id "business-hours" already exists`)

	// The likely mistakes: every invalid field at once; a misspelt key.
	bad := writeFile(t, "bad.json", `{"timeZone": "Europe/Berlni", "entries": [{"weekly": {"days": [9], "from": "09:00", "to": "17:00"}}]}`)
	errs := e.fail(1, "timeframes", "create", "bad", "--file", bad)
	assert.Contains(t, errs, `timeZone: unknown time zone "Europe/Berlni"`)
	assert.Contains(t, errs, "entries[0].weekly.days[0]: weekday 9 out of range 0 (Sunday) to 6 (Saturday)")
	typo := writeFile(t, "typo.json", `{"entires": []}`)
	assert.Contains(t, e.fail(1, "timeframes", "create", "typo", "--file", typo), `typo.json: json: unknown field "entires"`)
	assert.Contains(t, e.fail(2, "timeframes", "create", "x"), "timeframes create needs --file")

	list := e.ok("timeframes", "list")
	assert.Contains(t, list, "business-hours  Business hours  Europe/Berlin")
	var frames []map[string]any
	require.NoError(t, json.Unmarshal([]byte(e.ok("timeframes", "list", "--output", "json")), &frames))
	require.Len(t, frames, 1)
	assert.Equal(t, "business-hours", frames[0]["id"])

	// In use: refused naming the user; --cascade drops it from the rule.
	e.ok("users", "add", "ada", "--extension", "201")
	e.ok("routing", "set", "ada", "--file", writeFile(t, "policy.json", afterHoursPolicy))
	errs = e.fail(1, "timeframes", "delete", "business-hours", "--yes")
	assert.Contains(t, errs, `is referred to by user "ada" (routing)`)
	assert.Contains(t, errs, "nothing was deleted. To delete it and drop it from those rules: pbxgate timeframes delete business-hours --tenant acme --cascade --yes")
	assert.Contains(t, e.fail(2, "timeframes", "delete", "Business hours", "--cascade"), "the answering rules that name it lose it")
	e.ok("timeframes", "delete", "Business hours", "--cascade", "--yes") // by name, too
	assert.Equal(t, "[]\n", e.ok("timeframes", "list", "--output", "json"))
	assert.NotContains(t, e.ok("routing", "show", "ada", "--output", "json"), "after-hours", "the rule left with no frame is removed")
	assert.Contains(t, e.fail(1, "timeframes", "delete", "business-hours", "--yes"), `time frame "business-hours": not found`)
}

func TestCLITimeFramesWeekly(t *testing.T) {
	e := newCLIEnv(t)
	e.ok("tenant", "create", "acme")
	e.ok("timeframes", "create", "night", "--weekly", "fri-mon 22:00-06:00", "--weekly", "wed 12:00-13:00", "--time-zone", "Europe/Berlin")
	var frames []struct {
		TimeZone string `json:"timeZone"`
		Entries  []struct {
			Weekly struct {
				Days []int  `json:"days"`
				From string `json:"from"`
				To   string `json:"to"`
			} `json:"weekly"`
		} `json:"entries"`
	}
	require.NoError(t, json.Unmarshal([]byte(e.ok("timeframes", "list", "--output", "json")), &frames))
	require.Len(t, frames, 1)
	require.Len(t, frames[0].Entries, 2)
	assert.Equal(t, "Europe/Berlin", frames[0].TimeZone)
	assert.Equal(t, []int{5, 6, 0, 1}, frames[0].Entries[0].Weekly.Days, "a range wraps past Saturday")
	assert.Equal(t, "22:00", frames[0].Entries[0].Weekly.From)
	assert.Equal(t, "06:00", frames[0].Entries[0].Weekly.To)
	assert.Equal(t, []int{3}, frames[0].Entries[1].Weekly.Days)

	assert.Contains(t, e.fail(2, "timeframes", "create", "x", "--weekly", "mon-frx 08:00-18:00"), `--weekly "mon-frx 08:00-18:00": unknown day "frx"`)
	assert.Contains(t, e.fail(2, "timeframes", "create", "x", "--weekly", "mon 09:00"), `window "09:00" must be HH:MM-HH:MM`)
	assert.Contains(t, e.fail(1, "timeframes", "create", "x", "--weekly", "mon 09:00-17:00", "--time-zone", "Europe/Berlni"), `timeZone: unknown time zone "Europe/Berlni"`)
	assert.Contains(t, e.fail(2, "timeframes", "create", "x", "--weekly", "mon 09:00-17:00", "--file", "f.json"), "takes --file or --weekly")
}
