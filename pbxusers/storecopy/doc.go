// Package storecopy copies a pbxgate installation from one pbxusers.Store to
// another (SQLite to PostgreSQL, or between any two backends) and proves
// the copy: it counts and checksums every kind of object on both sides.
//
//	rep, err := storecopy.Copy(ctx, sqliteStore, postgresStore, storecopy.Options{})
//	if err != nil { ... }           // errors.Is(err, storecopy.ErrMismatch) when a checksum differs
//	rep.WriteText(os.Stdout)
//
// The copy reads the source in one Store.View (one consistent snapshot) and
// writes the target through Store.Update in batches, using only the
// pbxusers.Tx interface, so it works between any two backends. Ids,
// versions and timestamps are kept exactly, including the numbers a store
// assigns itself (change log seqs, outbox message ids, sync run ids): the
// copy appends them in order and checks every number the target hands out;
// a gap in the source's numbering is reproduced where the target's
// numbering is not transactional (PostgreSQL sequences), and refused where
// it is (SQLite).
//
// What the Tx interface cannot enumerate is not copied, and Report.Skipped
// says so; see Copy for the list.
package storecopy
