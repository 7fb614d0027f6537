package pbxfeed_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/internal/pbxfeed"
	"github.com/pbxgate/pbxgate/pbxusers"
)

func TestDirectoryPages(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	bob, err := f.dir.CreateUser(ctx, "acme", pbxusers.User{UserName: "bob", Extension: "202"})
	require.NoError(t, err)
	bobDesk, err := f.dir.AddDevice(ctx, "acme", pbxusers.Device{UserID: bob.ID, SIPID: "bob-desk"})
	require.NoError(t, err)
	hot, err := f.dir.AddDevice(ctx, "acme", pbxusers.Device{SIPID: "lobby", HotDesk: true})
	require.NoError(t, err)
	_, err = f.dir.DeactivateUser(ctx, "acme", f.ada.ID)
	require.NoError(t, err)

	var got []pbxfeed.Credentials
	after := ""
	for pages := 0; pages < 10; pages++ {
		status, body := f.get(t, f.token, fmt.Sprintf("/pbx/v1/directory?domain=acme.sip.test&limit=2&after=%s", after))
		require.Equal(t, 200, status, string(body))
		var page pbxfeed.Directory
		require.NoError(t, json.Unmarshal(body, &page))
		assert.Equal(t, "acme.sip.test", page.Domain)
		got = append(got, page.Accounts...)
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	bobHA1 := pbxusers.NewSIPDigest("bob-desk", "acme.sip.test", bobDesk.Secret)
	lobbyHA1 := pbxusers.NewSIPDigest("lobby", "acme.sip.test", hot.Secret)
	assert.Equal(t, []pbxfeed.Credentials{
		{Domain: "acme.sip.test", SIPUser: "ada-desk", UserID: f.ada.ID, Extension: "201", DeviceID: f.desk.ID, Active: false},
		{Domain: "acme.sip.test", Realm: "acme.sip.test", SIPUser: "bob-desk", HA1: bobHA1.HA1, HA1B: bobHA1.HA1B,
			HA1SHA256: bobHA1.HA1SHA256, HA1BSHA256: bobHA1.HA1BSHA256, UserID: bob.ID, Extension: "202", DeviceID: bobDesk.ID, Active: true},
		{Domain: "acme.sip.test", Realm: "acme.sip.test", SIPUser: "lobby", HA1: lobbyHA1.HA1, HA1B: lobbyHA1.HA1B,
			HA1SHA256: lobbyHA1.HA1SHA256, HA1BSHA256: lobbyHA1.HA1BSHA256, DeviceID: hot.ID, Active: true},
	}, got, "every account once, in SIP user order; the deactivated user's without HA1s")

	status, _ := f.get(t, f.other, "/pbx/v1/directory?domain=acme.sip.test")
	assert.Equal(t, 404, status, "another tenant's token")
	status, body := f.get(t, f.token, "/pbx/v1/directory?limit=5000")
	assert.Equal(t, 400, status)
	assert.Contains(t, string(body), "domain: required")
	assert.Contains(t, string(body), "limit:")
}
