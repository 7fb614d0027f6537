package sqlite

import (
	"context"
	"database/sql"
	"strings"

	"github.com/pbxgate/pbxgate/pbxusers/internal/sqlstore"
)

// conn is a sqlstore.Conn over one database/sql transaction. Statements
// are not prepared here: every connection keeps its recently used
// statements prepared (the driver's _stmt_cache_size), across
// transactions. (A cache of *sql.Stmt per write transaction, as there was,
// compiled a batch's statements again for every batch, since the driver's
// cache serves only statements run directly.)
type conn struct {
	q *sql.Tx
}

var _ sqlstore.Conn = (*conn)(nil)

func (c *conn) exec(ctx context.Context, query string, args []any) (sql.Result, error) {
	return c.q.ExecContext(ctx, query, args...)
}

func (c *conn) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := c.exec(ctx, query, args)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// Insert runs the statement without its RETURNING clause and returns the
// row id it inserted, which is the generated column: reading RETURNING
// through a query costs three times an Exec in the driver, and an Exec of
// a statement that returns a row leaves it running (a cached statement
// then blocks COMMIT).
func (c *conn) Insert(ctx context.Context, query string, args ...any) (int64, error) {
	if i := strings.LastIndex(query, " RETURNING "); i >= 0 {
		query = query[:i]
	}
	res, err := c.exec(ctx, query, args)
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

// rows adapts *sql.Rows to sqlstore.Rows.
type rows struct{ *sql.Rows }

func (r rows) Close() { r.Rows.Close() }

func (c *conn) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	r, err := c.q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return rows{r}, nil
}

func (c *conn) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return c.q.QueryRowContext(ctx, query, args...)
}

// Batch runs the statements one by one: SQLite runs in process, there is
// no round trip to save.
func (c *conn) Batch(ctx context.Context, stmts []sqlstore.Stmt) (int, error) {
	for i, s := range stmts {
		if _, err := c.Exec(ctx, s.SQL, s.Args...); err != nil {
			return i, err
		}
	}
	return -1, nil
}

// Aborted is always nil: a failed statement does not end an SQLite
// transaction.
func (c *conn) Aborted() error { return nil }

// writeTx is a write transaction on the write connection.
type writeTx struct {
	tx *sql.Tx
}

// begin starts a write transaction (BEGIN IMMEDIATE: the write lock of
// the file) and runs first.
func (s *Store) begin(ctx context.Context, first string) (sqlstore.WriteTx, error) {
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	w := &writeTx{tx: tx}
	if first != "" {
		if err := w.Exec(ctx, first); err != nil {
			tx.Rollback()
			return nil, err
		}
	}
	return w, nil
}

func (w *writeTx) Conn() sqlstore.Conn { return &conn{q: w.tx} }

func (w *writeTx) Exec(ctx context.Context, query string) error {
	_, err := w.tx.ExecContext(ctx, query)
	return err
}

func (w *writeTx) Commit(context.Context) error { return w.tx.Commit() }

func (w *writeTx) Rollback(context.Context) { _ = w.tx.Rollback() }
