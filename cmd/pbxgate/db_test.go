package main

// The PostgreSQL tests (TestIntegration*) run against a throwaway server
// that package pgtest starts when PostgreSQL's programs are installed
// (apt-get install -y postgresql), or the server PBXGATE_POSTGRES_DSN names;
// without either they skip and say so. The others use SQLite only.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/pbxusers"
	"github.com/pbxgate/pbxgate/pbxusers/postgres"
	"github.com/pbxgate/pbxgate/pbxusers/postgres/pgtest"
	"github.com/pbxgate/pbxgate/pbxusers/sqlite"
	"github.com/pbxgate/pbxgate/pbxusers/storecopy/copytest"
)

// populatedSQLite fills a new SQLite file with every kind of object and
// returns its path and the fixture.
func populatedSQLite(t *testing.T, bulk int) (string, copytest.Fixture) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pbxgate.db")
	s, err := sqlite.Open(context.Background(), path)
	require.NoError(t, err)
	f := copytest.Populate(t, pbxusers.New(s, pbxusers.Options{PasswordCost: 4}), copytest.Options{BulkN: bulk})
	require.NoError(t, s.Close())
	return path, f
}

// ldapConfig writes a configuration naming the fixture's LDAP directories,
// so that db copy looks up the sync state of the one without runs.
func ldapConfig(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pbxgate.yaml")
	require.NoError(t, os.WriteFile(path, []byte(`tenants:
  - id: acme
ldap:
  directories:
    - {name: corp, tenant: acme, preset: openldap, url: "ldap://127.0.0.1:1", bindDN: "cn=x", bindPassword: x, baseDN: "dc=x", schedule: "0 3 1 1 *"}
    - {name: hr, tenant: acme, preset: openldap, url: "ldap://127.0.0.1:1", bindDN: "cn=x", bindPassword: x, baseDN: "dc=x", schedule: "0 3 1 1 *"}
`), 0o600))
	return path
}

func openSQLite(t *testing.T, path string) *pbxusers.Directory {
	t.Helper()
	s, err := sqlite.Open(context.Background(), path)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return pbxusers.New(s, pbxusers.Options{PasswordCost: 4})
}

