package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pbxgate/pbxgate/pbxusers"
	"github.com/pbxgate/pbxgate/pbxusers/postgres"
	"github.com/pbxgate/pbxgate/pbxusers/sqlite"
	"github.com/pbxgate/pbxgate/pbxusers/storecopy"
)

// copyHint is the "Try:" line of db copy's usage mistakes.
const copyHint = "pbxgate db copy --from sqlite:///var/lib/pbxgate/pbxgate.db --to postgres://pbxgate@127.0.0.1:5432/pbxgate"

func runDB(ctx context.Context, c *CLI, args []string) error {
	fs := c.flagSet("db", "db copy --to URL [--from URL] [--config FILE] [--data DIR | --db FILE] [--quiet] [--output FORMAT]", `
Copy an installation to another database, e.g. from the default SQLite file
to PostgreSQL before running several gateways on one database.

  copy   copy everything from the source into the target, then read the
         target back and compare, per kind of object, the count and a
         SHA-256 checksum computed on both sides; fail if any differs

The source is --from, or the configured database (--config, --data, --db).
The target (--to) must be empty: the copy never merges installations and
refuses a database that has tenants. Stop every gateway writing to the
source first: the copy reads one snapshot, and later writes are not copied.

Copied with ids, versions and timestamps as they are: tenants, profiles,
time frames, teams, users (password hashes, memberships, managers,
routing), devices, numbers, API tokens, webhooks (secrets and delivery
positions), the change log, the mail outbox with its delivery attempts,
LDAP sync runs and sync state. Not copied, and
listed after the table: set-password links (they cannot be listed: links
already mailed stop working; send new ones with "pbxgate mail send-welcome
USER"), sync leases, and workers' claims on mail and webhooks in delivery.

Then point the configuration at the target (database: postgres://...).

Examples:
  pbxgate db copy --from sqlite:///var/lib/pbxgate/pbxgate.db --to postgres://pbxgate@127.0.0.1:5432/pbxgate
  PGPASSWORD=... pbxgate db copy --config /etc/pbxgate/pbxgate.yaml --to postgres://pbxgate@db.internal/pbxgate
  pbxgate db copy --data ./pbxgate-data --to postgres://pbxgate@127.0.0.1/pbxgate --output json --quiet`)
	g := c.commonFlags(fs, false)
	from := fs.String("from", "", "source database `URL`: sqlite:///path/pbxgate.db or postgres://user@host:5432/db (default: the configured database)")
	to := fs.String("to", "", "target database `URL`, empty: postgres://user@host:5432/db or sqlite:///path/pbxgate.db")
	batch := countFlag(fs, "batch", storecopy.DefaultBatchN, "objects written per target transaction `N`")
	output := outputFlag(fs, "table", "json")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) == 0:
		return usagef("pbxgate db -h", "db needs a subcommand: copy")
	case pos[0] != "copy":
		return subcommandError("db", pos[0], []string{"copy"}, "pbxgate db -h")
	case len(pos) > 1:
		return usagef(copyHint, "db copy takes no arguments; name the databases with --from and --to")
	case *to == "":
		return usagef(copyHint, "db copy needs --to URL, the empty database to copy into")
	case *output != "table" && *output != "json":
		return usagef("pbxgate db -h", "--output must be table or json, not %q", *output)
	case *batch < 1:
		return usagef("pbxgate db -h", "--batch must be at least 1")
	}
	cfg, err := LoadConfig(g.config, c.Getenv)
	if err != nil {
		return err
	}
	set := resolve(cfg, g.config, g.data, g.db, "", c.Getenv)
	src := first(*from, set.database)
	srcID, err := databaseID("--from", src)
	if err != nil {
		return err
	}
	dstID, err := databaseID("--to", *to)
	if err != nil {
		return err
	}
	if srcID == dstID {
		return usagef(copyHint, "--from %s and --to %s name the same database", redactDSN(src), redactDSN(*to))
	}
	if !isPostgres(src) {
		if _, err := os.Stat(sqlitePath(src)); err != nil {
			return fmt.Errorf("source database %s: %w", sqlitePath(src), err)
		}
	}
	log := c.logger(cfg.Log)
	srcStore, err := openSource(ctx, src, log)
	if err != nil {
		return err
	}
	defer srcStore.Close()
	dstStore, err := openStore(ctx, *to, log)
	if err != nil {
		return err
	}
	defer dstStore.Close()

	var dirs []storecopy.Directory
	for _, d := range cfg.LDAP.Directories {
		dirs = append(dirs, storecopy.Directory{Tenant: d.Tenant, Name: d.Name})
	}
	bars := map[string]*progress{}
	var bar *progress
	rep, err := storecopy.Copy(ctx, srcStore, dstStore, storecopy.Options{BatchN: *batch, Directories: dirs,
		Progress: func(p storecopy.Progress) {
			label := p.Phase + " " + string(p.Kind)
			if bars[label] == nil {
				if bar != nil {
					bar.done()
				}
				bars[label] = c.progress(label, g.quiet)
			}
			bar = bars[label]
			bar.update(p.Done, p.Total)
		}})
	if bar != nil {
		bar.done()
	}
	if errors.Is(err, storecopy.ErrTargetNotEmpty) {
		return fmt.Errorf("copy to %s: %w; copy into an empty database: a new one (createdb -O pbxgate pbxgate_new), "+
			"or a new SQLite file", redactDSN(*to), err)
	}
	if len(rep.Kinds) > 0 {
		if werr := writeCopyReport(c, *output, src, *to, rep); werr != nil {
			return werr
		}
	}
	if errors.Is(err, storecopy.ErrMismatch) {
		return fmt.Errorf("%w (see the table); the target is not a faithful copy: empty it and copy again", err)
	}
	if err != nil {
		return fmt.Errorf("copy %s to %s: %w", redactDSN(src), redactDSN(*to), err)
	}
	if *output == "table" {
		fmt.Fprintf(c.Stdout, "\nCopied %s to %s in %s: every kind above has the same count and checksum on both sides.\n"+
			"Point the configuration at the target (database: %s) and start the gateways.\n",
			redactDSN(src), redactDSN(*to), rep.Took.Round(time.Millisecond), redactDSN(*to))
	}
	return nil
}

