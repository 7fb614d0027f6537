package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pbxgate/pbxgate/pbxusers"
	"github.com/pbxgate/pbxgate/pbxusers/internal/sqlstore"
)

// StoreType names this backend in configuration ("database: postgres://…").
const StoreType = "postgres"

// Defaults for Options.
const (
	// DefaultLockTimeout is how long a write waits for the write lock (or
	// any row lock) before it fails with pbxusers.ErrUnavailable.
	DefaultLockTimeout = 10 * time.Second
	// DefaultMaxBatchN caps how many Update calls share one transaction. It
	// matches PostgreSQL's per-backend cache of 64 subtransaction ids, so a
	// batch's savepoints never overflow it (an overflow slows every other
	// session's snapshots down while the batch runs).
	DefaultMaxBatchN = 64
)

// MinServerVersion is the oldest PostgreSQL server the store runs on, as
// server_version_num (12.0).
const MinServerVersion = 120000

// Advisory lock keys, visible in pg_locks as objid under classid
// 0x70627867 ("pbxg"). Advisory locks are per database: two pbxgate
// deployments in different schemas of one database share them, which only
// serializes their writes further.
const (
	writeLockKey   int64 = 0x70627867_00000001
	migrateLockKey int64 = 0x70627867_00000002
)

// Options tune a Store. The zero value is the durable default.
type Options struct {
	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger
	// MaxConns is the size of the connection pool (reads plus the one write
	// connection in use at a time). 0 keeps the DSN's pool_max_conns, or
	// pgxpool's default: the larger of 4 and the number of CPUs.
	MaxConns int
	// LockTimeout is PostgreSQL's lock_timeout for the store's sessions:
	// how long a write waits for another process's write transaction before
	// Update fails with pbxusers.ErrUnavailable. Default 10s; a lock_timeout
	// given in the DSN wins.
	LockTimeout time.Duration
	// MaxBatchN caps how many concurrent Update calls of this process are
	// committed in one transaction (group commit). Default 64; 1 disables
	// batching. Above 64, a batch's savepoints overflow PostgreSQL's
	// per-session cache of subtransactions, which slows every other
	// session's snapshots while the batch runs.
	MaxBatchN int
	// SkipMigrate makes Open leave the schema alone (for deployments whose
	// serving role may not run DDL: run `pbxgate migrate` with an owner role
	// first). Ping reports a schema that is behind.
	SkipMigrate bool
}

//go:embed migrations/*.sql
var migrationFS embed.FS

// Store is a pbxusers.Store in a PostgreSQL database, reached through a
// pgxpool connection pool. Several processes (gateway instances) may share
// one database.
//
// Writes. Update runs fn exactly once, in a READ COMMITTED transaction
// whose first statement takes one transaction-scoped advisory lock (the
// write lock) for the whole database. Every write transaction of every
// process takes it, so write transactions run one at a time, and a write
// transaction sees everything committed before it started: fn's reads are
// current, a read-modify-write inside one Update (Directory.ModifyUser)
// never finds its version stale, uniqueness checks and extension allocation
// cannot race with another process, and no row lock can deadlock. The
// conditional UPDATE on version still guards callers that bring a version
// read earlier (a SCIM ETag). REPEATABLE READ or SERIALIZABLE would instead
// need a retry of fn on serialization failures, which the contract rules
// out.
//
// Change log order. The advisory lock is released only after the commit is
// durable and visible, and change seqs come from one identity sequence, so
// a transaction that commits later always gets larger seqs: a reader that
// follows the log by seq never skips an entry that commits late. The cost
// is that writes do not run in parallel, across processes too: write
// throughput is one transaction at a time (a lock handoff, fn's statements
// and one WAL flush each). Group commit recovers most of it: the calls that
// queue up in one process while a transaction runs are committed together,
// each in its own savepoint so one call's failure never touches another's
// writes, under one lock acquisition and one WAL flush. Reads (View) never
// wait for writes.
//
// Reads. View runs fn in a REPEATABLE READ, READ ONLY transaction: one
// snapshot for all of fn's reads.
//
// Sessions. Open sets lock_timeout (Options.LockTimeout) and jit = off as
// startup parameters of the pool's sessions, unless the connection string
// sets them, and statements are prepared and cached per connection; a
// pooler in between (PgBouncer) must run in session mode and pass the
// parameters on.
//
// Failures. A statement that fails (a unique violation, say) aborts a
// PostgreSQL transaction, unlike SQLite's: the Tx then fails every later
// call, and an Update whose fn carries on and returns nil fails all the
// same, with nothing of it written. (Guarding every statement with a
// savepoint instead would overflow the server's subtransaction cache in
// bulk writes.) Serialization failures, deadlocks, lock timeouts, a server
// shutting down and lost connections are pbxusers.ErrUnavailable. If the
// connection breaks during COMMIT, Update returns ErrUnavailable although
// the server may have committed: the caller cannot tell, as with any
// networked database.
type Store struct {
	pool *pgxpool.Pool
	log  *slog.Logger
	w    *sqlstore.Writer

	closed    atomic.Bool
	closeOnce sync.Once
}