func openPostgres(t *testing.T, dsn string) *pbxusers.Directory {
	t.Helper()
	s, err := postgres.Open(context.Background(), dsn, postgres.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return pbxusers.New(s, pbxusers.Options{PasswordCost: 4})
}

// withPassword adds a password to a postgres:// URL (the throwaway server
// trusts every local connection, so it is never checked), to see that no
// output shows it.
func withPassword(t *testing.T, dsn, password string) string {
	u, err := url.Parse(dsn)
	require.NoError(t, err)
	u.User = url.UserPassword(u.User.Username(), password)
	return u.String()
}

func TestIntegrationDBCopySQLiteToPostgres(t *testing.T) {
	srcPath, f := populatedSQLite(t, 0)
	srv := pgtest.StartServer(t, pgtest.Config{})
	dsn := withPassword(t, srv.NewDatabase(t), "hunter2-secret")

	e := newCLIEnv(t)
	config := ldapConfig(t)
	code, out, errs := e.run("", "db", "copy", "--config", config, "--from", "sqlite://"+srcPath, "--to", dsn)
	require.Equal(t, 0, code, "stdout: %s\nstderr: %s", out, errs)
	for _, kind := range []string{"tenants", "profiles", "timeframes", "teams", "users", "devices", "numbers", "tokens",
		"changes", "mail", "syncRuns", "syncState"} {
		assert.Regexp(t, `(?m)^`+kind+`\s+\d+\s+\d+\s+[0-9a-f]{16}\s+[0-9a-f]{16}\s+ok$`, out, "a row per kind")
	}
	assert.Regexp(t, `(?m)^users\s+1108\s+1108\s`, out)
	assert.Contains(t, out, "Not copied:")
	assert.Contains(t, out, "set-password links")
	assert.Contains(t, out, "claim on 1 pending message")
	assert.Contains(t, out, "looked up: acme/corp, acme/hr, globex/ad; found 2")
	assert.Contains(t, out, "every kind above has the same count and checksum on both sides")
	assert.Contains(t, errs, "copy users: 1108/1108", "progress on stderr")
	assert.Contains(t, errs, "verify users: 1108/1108")
	for _, s := range []string{out, errs} {
		assert.NotContains(t, s, "hunter2-secret", "no password in any output")
	}

	// Everything reads back the same, through the library, from both.
	copytest.RequireSame(t, f, openSQLite(t, srcPath), openPostgres(t, dsn))

	// A second copy into the same database is refused, saying why.
	errs = e.fail(1, "db", "copy", "--from", "sqlite://"+srcPath, "--to", dsn, "--quiet")
	assert.Contains(t, errs, "the target database is not empty: it has 2 tenant(s) (acme, globex)")
	assert.Contains(t, errs, "copy into an empty database")
	assert.NotContains(t, errs, "hunter2-secret")
	assert.Contains(t, errs, ":xxxxx@")
}

// TestIntegrationDBCopyPostgresToPostgres copies a copy: PostgreSQL as the
// source (read without migrating it) and gaps in its numbering, which a
// PostgreSQL target reproduces.
func TestIntegrationDBCopyPostgresToPostgres(t *testing.T) {
	srcPath, f := populatedSQLite(t, -1)
	srv := pgtest.StartServer(t, pgtest.Config{})
	first, second := srv.NewDatabase(t), srv.NewDatabase(t)
	e := newCLIEnv(t)
	e.ok("db", "copy", "--from", srcPath, "--to", first, "--quiet")

	// PostgreSQL uses sequence values up even in a transaction that rolls
	// back: the source now has gaps in its change seqs, outbox ids and sync
	// run ids.
	pg := openPostgres(t, first)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		err := pg.Store().Update(ctx, func(tx pbxusers.Tx) error {
			now := time.Now().UTC()
			if err := tx.AppendChange(ctx, &pbxusers.Change{TenantID: "acme", At: now, Entity: pbxusers.EntityUser, EntityID: "x", Action: pbxusers.ActionUpdate}); err != nil {
				return err
			}
			if err := tx.EnqueueMail(ctx, &pbxusers.OutboxMessage{TenantID: "acme", Kind: pbxusers.MailTest, To: "x@example.org",
				Status: pbxusers.MailPending, NextAttempt: now, Created: now, Updated: now}); err != nil {
				return err
			}
			if err := tx.CreateSyncRun(ctx, &pbxusers.SyncRun{TenantID: "acme", Directory: "corp", Started: now}); err != nil {
				return err
			}
			return errors.New("roll back")
		})
		require.EqualError(t, err, "roll back")
	}
	u, err := pg.CreateUser(ctx, "acme", pbxusers.User{UserName: "after-gap", Emails: []pbxusers.Email{{Value: "gap@example.org"}}})
	require.NoError(t, err)
	cs, err := pg.Changes(ctx, "acme", pbxusers.ChangeQuery{EntityID: u.ID})
	require.NoError(t, err)
	require.Len(t, cs, 1)
	mails, err := pg.ListMail(ctx, "acme", pbxusers.MailQuery{UserID: u.ID})
	require.NoError(t, err)
	require.Len(t, mails, 1, "a welcome mail")
	run, err := pg.StartSyncRun(ctx, pbxusers.SyncRun{TenantID: "acme", Directory: "corp", Mode: "full"})
	require.NoError(t, err)

	out := e.ok("db", "copy", "--from", first, "--to", second, "--output", "json", "--quiet")
	var rep struct {
		From, To string
		Equal    bool
		Kinds    []struct {
			Kind   string
			Source struct{ Count int }
		}
	}
	require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
	assert.True(t, rep.Equal)
	assert.Len(t, rep.Kinds, 13, "every kind, webhooks included")
	dst := openPostgres(t, second)
	got, err := dst.Changes(ctx, "acme", pbxusers.ChangeQuery{EntityID: u.ID})
	require.NoError(t, err)
	assert.Equal(t, cs, got, "the seq after the gap is kept")
	gotMail, _, err := dst.GetMail(ctx, "acme", mails[0].ID)
	require.NoError(t, err)
	assert.Equal(t, mails[0], gotMail, "the outbox id after the gap is kept")
	runs, err := dst.SyncRuns(ctx, "acme", "corp", 1)
	require.NoError(t, err)
	require.Len(t, runs, 1)
	assert.Equal(t, run.ID, runs[0].ID, "the sync run id after the gap is kept")
	copytest.RequireSame(t, f, pg, dst)
}

func TestCLIDBCopySQLiteToSQLite(t *testing.T) {
	srcPath, f := populatedSQLite(t, -1)
	e := newCLIEnv(t)
	dstPath := filepath.Join(t.TempDir(), "copy.db")
	out := e.ok("db", "copy", "--db", srcPath, "--config", ldapConfig(t), "--to", "sqlite://"+dstPath, "--output", "json", "--quiet")
	var rep map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
	assert.Equal(t, true, rep["equal"])
	assert.Equal(t, srcPath, rep["from"], "--from defaults to the configured database")
	copytest.RequireSame(t, f, openSQLite(t, srcPath), openSQLite(t, dstPath))
}

