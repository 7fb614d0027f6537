package storecopy

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// copier writes what a reader visits into the target, batch by batch.
type copier struct {
	ctx  context.Context
	to   pbxusers.Store
	opts Options
	src  *reader
	// fixups are users created without their manager and queue
	// memberships (which must exist first), set once every user exists.
	fixups []Directory // {tenant, user id}
	// filler is a tenant of the target, for the throwaway rows that use up
	// numbers (see writeNumbered).
	filler string
}

var _ visitor = (*copier)(nil)

func (c *copier) run(r *reader, h *hasher) error {
	c.src = r
	if len(r.tenants) > 0 {
		c.filler = r.tenants[0].ID
	}
	return r.each(h, c)
}

// update writes one batch in one transaction.
func (c *copier) update(k Kind, fn func(tx pbxusers.Tx) error) error {
	if err := c.to.Update(c.ctx, fn); err != nil {
		return fmt.Errorf("write %s: %w", k, err)
	}
	return nil
}

func (c *copier) tenants(b []pbxusers.Tenant) error {
	return c.update(KindTenants, func(tx pbxusers.Tx) error {
		for i := range b {
			t := b[i]
			if err := tx.CreateTenant(c.ctx, &t); err != nil {
				return fmt.Errorf("tenant %q: %w", t.ID, err)
			}
		}
		return nil
	})
}

func (c *copier) profiles(b []pbxusers.Profile) error {
	return c.update(KindProfiles, func(tx pbxusers.Tx) error {
		for i := range b {
			p := b[i]
			if err := tx.CreateProfile(c.ctx, &p); err != nil {
				return fmt.Errorf("profile %s: %w", p.ID, err)
			}
		}
		return nil
	})
}

func (c *copier) timeFrames(b []pbxusers.StoredTimeFrame) error {
	return c.update(KindTimeFrames, func(tx pbxusers.Tx) error {
		for i := range b {
			tf := b[i]
			if err := tx.CreateTimeFrame(c.ctx, &tf); err != nil {
				return fmt.Errorf("time frame %s: %w", tf.ID, err)
			}
		}
		return nil
	})
}

func (c *copier) teams(b []teamRecord) error {
	// Memberships are the users': CreateUser writes them.
	return c.update(KindTeams, func(tx pbxusers.Tx) error {
		for i := range b {
			tm := b[i].Team
			if err := tx.CreateTeam(c.ctx, &tm); err != nil {
				return fmt.Errorf("team %s: %w", tm.ID, err)
			}
		}
		return nil
	})
}

func (c *copier) users(b []userRecord) error {
	var later []Directory
	err := c.update(KindUsers, func(tx pbxusers.Tx) error {
		later = later[:0]
		for i := range b {
			u := b[i].User.Clone()
			if u.ManagerID != "" || len(u.Queues) > 0 {
				// The manager and the queues may come later in id order
				// (or in a cycle); set them once everyone exists.
				u.ManagerID, u.Queues = "", nil
				later = append(later, Directory{Tenant: u.TenantID, Name: u.ID})
			}
			if err := tx.CreateUser(c.ctx, &u); err != nil {
				return fmt.Errorf("user %s: %w", u.ID, err)
			}
			if h := b[i].PasswordHash; len(h) > 0 {
				if err := tx.SetPasswordHash(c.ctx, u.TenantID, u.ID, h); err != nil {
					return fmt.Errorf("password hash of user %s: %w", u.ID, err)
				}
			}
		}
		return nil
	})
	c.fixups = append(c.fixups, later...)
	return err
}

