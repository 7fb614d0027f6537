package scim

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// TestUserMapStoresEverySCIMField: every field /Schemas lists goes to the
// attribute map and comes back from it; the fields are cleared before the
// way back, so each one is really read, not kept from before.
func TestUserMapStoresEverySCIMField(t *testing.T) {
	u := pbxusers.User{
		ID: "u1", Kind: pbxusers.KindPerson, Status: pbxusers.StatusActive, UserName: "ada@example.com",
		Addresses: []pbxusers.Address{{Formatted: "1 Main St, Springfield", StreetAddress: "1 Main St", Locality: "Springfield",
			Region: "IL", PostalCode: "62701", Country: "US", Type: "work", Primary: true}, {Locality: "Berlin", Type: "home"}},
		Photos:        []pbxusers.Attribute{{Value: "https://example.com/a.jpg", Type: "photo", Primary: true}},
		Roles:         []pbxusers.Attribute{{Value: "lead", Display: "Lead"}, {Value: "dev"}},
		Entitlements:  []pbxusers.Attribute{{Value: "crm", Type: "app"}},
		CustomFields:  map[string]string{"badge": "7", "floor": "3"},
		IPRestriction: pbxusers.IPRestriction{Enabled: true, Allowed: []string{"10.0.0.0/8"}},
		Notifications: []pbxusers.Notification{pbxusers.NotifyMissedCall, pbxusers.NotifyVoicemail},
		Queues:        []pbxusers.QueueMembership{{QueueID: "q1", Priority: 2, DefaultOutbound: true}, {QueueID: "q2"}},
		Password:      pbxusers.Password{MustChange: true},
		Routing:       pbxusers.RoutingPolicy{AnswerMode: pbxusers.AnswerApps}.WithBackupNumber("+4930555"),
	}
	m := &userMapper{}
	for _, mode := range []writeMode{modeReplace, modePatch} {
		attrs := roundTrip(t, m.toAttrs(u, true))
		got := u.Clone()
		got.Addresses, got.Photos, got.Roles, got.Entitlements = nil, nil, nil, nil
		got.CustomFields, got.IPRestriction, got.Notifications, got.Queues = nil, pbxusers.IPRestriction{}, nil, nil
		got.Password.MustChange = false
		require.NoError(t, m.fromAttrs(&got, attrs, u.Clone(), mode))
		assert.Empty(t, pbxusers.Diff(u, got), "mode %d", mode)
		assert.Empty(t, m.warnings)
	}
}
