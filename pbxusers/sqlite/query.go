package sqlite

import "github.com/pbxgate/pbxgate/pbxusers/internal/sqlquery"

// newBuilder returns a WHERE builder in SQLite's dialect.
func newBuilder() *sqlquery.Builder { return sqlquery.NewBuilder(&sqlquery.SQLite) }
