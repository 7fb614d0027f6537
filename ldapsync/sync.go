package ldapsync

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// Defaults of Options and RunOptions.
const (
	// DefaultBatchN is how many user writes commit in one transaction.
	DefaultBatchN = 500
	// DefaultLeaseTTL is how long a run's lease lasts unless renewed; a run
	// renews it every third of that, so a crashed run blocks the directory
	// for at most this long.
	DefaultLeaseTTL = time.Minute
	// DefaultMaxActionsN is how many per-user actions a (non-dry) run keeps
	// in its Plan; the counts are always complete. Dry runs keep all.
	DefaultMaxActionsN = 1000
	// MaxRunMessagesN bounds the conflicts and errors stored with a run in
	// the history; the rest are counted in one last line.
	MaxRunMessagesN = 1000
	// maxManagerLookupsN bounds the LDAP lookups of manager DNs per run.
	maxManagerLookupsN = 10_000
	// maxGroupSetsN bounds the cache of mapped group sets per run.
	maxGroupSetsN = 10_000
	// maxAttemptsN bounds the writes of one user after the library refused
	// values of it.
	maxAttemptsN = 4
)

// Stages reported to RunOptions.Progress, in the order a run goes through
// them.
const (
	// StageLoad loads the users the directory owns (full runs); done counts
	// them, total is 0.
	StageLoad = "load"
	// StageRead reads the directory; done counts entries, total is the
	// number of users the directory owned before (an estimate; 0 if none).
	StageRead = "read"
	// StageApply writes creates and updates; done counts entries applied,
	// total the entries that needed a look (it grows while reading).
	StageApply = "apply"
	// StageManagers resolves managers that were created in the same run.
	StageManagers = "managers"
	// StageDeactivate writes deactivations.
	StageDeactivate = "deactivate"
)

// ErrBusy is returned by Run when another run of the same directory holds
// its lease, in this process or another (the CLI while `serve` runs).
var ErrBusy = errors.New("another sync of this directory is running")

// ErrBlocked is wrapped by the error Run returns for a run a safety guard
// stopped from deactivating users. The run applied its creates and updates;
// Result.Plan.Message says why it was blocked and how to proceed.
var ErrBlocked = errors.New("sync blocked by a safety guard")

// errLeaseLost cancels a run whose lease was taken over (the run stalled
// longer than the lease TTL).
var errLeaseLost = errors.New("lost the sync lease to another run")

// errDryRun rolls back a dry run's batch.
var errDryRun = errors.New("dry run")

// Options configure a Syncer or a Scheduler. The zero value works.
type Options struct {
	// Logger receives the sync's logs, scoped with component=ldapsync,
	// directory and tenant. nil discards them. The bind password is never
	// logged.
	Logger *slog.Logger
	// Registerer, when set, gets the sync's metrics (see Syncer). Syncers
	// and Schedulers may share one registry. Default nil: no metrics.
	Registerer prometheus.Registerer
	// BatchN is how many user writes commit in one transaction. Default
	// DefaultBatchN (500).
	BatchN int
	// LeaseTTL is how long a run's lease lasts unless renewed. Default
	// DefaultLeaseTTL (1m).
	LeaseTTL time.Duration
	// LeaseOwner names this process in leases. Default "<hostname>:<pid>";
	// every run adds a random suffix, so two runs in one process exclude
	// each other too.
	LeaseOwner string
	// Now is the clock for FullEvery and the schedule. nil means time.Now.
	Now func() time.Time
}

// RunOptions say how one run goes.
type RunOptions struct {
	// Full reads every user even when an incremental read is due.
	Full bool
	// DryRun computes the same plan and writes no user: every batch runs
	// and is rolled back, so conflicts and refused values show as they
	// would. The run is still recorded in the history (DryRun true); the
	// incremental cursor is not moved.
	DryRun bool
	// Force lets this run deactivate more than Config.MaxDeactivateShare of
	// the directory's active users, or all of them when the read returned
	// no user. It never overrides the guard against incomplete reads.
	Force bool
	// Progress, if set, is told how far the run is: stage is one of the
	// Stage constants; total is 0 when unknown. Calls are serialized and
	// come at most every BatchN entries plus once at the end of a stage.
	Progress func(stage string, done, total int)
	// MaxActionsN caps Plan.Actions. 0 means DefaultMaxActionsN, or no
	// cap for a dry run; negative keeps none.
	MaxActionsN int
}

