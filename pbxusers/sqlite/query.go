package sqlite

import "github.com/pbxgate/pbxgate/pbxusers/internal/sqlquery"

// newBuilder returns a WHERE builder in SQLite's dialect.
func newBuilder() *sqlquery.Builder { return sqlquery.NewBuilder(&sqlquery.SQLite) }

// orderBy returns the ORDER BY list for a sort column and direction, with
// id as the tie breaker so pages are stable.
func orderBy(col string, desc bool) string {
	dir := "ASC"
	if desc {
		dir = "DESC"
	}
	if col == "u.id" {
		return "u.id " + dir
	}
	return col + " " + dir + ", u.id " + dir
}
