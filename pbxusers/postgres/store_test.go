package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/pbxusers"
	"github.com/pbxgate/pbxgate/pbxusers/postgres"
	"github.com/pbxgate/pbxgate/pbxusers/postgres/pgtest"
)

// rawUser is a user as the Directory would hand it to the store.
func rawUser(id, userName, email, ext string) pbxusers.User {
	now := time.Now().UTC().Truncate(time.Microsecond)
	return pbxusers.User{ID: id, TenantID: "acme", Version: 1, Kind: pbxusers.KindPerson, Status: pbxusers.StatusActive,
		Owner: pbxusers.Owner{Source: pbxusers.SourceManual}, UserName: userName,
		Emails: []pbxusers.Email{{Value: email, Primary: true}}, Extension: ext, Created: now, Updated: now}
}

func mustTenant(t *testing.T, s pbxusers.Store) {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Microsecond)
	require.NoError(t, s.Update(context.Background(), func(tx pbxusers.Tx) error {
		return tx.CreateTenant(context.Background(), &pbxusers.Tenant{ID: "acme", Version: 1, Created: now, Updated: now})
	}))
}

// TestIntegrationStoreErrors checks the database's own constraints, which
// the Directory's checks normally get to first, map to the library's errors
// (the conformance suite mostly sees the Directory's).
func TestIntegrationStoreErrors(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t, pgtest.Start(t))
	mustTenant(t, s)
	create := func(u pbxusers.User) error {
		return s.Update(ctx, func(tx pbxusers.Tx) error { return tx.CreateUser(ctx, &u) })
	}
	require.NoError(t, create(rawUser("u1", "Ädá", "ada@example.org", "201")))

	var c *pbxusers.ConflictError
	for _, tc := range []struct {
		u     pbxusers.User
		field string
	}{
		{rawUser("u2", "äDÁ", "x@example.org", "202"), "userName"}, // case folded in Go, non-ASCII too
		{rawUser("u2", "bob", "bob@example.org", "201"), "extension"},
		{rawUser("u1", "bob", "bob@example.org", "202"), "id"},
	} {
		err := create(tc.u)
		require.ErrorAs(t, err, &c, tc.field)
		assert.Equal(t, tc.field, c.Field)
		assert.ErrorIs(t, err, pbxusers.ErrConflict)
	}

	// A foreign key: a membership of a team that does not exist.
	u := rawUser("u3", "carol", "carol@example.org", "203")
	u.Teams = []string{"no-such-team"}
	require.ErrorIs(t, create(u), pbxusers.ErrInUse)

	// Text PostgreSQL cannot store is invalid input, not a driver error.
	require.ErrorIs(t, create(rawUser("u4", "nul\x00name", "n@example.org", "204")), pbxusers.ErrInvalid)

	// Nothing of the failed calls is kept.
	require.NoError(t, s.View(ctx, func(tx pbxusers.Tx) error {
		page, err := tx.ListUsers(ctx, "acme", pbxusers.UserQuery{Limit: -1, IncludeSystem: true})
		assert.Equal(t, 1, page.Total)
		return err
	}))

	// View is read-only.
	err := s.View(ctx, func(tx pbxusers.Tx) error {
		u := rawUser("u5", "dave", "dave@example.org", "205")
		return tx.CreateUser(ctx, &u)
	})
	require.Error(t, err)
}

// TestIntegrationGroupCommit checks that Update calls committed together
// stay independent: each call's writes are kept or dropped as a unit, a
// panic or an ignored failed statement fails only its own call.
func TestIntegrationGroupCommit(t *testing.T) {
	ctx := context.Background()
	s, err := postgres.Open(ctx, pgtest.Start(t), postgres.Options{MaxBatchN: 16})
	require.NoError(t, err)
	defer s.Close()
	mustTenant(t, s)
	taken := rawUser("taken", "taken", "taken@example.org", "")
	require.NoError(t, s.Update(ctx, func(tx pbxusers.Tx) error { return tx.CreateUser(ctx, &taken) }))
	errBoom := errors.New("boom")
	const n = 96
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs[i] = s.Update(ctx, func(tx pbxusers.Tx) error {
				u := rawUser(fmt.Sprintf("u%03d", i), fmt.Sprintf("user%03d", i), fmt.Sprintf("u%03d@example.org", i), fmt.Sprintf("%03d", i))
				if err := tx.CreateUser(ctx, &u); err != nil {
					return err
				}
				switch i % 4 {
				case 1:
					return errBoom
				case 2:
					panic("bad caller")
				case 3:
					// Ignores a failed statement and claims success.
					dup := rawUser(fmt.Sprintf("d%03d", i), "taken", fmt.Sprintf("d%03d@example.org", i), "")
					_ = tx.CreateUser(ctx, &dup)
					return nil
				}
				return nil
			})
		}(i)
	}
	wg.Wait()
	want := 1 // taken
	for i, err := range errs {
		switch i % 4 {
		case 0:
			require.NoError(t, err, i)
			want++
		case 1:
			require.ErrorIs(t, err, errBoom, "fn's error comes back unchanged")
		case 2:
			require.ErrorContains(t, err, "panicked")
		case 3:
			require.Error(t, err, "a call that ignores a failed statement does not succeed")
		}
	}
	require.NoError(t, s.View(ctx, func(tx pbxusers.Tx) error {
		page, err := tx.ListUsers(ctx, "acme", pbxusers.UserQuery{Limit: pbxusers.MaxPageSize})
		require.NoError(t, err)
		assert.Equal(t, want, page.Total)
		for _, u := range page.Users {
			if u.ID == "taken" {
				continue
			}
			var i int
			fmt.Sscanf(u.ID, "u%03d", &i)
			assert.Zero(t, i%4, "only the calls that succeeded are kept: %s", u.ID)
		}
		return nil
	}))

	require.NoError(t, s.Close())
	require.Error(t, s.Update(ctx, func(pbxusers.Tx) error { return nil }))
	require.Error(t, s.View(ctx, func(pbxusers.Tx) error { return nil }))
}

