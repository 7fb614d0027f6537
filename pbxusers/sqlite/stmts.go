package sqlite

import (
	"context"
	"database/sql"
)

// maxCachedStmtN bounds the per-transaction prepared statement cache.
const maxCachedStmtN = 256

// stmtCache keeps the statements prepared in one write transaction, so the
// queries a batch of writes repeats are compiled by SQLite once per batch
// instead of once per call. (A database-wide cache would have to prepare on
// a pooled connection while the only write connection is inside the
// transaction: a deadlock.)
type stmtCache struct {
	tx *sql.Tx
	m  map[string]*sql.Stmt
}

func newStmtCache(tx *sql.Tx) *stmtCache {
	return &stmtCache{tx: tx, m: map[string]*sql.Stmt{}}
}

func (c *stmtCache) get(ctx context.Context, query string) *sql.Stmt {
	if s, ok := c.m[query]; ok {
		return s
	}
	if len(c.m) >= maxCachedStmtN {
		return nil
	}
	s, err := c.tx.PrepareContext(ctx, query)
	if err != nil {
		return nil // run unprepared; the error shows there
	}
	c.m[query] = s
	return s
}

func (t *txn) stmt(ctx context.Context, query string) *sql.Stmt {
	if t.cache == nil {
		return nil
	}
	return t.cache.get(ctx, query)
}

func (t *txn) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if s := t.stmt(ctx, query); s != nil {
		return s.ExecContext(ctx, args...)
	}
	return t.q.ExecContext(ctx, query, args...)
}

func (t *txn) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if s := t.stmt(ctx, query); s != nil {
		return s.QueryContext(ctx, args...)
	}
	return t.q.QueryContext(ctx, query, args...)
}

func (t *txn) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	if s := t.stmt(ctx, query); s != nil {
		return s.QueryRowContext(ctx, args...)
	}
	return t.q.QueryRowContext(ctx, query, args...)
}
