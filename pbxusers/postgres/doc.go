// Package postgres is a pbxusers.Store on PostgreSQL (through
// github.com/jackc/pgx/v5 and its pool), for deployments that run several
// gateway processes on one database. It applies its own embedded, versioned
// migrations and passes the same conformance suite (package
// pbxusers/storetest) as the default SQLite store.
//
//	store, err := postgres.Open(ctx, "postgres://pbxgate@db.example/pbxgate", postgres.Options{})
//	if err != nil { ... }
//	defer store.Close()
//	dir := pbxusers.New(store, pbxusers.Options{})
//
// See Store for how writes are isolated and ordered across processes.
//
// The statements of every operation, the group-commit writer and the error
// mapping are package pbxusers/internal/sqlstore's, shared with the SQLite
// store; this package holds what is PostgreSQL's own: the pool and server
// checks, migrations, the advisory write lock, pipelined statements, and
// the Flavor (numbered placeholders, array arguments, the outbox claim
// with FOR UPDATE SKIP LOCKED, SQLSTATE codes).
package postgres