func writeCopyReport(c *CLI, output, src, dst string, rep storecopy.Report) error {
	if output == "json" {
		enc := json.NewEncoder(c.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			From string `json:"from"`
			To   string `json:"to"`
			storecopy.Report
			Equal bool `json:"equal"`
		}{redactDSN(src), redactDSN(dst), rep, rep.Equal()})
	}
	return rep.WriteText(c.Stdout)
}

// sqlitePath is the file an SQLite database setting names (a path or
// sqlite:///path).
func sqlitePath(database string) string {
	return strings.TrimPrefix(strings.TrimPrefix(database, "sqlite://"), "sqlite:")
}

// databaseID checks a database URL and returns what identifies the
// database it names (two URLs with the same id are the same database):
// host, port and database name for PostgreSQL, the absolute file path for
// SQLite.
func databaseID(flag, database string) (string, error) {
	switch {
	case isPostgres(database):
		cfg, err := pgconn.ParseConfig(database)
		if err != nil {
			// pgconn's message names the URL with its password hidden.
			return "", usagef(copyHint, "%s: %v", flag, err)
		}
		return fmt.Sprintf("postgres:%s:%d/%s", strings.ToLower(cfg.Host), cfg.Port, cfg.Database), nil
	case strings.Contains(database, "://") && !strings.HasPrefix(database, "sqlite://"):
		return "", usagef(copyHint, "%s %s: unsupported database; want postgres://user@host:5432/db or sqlite:///path/pbxgate.db",
			flag, redactDSN(database))
	}
	path := sqlitePath(database)
	if path == "" {
		return "", usagef(copyHint, "%s %s: no file name", flag, database)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", flag, path, err)
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	return "sqlite:" + abs, nil
}

// openSource opens the database to copy from. A PostgreSQL source is not
// migrated (the copy only reads it): its schema must be current.
func openSource(ctx context.Context, database string, log *slog.Logger) (pbxusers.Store, error) {
	if !isPostgres(database) {
		return openStore(ctx, database, log)
	}
	s, err := postgres.Open(ctx, database, postgres.Options{Logger: log, SkipMigrate: true})
	if err != nil {
		return nil, fmt.Errorf("open PostgreSQL database %s: %w", redactDSN(database), err)
	}
	if err := s.Ping(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("source %s: %w", redactDSN(database), err)
	}
	return s, nil
}

func runMigrate(ctx context.Context, c *CLI, args []string) error {
	fs := c.flagSet("migrate", "migrate [--config FILE] [--data DIR | --db FILE | --db URL]", `
Apply the database migrations explicitly and print the schema version.

The gateway and every command migrate the database when they open it, so
this is only needed where the serving role may not change the schema: run
migrate with an owner role first. For PostgreSQL, gateways that start at the
same time take turns, so each migration is applied once. For SQLite,
opening the file applies what is pending.

The database is the configured one (database: in --config, --data, or --db
with an SQLite file or a postgres:// URL).

Examples:
  pbxgate migrate --config /etc/pbxgate/pbxgate.yaml
  pbxgate migrate --db postgres://pbxgate_owner@127.0.0.1:5432/pbxgate
  pbxgate migrate --data /var/lib/pbxgate`)
	g := c.commonFlags(fs, false)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("pbxgate migrate --config FILE", "migrate takes no arguments; name the database with --config, --data or --db")
	}
	cfg, err := LoadConfig(g.config, c.Getenv)
	if err != nil {
		return err
	}
	set := resolve(cfg, g.config, g.data, g.db, "", c.Getenv)
	log := c.logger(cfg.Log)
	var before, after int
	var name string
	if isPostgres(set.database) {
		name = "PostgreSQL database " + redactDSN(set.database)
		s, err := postgres.Open(ctx, set.database, postgres.Options{Logger: log, SkipMigrate: true})
		if err != nil {
			return fmt.Errorf("open %s: %w", name, err)
		}
		defer s.Close()
		if before, err = s.SchemaVersion(ctx); err != nil {
			return err
		}
		if err := s.Migrate(ctx); err != nil {
			return fmt.Errorf("migrate %s: %w", name, err)
		}
		if after, err = s.SchemaVersion(ctx); err != nil {
			return err
		}
	} else {
		path := sqlitePath(set.database)
		name = "SQLite database " + path
		if before, err = sqliteVersion(ctx, path); err != nil {
			return fmt.Errorf("read the schema version of %s: %w", path, err)
		}
		s, err := sqlite.OpenOptions(ctx, path, sqlite.Options{Logger: log})
		if err != nil {
			return fmt.Errorf("open %s: %w", name, err)
		}
		defer s.Close()
		if after, err = s.SchemaVersion(ctx); err != nil {
			return fmt.Errorf("read the schema version of %s: %w", path, err)
		}
	}
	if after == before {
		fmt.Fprintf(c.Stdout, "%s: schema version %d, up to date\n", name, after)
		return nil
	}
	fmt.Fprintf(c.Stdout, "%s: schema version %d (was %d; applied %d migration(s))\n", name, after, before, after-before)
	return nil
}

// sqliteVersion reads an SQLite file's schema version without changing it:
// 0 for a file that does not exist yet or was never migrated.
func sqliteVersion(ctx context.Context, path string) (int, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var tables int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").Scan(&tables); err != nil {
		return 0, err
	}
	if tables == 0 {
		return 0, nil
	}
	var v sql.NullInt64
	if err := db.QueryRowContext(ctx, "SELECT max(version) FROM schema_migrations").Scan(&v); err != nil {
		return 0, err
	}
	return int(v.Int64), nil
}
