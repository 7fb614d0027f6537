package postgres_test

import (
	"context"
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

// TestIntegrationTwoInstances runs two Stores (two pools: two gateway
// processes) on one database and checks what must hold across them.
func TestIntegrationTwoInstances(t *testing.T) {
	dsn := pgtest.Start(t)
	ctx := context.Background()
	// Small batches and pools, so both instances interleave often.
	open := func() *postgres.Store {
		s, err := postgres.Open(ctx, dsn, postgres.Options{MaxConns: 4, MaxBatchN: 4})
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		return s
	}
	stores := []*postgres.Store{open(), open()}
	dirs := []*pbxusers.Directory{
		pbxusers.New(stores[0], pbxusers.Options{PasswordCost: 4}),
		pbxusers.New(stores[1], pbxusers.Options{PasswordCost: 4}),
	}
	_, err := dirs[0].CreateTenant(ctx, pbxusers.Tenant{ID: "acme", DisableWelcomeMail: true})
	require.NoError(t, err)

	t.Run("ModifyUserLosesNoUpdate", func(t *testing.T) {
		u, err := dirs[0].CreateUser(ctx, "acme", pbxusers.User{UserName: "counter", Name: pbxusers.Name{Given: "C", Family: "C"}})
		require.NoError(t, err)
		const perInstance = 30
		var wg sync.WaitGroup
		for i := 0; i < 2*perInstance; i++ {
			wg.Add(1)
			go func(d *pbxusers.Directory) {
				defer wg.Done()
				_, err := d.ModifyUser(ctx, "acme", u.ID, func(u *pbxusers.User) error {
					u.Nickname += "x"
					return nil
				})
				assert.NoError(t, err, "a write transaction sees the latest commit of either instance")
			}(dirs[i%2])
		}
		wg.Wait()
		got, err := dirs[1].GetUser(ctx, "acme", u.ID)
		require.NoError(t, err)
		assert.Len(t, got.Nickname, 2*perInstance)
		assert.Equal(t, int64(2*perInstance+1), got.Version)

		// A caller with a stale version still loses, across instances.
		stale := got
		stale.Title = "stale"
		_, err = dirs[0].UpdateUser(ctx, "acme", stale)
		require.NoError(t, err)
		_, err = dirs[1].UpdateUser(ctx, "acme", stale)
		require.ErrorIs(t, err, pbxusers.ErrVersionMismatch)
	})

	t.Run("ClaimMailOncePerMessage", func(t *testing.T) {
		now := time.Now().UTC().Truncate(time.Microsecond)
		const messages = 120
		require.NoError(t, stores[0].Update(ctx, func(tx pbxusers.Tx) error {
			for i := 0; i < messages; i++ {
				m := &pbxusers.OutboxMessage{TenantID: "acme", Kind: pbxusers.MailWelcome, To: fmt.Sprintf("u%d@example.org", i),
					Status: pbxusers.MailPending, NextAttempt: now.Add(-time.Second), Created: now, Updated: now}
				if err := tx.EnqueueMail(ctx, m); err != nil {
					return err
				}
			}
			return nil
		}))
		var mu sync.Mutex
		claimedBy := map[int64]string{}
		var wg sync.WaitGroup
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func(s *postgres.Store, owner string) {
				defer wg.Done()
				for round := 0; round < messages; round++ { // bounded: every round claims one or stops
					var got []pbxusers.OutboxMessage
					err := s.Update(ctx, func(tx pbxusers.Tx) error {
						var err error
						got, err = tx.ClaimMail(ctx, owner, time.Now(), time.Now().Add(time.Minute), 3)
						return err
					})
					if !assert.NoError(t, err) || len(got) == 0 {
						return
					}
					mu.Lock()
					for _, m := range got {
						assert.Equal(t, owner, m.ClaimedBy)
						if prev, ok := claimedBy[m.ID]; ok {
							t.Errorf("message %d claimed by %s and %s", m.ID, prev, owner)
						}
						claimedBy[m.ID] = owner
					}
					mu.Unlock()
					// Sent: finishing checks the claim is still ours.
					for _, m := range got {
						m.Status, m.Attempts, m.Updated = pbxusers.MailSent, 1, time.Now()
						err := s.Update(ctx, func(tx pbxusers.Tx) error {
							return tx.FinishMail(ctx, &m, pbxusers.MailAttempt{MessageID: m.ID, At: time.Now(), OK: true, Code: 250})
						})
						assert.NoError(t, err)
					}
				}
			}(stores[w%2], fmt.Sprintf("worker-%d", w))
		}
		wg.Wait()
		assert.Len(t, claimedBy, messages, "every message is claimed exactly once")
		require.NoError(t, stores[1].View(ctx, func(tx pbxusers.Tx) error {
			counts, err := tx.CountMail(ctx)
			assert.Equal(t, map[pbxusers.MailStatus]int{pbxusers.MailSent: messages}, counts)
			return err
		}))
	})

	t.Run("LeaseIsExclusive", func(t *testing.T) {
		now := time.Now()
		var mu sync.Mutex
		var winners []string
		var wg sync.WaitGroup
		for i := 0; i < 20; i++ {
			wg.Add(1)
			go func(d *pbxusers.Directory, owner string) {
				defer wg.Done()
				var ok bool
				err := stores[i%2].Update(ctx, func(tx pbxusers.Tx) error {
					var err error
					ok, err = tx.AcquireLease(ctx, "ldap:corp", owner, now, now.Add(time.Minute))
					return err
				})
				assert.NoError(t, err)
				if ok {
					mu.Lock()
					winners = append(winners, owner)
					mu.Unlock()
				}
			}(dirs[i%2], fmt.Sprintf("node-%d", i))
		}
		wg.Wait()
		require.Len(t, winners, 1, "one holder across both instances")

		// Once it has expired, exactly one of the others takes it over.
		later := now.Add(2 * time.Minute)
		winners = nil
		for i := 0; i < 20; i++ {
			wg.Add(1)
			go func(owner string) {
				defer wg.Done()
				var ok bool
				err := stores[i%2].Update(ctx, func(tx pbxusers.Tx) error {
					var err error
					ok, err = tx.AcquireLease(ctx, "ldap:corp", owner, later, later.Add(time.Minute))
					return err
				})
				assert.NoError(t, err)
				if ok {
					mu.Lock()
					winners = append(winners, owner)
					mu.Unlock()
				}
			}(fmt.Sprintf("late-%d", i))
		}
		wg.Wait()
		require.Len(t, winners, 1)
	})

	t.Run("ChangeSeqsInCommitOrder", func(t *testing.T) {
		// A follower reads the log by seq while both instances write. Were
		// seqs not in commit order, an entry committing after a larger seq
		// was read would be skipped for good.
		var start int64
		require.NoError(t, stores[0].View(ctx, func(tx pbxusers.Tx) error {
			cs, err := tx.ListChanges(ctx, "acme", pbxusers.ChangeQuery{Limit: pbxusers.MaxPageSize})
			if len(cs) > 0 {
				start = cs[len(cs)-1].Seq
			}
			return err
		}))
		stop := make(chan struct{})
		followed := make(chan []int64)
		go func() {
			var seen []int64
			after := start
			deadline := time.Now().Add(time.Minute)
			for time.Now().Before(deadline) {
				// A poll that starts after the writers are done and finds
				// nothing new ends the follow.
				last := false
				select {
				case <-stop:
					last = true
				default:
				}
				var cs []pbxusers.Change
				err := stores[1].View(ctx, func(tx pbxusers.Tx) error {
					var err error
					cs, err = tx.ListChanges(ctx, "acme", pbxusers.ChangeQuery{AfterSeq: after, Limit: pbxusers.MaxPageSize})
					return err
				})
				if !assert.NoError(t, err) {
					break
				}
				for _, c := range cs {
					seen = append(seen, c.Seq)
					after = c.Seq
				}
				if len(cs) == 0 && last {
					followed <- seen
					return
				}
			}
			followed <- seen
		}()
		// Each write holds its transaction open a moment after taking its
		// seq, so that without commit-order seqs a later seq would often
		// commit first.
		const writers, perWriter = 8, 15
		var wg sync.WaitGroup
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func(s *postgres.Store, w int) {
				defer wg.Done()
				for i := 0; i < perWriter; i++ {
					err := s.Update(ctx, func(tx pbxusers.Tx) error {
						c := &pbxusers.Change{TenantID: "acme", At: time.Now(), Entity: pbxusers.EntityUser,
							EntityID: fmt.Sprintf("w%d-%d", w, i), Action: pbxusers.ActionUpdate}
						if err := tx.AppendChange(ctx, c); err != nil {
							return err
						}
						time.Sleep(time.Duration(w%3) * time.Millisecond)
						return nil
					})
					assert.NoError(t, err)
				}
			}(stores[w%2], w)
		}
		wg.Wait()
		close(stop)
		seen := <-followed
		var all []pbxusers.Change
		require.NoError(t, stores[0].View(ctx, func(tx pbxusers.Tx) error {
			var err error
			all, err = tx.ListChanges(ctx, "acme", pbxusers.ChangeQuery{AfterSeq: start, Limit: pbxusers.MaxPageSize})
			return err
		}))
		require.Len(t, all, writers*perWriter)
		for i := 1; i < len(seen); i++ {
			require.Greater(t, seen[i], seen[i-1], "seqs only grow")
		}
		want := make([]int64, len(all))
		for i, c := range all {
			want[i] = c.Seq
		}
		assert.Equal(t, want, seen, "the follower saw every entry: none committed behind its cursor")
	})
}
