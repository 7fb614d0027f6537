package postgres

import "github.com/pbxgate/pbxgate/pbxusers/internal/sqlquery"

// newBuilder returns a WHERE builder in PostgreSQL's dialect.
func newBuilder() *sqlquery.Builder { return sqlquery.NewBuilder(&sqlquery.PostgreSQL) }

// nullableSorts are the sort columns that may be NULL.
var nullableSorts = map[string]bool{"u.extension": true, "u.external_id": true}

// orderBy returns the ORDER BY list for a sort column and direction, with
// id as the tie breaker. Users without the attribute (NULL) come first
// ascending and last descending, as in SQLite; the indexes of the nullable
// columns are built NULLS FIRST to serve that order.
func orderBy(col string, desc bool) string {
	dir, nulls := "ASC", " NULLS FIRST"
	if desc {
		dir, nulls = "DESC", " NULLS LAST"
	}
	if col == "u.id" {
		return "u.id " + dir
	}
	if !nullableSorts[col] {
		nulls = ""
	}
	return col + " " + dir + nulls + ", u.id " + dir
}
