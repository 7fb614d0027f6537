package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/pbxgate/pbxgate/pbxusers"
	"github.com/pbxgate/pbxgate/pbxusers/postgres"
	"github.com/pbxgate/pbxgate/pbxusers/sqlite"
)

// isPostgres reports whether a database setting names a PostgreSQL server.
func isPostgres(database string) bool {
	return strings.HasPrefix(database, "postgres://") || strings.HasPrefix(database, "postgresql://")
}

// openStore opens the database a setting names: a PostgreSQL URL
// (postgres://…), or an SQLite file (a path or sqlite:///path), the default.
func openStore(ctx context.Context, database string, log *slog.Logger) (pbxusers.Store, error) {
	if isPostgres(database) {
		s, err := postgres.Open(ctx, database, postgres.Options{Logger: log})
		if err != nil {
			return nil, fmt.Errorf("open PostgreSQL database %s: %w", redactDSN(database), err)
		}
		return s, nil
	}
	path := strings.TrimPrefix(strings.TrimPrefix(database, "sqlite://"), "sqlite:")
	s, err := sqlite.OpenOptions(ctx, path, sqlite.Options{Logger: log})
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	return s, nil
}

// redactDSN hides the password of a database URL for messages and logs.
func redactDSN(dsn string) string {
	if i := strings.Index(dsn, "://"); i >= 0 {
		rest := dsn[i+3:]
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			cred := rest[:at]
			if c := strings.Index(cred, ":"); c >= 0 {
				return dsn[:i+3] + cred[:c] + ":xxxxx" + rest[at:]
			}
		}
	}
	return dsn
}