func TestIntegrationMigrate(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.Start(t)
	s, err := postgres.Open(ctx, dsn, postgres.Options{SkipMigrate: true})
	require.NoError(t, err)
	defer s.Close()
	v, err := s.SchemaVersion(ctx)
	require.NoError(t, err)
	assert.Zero(t, v)
	require.ErrorContains(t, s.Ping(ctx), "schema at version 0")

	// Processes that start together migrate once.
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			assert.NoError(t, s.Migrate(ctx))
		}()
	}
	wg.Wait()
	require.NoError(t, s.Ping(ctx))
	v, err = s.SchemaVersion(ctx)
	require.NoError(t, err)
	assert.Equal(t, 13, v, "the highest migration, 0013_webhooks.sql")

	again := MustOpen(t, dsn)
	require.NoError(t, again.Ping(ctx))

	_, err = postgres.Open(ctx, "postgres://nobody@127.0.0.1:1/none?connect_timeout=2", postgres.Options{})
	require.ErrorIs(t, err, pbxusers.ErrUnavailable)
}

// TestIntegrationUserCounts checks the kept per-tenant counts behind
// unfiltered listing totals against counting.
func TestIntegrationUserCounts(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t, pgtest.Start(t))
	d := pbxusers.New(s, pbxusers.Options{PasswordCost: 4})
	for _, tn := range []string{"acme", "beta"} {
		_, err := d.CreateTenant(ctx, pbxusers.Tenant{ID: tn, DisableWelcomeMail: true})
		require.NoError(t, err)
	}
	var ids []string
	require.NoError(t, d.Batch(ctx, "acme", func(b *pbxusers.Batch) error {
		for i := 0; i < 30; i++ {
			u, err := b.CreateUser(pbxusers.User{UserName: fmt.Sprintf("u%02d", i), Name: pbxusers.Name{Given: "G", Family: "F"}})
			if err != nil {
				return err
			}
			ids = append(ids, u.ID)
		}
		return nil
	}))
	_, err := d.CreateUser(ctx, "acme", pbxusers.User{UserName: "queue", Kind: pbxusers.KindCallQueue})
	require.NoError(t, err)
	_, err = d.CreateUser(ctx, "beta", pbxusers.User{UserName: "b", Name: pbxusers.Name{Given: "G", Family: "F"}})
	require.NoError(t, err)
	for _, id := range ids[:5] {
		require.NoError(t, d.DeleteUser(ctx, "acme", id))
	}
	// A failed batch leaves the counts as they were.
	err = d.Batch(ctx, "acme", func(b *pbxusers.Batch) error {
		if _, err := b.CreateUser(pbxusers.User{UserName: "ghost", Name: pbxusers.Name{Given: "G", Family: "F"}}); err != nil {
			return err
		}
		return errors.New("boom")
	})
	require.Error(t, err)

	// A listing (planned per execution, text results) reads users exactly
	// as a get (a prepared statement, binary results) does.
	page, err := d.ListUsers(ctx, "acme", pbxusers.UserQuery{Filter: pbxusers.Eq(pbxusers.AttrID, ids[7])})
	require.NoError(t, err)
	require.Len(t, page.Users, 1)
	got, err := d.GetUser(ctx, "acme", ids[7])
	require.NoError(t, err)
	assert.Equal(t, got, page.Users[0])
	assert.Equal(t, time.UTC, page.Users[0].Created.Location())

	all := pbxusers.Or{pbxusers.Eq(pbxusers.AttrActive, true), pbxusers.Eq(pbxusers.AttrActive, false)}
	for _, tc := range []struct {
		tenant string
		system bool
		want   int
	}{{"acme", false, 25}, {"acme", true, 26}, {"beta", false, 1}, {"nope", true, 0}} {
		kept, err := d.ListUsers(ctx, tc.tenant, pbxusers.UserQuery{IncludeSystem: tc.system, Limit: -1})
		if tc.tenant == "nope" {
			require.ErrorIs(t, err, pbxusers.ErrNotFound)
			continue
		}
		require.NoError(t, err)
		counted, err := d.ListUsers(ctx, tc.tenant, pbxusers.UserQuery{IncludeSystem: tc.system, Filter: all, Limit: -1})
		require.NoError(t, err)
		assert.Equal(t, tc.want, kept.Total, "%+v", tc)
		assert.Equal(t, tc.want, counted.Total, "%+v", tc)
	}
}
