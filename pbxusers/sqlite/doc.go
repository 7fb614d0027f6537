// Package sqlite is the default pbxusers.Store: one SQLite file (through
// github.com/mattn/go-sqlite3, so cgo) in WAL mode, with foreign keys, a busy
// timeout, embedded versioned migrations and group commit.
//
// The statements of every operation, the group-commit writer and the error
// mapping are package pbxusers/internal/sqlstore's, shared with the
// PostgreSQL store; this package holds what is SQLite's own: opening the
// file and its pragmas, the read pool, migrations, the statement cache of
// a write batch, and the Flavor (times as microseconds, JSON id lists, the
// outbox claim, error codes).
//
//	store, err := sqlite.Open(ctx, "pbx.db")
//	if err != nil { ... }
//	defer store.Close()
//	dir := pbxusers.New(store, pbxusers.Options{})
package sqlite