// usersDone sets the managers and queue memberships left out on create, as
// the source has them now (same version and timestamps).
func (c *copier) usersDone() error {
	for len(c.fixups) > 0 {
		n := min(len(c.fixups), c.opts.BatchN)
		users := make([]pbxusers.User, n)
		for i, f := range c.fixups[:n] {
			u, err := c.src.tx.GetUser(c.ctx, f.Tenant, f.Name)
			if err != nil {
				return fmt.Errorf("read user %s again: %w", f.Name, err)
			}
			users[i] = u
		}
		err := c.update(KindUsers, func(tx pbxusers.Tx) error {
			for i := range users {
				u := users[i]
				if err := tx.UpdateUser(c.ctx, &u, u.Version); err != nil {
					return fmt.Errorf("set manager and queues of user %s: %w", u.ID, err)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		c.fixups = c.fixups[n:]
	}
	return nil
}

func (c *copier) devices(b []pbxusers.Device) error {
	return c.update(KindDevices, func(tx pbxusers.Tx) error {
		for i := range b {
			d := b[i]
			if err := tx.CreateDevice(c.ctx, &d); err != nil {
				return fmt.Errorf("device %s: %w", d.ID, err)
			}
		}
		return nil
	})
}

func (c *copier) numbers(b []pbxusers.Number) error {
	return c.update(KindNumbers, func(tx pbxusers.Tx) error {
		for i := range b {
			n := b[i]
			if err := tx.PutNumber(c.ctx, &n, 0); err != nil {
				return fmt.Errorf("number %s: %w", n.E164, err)
			}
		}
		return nil
	})
}

func (c *copier) tokens(b []tokenRecord) error {
	return c.update(KindTokens, func(tx pbxusers.Tx) error {
		for i := range b {
			t := b[i].Token
			t.Hash = b[i].Hash
			if err := tx.CreateToken(c.ctx, &t); err != nil {
				return fmt.Errorf("token %s: %w", t.ID, err)
			}
		}
		return nil
	})
}

func (c *copier) webhooks(b []webhookRecord) error {
	return c.update(KindWebhooks, func(tx pbxusers.Tx) error {
		for i := range b {
			w := b[i].Webhook
			w.Secret = b[i].Secret
			if err := tx.CreateWebhook(c.ctx, &w); err != nil {
				return fmt.Errorf("webhook %s: %w", w.ID, err)
			}
		}
		return nil
	})
}

func (c *copier) syncState(b []pbxusers.SyncState) error {
	return c.update(KindSyncState, func(tx pbxusers.Tx) error {
		for i := range b {
			st := b[i]
			if err := tx.PutSyncState(c.ctx, &st); err != nil {
				return fmt.Errorf("sync state of %s: %w", st.Directory, err)
			}
		}
		return nil
	})
}

// epoch stamps the throwaway rows that use up numbers; they never commit.
var epoch = time.Unix(0, 0).UTC()

func (c *copier) changes(b []pbxusers.Change) error {
	return writeNumbered(c, numbered[pbxusers.Change]{
		kind: KindChanges, noun: "change seq",
		id: func(ch *pbxusers.Change) int64 { return ch.Seq },
		write: func(tx pbxusers.Tx, src *pbxusers.Change) (int64, error) {
			ch := *src
			ch.Seq = 0
			err := tx.AppendChange(c.ctx, &ch)
			return ch.Seq, err
		},
		filler: func(tx pbxusers.Tx) (int64, error) {
			ch := pbxusers.Change{TenantID: c.filler, At: epoch, Actor: pbxusers.Actor{Source: pbxusers.SourceManual, Name: "storecopy"},
				Entity: "storecopy", EntityID: "gap", Action: "gap"}
			err := tx.AppendChange(c.ctx, &ch)
			return ch.Seq, err
		},
	}, b)
}

func (c *copier) mail(b []mailRecord) error {
	return writeNumbered(c, numbered[mailRecord]{
		kind: KindMail, noun: "outbox message id",
		id: func(m *mailRecord) int64 { return m.Message.ID },
		write: func(tx pbxusers.Tx, src *mailRecord) (int64, error) {
			// EnqueueMail stores the message as it is now (status,
			// attempts, next attempt, last error, times); FinishMail
			// records each attempt in order and sets the rest (sentAt).
			m := src.Message
			m.ID, m.ClaimedBy, m.ClaimedUntil = 0, "", time.Time{}
			if err := tx.EnqueueMail(c.ctx, &m); err != nil {
				return 0, err
			}
			if m.ID != src.Message.ID {
				return m.ID, nil // writeNumbered rolls this back
			}
			for _, a := range src.Attempts {
				a.MessageID = m.ID
				fm := m
				if err := tx.FinishMail(c.ctx, &fm, a); err != nil {
					return 0, fmt.Errorf("attempt of mail %d: %w", m.ID, err)
				}
			}
			return m.ID, nil
		},
		filler: func(tx pbxusers.Tx) (int64, error) {
			m := pbxusers.OutboxMessage{TenantID: c.filler, Kind: pbxusers.MailTest, To: "gap@storecopy.invalid",
				Status: pbxusers.MailCancelled, NextAttempt: epoch, Created: epoch, Updated: epoch}
			err := tx.EnqueueMail(c.ctx, &m)
			return m.ID, err
		},
	}, b)
}

func (c *copier) syncRuns(b []pbxusers.SyncRun) error {
	return writeNumbered(c, numbered[pbxusers.SyncRun]{
		kind: KindSyncRuns, noun: "sync run id",
		id: func(r *pbxusers.SyncRun) int64 { return r.ID },
		write: func(tx pbxusers.Tx, src *pbxusers.SyncRun) (int64, error) {
			r := *src
			r.ID = 0
			err := tx.CreateSyncRun(c.ctx, &r)
			return r.ID, err
		},
		filler: func(tx pbxusers.Tx) (int64, error) {
			r := pbxusers.SyncRun{TenantID: c.filler, Directory: "storecopy-gap", Mode: "full", Status: pbxusers.SyncFailed, Started: epoch}
			err := tx.CreateSyncRun(c.ctx, &r)
			return r.ID, err
		},
	}, b)
}

// numbered describes a kind whose ids the store assigns (AppendChange,
// EnqueueMail, CreateSyncRun).
type numbered[T any] struct {
	kind Kind
	noun string
	// id is the source's number of an object.
	id func(*T) int64
	// write stores a copy of the object and returns the number the target
	// gave it.
	write func(pbxusers.Tx, *T) (int64, error)
	// filler writes a throwaway object (never committed) and returns its
	// number.
	filler func(pbxusers.Tx) (int64, error)
}

// misnumbered aborts a transaction in which the target gave an object
// another number than the source's.
type misnumbered struct {
	index     int
	want, got int64
}

func (m *misnumbered) Error() string {
	return fmt.Sprintf("the target numbered object %d as %d", m.want, m.got)
}

// errFiller rolls back the transaction that used up numbers.
var errFiller = errors.New("storecopy: roll back the filler rows")

// writeNumbered writes objects in the order of their numbers so that the
// target hands out the same ones, and checks each. Objects are written in
// runs of consecutive numbers. Where the source skips numbers (PostgreSQL
// uses a sequence value up even when its transaction rolls back), the run
// after the gap first fails with the number the target would give; the
// numbers up to the gap are then used up the same way, by throwaway rows in
// a transaction that is rolled back, and the run is written again. A
// target whose numbering rolls back with the transaction (SQLite) cannot
// leave a gap: ErrNumbering.
func writeNumbered[T any](c *copier, n numbered[T], items []T) error {
	for start := 0; start < len(items); {
		end := start + 1
		for end < len(items) && end-start < c.opts.BatchN && n.id(&items[end]) == n.id(&items[end-1])+1 {
			end++
		}
		if err := writeRun(c, n, items[start:end]); err != nil {
			return err
		}
		start = end
	}
	return nil
}

func writeRun[T any](c *copier, n numbered[T], run []T) error {
	last := int64(-1)
	const attempts = 3
	for attempt := 0; attempt < attempts; attempt++ {
		err := c.to.Update(c.ctx, func(tx pbxusers.Tx) error {
			for i := range run {
				got, err := n.write(tx, &run[i])
				if err != nil {
					return err
				}
				if want := n.id(&run[i]); got != want {
					return &misnumbered{index: i, want: want, got: got}
				}
			}
			return nil
		})
		var mis *misnumbered
		switch {
		case err == nil:
			return nil
		case !errors.As(err, &mis):
			return fmt.Errorf("write %s: %w", n.kind, err)
		case mis.index > 0:
			return fmt.Errorf("%w: the target gave %s %d where the source has %d: it does not count up one by one",
				ErrNumbering, n.noun, mis.got, mis.want)
		case mis.got > mis.want:
			return fmt.Errorf("%w: the target's next %s is %d, past the source's %d: copy into an empty database",
				ErrNumbering, n.noun, mis.got, mis.want)
		case mis.got <= last:
			return fmt.Errorf("%w: the source's %ss skip to %d, and the target cannot leave the gap "+
				"(its numbering rolls back with a transaction, as SQLite's does; PostgreSQL can)",
				ErrNumbering, n.noun, mis.want)
		}
		last = mis.got
		if mis.want-mis.got > 1 {
			if err := useUp(c, n, mis.want); err != nil {
				return err
			}
		}
	}
	return fmt.Errorf("%w: could not reach %s %d in %d attempts", ErrNumbering, n.noun, n.id(&run[0]), attempts)
}

// useUp writes throwaway rows until the target handed out want-1, then
// rolls them back.
func useUp[T any](c *copier, n numbered[T], want int64) error {
	err := c.to.Update(c.ctx, func(tx pbxusers.Tx) error {
		// Bounded: one row per number of the gap.
		for i := int64(0); i < want; i++ {
			got, err := n.filler(tx)
			if err != nil {
				return err
			}
			if got >= want-1 {
				break
			}
		}
		return errFiller
	})
	if errors.Is(err, errFiller) {
		return nil
	}
	return fmt.Errorf("use up %ss before %d: %w", n.noun, want, err)
}
