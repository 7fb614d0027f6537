package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// WriteTx is a backend's write transaction as the Writer drives it.
type WriteTx interface {
	// Conn returns the Conn for one Update call's fn: a fresh one for each
	// call, so that what one call did to it (a failed statement) is not
	// held against the next.
	Conn() Conn
	// Exec runs savepoint statements (several separated by ";" at once).
	Exec(ctx context.Context, sql string) error
	Commit(ctx context.Context) error
	Rollback(ctx context.Context)
}

// BeginFunc starts a write transaction, holding whatever lock the backend
// serializes writers with, and runs first (a statement, or "") right after,
// in the same round trip where it can.
type BeginFunc func(ctx context.Context, first string) (WriteTx, error)

// Writer runs every Update of a store: one goroutine that commits the
// calls queued while the previous transaction ran together (group commit).
// Each call runs in its own savepoint when there are several, so one call's
// failure never touches another's writes, and all of them share one commit
// (one fsync, one lock acquisition).
type Writer struct {
	f      *Flavor
	begin  BeginFunc
	writes chan *writeReq
	maxN   int

	closeOnce sync.Once
	done      chan struct{}
	stopped   chan struct{}
	errClosed error
}

type writeReq struct {
	ctx  context.Context
	fn   func(pbxusers.Tx) error
	done chan error
}

// NewWriter starts a Writer that commits up to maxN calls in one
// transaction (1 disables batching).
func NewWriter(f *Flavor, begin BeginFunc, maxN int) *Writer {
	w := &Writer{
		f: f, begin: begin, writes: make(chan *writeReq, maxN), maxN: max(maxN, 1),
		done: make(chan struct{}), stopped: make(chan struct{}),
		errClosed: errors.New(f.Name + ": store is closed"),
	}
	go w.run()
	return w
}

// Update runs fn in a read-write transaction; see pbxusers.Store.
func (w *Writer) Update(ctx context.Context, fn func(pbxusers.Tx) error) error {
	req := &writeReq{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case <-w.done:
		return w.errClosed
	default:
	}
	select {
	case w.writes <- req:
	case <-ctx.Done():
		return ctx.Err()
	case <-w.done:
		return w.errClosed
	}
	// Once queued, the request is always answered: waiting for the answer
	// (instead of returning on ctx.Done) keeps "Update returned an error"
	// meaning "nothing was written".
	return <-req.done
}

// ErrClosed is the error of an Update after Close.
func (w *Writer) ErrClosed() error { return w.errClosed }

// Close answers the writes already queued and stops the Writer. Update
// calls made after Close fail.
func (w *Writer) Close() {
	w.closeOnce.Do(func() {
		close(w.done)
		<-w.stopped
	})
}

func (w *Writer) run() {
	defer close(w.stopped)
	for {
		var first *writeReq
		select {
		case first = <-w.writes:
		case <-w.done:
			// Answer whatever is still queued, then stop.
			for {
				select {
				case r := <-w.writes:
					w.commit([]*writeReq{r})
				default:
					return
				}
			}
		}
		batch := []*writeReq{first}
	fill:
		for len(batch) < w.maxN {
			select {
			case r := <-w.writes:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		w.commit(batch)
	}
}

// commit runs a batch of requests in one transaction, each in a savepoint
// when there are several.
func (w *Writer) commit(batch []*writeReq) {
	errs := make([]error, len(batch))
	answer := func(rest error) {
		for i, r := range batch {
			if errs[i] == nil {
				errs[i] = rest
			}
			r.done <- errs[i]
		}
	}
	var live []int
	for i, r := range batch {
		if err := r.ctx.Err(); err != nil {
			errs[i] = err
			continue
		}
		live = append(live, i)
	}
	if len(live) == 0 {
		answer(nil)
		return
	}
	// The transaction is the batch's, not one caller's: a caller whose
	// context ends fails at its next statement without breaking the others.
	ctx := context.Background()
	// Savepoint statements ride along with the statement before them: one
	// round trip per call where the driver takes several at once.
	savepoints := len(live) > 1
	first := ""
	if savepoints {
		first = "SAVEPOINT req"
	}
	tx, err := w.begin(ctx, first)
	if err != nil {
		answer(w.f.Err("begin write", err, ""))
		return
	}
	abort := func(err error) {
		tx.Rollback(ctx)
		answer(err)
	}
	ok := 0
	for n, i := range live {
		c := tx.Conn()
		err := w.runFn(batch[i], c)
		if err == nil && c.Aborted() != nil {
			err = fmt.Errorf("update function went on after a failed statement: %w", c.Aborted())
		}
		if err != nil {
			errs[i] = err
			if !savepoints {
				abort(nil)
				return
			}
		} else {
			ok++
		}
		if !savepoints {
			continue
		}
		var next string
		switch last := n == len(live)-1; {
		case err != nil && last:
			next = "ROLLBACK TO SAVEPOINT req"
		case err != nil:
			next = "ROLLBACK TO SAVEPOINT req; RELEASE SAVEPOINT req; SAVEPOINT req"
		case last:
			continue // COMMIT releases it
		default:
			next = "RELEASE SAVEPOINT req; SAVEPOINT req"
		}
		if err := tx.Exec(ctx, next); err != nil {
			abort(w.f.Err("end savepoint", err, ""))
			return
		}
	}
	if ok == 0 {
		abort(nil)
		return
	}
	if err := tx.Commit(ctx); err != nil {
		// Nothing of the batch was committed: the calls whose fn succeeded
		// fail with the commit's error.
		answer(w.f.Err("commit", err, ""))
		return
	}
	answer(nil)
}

// runFn runs one request's fn, turning a panic into an error so that one
// bad caller cannot take the writer (and every other caller) down.
func (w *Writer) runFn(r *writeReq, c Conn) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%s: update function panicked: %v", w.f.Name, p)
		}
	}()
	return r.fn(NewTx(w.f, c))
}
