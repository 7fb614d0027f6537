package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// txn implements pbxusers.Tx over one pgx transaction.
type txn struct {
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

var _ pbxusers.Tx = (*txn)(nil)

// begin checks that a statement may run and returns the context to run it
// with.
func (t *txn) begin(ctx context.Context) (context.Context, error) {
	if t.failed != nil {
		return nil, fmt.Errorf("transaction aborted by an earlier error: %w", t.failed)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if t.detach {
		return context.WithoutCancel(ctx), nil
	}
	return ctx, nil
}

// note records an error that aborted the transaction.
func (t *txn) note(err error) {
	if t.failed == nil && aborts(err) {
		t.failed = err
	}
}

func (t *txn) exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	ctx, err := t.begin(ctx)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	tag, err := t.tx.Exec(ctx, sql, args...)
	t.note(err)
	return tag, err
}

// row is a pgx.Row that records the error it scans.
type row struct {
	t   *txn
	r   pgx.Row
	err error
}

func (r row) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	err := r.r.Scan(dest...)
	r.t.note(err)
	return err
}

func (t *txn) queryRow(ctx context.Context, sql string, args ...any) row {
	ctx, err := t.begin(ctx)
	if err != nil {
		return row{err: err}
	}
	return row{t: t, r: t.tx.QueryRow(ctx, sql, args...)}
}

// each runs a query and calls scan for every row.
func (t *txn) each(ctx context.Context, sql string, args []any, scan func(pgx.Rows) error) error {
	ctx, err := t.begin(ctx)
	if err != nil {
		return err
	}
	rows, err := t.tx.Query(ctx, sql, args...)
	if err != nil {
		t.note(err)
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	rows.Close()
	err = rows.Err()
	t.note(err)
	return err
}

// stmt is one statement of a pipeline; value is what a unique violation of
// it reports as the conflicting value.
type stmt struct {
	sql   string
	args  []any
	value string
}

// pipeline sends statements in one round trip and returns the first
// error, mapped by writeErr.
func (t *txn) pipeline(ctx context.Context, op string, stmts []stmt) error {
	if len(stmts) == 0 {
		return nil
	}
	if len(stmts) == 1 {
		_, err := t.exec(ctx, stmts[0].sql, stmts[0].args...)
		return writeErr(op, err, stmts[0].value)
	}
	ctx, err := t.begin(ctx)
	if err != nil {
		return err
	}
	var b pgx.Batch
	for _, s := range stmts {
		b.Queue(s.sql, s.args...)
	}
	br := t.tx.SendBatch(ctx, &b)
	var first error
	for _, s := range stmts {
		if _, err := br.Exec(); err != nil && first == nil {
			first = writeErr(op, err, s.value)
			t.note(err)
		}
	}
	if err := br.Close(); err != nil && first == nil {
		t.note(err)
		first = mapErr(op, err)
	}
	return first
}

// strings runs a query of one text column.
func (t *txn) strings(ctx context.Context, op, sql string, args ...any) ([]string, error) {
	var out []string
	err := t.each(ctx, sql, args, func(r pgx.Rows) error {
		var s string
		if err := r.Scan(&s); err != nil {
			return err
		}
		out = append(out, s)
		return nil
	})
	return out, mapErr(op, err)
}

// nullable stores "" as NULL.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// limitArg is a LIMIT argument: a negative n means no limit.
func limitArg(n int) any {
	if n < 0 {
		return nil
	}
	return n
}

// notFound wraps ErrNotFound for a missing object, and maps other errors.
func notFound(op, kind, id string, err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s %q: %w", kind, id, pbxusers.ErrNotFound)
	}
	return mapErr(op, err)
}

// prefixed qualifies every column of a comma-separated list with prefix.
func prefixed(prefix, cols string) string {
	parts := strings.Split(cols, ",")
	for i, p := range parts {
		parts[i] = prefix + strings.TrimSpace(p)
	}
	return strings.Join(parts, ", ")
}