var _ pbxusers.Store = (*Store)(nil)

// Open connects to the database dsn names (a postgres:// URL or a
// keyword/value string, as pgx accepts), checks that it can hold pbxgate's
// data (UTF8 encoding, synchronous_commit not off) and applies pending
// migrations unless opts.SkipMigrate is set.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	if dsn == "" {
		return nil, errors.New("postgres: empty connection string")
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse connection string: %w", err)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = DefaultLockTimeout
	}
	if opts.MaxBatchN <= 0 {
		opts.MaxBatchN = DefaultMaxBatchN
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = int32(min(opts.MaxConns, 1<<20))
	}
	if cfg.MaxConns < 2 {
		cfg.MaxConns = 2 // the writer and at least one reader
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["lock_timeout"]; !ok {
		cfg.ConnConfig.RuntimeParams["lock_timeout"] = strconv.FormatInt(opts.LockTimeout.Milliseconds(), 10)
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["jit"]; !ok {
		// JIT compilation pays off for long analytical queries; for these
		// it costs more than it saves (130 ms to compile a 50 ms scan).
		cfg.ConnConfig.RuntimeParams["jit"] = "off"
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = "pbxgate"
	}
	cfg.AfterConnect = func(_ context.Context, conn *pgx.Conn) error {
		// Times come back in UTC whatever the session's TimeZone.
		conn.TypeMap().RegisterType(&pgtype.Type{Name: "timestamptz", OID: pgtype.TimestamptzOID,
			Codec: &pgtype.TimestamptzCodec{ScanLocation: time.UTC}})
		return nil
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open connection pool: %w", err)
	}
	s := &Store{pool: pool, log: opts.Logger.With("store", StoreType)}
	if err := s.checkServer(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	if !opts.SkipMigrate {
		if err := s.Migrate(ctx); err != nil {
			pool.Close()
			return nil, err
		}
	}
	s.w = sqlstore.NewWriter(flavor, s.begin, opts.MaxBatchN)
	return s, nil
}

// checkServer refuses a database that cannot keep the store's promises.
func (s *Store) checkServer(ctx context.Context) error {
	var enc, syncCommit, fsync string
	var version int
	err := s.pool.QueryRow(ctx, `SELECT current_setting('server_encoding'), current_setting('synchronous_commit'),
		current_setting('fsync'), current_setting('server_version_num')::int`).Scan(&enc, &syncCommit, &fsync, &version)
	if err != nil {
		return flavor.Err("connect", err, "")
	}
	if version < MinServerVersion {
		return fmt.Errorf("postgres: server version %d.%d is too old, want %d or later", version/10000, version%10000, MinServerVersion/10000)
	}
	if enc != "UTF8" {
		return fmt.Errorf("postgres: database encoding is %s, want UTF8 (create it with ENCODING 'UTF8')", enc)
	}
	if syncCommit == "off" {
		return errors.New("postgres: synchronous_commit is off, so Update could return before its writes are durable; turn it on")
	}
	if fsync == "off" {
		s.log.Warn("the server runs with fsync off: a crash may lose committed writes")
	}
	return nil
}

type migration struct {
	version int
	name    string
	body    string
}

func migrations() ([]migration, error) {
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	sort.Strings(names)
	out := make([]migration, 0, len(names))
	for _, name := range names {
		base := path.Base(name)
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return nil, fmt.Errorf("migration %s: name must start with a number", base)
		}
		body, err := migrationFS.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", base, err)
		}
		out = append(out, migration{version: v, name: base, body: string(body)})
	}
	return out, nil
}

