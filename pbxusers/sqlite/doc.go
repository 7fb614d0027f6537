// Package sqlite is the default pbxusers.Store: one SQLite file (through
// github.com/mattn/go-sqlite3, so cgo) in WAL mode, with foreign keys, a busy
// timeout, embedded versioned migrations and group commit.
//
//	store, err := sqlite.Open(ctx, "pbx.db")
//	if err != nil { ... }
//	defer store.Close()
//	dir := pbxusers.New(store, pbxusers.Options{})
package sqlite
