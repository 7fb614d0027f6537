package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/pbxgate/pbxgate/pbxusers/internal/sqlstore"
)

// conn is a sqlstore.Conn over one pgx transaction.
type conn struct {
	tx pgx.Tx
	// detach runs statements without the caller's cancellation: a write
	// transaction is shared by a batch of Update calls, and a cancelled
	// statement would break the connection under all of them. A caller
	// whose context ends fails at its next statement instead.
	detach bool
	// failed is the first error that aborted the transaction; statements
	// after it fail at once, and Update fails the call that ignored it.
	failed error
}

var _ sqlstore.Conn = (*conn)(nil)

// begin checks that a statement may run and returns the context to run it
// with.
func (c *conn) begin(ctx context.Context) (context.Context, error) {
	if c.failed != nil {
		return nil, fmt.Errorf("transaction aborted by an earlier error: %w", c.failed)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if c.detach {
		return context.WithoutCancel(ctx), nil
	}
	return ctx, nil
}

// note records an error that aborted the transaction.
func (c *conn) note(err error) {
	if c.failed == nil && aborts(err) {
		c.failed = err
	}
}

func (c *conn) Aborted() error { return c.failed }

func (c *conn) Exec(ctx context.Context, sql string, args ...any) (int64, error) {
	ctx, err := c.begin(ctx)
	if err != nil {
		return 0, err
	}
	tag, err := c.tx.Exec(ctx, sql, args...)
	c.note(err)
	return tag.RowsAffected(), err
}

// row is a pgx.Row that records the error it scans.
type row struct {
	c   *conn
	r   pgx.Row
	err error
}

func (r row) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	err := r.r.Scan(dest...)
	r.c.note(err)
	return err
}

func (c *conn) QueryRow(ctx context.Context, sql string, args ...any) sqlstore.Row {
	ctx, err := c.begin(ctx)
	if err != nil {
		return row{err: err}
	}
	return row{c: c, r: c.tx.QueryRow(ctx, sql, args...)}
}

func (c *conn) Insert(ctx context.Context, sql string, args ...any) (int64, error) {
	var id int64
	err := c.QueryRow(ctx, sql, args...).Scan(&id)
	return id, err
}

// rows is pgx.Rows that records the error it ends with.
type rows struct {
	pgx.Rows
	c *conn
}

func (r rows) Err() error {
	err := r.Rows.Err()
	r.c.note(err)
	return err
}

func (c *conn) Query(ctx context.Context, sql string, args ...any) (sqlstore.Rows, error) {
	ctx, err := c.begin(ctx)
	if err != nil {
		return nil, err
	}
	r, err := c.tx.Query(ctx, sql, args...)
	if err != nil {
		c.note(err)
		return nil, err
	}
	return rows{Rows: r, c: c}, nil
}

// Batch sends the statements in one round trip.
func (c *conn) Batch(ctx context.Context, stmts []sqlstore.Stmt) (int, error) {
	if len(stmts) == 1 {
		_, err := c.Exec(ctx, stmts[0].SQL, stmts[0].Args...)
		if err != nil {
			return 0, err
		}
		return -1, nil
	}
	ctx, err := c.begin(ctx)
	if err != nil {
		return -1, err
	}
	var b pgx.Batch
	for _, s := range stmts {
		b.Queue(s.SQL, s.Args...)
	}
	br := c.tx.SendBatch(ctx, &b)
	first, firstErr := -1, error(nil)
	for i := range stmts {
		if _, err := br.Exec(); err != nil && firstErr == nil {
			first, firstErr = i, err
			c.note(err)
		}
	}
	if err := br.Close(); err != nil && firstErr == nil {
		c.note(err)
		firstErr = err
	}
	return first, firstErr
}

// writeTx is a write transaction holding the write lock.
type writeTx struct{ tx pgx.Tx }

// begin starts a READ COMMITTED transaction, takes the write lock and runs
// first in the same round trip (the simple protocol takes several
// statements at once).
func (s *Store) begin(ctx context.Context, first string) (sqlstore.WriteTx, error) {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return nil, err
	}
	lock := fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", writeLockKey)
	if first != "" {
		lock += "; " + first
	}
	if _, err := tx.Exec(ctx, lock); err != nil {
		_ = tx.Rollback(ctx)
		return nil, fmt.Errorf("take write lock: %w", err)
	}
	return &writeTx{tx: tx}, nil
}

func (w *writeTx) Conn() sqlstore.Conn { return &conn{tx: w.tx, detach: true} }

func (w *writeTx) Exec(ctx context.Context, sql string) error {
	_, err := w.tx.Exec(ctx, sql)
	return err
}

func (w *writeTx) Commit(ctx context.Context) error { return w.tx.Commit(ctx) }

func (w *writeTx) Rollback(ctx context.Context) { _ = w.tx.Rollback(ctx) }
