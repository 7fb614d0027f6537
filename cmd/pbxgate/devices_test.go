package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCLIDevices(t *testing.T) {
	e := newCLIEnv(t)
	e.ok("tenant", "create", "acme", "--region", "DE")
	e.ok("users", "add", "ada@acme.example", "--extension", "201")

	code, out, errs := e.run("", "devices", "add", "ada@acme.example", "--kind", "desk_phone", "--mac", "00:1A:2B:3C:4D:5E", "--model", "Yealink T54W", "--label", "Desk")
	require.Equal(t, 0, code, errs)
	secret := strings.TrimSpace(out)
	assert.Regexp(t, `^[A-Za-z0-9]{24}$`, secret, "stdout is the secret alone")
	assert.Contains(t, errs, "SIP id 201")
	assert.Contains(t, errs, "shown only now")

	// The likely mistake: a made-up kind and a malformed MAC, both named.
	errs = e.fail(1, "devices", "add", "ada@acme.example", "--kind", "fax", "--mac", "zz")
	assert.Contains(t, errs, "kind: must be desk_phone, softphone, webrtc or mobile_app")
	assert.Contains(t, errs, "mac: must be a 48-bit MAC address such as 00:1a:2b:3c:4d:5e")
	assert.Contains(t, e.fail(1, "devices", "add", "nobody"), `no user "nobody" in tenant "acme"`)

	list := e.ok("devices", "list", "--user", "201")
	assert.Contains(t, list, "ada@acme.example")
	assert.Contains(t, list, "00:1a:2b:3c:4d:5e")
	assert.NotContains(t, list, secret, "list never shows the secret")
	raw := e.ok("devices", "list", "--output", "json")
	assert.NotContains(t, raw, secret)
	assert.NotContains(t, raw, `"secret"`)
	assert.NotContains(t, raw, `"digest"`)
	var devs []map[string]any
	require.NoError(t, json.Unmarshal([]byte(raw), &devs))
	require.Len(t, devs, 1)
	id := devs[0]["id"].(string)
	assert.Equal(t, "Yealink T54W", devs[0]["model"])

	rotated := strings.TrimSpace(e.ok("devices", "rotate", id))
	assert.Regexp(t, `^[A-Za-z0-9]{24}$`, rotated)
	assert.NotEqual(t, secret, rotated)
	assert.Contains(t, e.fail(1, "devices", "rotate", "nope"), `device "nope": not found (looked for a device id and a SIP id; see: pbxgate devices list --tenant acme)`)
	bySIP := strings.TrimSpace(e.ok("devices", "rotate", devs[0]["sipId"].(string)))
	assert.Regexp(t, `^[A-Za-z0-9]{24}$`, bySIP, "DEVICE may be the SIP id")
	assert.NotEqual(t, rotated, bySIP)

	assert.Contains(t, e.fail(2, "devices", "remove", id), "confirm with --yes")
	e.ok("devices", "remove", id, "--yes")
	assert.Equal(t, "[]\n", e.ok("devices", "list", "--output", "json"))
	assert.Contains(t, e.fail(1, "devices", "remove", id, "--yes"), "not found")
}
