package postgres_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/pbxusers"
	"github.com/pbxgate/pbxgate/pbxusers/postgres"
	"github.com/pbxgate/pbxgate/pbxusers/postgres/pgtest"
)

// TestIntegrationMigrationTextMessages writes a user as a database from
// before migration 0003 holds it (features.textMessages in the document) and
// checks that reopening moves the fact to the texts.answer override.
func TestIntegrationMigrationTextMessages(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.Start(t)
	s, err := postgres.Open(ctx, dsn, postgres.Options{})
	require.NoError(t, err)
	dir := pbxusers.New(s, pbxusers.Options{})
	_, err = dir.CreateTenant(ctx, pbxusers.Tenant{ID: "acme"})
	require.NoError(t, err)
	on, err := dir.CreateUser(ctx, "acme", pbxusers.User{UserName: "on", Extension: "201"})
	require.NoError(t, err)
	off, err := dir.CreateUser(ctx, "acme", pbxusers.User{UserName: "off", Extension: "202"})
	require.NoError(t, err)
	require.NoError(t, s.Close())

	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `UPDATE users SET doc = jsonb_set(jsonb_set(doc, '{features}', COALESCE(doc->'features', '{}'::jsonb)), '{features,textMessages}', 'true') WHERE id = $1`, on.ID)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `UPDATE users SET doc = jsonb_set(jsonb_set(doc, '{features}', COALESCE(doc->'features', '{}'::jsonb)), '{features,textMessages}', 'false') WHERE id = $1`, off.ID)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `DELETE FROM schema_migrations WHERE version = 3`)
	require.NoError(t, err)

	s = MustOpen(t, dsn)
	dir = pbxusers.New(s, pbxusers.Options{})
	got, err := dir.GetUser(ctx, "acme", on.ID)
	require.NoError(t, err)
	v, set := got.TextMessages()
	assert.True(t, set && v, "textMessages=true becomes a texts.answer override")
	got, err = dir.GetUser(ctx, "acme", off.ID)
	require.NoError(t, err)
	_, set = got.TextMessages()
	assert.False(t, set, "textMessages=false leaves the permission to profiles and the default")
	var n int
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM users WHERE doc->'features' ? 'textMessages'`).Scan(&n))
	assert.Zero(t, n, "no document keeps the old key")
}

// TestIntegrationMigrationRoutingSystemRefs drops the reference row of a
// rule that sends calls to a call queue, as databases from before migration
// 0004 lack it, and checks that reopening restores it.
func TestIntegrationMigrationRoutingSystemRefs(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.Start(t)
	s := MustOpen(t, dsn)
	dir := pbxusers.New(s, pbxusers.Options{})
	_, err := dir.CreateTenant(ctx, pbxusers.Tenant{ID: "acme"})
	require.NoError(t, err)
	queue, err := dir.CreateUser(ctx, "acme", pbxusers.User{UserName: "sales", Kind: pbxusers.KindCallQueue, Extension: "600"})
	require.NoError(t, err)
	u := pbxusers.User{UserName: "ada", Extension: "201"}
	u.Routing.Default.OnNoAnswer = &pbxusers.Destination{Kind: pbxusers.DestQueue, Target: queue.ID}
	ada, err := dir.CreateUser(ctx, "acme", u)
	require.NoError(t, err)
	require.NoError(t, s.Close())

	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `DELETE FROM routing_user_refs`)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `DELETE FROM schema_migrations WHERE version = 4`)
	require.NoError(t, err)

	dir = pbxusers.New(MustOpen(t, dsn), pbxusers.Options{})
	err = dir.DeleteUser(ctx, "acme", queue.ID)
	require.ErrorIs(t, err, pbxusers.ErrInUse)
	var ce *pbxusers.ConflictError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, []pbxusers.Reference{{Entity: pbxusers.EntityUser, ID: ada.ID, Name: "ada", Field: "routing"}}, ce.References)
}
