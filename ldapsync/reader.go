package ldapsync

import (
	"context"
	"errors"
	"sync"
)

// reader is the state of a run's reader stage. It runs in the run's
// goroutine: it reads the directory, skips the entries whose user needs no
// look (the skip hash matches) and hands the others to the writer as items.
// Nothing else touches these counts until the read is over.
type reader struct {
	*run
	readN      int // entries read
	unchangedN int // entries skipped: the skip hash matched
	skippedN   int // disabled entries that have no user: not created
	remappedN  int // entries whose user was last synced with another mapping
	estimate   int // users the directory owned before (full runs), for progress
}

// item is the record the reader hands the writer: an entry whose user
// needs a look. The writer fills in what groupMappings give it.
type item struct {
	e     Entry
	hash  string     // the skip hash to store once everything is applied
	owned *ownedUser // nil: no user has the external id

	// Set by the writer.
	profiles, teams []string // names, from Config.MapGroups
}

// handle looks at one entry: it returns the item for the writer, or nil
// when the entry needs nothing.
func (rd *reader) handle(ctx context.Context, e Entry) (*item, error) {
	rd.readN++
	if rd.readN%rd.s.opts.BatchN == 0 {
		rd.progress(StageRead, rd.readN, rd.estimate)
	}
	if rd.dns != nil {
		rd.dns.add(e.DN, e.ExternalID)
	}
	sum := e.sum()
	o, ok, err := rd.owned.get(ctx, e.ExternalID, true)
	if err != nil {
		return nil, err
	}
	if ok && o.remapped(rd.mapping) {
		rd.remappedN++
	}
	switch {
	case ok && o.unchanged(&sum, rd.mapping):
		rd.unchangedN++
		return nil, nil
	case !ok && e.Disabled:
		rd.skippedN++
		return nil, nil
	}
	it := &item{e: e, hash: skipHash(&sum, rd.mapping)}
	if ok {
		it.owned = &o
	}
	return it, nil
}

// stream runs the two stages: the reader reads the directory in this
// goroutine and hands batches of items to the writer goroutine over a
// channel holding one batch, so at most three batches are in memory and
// reading overlaps writing.
func (r *run) stream(cursor string, w *writer) (rd *reader, read ReadResult, readErr, writeErr error) {
	ctx, cancel := context.WithCancelCause(r.ctx)
	defer cancel(nil)
	batches := make(chan []*item, 1)
	var wg sync.WaitGroup
	wg.Go(func() {
		for batch := range batches {
			if context.Cause(r.ctx) != nil || writeErr != nil {
				continue // stopping: drop the batches not yet started
			}
			if err := w.applyBatch(batch); err != nil {
				writeErr = err
				cancel(err) // stops the read
			}
		}
	})
	send := func(b []*item) bool {
		select {
		case batches <- b:
			return true
		case <-ctx.Done():
			return false
		}
	}

	mode := Full()
	if !r.full {
		mode = Since(cursor)
	}
	rd = &reader{run: r}
	if r.full {
		rd.estimate = len(r.owned.users) // loaded by prepare, not changed by the read
	}
	pending := make([]*item, 0, r.s.opts.BatchN)
	read, readErr = r.client.ReadUsers(ctx, mode, func(e Entry) error {
		it, err := rd.handle(ctx, e)
		if err != nil || it == nil {
			return err
		}
		r.pendingN.Add(1)
		if pending = append(pending, it); len(pending) == r.s.opts.BatchN {
			if !send(pending) {
				return context.Cause(ctx)
			}
			pending = make([]*item, 0, r.s.opts.BatchN)
		}
		return nil
	})
	// Entries read before a failure are as good as any: write them, unless
	// the run is stopping.
	if len(pending) > 0 && ctx.Err() == nil {
		send(pending)
	}
	close(batches)
	wg.Wait()
	if writeErr != nil && errors.Is(readErr, writeErr) {
		readErr = nil // the read stopped because the writer failed
	}
	return rd, read, readErr, writeErr
}