func TestCLIDBCopyMistakes(t *testing.T) {
	e := newCLIEnv(t)
	help := e.ok("db", "-h")
	assert.Contains(t, help, "Usage: pbxgate db copy --to URL")
	assert.Contains(t, help, "Examples:")
	assert.Contains(t, e.fail(2, "db"), "db needs a subcommand: copy")
	assert.Contains(t, e.fail(2, "db", "move"), `unknown db subcommand "move"`)
	errs := e.fail(2, "db", "copy")
	assert.Contains(t, errs, "db copy needs --to URL")
	assert.Contains(t, errs, "Try: pbxgate db copy --from sqlite://")

	srcPath, _ := populatedSQLite(t, -1)
	for _, tc := range []struct {
		name     string
		from, to string
		want     string
	}{
		{"same file", "sqlite://" + srcPath, filepath.Join(filepath.Dir(srcPath), ".", "pbxgate.db"), "name the same database"},
		{"same server and database", "postgres://a:pw-one@127.0.0.1:5432/pbx", "postgresql://b:pw-two@127.0.0.1/pbx?sslmode=disable", "name the same database"},
		{"unsupported scheme", srcPath, "mysql://root:pw-three@127.0.0.1/pbx", "mysql://root:xxxxx@127.0.0.1/pbx: unsupported database"},
		{"bad port", srcPath, "postgres://u:pw-four@127.0.0.1:notaport/pbx", "--to: cannot parse `postgres://u:xxxxx@127.0.0.1:notaport/pbx`: invalid port"},
		{"bad escape", "postgres://%zz", "sqlite:///tmp/x.db", "--from: cannot parse"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := e.fail(2, "db", "copy", "--from", tc.from, "--to", tc.to)
			assert.Contains(t, errs, tc.want)
			assert.Contains(t, errs, "Try: pbxgate db copy")
			assert.NotContains(t, errs, "pw-", "no password in messages")
		})
	}

	// A target with tenants is refused; nothing is written to it.
	dstPath := filepath.Join(t.TempDir(), "busy.db")
	dst := openSQLite(t, dstPath)
	_, err := dst.CreateTenant(context.Background(), pbxusers.Tenant{ID: "already-here"})
	require.NoError(t, err)
	errs = e.fail(1, "db", "copy", "--from", srcPath, "--to", "sqlite://"+dstPath)
	assert.Contains(t, errs, "the target database is not empty: it has 1 tenant(s) (already-here)")
	assert.Contains(t, errs, "copy into an empty database")
	tns, err := dst.ListTenants(context.Background())
	require.NoError(t, err)
	assert.Len(t, tns, 1)

	// A source that does not exist is not created empty and copied.
	missing := filepath.Join(t.TempDir(), "nope.db")
	assert.Contains(t, e.fail(1, "db", "copy", "--from", missing, "--to", filepath.Join(t.TempDir(), "x.db")), "no such file")
	_, err = os.Stat(missing)
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestCLIMigrateSQLite(t *testing.T) {
	e := newCLIEnv(t)
	assert.Contains(t, e.ok("migrate", "-h"), "Examples:")
	path := filepath.Join(t.TempDir(), "pbxgate.db")
	out := e.ok("migrate", "--db", "sqlite://"+path)
	assert.Regexp(t, `^SQLite database .*pbxgate\.db: schema version [1-9]\d* \(was 0; applied [1-9]\d* migration\(s\)\)\n$`, out)
	out = e.ok("migrate", "--db", path)
	assert.Regexp(t, `schema version [1-9]\d*, up to date\n$`, out)
	assert.Contains(t, e.fail(2, "migrate", "now"), "migrate takes no arguments")
}

func TestIntegrationMigratePostgres(t *testing.T) {
	srv := pgtest.StartServer(t, pgtest.Config{})
	dsn := withPassword(t, srv.NewDatabase(t), "hunter2-secret")
	e := newCLIEnv(t)
	out := e.ok("migrate", "--db", dsn)
	assert.Regexp(t, `^PostgreSQL database postgres://pbxgate:xxxxx@127\.0\.0\.1:\d+/\S+: schema version [1-9]\d* \(was 0; applied [1-9]\d* migration\(s\)\)\n$`, out)
	assert.NotContains(t, out, "hunter2-secret")
	out = e.ok("migrate", "--db", dsn)
	assert.Contains(t, out, "up to date")

	// A configuration naming the database works the same.
	cfg := filepath.Join(t.TempDir(), "pbxgate.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf("database: %s\n", dsn)), 0o600))
	assert.Contains(t, e.ok("migrate", "--config", cfg), "up to date")
	assert.True(t, strings.HasPrefix(dsn, "postgres://"))
}
