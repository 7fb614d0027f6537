// Package sqlstore is the SQL shared by the SQLite and PostgreSQL stores:
// every operation of pbxusers.Tx written once, one writer loop with group
// commit, one row scanner per entity and one error mapper. It follows dex's
// storage/sql: a Flavor says what a database does its own way
// (placeholders, how times and "no limit" are stored, a few functions,
// which errors mean what), and a Conn runs statements on one transaction of
// the backend's driver.
//
// What really differs stays in the backend packages: opening the database,
// pragmas and pools, migrations, the write lock, and the outbox claim.
package sqlstore

import (
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pbxgate/pbxgate/pbxusers/internal/sqlquery"
)

// ErrorClass is what a driver error means to the store.
type ErrorClass int

// The error classes a Flavor's Classify tells apart.
const (
	// ClassOther is any error the store has no special meaning for.
	ClassOther ErrorClass = iota
	// ClassNoRows is a single-row query that found nothing.
	ClassNoRows
	// ClassUnique is a unique (or primary key) violation.
	ClassUnique
	// ClassForeignKey is a foreign key violation.
	ClassForeignKey
	// ClassBadText is text the database cannot store (NUL, invalid UTF-8).
	ClassBadText
	// ClassUnavailable says the database cannot serve the request now (a
	// busy file, a lost connection, a lock timeout): it may be retried.
	ClassUnavailable
)

// Flavor is what a database does its own way. The SQL of every operation is
// written once with ? placeholders (or built with Query); the Flavor
// supplies the rest.
type Flavor struct {
	// Name names the backend in errors ("sqlite", "postgres").
	Name string
	// Numbered turns each ? into $1, $2, … before a statement runs.
	Numbered bool
	// Query compiles filters. A statement is either built whole with
	// Query (its own placeholders) or written with ? (numbered by SQL),
	// never both.
	Query *sqlquery.Dialect
	// Time converts a time into the stored form.
	Time func(time.Time) any
	// Unclaimed is the stored claimed_until of a message nobody has claimed.
	Unclaimed any
	// NoLimit is the LIMIT argument that means no limit.
	NoLimit any
	// NullsFirst is appended to an ascending sort on a nullable column
	// ("" where NULLs already sort first), and NullsLast to a descending
	// one.
	NullsFirst, NullsLast string
	// Unindexed wraps a column in ORDER BY so that the planner does not
	// walk that column's index to satisfy the order.
	Unindexed func(col string) string
	// IDs is a table expression with columns (id, n) — each string of the
	// list argument and its 1-based position — for one ? whose argument
	// IDList makes.
	IDs string
	// IDList turns a list of ids into the argument IDs reads.
	IDList func(ids []string) any
	// SidesApart reads a user's memberships with three more statements
	// for all the users a read returns, instead of aggregating them in the
	// user's statement with JSONList: the choice of an in-process database,
	// where a statement is cheap and a complex one costs more to run than
	// three simple ones.
	SidesApart bool
	// JSONList returns a scalar subquery: the JSON array of expr over the
	// rows of from (a table and its WHERE), in the order of order; an
	// empty array or NULL when there are none.
	JSONList func(expr, from, order string) string
	// JSONArray names the function that builds a JSON array of its
	// arguments.
	JSONArray string
	// DocText returns the text of a top-level field of the JSON document
	// in col (NULL when it is missing).
	DocText func(col, field string) string
	// DocPathText returns the text at a nested path of the JSON document
	// in col, e.g. callerId.number (NULL when it is missing).
	DocPathText func(col string, path ...string) string
	// DocArrayHas returns a condition, with one placeholder for the value,
	// that the JSON array at path in col holds that string.
	DocArrayHas func(col string, path ...string) string
	// Digits returns a condition that the text col holds only digits.
	Digits func(col string) string
	// Successor returns the text of the number in the digits-only col plus
	// one, zero-padded to width.
	Successor func(col string, width int) string
	// ConsecutiveIDs says that the rows of one multi-row INSERT get
	// consecutive generated keys and Conn.Insert returns the last one
	// (SQLite's AUTOINCREMENT and rowid under its single writer), so that
	// the keys need not be read back with RETURNING.
	ConsecutiveIDs bool
	// InsertOrder is the column of outbox_attempts that grows with inserts.
	InsertOrder string
	// Planned marks the arguments of a query whose best plan depends on
	// its arguments (a listing's tenant, LIMIT and OFFSET), for a driver
	// that would otherwise reuse one generic plan. nil keeps args as they
	// are.
	Planned func(args []any) []any
	// ClaimMail is the statement that leases due mail (see
	// pbxusers.Tx.ClaimMail) and returns the mail columns (MailColumns,
	// qualified as it needs) of the claimed rows. Its arguments are owner,
	// until, now and limit; it may use the backend's own numbered
	// placeholders, which the Flavor leaves alone.
	ClaimMail string
	// Classify says what a driver error means; for ClassUnique it also
	// returns the kind of object and the field callers know.
	Classify func(err error) (class ErrorClass, kind, field string)

	derive  sync.Once
	derived derived

	rebound   sync.Map // static SQL text -> numbered text
	reboundN  int
	reboundMu sync.Mutex
}

// derived holds the statement parts built from the Flavor once.
type derived struct {
	userColumns string
}

// parts returns the statement parts built from the Flavor.
func (f *Flavor) parts() *derived {
	f.derive.Do(func() {
		f.derived.userColumns = userColumnsOf(f)
	})
	return &f.derived
}

// maxRebound bounds the cache of numbered statements; texts built per call
// (filters) beyond it are numbered each time.
const maxRebound = 1024

// SQL returns the statement text as the database takes it: with numbered
// placeholders where the Flavor says so.
func (f *Flavor) SQL(text string) string {
	if !f.Numbered || strings.IndexByte(text, '?') < 0 {
		return text
	}
	if s, ok := f.rebound.Load(text); ok {
		return s.(string)
	}
	var b strings.Builder
	b.Grow(len(text) + 16)
	n := 0
	for i := 0; i < len(text); i++ {
		if text[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(text[i])
	}
	s := b.String()
	f.reboundMu.Lock()
	if f.reboundN < maxRebound {
		f.reboundN++
		f.rebound.Store(text, s)
	}
	f.reboundMu.Unlock()
	return s
}

// planned marks args as those of a query planned per execution.
func (f *Flavor) planned(args []any) []any {
	if f.Planned == nil {
		return args
	}
	return f.Planned(args)
}

// timePtr is the stored form of an optional time.
func (f *Flavor) timePtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return f.Time(*t)
}

// builder returns a WHERE builder in the Flavor's dialect.
func (f *Flavor) builder() *sqlquery.Builder { return sqlquery.NewBuilder(f.Query) }

// orderBy returns the ORDER BY list for a sort column and direction, with
// id as the tie breaker so pages are stable. Rows without the attribute
// (NULL) come first ascending and last descending in every flavor.
func (f *Flavor) orderBy(col string, desc bool) string {
	dir, nulls := "ASC", f.NullsFirst
	if desc {
		dir, nulls = "DESC", f.NullsLast
	}
	if col == "u.id" {
		return "u.id " + dir
	}
	if !nullableSorts[col] {
		nulls = ""
	}
	return col + " " + dir + nulls + ", u.id " + dir
}

// nullableSorts are the sort columns that may be NULL.
var nullableSorts = map[string]bool{"u.extension": true, "u.external_id": true}

// limitArg is a LIMIT argument: a negative n means no limit.
func (f *Flavor) limitArg(n int) any {
	if n < 0 {
		return f.NoLimit
	}
	return n
}