// Result is the outcome of a run.
type Result struct {
	// Plan is what the run did (would do, for a dry run), with the counts.
	Plan *Plan `json:"plan"`
	// Run is the history record as stored.
	Run pbxusers.SyncRun `json:"run"`
	// Read is how the directory read went.
	Read ReadResult `json:"-"`
}

// Syncer syncs one directory into its tenant.
//
// A run connects, reads the directory (streamed page by page), and decides
// per entry, by its stable id (Owner.ExternalID): unchanged (Entry.Hash
// and the fingerprint of Config.Attributes and Config.GroupMappings equal
// what Owner.Hash recorded: nothing read from the store but a summary),
// create, update, reactivate. A changed mapping thus reaches every user on
// the next full run; Plan.MappingChanged and Counts.Remapped say so. These writes are applied while the read goes on, in
// transactions of BatchN users. Once the read is done, users the directory
// marks disabled, and for a complete full read users it no longer returns,
// are deactivated (never deleted), unless a guard blocks it:
//
//   - the read failed or was incomplete (size limit, entries without an
//     id): no deactivation at all; Force does not help;
//   - a full read returned no user: no deactivation unless forced;
//   - more than Config.MaxDeactivateShare of the directory's active users
//     would be deactivated: none is, unless forced.
//
// Incremental reads never deactivate users for being missing. A blocked
// run is recorded as blocked, keeps its cursor (the next run sees the same
// changes again) and Run returns an error wrapping ErrBlocked.
//
// An update changes only the fields whose directory value changed since
// the last sync (kept per user in Owner.Synced), so an admin's edit of a
// field the directory did not change survives. Only users the sync itself
// deactivated (DeactivatedBy ldap) are reactivated. Users another source
// owns are never written: an entry whose userName, email or extension one
// of them has is reported as a conflict.
//
// Metrics (with Options.Registerer), labelled tenant and directory:
// pbxgate_ldap_sync_runs_total{status} (succeeded, blocked, failed; dry
// runs are not counted), pbxgate_ldap_sync_users_total{action} (created,
// updated, deactivated, reactivated, unchanged, withheld, conflict, error),
// pbxgate_ldap_sync_duration_seconds and
// pbxgate_ldap_sync_last_success_timestamp_seconds.
//
// A Syncer is safe for concurrent use; concurrent runs of one directory
// exclude each other through a lease (ErrBusy).
type Syncer struct {
	dir     *pbxusers.Directory
	cfg     Config
	opts    Options
	logger  *slog.Logger
	metrics *metrics
}

