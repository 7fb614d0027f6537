package main

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCLINumbers(t *testing.T) {
	e := newCLIEnv(t)
	e.ok("tenant", "create", "acme", "--region", "DE")
	e.ok("users", "add", "ada@acme.example", "--extension", "201")

	e.ok("numbers", "assign", "+4930123456", "--user", "201", "--label", "Ada direct")
	e.ok("numbers", "assign", "030 123499") // national form, normalised by the tenant's region; unassigned
	assert.Contains(t, e.fail(1, "numbers", "assign", "abc"), `number: "abc" is not a valid phone number`)
	assert.Contains(t, e.fail(1, "numbers", "assign", "+4930123457", "--user", "ghost"), `no user "ghost" in tenant "acme"`)

	list := e.ok("numbers", "list")
	assert.Contains(t, list, "+4930123456  ada@acme.example  Ada direct")
	assert.Contains(t, list, "+4930123499")
	var nums []map[string]any
	require.NoError(t, json.Unmarshal([]byte(e.ok("numbers", "list", "--user", "ada@acme.example", "--output", "json")), &nums))
	require.Len(t, nums, 1)
	assert.Equal(t, "+4930123456", nums[0]["e164"])

	assert.Contains(t, e.fail(2, "numbers", "release", "+4930123456"), "(routed to ada@acme.example): calls to it stop reaching anyone; confirm with --yes")
	e.ok("numbers", "release", "+4930123456", "--yes")
	assert.Contains(t, e.fail(1, "numbers", "release", "+4930123456", "--yes"), `number "+4930123456": not found`)
	assert.Equal(t, "[]\n", e.ok("numbers", "list", "--user", "201", "--output", "json"))
}
