package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/pbxusers"
	"github.com/pbxgate/pbxgate/pbxusers/sqlite"
)

// TestMigrationTextMessages writes a user as a database from before
// migration 0006 holds it (features.textMessages in the document) and checks
// that reopening moves the fact to the texts.answer override, its one place.
func TestMigrationTextMessages(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pbx.db")
	s, err := sqlite.Open(ctx, path)
	require.NoError(t, err)
	dir := pbxusers.New(s, pbxusers.Options{})
	_, err = dir.CreateTenant(ctx, pbxusers.Tenant{ID: "acme"})
	require.NoError(t, err)
	on, err := dir.CreateUser(ctx, "acme", pbxusers.User{UserName: "on", Extension: "201"})
	require.NoError(t, err)
	off, err := dir.CreateUser(ctx, "acme", pbxusers.User{UserName: "off", Extension: "202"})
	require.NoError(t, err)
	require.NoError(t, s.Close())

	db, err := sql.Open("sqlite3", path)
	require.NoError(t, err)
	for id, doc := range map[string]string{
		on.ID:  `json_set(doc, '$.features.textMessages', json('true'), '$.features.voicemail', json('true'))`,
		off.ID: `json_set(doc, '$.features.textMessages', json('false'))`,
	} {
		_, err = db.Exec(`UPDATE users SET doc = `+doc+` WHERE id = ?`, id)
		require.NoError(t, err)
	}
	_, err = db.Exec(`DELETE FROM schema_migrations WHERE version = 6`)
	require.NoError(t, err)
	require.NoError(t, db.Close())

	s, err = sqlite.Open(ctx, path)
	require.NoError(t, err)
	dir = pbxusers.New(s, pbxusers.Options{})
	got, err := dir.GetUser(ctx, "acme", on.ID)
	require.NoError(t, err)
	v, set := got.TextMessages()
	assert.True(t, set && v, "textMessages=true becomes a texts.answer override")
	assert.True(t, got.Features.Voicemail, "other features stay")
	got, err = dir.GetUser(ctx, "acme", off.ID)
	require.NoError(t, err)
	_, set = got.TextMessages()
	assert.False(t, set, "textMessages=false leaves the permission to profiles and the default")

	require.NoError(t, s.Close())
	db, err = sql.Open("sqlite3", path)
	require.NoError(t, err)
	defer db.Close()
	var n int
	require.NoError(t, db.QueryRow(`SELECT count(*) FROM users WHERE json_type(doc, '$.features.textMessages') IS NOT NULL`).Scan(&n))
	assert.Zero(t, n, "no document keeps the old key")
}

// TestMigrationRoutingSystemRefs drops the reference row of a rule that
// sends calls to a call queue, as databases from before migration 0007 lack
// it, and checks that reopening restores it, so the queue's delete sees it.
func TestMigrationRoutingSystemRefs(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pbx.db")
	s, err := sqlite.Open(ctx, path)
	require.NoError(t, err)
	dir := pbxusers.New(s, pbxusers.Options{})
	_, err = dir.CreateTenant(ctx, pbxusers.Tenant{ID: "acme"})
	require.NoError(t, err)
	queue, err := dir.CreateUser(ctx, "acme", pbxusers.User{UserName: "sales", Kind: pbxusers.KindCallQueue, Extension: "600"})
	require.NoError(t, err)
	u := pbxusers.User{UserName: "ada", Extension: "201"}
	u.Routing.Default.OnNoAnswer = &pbxusers.Destination{Kind: pbxusers.DestQueue, Target: queue.ID}
	ada, err := dir.CreateUser(ctx, "acme", u)
	require.NoError(t, err)
	require.NoError(t, s.Close())

	db, err := sql.Open("sqlite3", path)
	require.NoError(t, err)
	_, err = db.Exec(`DELETE FROM routing_user_refs`)
	require.NoError(t, err)
	_, err = db.Exec(`DELETE FROM schema_migrations WHERE version = 7`)
	require.NoError(t, err)
	require.NoError(t, db.Close())

	s, err = sqlite.Open(ctx, path)
	require.NoError(t, err)
	defer s.Close()
	dir = pbxusers.New(s, pbxusers.Options{})
	err = dir.DeleteUser(ctx, "acme", queue.ID)
	require.ErrorIs(t, err, pbxusers.ErrInUse)
	var ce *pbxusers.ConflictError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, []pbxusers.Reference{{Entity: pbxusers.EntityUser, ID: ada.ID, Name: "ada", Field: "routing"}}, ce.References)
}
