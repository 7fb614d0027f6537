package postgres_test

// These tests run against a real PostgreSQL server: a throwaway one that
// package pgtest starts when PostgreSQL's programs are installed
// (apt-get install -y postgresql), or the server PBXGATE_POSTGRES_DSN names.
// Without either they skip. Run them alone with
//
//	go test ./pbxusers/postgres/ -run Integration -v

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/pbxusers"
	"github.com/pbxgate/pbxgate/pbxusers/postgres"
	"github.com/pbxgate/pbxgate/pbxusers/postgres/pgtest"
	"github.com/pbxgate/pbxgate/pbxusers/storetest"
)

// MustOpen opens a store on the database dsn names and closes it when the
// test ends.
func MustOpen(t testing.TB, dsn string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), dsn, postgres.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func TestIntegrationConformance(t *testing.T) {
	srv := pgtest.StartServer(t, pgtest.Config{})
	storetest.Run(t, func(t testing.TB) pbxusers.Store { return MustOpen(t, srv.NewDatabase(t)) })
}
