package ldapsync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// Scheduler runs every directory's sync on its Config.Schedule, for the
// gateway (`pbxgate serve`). Each directory has its own loop, so a slow
// directory never delays another, and its runs never overlap: a loop starts
// the next run only after the last one returned, and the lease (see
// Syncer.Run) keeps a run in another process (the CLI) and a scheduled one
// apart; a scheduled run that finds the lease taken is skipped until the
// next time.
//
// A run missed while the gateway was down is made up at start: if the
// schedule had a time between the directory's last successful run and now,
// it runs at once. A directory never synced waits for its first scheduled
// time (run `pbxgate ldap sync` to start earlier).
type Scheduler struct {
	dir       *pbxusers.Directory
	syncers   []*Syncer
	schedules []*Schedule
	logger    *slog.Logger
	now       func() time.Time
	// sleep waits d or until ctx ends, reporting whether d passed. Tests
	// replace it.
	sleep func(ctx context.Context, d time.Duration) bool
}

// NewScheduler returns a Scheduler for the directories. It validates them
// all (names must be unique) and reports every problem at once. opts apply
// to every directory's Syncer.
func NewScheduler(dir *pbxusers.Directory, cfgs []Config, opts Options) (*Scheduler, error) {
	sec := Section{Directories: cfgs}
	if err := sec.Validate(); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Scheduler{dir: dir, logger: opts.Logger.With("component", "ldapsync"), now: opts.Now, sleep: sleepCtx}
	for _, cfg := range cfgs {
		sched, err := ParseSchedule(cfg.Schedule)
		if err != nil { // Validate parsed it already
			return nil, fmt.Errorf("directory %q: %w", cfg.Name, err)
		}
		s.syncers = append(s.syncers, New(dir, cfg, opts))
		s.schedules = append(s.schedules, sched)
	}
	return s, nil
}

// Syncers returns the directories' Syncers, in configuration order, e.g.
// to run one now or to show its history.
func (s *Scheduler) Syncers() []*Syncer { return append([]*Syncer(nil), s.syncers...) }

// Syncer returns the Syncer of the directory with the name, or nil.
func (s *Scheduler) Syncer(name string) *Syncer {
	for _, sy := range s.syncers {
		if sy.cfg.Name == name {
			return sy
		}
	}
	return nil
}

// Run runs the schedules until ctx is cancelled, then waits for the running
// syncs, which stop after the batch they are writing commits, and returns
// nil. Failed and blocked runs are logged and recorded in the history; the
// schedule goes on.
func (s *Scheduler) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for i := range s.syncers {
		wg.Go(func() { s.loop(ctx, s.syncers[i], s.schedules[i]) })
	}
	wg.Wait()
	return nil
}

// loop runs one directory's schedule.
func (s *Scheduler) loop(ctx context.Context, sy *Syncer, sched *Schedule) {
	log := sy.logger
	next := s.first(ctx, sy, sched)
	// Bounded by the schedule: at most one run per minute, for as long as
	// the gateway runs.
	for ctx.Err() == nil {
		if next.IsZero() {
			log.Error("the schedule never matches; no scheduled syncs for this directory", "schedule", sy.cfg.Schedule)
			return
		}
		log.Debug("next scheduled sync", "at", next)
		if !s.sleep(ctx, next.Sub(s.now())) {
			return
		}
		res, err := sy.Run(ctx, RunOptions{})
		switch {
		case errors.Is(err, ErrBusy):
			log.Info("scheduled sync skipped: another run holds the directory", "err", err)
		case errors.Is(err, ErrBlocked):
			log.Warn("scheduled sync blocked", "run", res.Run.ID, "message", res.Plan.Message)
		case err != nil:
			log.Error("scheduled sync failed", "run", res.Run.ID, "err", err)
		}
		next = sched.Next(s.now())
	}
}

// first returns the first run time: now if a scheduled run was missed
// since the last successful one, else the next scheduled time.
func (s *Scheduler) first(ctx context.Context, sy *Syncer, sched *Schedule) time.Time {
	now := s.now()
	st, err := s.dir.SyncState(ctx, sy.cfg.Tenant, sy.cfg.Name)
	if err != nil {
		sy.logger.Warn("read sync state", "err", err)
		return sched.Next(now)
	}
	if !st.LastRun.IsZero() {
		if missed := sched.Next(st.LastRun.In(now.Location())); !missed.IsZero() && missed.Before(now) {
			sy.logger.Info("making up a missed scheduled sync", "missed", missed, "last_run", st.LastRun)
			return now
		}
	}
	return sched.Next(now)
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
