package sqlstore

import (
	"context"
	"fmt"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// Row is the result of a query for one row.
type Row interface {
	Scan(dest ...any) error
}

// Rows is the result of a query, read row by row.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Stmt is one statement of a batch; Value is what a unique violation of it
// reports as the conflicting value.
type Stmt struct {
	SQL   string
	Args  []any
	Value string
}

// Conn runs statements in one transaction of a backend's driver. Statement
// texts reach it as the database takes them (numbered by the Flavor).
type Conn interface {
	// Exec runs a statement and returns the number of rows it changed.
	Exec(ctx context.Context, sql string, args ...any) (int64, error)
	Query(ctx context.Context, sql string, args ...any) (Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) Row
	// Insert runs an INSERT … RETURNING of the one integer column the
	// database generates and returns its value.
	Insert(ctx context.Context, sql string, args ...any) (int64, error)
	// Batch runs statements in order, in one round trip where the driver
	// can, and returns the index of the first that failed and its error.
	// The statements after a failed one may or may not have run.
	Batch(ctx context.Context, stmts []Stmt) (int, error)
	// Aborted returns the error that left the transaction unusable (a
	// PostgreSQL transaction after any failed statement), or nil.
	Aborted() error
}

// Tx implements pbxusers.Tx on a Conn in a Flavor.
type Tx struct {
	f *Flavor
	c Conn
}

var _ pbxusers.Tx = (*Tx)(nil)

// NewTx returns the pbxusers.Tx of a transaction.
func NewTx(f *Flavor, c Conn) *Tx { return &Tx{f: f, c: c} }

func (t *Tx) exec(ctx context.Context, text string, args ...any) (int64, error) {
	return t.c.Exec(ctx, t.f.SQL(text), args...)
}

func (t *Tx) insert(ctx context.Context, text string, args ...any) (int64, error) {
	return t.c.Insert(ctx, t.f.SQL(text), args...)
}

func (t *Tx) queryRow(ctx context.Context, text string, args ...any) Row {
	return t.c.QueryRow(ctx, t.f.SQL(text), args...)
}

// each runs a query and calls scan for every row.
func (t *Tx) each(ctx context.Context, text string, args []any, scan func(Row) error) error {
	rows, err := t.c.Query(ctx, t.f.SQL(text), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	rows.Close()
	return rows.Err()
}

// strings runs a query of one text column.
func (t *Tx) strings(ctx context.Context, op, text string, args ...any) ([]string, error) {
	var out []string
	err := t.each(ctx, text, args, func(r Row) error {
		var s string
		if err := r.Scan(&s); err != nil {
			return err
		}
		out = append(out, s)
		return nil
	})
	return out, t.f.Err(op, err, "")
}

// batch runs statements (in one round trip where the driver can) and
// returns the first error, mapped.
func (t *Tx) batch(ctx context.Context, op string, stmts []Stmt) error {
	if len(stmts) == 0 {
		return nil
	}
	for i := range stmts {
		stmts[i].SQL = t.f.SQL(stmts[i].SQL)
	}
	i, err := t.c.Batch(ctx, stmts)
	if err != nil {
		value := ""
		if i >= 0 && i < len(stmts) {
			value = stmts[i].Value
		}
		return t.f.Err(op, err, value)
	}
	return nil
}

// checkUpdated turns "no row updated" into ErrNotFound or ErrVersionMismatch.
func (t *Tx) checkUpdated(ctx context.Context, n int64, table, kind, tenant, id string) error {
	if n == 1 {
		return nil
	}
	var exists bool
	if err := t.queryRow(ctx, "SELECT EXISTS (SELECT 1 FROM "+table+" WHERE tenant_id = ? AND id = ?)", tenant, id).Scan(&exists); err != nil {
		return t.f.Err("check "+kind, err, "")
	}
	if !exists {
		return fmt.Errorf("%s %q: %w", kind, id, pbxusers.ErrNotFound)
	}
	return &pbxusers.ConflictError{Kind: kind, Field: "version", Value: id, Reason: "was changed by someone else; read it again", Err: pbxusers.ErrVersionMismatch}
}

// affected turns "no row changed" into ErrNotFound.
func affected(n int64, kind, id string) error {
	if n == 0 {
		return fmt.Errorf("%s %q: %w", kind, id, pbxusers.ErrNotFound)
	}
	return nil
}

// nullable stores "" as NULL.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}
