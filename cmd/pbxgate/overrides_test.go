package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCLIUsersOverride(t *testing.T) {
	e := newCLIEnv(t)
	e.ok("tenant", "create", "acme")
	e.ok("users", "add", "agent", "--extension", "301")

	code, _, errs := e.run("", "users", "override", "agent", "calls.max_active=4", "monitoring.live_calls=true")
	require.Equal(t, 0, code, errs)
	assert.Contains(t, errs, "agent overrides: calls.max_active=4, monitoring.live_calls=true")
	eff := e.ok("profiles", "effective", "agent")
	assert.Regexp(t, `calls\.max_active\s+4\s+override`, eff)
	assert.Regexp(t, `monitoring\.live_calls\s+true\s+override`, eff)

	// The likely mistakes: every bad value at once, with the library's words; nothing written.
	errs = e.fail(2, "users", "override", "agent", "calls.max_active=x", "calls.maxactive=1", "bare")
	assert.Contains(t, errs, "3 bad overrides")
	assert.Contains(t, errs, "calls.max_active=x: permission calls.max_active takes a whole number ≥ 0 (0 is unlimited)")
	assert.Contains(t, errs, `calls.maxactive=1: unknown permission "calls.maxactive"`)
	assert.Contains(t, errs, `"bare" must be PERMISSION=VALUE`)
	assert.Regexp(t, `calls\.max_active\s+4\s+override`, e.ok("profiles", "effective", "agent"))
	assert.Contains(t, e.fail(2, "users", "override", "agent"), "users override needs PERMISSION=VALUE arguments or --unset PERMISSION")

	code, _, errs = e.run("", "users", "override", "agent", "--unset", "calls.max_active")
	require.Equal(t, 0, code, errs)
	assert.Contains(t, errs, "agent overrides: monitoring.live_calls=true")
	assert.NotRegexp(t, `calls\.max_active\s+4\s+override`, e.ok("profiles", "effective", "agent"))
	code, _, errs = e.run("", "users", "override", "agent", "--unset", "calls.max_active")
	require.Equal(t, 0, code, errs)
	assert.Contains(t, errs, "agent had no override of calls.max_active")
}
