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
package postgres