// New returns a Syncer for the directory cfg describes. cfg is validated
// by Run.
func New(dir *pbxusers.Directory, cfg Config, opts Options) *Syncer {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.BatchN <= 0 {
		opts.BatchN = DefaultBatchN
	}
	if opts.LeaseTTL <= 0 {
		opts.LeaseTTL = DefaultLeaseTTL
	}
	if opts.LeaseOwner == "" {
		host, _ := os.Hostname()
		opts.LeaseOwner = fmt.Sprintf("%s:%d", host, os.Getpid())
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Syncer{dir: dir, cfg: cfg, opts: opts,
		logger: opts.Logger.With("component", "ldapsync", "directory", cfg.Name, "tenant", cfg.Tenant)}
	if opts.Registerer != nil {
		m, err := registerMetrics(opts.Registerer)
		if err != nil {
			s.logger.Warn("ldap sync metrics not registered", "err", err)
		}
		s.metrics = m
		m.start(&s.cfg)
	}
	return s
}

// Config returns the directory's configuration.
func (s *Syncer) Config() Config { return s.cfg }

// LeaseName is the name of the lease that keeps two runs of the directory
// apart: "ldap:<tenant>/<name>".
func (s *Syncer) LeaseName() string { return "ldap:" + s.cfg.Tenant + "/" + s.cfg.Name }

// History returns the directory's latest runs, newest first.
func (s *Syncer) History(ctx context.Context, limit int) ([]pbxusers.SyncRun, error) {
	runs, err := s.dir.SyncRuns(ctx, s.cfg.Tenant, s.cfg.Name, limit)
	if err != nil {
		return nil, fmt.Errorf("list sync runs: %w", err)
	}
	return runs, nil
}

// Run syncs the directory once; see Syncer for what that means. It returns
// an error wrapping ErrBusy when another run holds the directory's lease
// (nothing recorded then), ErrBlocked when a guard withheld deactivations,
// and the cause of a failed run (connect, read, store). The Result is
// filled whenever the run was recorded, also with an error.
//
// Cancelling ctx stops the run after the batch being written commits; it is
// recorded as failed, and the next run picks up where it left off.
func (s *Syncer) Run(ctx context.Context, opts RunOptions) (Result, error) {
	if err := s.cfg.Validate(); err != nil {
		return Result{}, err
	}
	owner := s.opts.LeaseOwner + "/" + randomHex(6)
	ok, err := s.dir.AcquireLease(ctx, s.LeaseName(), owner, s.opts.LeaseTTL)
	if err != nil {
		return Result{}, fmt.Errorf("acquire lease %q: %w", s.LeaseName(), err)
	}
	if !ok {
		return Result{}, fmt.Errorf("%w: lease %q is held; try again when it ends", ErrBusy, s.LeaseName())
	}
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	keeper := s.keepLease(runCtx, owner, cancel)
	defer func() {
		keeper.Wait()
		// Release even when ctx is cancelled: a stopped run frees the
		// directory at once instead of after the TTL.
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer rcancel()
		if err := s.dir.ReleaseLease(rctx, s.LeaseName(), owner); err != nil {
			s.logger.Warn("release sync lease", "lease", s.LeaseName(), "err", err)
		}
	}()
	defer cancel(nil) // stops the keeper before the Wait above
	return s.run(pbxusers.WithActor(runCtx, pbxusers.Actor{Source: pbxusers.SourceLDAP, Name: s.cfg.Name}), opts)
}

// keepLease renews the lease every third of its TTL until ctx ends, and
// cancels the run if the lease is lost or cannot be renewed in time.
func (s *Syncer) keepLease(ctx context.Context, owner string, cancel context.CancelCauseFunc) *sync.WaitGroup {
	var wg sync.WaitGroup
	ttl := s.opts.LeaseTTL
	wg.Go(func() {
		t := time.NewTicker(max(ttl/3, time.Millisecond))
		defer t.Stop()
		renewed := time.Now()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			ok, err := s.dir.AcquireLease(ctx, s.LeaseName(), owner, ttl)
			switch {
			case err == nil && ok:
				renewed = time.Now()
			case err == nil:
				cancel(errLeaseLost)
				return
			case ctx.Err() != nil:
				return
			default:
				s.logger.Warn("renew sync lease", "lease", s.LeaseName(), "err", err)
				if time.Since(renewed) > ttl {
					cancel(fmt.Errorf("%w: renew: %w", errLeaseLost, err))
					return
				}
			}
		}
	})
	return &wg
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// run is one run: its settings and what both of its stages share. The
// stages keep their own state: the reader (reader.go) reads the directory
// in the run's goroutine, the writer (writer.go) writes in its own
// goroutine while the read goes on, and after the read the run uses the
// writer to set managers and deactivate users. Everything here is set
// before the read starts (prepare) and only read after that; pendingN and
// progress are the two things both stages touch while they run, and they
// are synchronized.
type run struct {
	s      *Syncer
	cfg    *Config
	opts   RunOptions
	ctx    context.Context
	logger *slog.Logger
	dry    bool
	full   bool
	force  bool

	fields  []fieldSpec  // managed fields
	mapping mappingPrint // the fingerprint of cfg's mapping, see skiphash.go

	// Set by prepare.
	region string      // the tenant's phone region
	client *Client     // the reader's during the read, the writer's after it
	owned  *ownedIndex // safe for concurrent use
	dns    *dnIndex    // safe for concurrent use; nil without a manager mapping

	progressMu sync.Mutex
	pendingN   atomic.Int64 // items the reader handed to the writer, for progress
}

func (s *Syncer) run(ctx context.Context, opts RunOptions) (Result, error) {
	cfg := s.cfg
	now := s.opts.Now()
	st, err := s.dir.SyncState(ctx, cfg.Tenant, cfg.Name)
	if err != nil {
		return Result{}, fmt.Errorf("read sync state: %w", err)
	}
	full := opts.Full || cfg.FullEvery <= 0 || st.Cursor == "" || st.LastFull.IsZero() || !now.Before(st.LastFull.Add(cfg.FullEvery))
	if !full {
		// An incremental read would apply a changed mapping only to the
		// entries that changed: read everything instead.
		if full, err = s.mappingChanged(ctx); err != nil {
			return Result{}, err
		}
		if full {
			s.logger.Info("the attribute mapping or groupMappings changed since the last run; this run reads every user")
		}
	}
	mode := "full"
	if !full {
		mode = "incremental"
	}
	force := opts.Force || cfg.Force
	if opts.MaxActionsN == 0 && !opts.DryRun {
		opts.MaxActionsN = DefaultMaxActionsN
	}
	rec, err := s.dir.StartSyncRun(ctx, pbxusers.SyncRun{TenantID: cfg.Tenant, Directory: cfg.Name, Mode: mode,
		DryRun: opts.DryRun, Forced: force})
	if err != nil {
		return Result{}, fmt.Errorf("record sync run: %w", err)
	}
	r := &run{
		s: s, cfg: &cfg, opts: opts, ctx: ctx, dry: opts.DryRun, full: full, force: force,
		logger:  s.logger.With("run", rec.ID),
		fields:  fieldSpecs(&cfg),
		mapping: mappingFingerprint(&cfg),
	}
	w := newWriter(r, &Plan{Tenant: cfg.Tenant, Directory: cfg.Name, Mode: mode, DryRun: opts.DryRun, Forced: force,
		Status: pbxusers.SyncOK})
	r.logger.Info("sync started", "mode", mode, "dry_run", r.dry, "forced", force, "cursor", st.Cursor)
	start := time.Now()
	read, runErr := r.execute(w, st.Cursor)

	p := w.plan
	rec.Read, rec.Created, rec.Updated = p.Counts.Read, p.Counts.Created, p.Counts.Updated
	rec.Deactivated, rec.Reactivated, rec.Unchanged = p.Counts.Deactivated, p.Counts.Reactivated, p.Counts.Unchanged
	rec.Conflicts, rec.Errors = capMessages(w.conflicts), capMessages(append(slicesClone(p.Errors), w.errs...))
	rec.Status, rec.Message = p.Status, p.Message
	// The run is over whatever ctx says now: record it.
	fctx, fcancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer fcancel()
	if stored, err := s.dir.FinishSyncRun(fctx, rec); err != nil {
		r.logger.Error("record sync run", "err", err)
		runErr = errors.Join(runErr, fmt.Errorf("record sync run: %w", err))
	} else {
		rec = stored
	}
	if p.Status == pbxusers.SyncOK && !r.dry {
		next := pbxusers.SyncState{TenantID: cfg.Tenant, Directory: cfg.Name, Cursor: read.Cursor,
			LastFull: st.LastFull, LastRun: now}
		if full {
			next.LastFull = now
		}
		if err := s.dir.PutSyncState(fctx, next); err != nil {
			runErr = errors.Join(runErr, fmt.Errorf("store sync state: %w", err))
		}
	}
	elapsed := time.Since(start)
	s.metrics.observe(&cfg, p, elapsed)
	c := p.Counts
	attrs := []any{"mode", mode, "dry_run", r.dry, "status", p.Status, "read", c.Read, "created", c.Created,
		"updated", c.Updated, "deactivated", c.Deactivated, "reactivated", c.Reactivated, "unchanged", c.Unchanged,
		"withheld", c.Withheld, "conflicts", c.Conflicts, "errors", c.Errors, "mapping_changed", p.MappingChanged,
		"remapped", c.Remapped, "duration", elapsed}
	switch p.Status {
	case pbxusers.SyncOK:
		r.logger.Info("sync finished", attrs...)
	default:
		r.logger.Warn("sync finished", append(attrs, "message", p.Message)...)
	}
	res := Result{Plan: p, Run: rec, Read: read}
	if runErr == nil && p.Status == pbxusers.SyncBlocked {
		if w.blockCause != nil {
			runErr = fmt.Errorf("%w: %w", ErrBlocked, w.blockCause)
		} else {
			runErr = fmt.Errorf("%w: %s", ErrBlocked, p.Blocked)
		}
	}
	return res, runErr
}

// mappingNSample is how many owned users mappingChanged looks at.
const mappingNSample = 16

// mappingChanged reports whether the directory's users were last synced
// with another mapping than the Syncer's (see skiphash.go), judged by the
// first of a few owned users whose stored hash says.
func (s *Syncer) mappingChanged(ctx context.Context) (bool, error) {
	page, err := s.dir.ListOwned(ctx, s.cfg.Tenant, pbxusers.SourceLDAP, s.cfg.Name, "", mappingNSample)
	if err != nil {
		return false, fmt.Errorf("list users owned by ldap directory %q: %w", s.cfg.Name, err)
	}
	mp := mappingFingerprint(&s.cfg)
	for _, o := range page {
		if u := summary(o); u.hashOK {
			return u.remapped(mp), nil
		}
	}
	return false, nil
}

// prepare reads the tenant, connects and (full runs) loads the owned
// users: what the stages share.
func (r *run) prepare() (msg string, err error) {
	tn, err := r.s.dir.GetTenant(r.ctx, r.cfg.Tenant)
	if err != nil {
		return "could not read the tenant", err
	}
	r.region = tn.Region
	client, err := Connect(r.ctx, *r.cfg, r.s.opts.Logger)
	if err != nil {
		return "could not connect to the directory; nothing was changed", err
	}
	r.client = client
	r.owned = newOwnedIndex(r.s.dir, r.cfg.Tenant, r.cfg.Name, func(n int) { r.progress(StageLoad, n, 0) })
	if r.full {
		if err := r.owned.load(r.ctx); err != nil {
			return "could not load the users the directory owns; nothing was changed", err
		}
	}
	if r.cfg.Attributes.Manager != "" {
		r.dns = newDNIndex()
	}
	return "", nil
}

// execute connects, reads, writes and deactivates, filling w.plan. The
// error is the cause of a failed run.
func (r *run) execute(w *writer, cursor string) (ReadResult, error) {
	ctx, p := r.ctx, w.plan
	msg, err := r.prepare()
	if r.client != nil {
		defer r.client.Close()
	}
	if err != nil {
		return ReadResult{}, w.failed(err, msg)
	}

	rd, read, readErr, writeErr := r.stream(cursor, w)
	p.Counts.Read, p.Counts.Unchanged, p.Counts.SkippedDisabled = rd.readN, rd.unchangedN+p.Counts.Unchanged, rd.skippedN
	p.Counts.Remapped, p.MappingChanged = rd.remappedN, rd.remappedN > 0
	if p.MappingChanged {
		r.logger.Info("the attribute mapping or groupMappings changed since users were last synced; applying the new mapping to them",
			"remapped", rd.remappedN, "full", r.full)
	}
	r.progress(StageRead, rd.readN, 0)
	r.progress(StageApply, w.appliedN, int(r.pendingN.Load()))
	if writeErr != nil {
		w.withhold()
		return read, w.failed(writeErr, "could not write users; the failed batch was rolled back, nobody was deactivated")
	}
	if cause := context.Cause(ctx); cause != nil {
		w.withhold()
		return read, w.failed(cause, "stopped before the end; the batches written so far are kept, nobody was deactivated")
	}

	if !r.dry && len(w.managers) > 0 {
		if err := w.resolveManagers(); err != nil {
			w.withhold()
			return read, w.failed(err, "could not set managers; nobody was deactivated")
		}
	}

	// Candidates: disabled entries, and for a complete full read users it
	// did not return.
	if readErr == nil && r.full {
		for _, m := range r.owned.missing() {
			m.hash, m.status, m.reason = hashMissing, statusMissing, "missing from the directory"
			w.deacts = append(w.deacts, m)
		}
	}
	if readErr != nil {
		if partialRead(readErr, read) {
			w.block("the read was incomplete: " + readErr.Error())
			w.blockCause = readErr
			p.Message = fmt.Sprintf("blocked: the directory read was incomplete (%v). Users it did return were created and updated; "+
				"nobody was deactivated, because missing from an incomplete read proves nothing. Fix the cause and run again; "+
				"--force does not override this guard.", readErr)
			return read, nil
		}
		w.withhold()
		return read, w.failed(readErr, "the directory read broke off; users it returned before that were created and updated, nobody was deactivated")
	}
	if len(w.deacts) > 0 || (r.full && read.Entries == 0) {
		active, err := r.owned.activeN(ctx)
		if err != nil {
			w.withhold()
			return read, w.failed(err, "could not count the directory's users; nobody was deactivated")
		}
		if blocked, msg := evaluateGuards(guardInput{full: r.full, entries: read.Entries, active: active,
			deactivations: len(w.deacts), share: r.cfg.MaxDeactivateShare, force: r.force,
			name: r.cfg.Name}); blocked != "" {
			w.block(blocked)
			p.Message = msg
			return read, nil
		}
	}
	if err := w.deactivate(); err != nil {
		return read, w.failed(err, "could not deactivate users")
	}
	return read, nil
}

// partialRead tells a read the server cut short, or that skipped entries,
// (blocked) from one that broke off (failed).
func partialRead(err error, res ReadResult) bool {
	return errors.Is(err, ErrSizeLimit) || res.Skipped > 0 || ldap.IsErrorWithCode(err, ldap.LDAPResultTimeLimitExceeded)
}

// guardInput is what the deactivation guards judge.
type guardInput struct {
	full          bool
	entries       int     // entries the (complete) read returned
	active        int     // active users the directory owned before the run
	deactivations int     // users the run would deactivate
	share         float64 // Config.MaxDeactivateShare
	force         bool
	name          string
}

// evaluateGuards returns why deactivations must not happen ("" if they may)
// and a message for people saying how to proceed.
func evaluateGuards(in guardInput) (blocked, message string) {
	if in.force {
		return "", ""
	}
	hint := fmt.Sprintf("If that is right, run `pbxgate ldap sync %s --force` once (or set force: true for one run); "+
		"otherwise check url, baseDN, userFilter and the bind account's rights.", in.name)
	if in.full && in.entries == 0 && in.active > 0 {
		why := fmt.Sprintf("the directory returned no users; deactivating all %d active users needs --force", in.active)
		return why, "blocked: " + why + ". Nobody was deactivated. " + hint
	}
	if float64(in.deactivations) > in.share*float64(in.active) {
		why := fmt.Sprintf("%d of %d active users (%.1f%%) would be deactivated, more than maxDeactivateShare %.0f%%",
			in.deactivations, in.active, 100*float64(in.deactivations)/float64(max(in.active, 1)), 100*in.share)
		return why, "blocked: " + why + ". Nobody was deactivated; creates and updates were applied. " + hint
	}
	return "", ""
}

// progress calls RunOptions.Progress, one call at a time.
func (r *run) progress(stage string, done, total int) {
	if r.opts.Progress == nil {
		return
	}
	r.progressMu.Lock()
	defer r.progressMu.Unlock()
	r.opts.Progress(stage, done, total)
}

// capMessages keeps at most MaxRunMessagesN messages for the history.
func capMessages(msgs []string) []string {
	if len(msgs) <= MaxRunMessagesN {
		return msgs
	}
	out := slicesClone(msgs[:MaxRunMessagesN])
	return append(out, fmt.Sprintf("... and %d more", len(msgs)-MaxRunMessagesN))
}

func slicesClone(s []string) []string { return append([]string(nil), s...) }
