package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	_ "github.com/mattn/go-sqlite3" // the database/sql driver "sqlite3"

	"github.com/pbxgate/pbxgate/pbxusers"
	"github.com/pbxgate/pbxgate/pbxusers/internal/sqlstore"
)

// StoreType names this backend in configuration ("database: sqlite://…").
const StoreType = "sqlite"

// Defaults for Options.
const (
	// DefaultBusyTimeout is long enough for another process's whole
	// all-or-nothing CSV import of thousands of users on a loaded machine:
	// a write that waits is better than one refused with 503.
	DefaultBusyTimeout = 30 * time.Second
	DefaultMaxBatchN   = 256
	DefaultSynchronous = "full"
)

// connStmtCacheN is how many prepared statements each connection
// keeps.
const connStmtCacheN = 128

// Options tune a Store. The zero value is the durable default.
type Options struct {
	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger
	// BusyTimeout is how long a write waits for another process (the CLI
	// while the gateway runs) to release the database. Default 30s.
	BusyTimeout time.Duration
	// Synchronous is SQLite's synchronous setting: "full" (default: every
	// commit is on disk before Update returns) or "normal" (a power cut may
	// lose the last commits, never corrupt the file). "off" is refused.
	Synchronous string
	// MaxBatchN caps how many concurrent Update calls are committed in one
	// transaction (group commit). Default 256; 1 disables batching.
	MaxBatchN int
	// ReadConns is the size of the read connection pool; default twice the
	// number of CPUs, at least 4.
	ReadConns int
}

//go:embed migrations/*.sql
var migrationFS embed.FS

// Store is a pbxusers.Store in one SQLite file, in WAL mode with foreign
// keys on. Writes go through one connection and one goroutine, which
// commits concurrent Update calls together (group commit): every call runs
// in its own savepoint, so one call's failure never touches another's
// writes, and all of them share one fsync. Reads use a pool of read-only
// connections and never wait for writes.
type Store struct {
	path string
	log  *slog.Logger
	wdb  *sql.DB
	rdb  *sql.DB
	w    *sqlstore.Writer
}

var _ pbxusers.Store = (*Store)(nil)

// Open opens (creating if needed) the database at path with the default
// options and applies any pending migrations.
func Open(ctx context.Context, path string) (*Store, error) {
	return OpenOptions(ctx, path, Options{})
}

// OpenOptions opens the database at path with the given options.
func OpenOptions(ctx context.Context, path string, opts Options) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlite: empty database path")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.BusyTimeout <= 0 {
		opts.BusyTimeout = DefaultBusyTimeout
	}
	if opts.Synchronous == "" {
		opts.Synchronous = DefaultSynchronous
	}
	switch strings.ToLower(opts.Synchronous) {
	case "full", "normal":
	default:
		return nil, fmt.Errorf("sqlite: synchronous must be full or normal, not %q", opts.Synchronous)
	}
	if opts.MaxBatchN <= 0 {
		opts.MaxBatchN = DefaultMaxBatchN
	}
	if opts.ReadConns <= 0 {
		opts.ReadConns = max(4, 2*runtime.NumCPU())
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("create database directory: %w", err)
		}
	}
	params := url.Values{}
	params.Set("_journal_mode", "WAL")
	params.Set("_busy_timeout", strconv.FormatInt(opts.BusyTimeout.Milliseconds(), 10))
	params.Set("_foreign_keys", "on")
	params.Set("_synchronous", strings.ToUpper(opts.Synchronous))
	params.Set("_txlock", "immediate")
	// Each connection keeps its recently used statements prepared: a user
	// read costs more to compile than to run, and a write transaction runs
	// the same dozen statements as the one before it.
	params.Set("_stmt_cache_size", strconv.Itoa(connStmtCacheN))
	wdsn := "file:" + path + "?" + params.Encode()
	params.Set("_query_only", "1")
	params.Set("_txlock", "deferred")
	rdsn := "file:" + path + "?" + params.Encode()

	wdb, err := sql.Open("sqlite3", wdsn)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	wdb.SetConnMaxLifetime(0)
	var mode string
	if err := wdb.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		wdb.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if !strings.EqualFold(mode, "wal") {
		wdb.Close()
		return nil, fmt.Errorf("open %s: journal_mode is %q, want wal", path, mode)
	}
	if err := migrate(ctx, wdb); err != nil {
		wdb.Close()
		return nil, fmt.Errorf("migrate %s: %w", path, err)
	}
	rdb, err := sql.Open("sqlite3", rdsn)
	if err != nil {
		wdb.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	rdb.SetMaxOpenConns(opts.ReadConns)
	rdb.SetMaxIdleConns(opts.ReadConns)
	s := &Store{path: path, log: opts.Logger, wdb: wdb, rdb: rdb}
	s.w = sqlstore.NewWriter(flavor, s.begin, opts.MaxBatchN)
	return s, nil
}

// Path returns the database file's path.
func (s *Store) Path() string { return s.path }

// migrate applies the embedded migrations not yet recorded in
// schema_migrations, each in its own transaction.
func migrate(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied INTEGER NOT NULL) STRICT`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		base := filepath.Base(name)
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migration %s: name must start with a number", base)
		}
		var n int
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM schema_migrations WHERE version = ?", v).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			continue
		}
		body, err := migrationFS.ReadFile(name)
		if err != nil {
			return err
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			tx.Rollback()
			return fmt.Errorf("apply %s: %w", base, err)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations(version, name, applied) VALUES (?, ?, ?)",
			v, base, time.Now().UnixMicro()); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("apply %s: %w", base, err)
		}
	}
	return nil
}

// SchemaVersion returns the highest migration applied.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v sql.NullInt64
	err := s.rdb.QueryRowContext(ctx, "SELECT max(version) FROM schema_migrations").Scan(&v)
	return int(v.Int64), err
}

// Ping checks that the database answers and is migrated.
func (s *Store) Ping(ctx context.Context) error {
	v, err := s.SchemaVersion(ctx)
	if err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	names, _ := fs.Glob(migrationFS, "migrations/*.sql")
	if v < len(names) {
		return fmt.Errorf("database schema at version %d, want %d", v, len(names))
	}
	return nil
}

// IntegrityCheck runs SQLite's integrity_check and returns nil when the
// database file is sound.
func (s *Store) IntegrityCheck(ctx context.Context) error {
	rows, err := s.rdb.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return err
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return err
		}
		if line != "ok" {
			problems = append(problems, line)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(problems) > 0 {
		return fmt.Errorf("integrity check: %s", strings.Join(problems, "; "))
	}
	return nil
}

// Close stops the writer after the writes already queued and closes the
// database. Update calls made after Close fail.
func (s *Store) Close() error {
	s.w.Close()
	werr := s.wdb.Close()
	rerr := s.rdb.Close()
	return errors.Join(werr, rerr)
}

// Update runs fn in a read-write transaction; see pbxusers.Store. Writes go
// through one connection; concurrent calls are committed together.
func (s *Store) Update(ctx context.Context, fn func(pbxusers.Tx) error) error {
	return s.w.Update(ctx, fn)
}

// View runs fn in a read-only transaction over one snapshot.
func (s *Store) View(ctx context.Context, fn func(pbxusers.Tx) error) error {
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return flavor.Err("begin read", err, "")
	}
	defer tx.Rollback()
	return fn(sqlstore.NewTx(flavor, &conn{q: tx}))
}
