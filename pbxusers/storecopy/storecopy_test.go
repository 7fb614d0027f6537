package storecopy_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/pbxusers"
	"github.com/pbxgate/pbxgate/pbxusers/sqlite"
	"github.com/pbxgate/pbxgate/pbxusers/storecopy"
	"github.com/pbxgate/pbxgate/pbxusers/storecopy/copytest"
)

// MustOpenSQLite opens a fresh SQLite store in the test's temp dir.
func MustOpenSQLite(t testing.TB) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "pbxgate.db"))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func newDir(s pbxusers.Store) *pbxusers.Directory {
	return pbxusers.New(s, pbxusers.Options{PasswordCost: 4})
}

func dirsOf(f copytest.Fixture) []storecopy.Directory {
	var out []storecopy.Directory
	for _, d := range f.Directories {
		out = append(out, storecopy.Directory{Tenant: d[0], Name: d[1]})
	}
	return out
}

func TestCopySQLiteToSQLite(t *testing.T) {
	ctx := context.Background()
	src, dst := MustOpenSQLite(t), MustOpenSQLite(t)
	f := copytest.Populate(t, newDir(src), copytest.Options{})
	var phases = map[string]int{}
	rep, err := storecopy.Copy(ctx, src, dst, storecopy.Options{BatchN: 300, Directories: dirsOf(f),
		Progress: func(p storecopy.Progress) { phases[p.Phase]++ }})
	require.NoError(t, err)
	assert.True(t, rep.Equal())
	assert.NotZero(t, phases["copy"])
	assert.NotZero(t, phases["verify"])
	counts := map[storecopy.Kind]int{}
	for _, k := range rep.Kinds {
		counts[k.Kind] = k.Source.N
		assert.Len(t, k.Source.SHA256, 64)
	}
	assert.Equal(t, 2, counts[storecopy.KindTenants])
	assert.Equal(t, 3, counts[storecopy.KindProfiles])
	assert.Equal(t, 2+4+copytest.DefaultBulkN+2, counts[storecopy.KindUsers], "queues, people and bulk of acme, two of globex")
	assert.Equal(t, 3, counts[storecopy.KindSyncRuns])
	assert.Equal(t, 2, counts[storecopy.KindSyncState], "the state of a directory with no runs is found by its name")
	var text strings.Builder
	require.NoError(t, rep.WriteText(&text))
	assert.Contains(t, text.String(), "set-password links")
	assert.Contains(t, text.String(), "claim on 1 pending message")
	assert.NotContains(t, text.String(), "DIFFERS")

	copytest.RequireSame(t, f, newDir(src), newDir(dst))

	// The copy is an installation of its own: it takes new writes, with
	// numbers after the copied ones.
	d := newDir(dst)
	before, err := d.Changes(ctx, "acme", pbxusers.ChangeQuery{Limit: pbxusers.MaxPageSize})
	require.NoError(t, err)
	u, err := d.CreateUser(ctx, "acme", pbxusers.User{UserName: "after-copy"})
	require.NoError(t, err)
	cs, err := d.Changes(ctx, "acme", pbxusers.ChangeQuery{EntityID: u.ID})
	require.NoError(t, err)
	require.Len(t, cs, 1)
	assert.Greater(t, cs[0].Seq, before[len(before)-1].Seq)
}

func TestCopyRefusesATargetWithTenants(t *testing.T) {
	ctx := context.Background()
	src, dst := MustOpenSQLite(t), MustOpenSQLite(t)
	copytest.Populate(t, newDir(src), copytest.Options{BulkN: -1})
	_, err := newDir(dst).CreateTenant(ctx, pbxusers.Tenant{ID: "already"})
	require.NoError(t, err)
	_, err = storecopy.Copy(ctx, src, dst, storecopy.Options{})
	require.ErrorIs(t, err, storecopy.ErrTargetNotEmpty)
	assert.Contains(t, err.Error(), "1 tenant(s) (already)")
}

func TestCopyEmptyStore(t *testing.T) {
	rep, err := storecopy.Copy(context.Background(), MustOpenSQLite(t), MustOpenSQLite(t), storecopy.Options{})
	require.NoError(t, err)
	assert.True(t, rep.Equal())
	for _, k := range rep.Kinds {
		assert.Zero(t, k.Source.N)
	}
}

// gappy wraps a store and numbers change seqs with a gap, as a PostgreSQL
// source whose transaction rolled back after taking a seq would have.
type gappy struct {
	pbxusers.Store
}

func (g gappy) View(ctx context.Context, fn func(pbxusers.Tx) error) error {
	return g.Store.View(ctx, func(tx pbxusers.Tx) error { return fn(gappyTx{tx}) })
}

type gappyTx struct{ pbxusers.Tx }

func (t gappyTx) ListChanges(ctx context.Context, tenant string, q pbxusers.ChangeQuery) ([]pbxusers.Change, error) {
	// Seqs 1..k stay, later ones move up by 5.
	const shift = 5
	if q.AfterSeq > 3 {
		q.AfterSeq -= shift
	}
	cs, err := t.Tx.ListChanges(ctx, tenant, q)
	for i := range cs {
		if cs[i].Seq > 3 {
			cs[i].Seq += shift
		}
	}
	return cs, err
}

func TestCopyGapInSeqsIntoSQLiteIsRefused(t *testing.T) {
	ctx := context.Background()
	src, dst := MustOpenSQLite(t), MustOpenSQLite(t)
	copytest.Populate(t, newDir(src), copytest.Options{BulkN: -1})
	_, err := storecopy.Copy(ctx, gappy{src}, dst, storecopy.Options{})
	require.ErrorIs(t, err, storecopy.ErrNumbering)
	assert.Contains(t, err.Error(), "change seqs skip to 9")
}

func TestReportText(t *testing.T) {
	rep := storecopy.Report{Kinds: []storecopy.KindReport{
		{Kind: storecopy.KindUsers, Source: storecopy.Sum{N: 2, SHA256: strings.Repeat("a", 64)}, Target: storecopy.Sum{N: 2, SHA256: strings.Repeat("a", 64)}},
		{Kind: storecopy.KindMail, Source: storecopy.Sum{N: 2, SHA256: strings.Repeat("b", 64)}, Target: storecopy.Sum{N: 1, SHA256: strings.Repeat("c", 64)}},
	}, Skipped: []string{"leases"}, Took: time.Second}
	assert.False(t, rep.Equal())
	assert.Equal(t, []storecopy.Kind{storecopy.KindMail}, rep.Differs())
	var b strings.Builder
	require.NoError(t, rep.WriteText(&b))
	assert.Contains(t, b.String(), "users  2       2       aaaaaaaaaaaaaaaa  aaaaaaaaaaaaaaaa  ok")
	assert.Contains(t, b.String(), "DIFFERS")
	assert.Contains(t, b.String(), "Not copied:\n  - leases")
}