// Migrate applies the embedded migrations not yet recorded in
// schema_migrations, each in its own transaction. Processes that migrate
// at the same time take turns (an advisory lock), so each migration is
// applied once. Open calls it unless Options.SkipMigrate is set.
func (s *Store) Migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	for _, m := range ms {
		if err := s.apply(ctx, m); err != nil {
			return fmt.Errorf("apply migration %s: %w", m.name, err)
		}
	}
	return nil
}

func (s *Store) apply(ctx context.Context, m migration) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return flavor.Err("begin", err, "")
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", migrateLockKey); err != nil {
		return flavor.Err("take migration lock", err, "")
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version integer PRIMARY KEY, name text NOT NULL, applied timestamptz NOT NULL)`); err != nil {
		return flavor.Err("create schema_migrations", err, "")
	}
	var done bool
	if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)", m.version).Scan(&done); err != nil {
		return flavor.Err("read schema_migrations", err, "")
	}
	if done {
		return nil
	}
	if _, err := tx.Exec(ctx, m.body); err != nil {
		return flavor.Err("run", err, "")
	}
	if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name, applied) VALUES ($1, $2, now())", m.version, m.name); err != nil {
		return flavor.Err("record", err, "")
	}
	if err := tx.Commit(ctx); err != nil {
		return flavor.Err("commit", err, "")
	}
	s.log.Info("applied migration", "version", m.version, "name", m.name)
	return nil
}

// SchemaVersion returns the highest migration applied, 0 for an empty
// database.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.pool.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&v)
	if isCode(err, "42P01") { // undefined_table: never migrated
		return 0, nil
	}
	if err != nil {
		return 0, flavor.Err("read schema version", err, "")
	}
	return v, nil
}

// Ping checks that the database answers and is migrated.
func (s *Store) Ping(ctx context.Context) error {
	if s.closed.Load() {
		return errClosed
	}
	v, err := s.SchemaVersion(ctx)
	if err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	ms, err := migrations()
	if err != nil {
		return err
	}
	if want := ms[len(ms)-1].version; v < want {
		return fmt.Errorf("database schema at version %d, want %d: run pbxgate migrate", v, want)
	}
	return nil
}

// Close stops the writer after the writes already queued and closes the
// pool. Update and View calls made after Close fail.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		if s.w != nil {
			s.w.Close()
		}
		s.pool.Close()
	})
	return nil
}

var errClosed = errors.New("postgres: store is closed")

// Update runs fn in a read-write transaction; see pbxusers.Store and the
// Store type for the isolation it gets.
func (s *Store) Update(ctx context.Context, fn func(pbxusers.Tx) error) error {
	return s.w.Update(ctx, fn)
}

// View runs fn in a read-only transaction over one snapshot.
func (s *Store) View(ctx context.Context, fn func(pbxusers.Tx) error) error {
	if s.closed.Load() {
		return errClosed
	}
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return flavor.Err("begin read", err, "")
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	return fn(sqlstore.NewTx(flavor, &conn{tx: tx}))
}
