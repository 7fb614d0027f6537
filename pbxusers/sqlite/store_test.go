package sqlite_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// TestMembershipOrder checks that a user's profiles and queues come back
// in the order they were written and teams ordered by id, whichever way
// the ids sort, from a get and from a listing (SQLite reads them with
// statements of their own: Flavor.SidesApart).
func TestMembershipOrder(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t)
	now := time.Now().UTC().Truncate(time.Microsecond)
	user := func(id string) pbxusers.User {
		return pbxusers.User{ID: id, TenantID: "acme", Version: 1, Kind: pbxusers.KindPerson, Status: pbxusers.StatusActive,
			Owner: pbxusers.Owner{Source: pbxusers.SourceManual}, UserName: id, Created: now, Updated: now}
	}
	u := user("u1")
	u.Profiles = []string{"p-z", "p-a", "p-m"}
	u.Teams = []string{"t-z", "t-a"}
	u.Queues = []pbxusers.QueueMembership{{QueueID: "q-z", Priority: 2, DefaultOutbound: true}, {QueueID: "q-a", Priority: 1}}
	require.NoError(t, s.Update(ctx, func(tx pbxusers.Tx) error {
		if err := tx.CreateTenant(ctx, &pbxusers.Tenant{ID: "acme", Version: 1, Created: now, Updated: now}); err != nil {
			return err
		}
		for _, id := range u.Profiles {
			if err := tx.CreateProfile(ctx, &pbxusers.Profile{ID: id, TenantID: "acme", Name: id, Version: 1, Created: now, Updated: now}); err != nil {
				return err
			}
		}
		for _, id := range u.Teams {
			if err := tx.CreateTeam(ctx, &pbxusers.Team{ID: id, TenantID: "acme", Name: id, Version: 1, Created: now, Updated: now}); err != nil {
				return err
			}
		}
		for _, q := range u.Queues {
			if err := tx.CreateUser(ctx, &pbxusers.User{ID: q.QueueID, TenantID: "acme", Version: 1, Kind: pbxusers.KindCallQueue,
				Owner: pbxusers.Owner{Source: pbxusers.SourceManual}, UserName: q.QueueID, Created: now, Updated: now}); err != nil {
				return err
			}
		}
		return tx.CreateUser(ctx, &u)
	}))
	check := func(got pbxusers.User) {
		t.Helper()
		assert.Equal(t, []string{"p-z", "p-a", "p-m"}, got.Profiles)
		assert.Equal(t, []string{"t-a", "t-z"}, got.Teams)
		assert.Equal(t, u.Queues, got.Queues)
	}
	require.NoError(t, s.View(ctx, func(tx pbxusers.Tx) error {
		got, err := tx.GetUser(ctx, "acme", "u1")
		require.NoError(t, err)
		check(got)
		page, err := tx.ListUsers(ctx, "acme", pbxusers.UserQuery{})
		require.NoError(t, err)
		require.Len(t, page.Users, 1)
		check(page.Users[0])
		other, err := tx.GetUser(ctx, "acme", "q-a")
		require.NoError(t, err)
		assert.Nil(t, other.Profiles)
		assert.Nil(t, other.Teams)
		assert.Nil(t, other.Queues)
		return nil
	}))
}
