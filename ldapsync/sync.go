package ldapsync

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"strings"
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

// run is one run's state.
type run struct {
	s      *Syncer
	cfg    *Config
	opts   RunOptions
	ctx    context.Context
	logger *slog.Logger
	dry    bool
	full   bool
	force  bool

	region  string       // the tenant's phone region
	fields  []fieldSpec  // managed fields
	mapping mappingPrint // the fingerprint of cfg's mapping, see skiphash.go
	owned   *ownedIndex
	dns     *dnIndex // nil without a manager mapping
	names   nameCache
	client  *Client

	progressMu sync.Mutex

	// Written by the reader only.
	readN, unchangedN, skippedN, remappedN int
	pendingN                               atomic.Int64 // entries handed to the writer; it reads them for progress

	// Written by the writer (and after the read, by the run).
	plan      *Plan
	created   map[string]string // external id → id of users created this run
	groupSets map[string][2][]string
	managers  []managerFix
	deacts    []deactivation
	conflicts []string
	errs      []string
	appliedN  int

	blockCause error // the incomplete read's error, for a blocked run
}

// item is an entry that needs a look at its user.
type item struct {
	e     Entry
	hash  string
	owned *ownedUser // nil: no user has the external id
}

// managerFix is a user whose manager DN is resolved after the read.
type managerFix struct {
	id, ext, userName, dn, hash string
	pending                     bool // something else is pending: keep hashPending
}

// deactivation is a user to deactivate once the guards allow it.
type deactivation struct {
	id, ext, userName, dn string
	hash                  string // Owner.Hash to store with it
	status                string // Owner.Synced["status"] to store
	reason                string
}

func (s *Syncer) run(ctx context.Context, opts RunOptions) (Result, error) {
	cfg := s.cfg
	now := s.opts.Now()
	st, err := s.dir.SyncState(ctx, cfg.Tenant, cfg.Name)
	if err != nil {
		return Result{}, fmt.Errorf("read sync state: %w", err)
	}
	full := opts.Full || cfg.FullEvery <= 0 || st.Cursor == "" || st.LastFull.IsZero() || !now.Before(st.LastFull.Add(cfg.FullEvery))
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
		created: map[string]string{},
		plan: &Plan{Tenant: cfg.Tenant, Directory: cfg.Name, Mode: mode, DryRun: opts.DryRun, Forced: force,
			Status: pbxusers.SyncOK},
	}
	r.names = nameCache{ids: map[string]string{}, report: r.runError}
	r.logger.Info("sync started", "mode", mode, "dry_run", r.dry, "forced", force, "cursor", st.Cursor)
	start := time.Now()
	read, runErr := r.execute(st.Cursor)

	p := r.plan
	rec.Read, rec.Created, rec.Updated = p.Counts.Read, p.Counts.Created, p.Counts.Updated
	rec.Deactivated, rec.Reactivated, rec.Unchanged = p.Counts.Deactivated, p.Counts.Reactivated, p.Counts.Unchanged
	rec.Conflicts, rec.Errors = capMessages(r.conflicts), capMessages(append(slicesClone(p.Errors), r.errs...))
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
		if r.blockCause != nil {
			runErr = fmt.Errorf("%w: %w", ErrBlocked, r.blockCause)
		} else {
			runErr = fmt.Errorf("%w: %s", ErrBlocked, p.Blocked)
		}
	}
	return res, runErr
}

// execute connects, reads, writes and deactivates, filling r.plan. The
// error is the cause of a failed run.
func (r *run) execute(cursor string) (ReadResult, error) {
	ctx, p := r.ctx, r.plan
	fail := func(err error, msg string) (ReadResult, error) {
		return ReadResult{}, r.failed(err, msg)
	}
	tn, err := r.s.dir.GetTenant(ctx, r.cfg.Tenant)
	if err != nil {
		return fail(err, "could not read the tenant")
	}
	r.region = tn.Region
	client, err := Connect(ctx, *r.cfg, r.s.opts.Logger)
	if err != nil {
		return fail(err, "could not connect to the directory; nothing was changed")
	}
	defer client.Close()
	r.client = client

	r.owned = newOwnedIndex(r.s.dir, r.cfg.Tenant, r.cfg.Name, func(n int) { r.progress(StageLoad, n, 0) })
	if r.full {
		if err := r.owned.load(ctx); err != nil {
			return fail(err, "could not load the users the directory owns; nothing was changed")
		}
	}
	if r.cfg.Attributes.Manager != "" {
		r.dns = newDNIndex()
	}

	read, readErr, writeErr := r.stream(cursor)
	p.Counts.Read, p.Counts.Unchanged, p.Counts.SkippedDisabled = r.readN, r.unchangedN+p.Counts.Unchanged, r.skippedN
	p.Counts.Remapped, p.MappingChanged = r.remappedN, r.remappedN > 0
	if p.MappingChanged {
		r.logger.Info("the attribute mapping or groupMappings changed since users were last synced; applying the new mapping to them",
			"remapped", r.remappedN, "full", r.full)
	}
	r.progress(StageRead, r.readN, 0)
	r.progress(StageApply, r.appliedN, int(r.pendingN.Load()))
	if writeErr != nil {
		r.withhold()
		return read, r.failed(writeErr, "could not write users; the failed batch was rolled back, nobody was deactivated")
	}
	if cause := context.Cause(ctx); cause != nil {
		r.withhold()
		return read, r.failed(cause, "stopped before the end; the batches written so far are kept, nobody was deactivated")
	}

	if !r.dry && len(r.managers) > 0 {
		if err := r.resolveManagers(); err != nil {
			r.withhold()
			return read, r.failed(err, "could not set managers; nobody was deactivated")
		}
	}

	// Candidates: disabled entries, and for a complete full read users it
	// did not return.
	if readErr == nil && r.full {
		for _, m := range r.owned.missing() {
			r.deacts = append(r.deacts, deactivation{id: m.id, ext: m.ext, userName: m.userName,
				hash: hashMissing, status: statusMissing, reason: "missing from the directory"})
		}
	}
	if readErr != nil {
		if partialRead(readErr, read) {
			r.block("the read was incomplete: " + readErr.Error())
			r.blockCause = readErr
			p.Message = fmt.Sprintf("blocked: the directory read was incomplete (%v). Users it did return were created and updated; "+
				"nobody was deactivated, because missing from an incomplete read proves nothing. Fix the cause and run again; "+
				"--force does not override this guard.", readErr)
			return read, nil
		}
		r.withhold()
		return read, r.failed(readErr, "the directory read broke off; users it returned before that were created and updated, nobody was deactivated")
	}
	if len(r.deacts) > 0 || (r.full && read.Entries == 0) {
		active, err := r.owned.activeN(ctx)
		if err != nil {
			r.withhold()
			return read, r.failed(err, "could not count the directory's users; nobody was deactivated")
		}
		if blocked, msg := evaluateGuards(guardInput{full: r.full, entries: read.Entries, active: active,
			deactivations: len(r.deacts), share: r.cfg.MaxDeactivateShare, force: r.force,
			name: r.cfg.Name}); blocked != "" {
			r.block(blocked)
			p.Message = msg
			return read, nil
		}
	}
	if err := r.deactivate(); err != nil {
		return read, r.failed(err, "could not deactivate users")
	}
	return read, nil
}

// failed marks the run failed with a message for people.
func (r *run) failed(err error, msg string) error {
	r.plan.Status, r.plan.Message = pbxusers.SyncFailed, "failed: "+msg+": "+err.Error()
	return err
}

// block marks the run blocked and lists the withheld deactivations.
func (r *run) block(why string) {
	r.plan.Status, r.plan.Blocked = pbxusers.SyncBlocked, why
	r.withhold()
}

// withhold lists the deactivations that will not happen in the plan.
func (r *run) withhold() {
	for _, d := range r.deacts {
		r.action(Action{Op: OpDeactivate, UserID: d.id, ExternalID: d.ext, UserName: d.userName, DN: d.dn,
			Reason: d.reason, Withheld: true})
	}
	r.plan.Counts.Withheld += len(r.deacts)
	r.deacts = nil
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

// stream reads the directory and writes creates and updates while it
// reads: the reader hands batches of entries that need a look to a writer
// goroutine over a channel holding one batch, so at most three batches are
// in memory and reading overlaps writing.
func (r *run) stream(cursor string) (read ReadResult, readErr, writeErr error) {
	ctx, cancel := context.WithCancelCause(r.ctx)
	defer cancel(nil)
	batches := make(chan []*item, 1)
	var wg sync.WaitGroup
	wg.Go(func() {
		for batch := range batches {
			if context.Cause(r.ctx) != nil || writeErr != nil {
				continue // stopping: drop the batches not yet started
			}
			if err := r.applyBatch(batch); err != nil {
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
	estimate := 0
	if r.full {
		estimate = len(r.owned.users)
	}
	pending := make([]*item, 0, r.s.opts.BatchN)
	read, readErr = r.client.ReadUsers(ctx, mode, func(e Entry) error {
		r.readN++
		if r.readN%r.s.opts.BatchN == 0 {
			r.progress(StageRead, r.readN, estimate)
		}
		if r.dns != nil {
			r.dns.add(e.DN, e.ExternalID)
		}
		sum := e.sum()
		o, ok, err := r.owned.get(ctx, e.ExternalID, true)
		if err != nil {
			return err
		}
		if ok && o.remapped(r.mapping) {
			r.remappedN++
		}
		switch {
		case ok && o.unchanged(&sum, r.mapping):
			r.unchangedN++
			return nil
		case !ok && e.Disabled:
			r.skippedN++
			return nil
		}
		it := &item{e: e, hash: skipHash(&sum, r.mapping)}
		if ok {
			it.owned = &o
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
	return read, readErr, writeErr
}

// applyBatch writes one batch in one transaction (rolled back in a dry
// run). Per-user conflicts and refused values are recorded and the batch
// goes on; a store error fails the batch and the run.
func (r *run) applyBatch(batch []*item) error {
	var acts []Action
	var fixes []managerFix
	var deacts []deactivation
	var conflicts, errs []string
	created := map[string]string{}
	var counts Counts
	err := r.s.dir.Batch(context.WithoutCancel(r.ctx), r.cfg.Tenant, func(b *pbxusers.Batch) error {
		acts, fixes, deacts, conflicts, errs, counts = nil, nil, nil, nil, nil, Counts{}
		clear(created)
		for _, it := range batch {
			w := &want{e: &it.e}
			if len(r.cfg.GroupMappings) > 0 {
				w.profiles, w.teams = r.mapGroups(it.e.Groups)
			}
			var out itemOutcome
			if it.owned == nil {
				out = r.create(b, it, w, created)
			} else {
				out = r.update(b, it, w)
			}
			if r.names.failure != nil {
				return r.names.failure
			}
			if out.storeErr != nil {
				return out.storeErr
			}
			label := fmt.Sprintf("%s (%s)", orDash(it.e.UserName), it.e.DN)
			for _, msg := range out.problems {
				errs = append(errs, label+": "+msg)
				acts = append(acts, Action{Op: OpError, UserID: out.act.UserID, ExternalID: it.e.ExternalID,
					UserName: it.e.UserName, DN: it.e.DN, Reason: msg})
			}
			switch {
			case out.conflict != "":
				conflicts = append(conflicts, label+": "+out.conflict)
				counts.Conflicts++
				acts = append(acts, Action{Op: OpConflict, ExternalID: it.e.ExternalID, UserName: it.e.UserName,
					DN: it.e.DN, Reason: out.conflict})
				continue
			case out.failure != "":
				errs = append(errs, label+": "+out.failure)
				acts = append(acts, Action{Op: OpError, UserID: out.act.UserID, ExternalID: it.e.ExternalID,
					UserName: it.e.UserName, DN: it.e.DN, Reason: out.failure})
				continue
			}
			switch out.act.Op {
			case OpCreate:
				counts.Created++
			case OpUpdate:
				counts.Updated++
			case OpReactivate:
				counts.Reactivated++
			default:
				counts.Unchanged++
			}
			if out.act.Op != "" {
				acts = append(acts, out.act)
			}
			if out.fix != nil {
				fixes = append(fixes, *out.fix)
			}
			if out.deact != nil {
				deacts = append(deacts, *out.deact)
			}
		}
		if r.dry {
			return errDryRun
		}
		return nil
	})
	if err != nil && !errors.Is(err, errDryRun) {
		return fmt.Errorf("write batch of %d users: %w", len(batch), err)
	}
	c := &r.plan.Counts
	c.Created += counts.Created
	c.Updated += counts.Updated
	c.Reactivated += counts.Reactivated
	c.Unchanged += counts.Unchanged
	c.Conflicts += counts.Conflicts
	c.Errors += len(errs)
	r.conflicts = append(r.conflicts, conflicts...)
	r.errs = append(r.errs, errs...)
	for _, a := range acts {
		r.action(a)
	}
	for _, msg := range conflicts {
		r.logger.Warn("sync conflict", "detail", msg)
	}
	for _, msg := range errs {
		r.logger.Warn("sync user error", "detail", msg)
	}
	if !r.dry { // a dry run's users were rolled back: nothing to point at
		for ext, id := range created {
			r.created[ext] = id
		}
		r.managers = append(r.managers, fixes...)
	}
	r.deacts = append(r.deacts, deacts...)
	r.appliedN += len(batch)
	r.progress(StageApply, r.appliedN, int(r.pendingN.Load()))
	return nil
}

// mapGroups is Config.MapGroups, remembered per set of groups: users share
// a few sets, and mapping normalizes every group DN. Writer only.
func (r *run) mapGroups(groups []string) (profiles, teams []string) {
	key := strings.Join(groups, "\n")
	if m, ok := r.groupSets[key]; ok {
		return m[0], m[1]
	}
	profiles, teams = r.cfg.MapGroups(groups)
	if r.groupSets == nil {
		r.groupSets = map[string][2][]string{}
	}
	if len(r.groupSets) < maxGroupSetsN {
		r.groupSets[key] = [2][]string{profiles, teams}
	}
	return profiles, teams
}

// itemOutcome is what happened to one item in a batch.
type itemOutcome struct {
	act      Action // Op "" when nothing changed
	conflict string
	failure  string // the library refused the user
	problems []string
	fix      *managerFix
	deact    *deactivation
	storeErr error
}

// create creates the user for an entry no user has.
func (r *run) create(b *pbxusers.Batch, it *item, w *want, created map[string]string) itemOutcome {
	skip := map[string]bool{}
	var problems []string
	for attempt := 0; ; attempt++ {
		if attempt == maxAttemptsN {
			return itemOutcome{failure: "the library kept refusing values; see the errors above", problems: problems}
		}
		u := pbxusers.User{
			Kind:   pbxusers.KindPerson,
			Status: pbxusers.StatusActive,
			Owner:  pbxusers.Owner{Source: pbxusers.SourceLDAP, ExternalID: it.e.ExternalID, Directory: r.cfg.Name},
		}
		res := r.applyWant(b, &u, w, skip)
		u.Owner.Hash = it.hash
		if res.pending {
			u.Owner.Hash = hashPending
		}
		nu, err := b.CreateUser(u)
		if nums, reasons, rest := refusedPhones(err, &u); len(nums) > 0 {
			for i, n := range nums {
				skip[skipPhone+n] = true
				problems = append(problems, fmt.Sprintf("phone number %q left out: %s", n, reasons[i]))
			}
			if rest == nil {
				continue
			}
			err = rest
		}
		out, retry := r.classify(err, attempt, skip, &problems)
		if retry {
			continue
		}
		out.problems = append(problems, res.problems...)
		if out.conflict != "" || out.failure != "" || out.storeErr != nil {
			return out
		}
		created[it.e.ExternalID] = nu.ID
		out.act = Action{Op: OpCreate, UserID: nu.ID, ExternalID: it.e.ExternalID, UserName: nu.UserName,
			DN: it.e.DN, Fields: res.fields}
		if res.deferMgr {
			out.fix = &managerFix{id: nu.ID, ext: it.e.ExternalID, userName: nu.UserName, dn: it.e.ManagerDN,
				hash: it.hash, pending: res.other}
		}
		return out
	}
}

// update applies an entry's changes to the user that has its external id.
func (r *run) update(b *pbxusers.Batch, it *item, w *want) itemOutcome {
	skip := map[string]bool{}
	var problems []string
	for attempt := 0; ; attempt++ {
		var res outcome
		var before int64
		nu, err := b.ModifyUser(it.owned.id, func(u *pbxusers.User) error {
			before = u.Version
			synced := u.Owner.Synced
			res = r.applyWant(b, u, w, skip)
			switch {
			case !res.pending:
				u.Owner.Hash = it.hash
			case len(res.fields) > 0 || !maps.Equal(synced, u.Owner.Synced):
				u.Owner.Hash = hashPending
			default:
				// Nothing applied (say, only a deactivation to come): the
				// stored hash differs from the entry's, so the next run
				// looks again anyway; no write needed.
			}
			return nil
		})
		out, retry := r.classify(err, attempt, skip, &problems)
		if retry {
			continue
		}
		out.problems = append(problems, res.problems...)
		if out.conflict != "" || out.failure != "" || out.storeErr != nil {
			return out
		}
		act := Action{UserID: nu.ID, ExternalID: it.e.ExternalID, UserName: nu.UserName, DN: it.e.DN, Fields: res.fields}
		switch {
		case res.reactivated:
			act.Op, act.Reason = OpReactivate, "enabled in the directory again"
		case len(res.fields) > 0:
			act.Op = OpUpdate
		}
		if nu.Version != before || act.Op != "" {
			out.act = act
		}
		if res.deferMgr {
			out.fix = &managerFix{id: nu.ID, ext: it.e.ExternalID, userName: nu.UserName, dn: it.e.ManagerDN,
				hash: it.hash, pending: res.other || res.deferDeact}
		}
		if res.deferDeact {
			h := it.hash
			if res.other || res.deferMgr {
				h = hashPending
			}
			out.deact = &deactivation{id: nu.ID, ext: it.e.ExternalID, userName: nu.UserName, dn: it.e.DN,
				hash: h, status: statusDisabled, reason: "disabled in the directory"}
		}
		return out
	}
}

// classify turns a CreateUser or ModifyUser error into an outcome; retry
// is true when values the library refused are to be left out and the write
// tried again (once).
func (r *run) classify(err error, attempt int, skip map[string]bool, problems *[]string) (out itemOutcome, retry bool) {
	if err == nil {
		return out, false
	}
	var ce *pbxusers.ConflictError
	switch {
	case errors.As(err, &ce) && !errors.Is(err, pbxusers.ErrVersionMismatch):
		out.conflict = ce.Error()
		return out, false
	case errors.Is(err, pbxusers.ErrInvalid):
		if keys, ok := validationKeys(err, r.fields); ok && attempt < maxAttemptsN-1 {
			for _, k := range keys {
				skip[k] = true
			}
			var ve *pbxusers.ValidationError
			errors.As(err, &ve)
			for _, fe := range ve.Fields {
				*problems = append(*problems, fmt.Sprintf("%s left out: %s", fe.Field, fe.Reason))
			}
			return out, true
		}
		out.failure = err.Error()
		return out, false
	case errors.Is(err, pbxusers.ErrNotFound), errors.Is(err, pbxusers.ErrVersionMismatch):
		out.failure = err.Error() // deleted or changed meanwhile: the next run looks again
		return out, false
	}
	out.storeErr = err
	return out, false
}

// managerNow resolves a manager DN to a user id from what the run knows:
// DNs read so far and users that exist or were created.
func (r *run) managerNow(dn string) (string, bool) {
	if r.dns == nil {
		return "", false
	}
	ext, ok := r.dns.get(dn)
	if !ok {
		return "", false
	}
	return r.userIDOf(ext)
}

func (r *run) userIDOf(ext string) (string, bool) {
	if id, ok := r.created[ext]; ok {
		return id, true
	}
	o, ok, err := r.owned.get(r.ctx, ext, false)
	if err != nil || !ok {
		return "", false
	}
	return o.id, true
}

// resolveManagers sets the managers that could not be resolved while
// reading: created later in the run, or (incremental reads) not read at
// all. A DN not in the read is looked up in the directory (with the user
// filter). A DN that is no user of the directory counts as applied with no
// manager; one whose user could not be created stays pending.
func (r *run) resolveManagers() error {
	extOf := map[string]string{} // lowercased DN → external id, "" if no user entry
	lookups := 0
	type fix struct {
		managerFix
		managerID string
		done      bool
	}
	var fixes []fix
	for _, m := range r.managers {
		key := strings.ToLower(m.dn)
		ext, ok := extOf[key]
		if !ok {
			if ext, ok = r.dns.get(m.dn); !ok && lookups < maxManagerLookupsN {
				lookups++
				var err error
				ext, _, err = r.client.lookupID(r.ctx, m.dn)
				if err != nil {
					return fmt.Errorf("look up manager %q: %w", m.dn, err)
				}
			}
			extOf[key] = ext
		}
		f := fix{managerFix: m}
		if ext == "" {
			f.done = true // not a user of this directory: no manager to set
		} else if id, ok := r.userIDOf(ext); ok {
			f.done = true
			if id != m.id { // else the entry names itself: no manager
				f.managerID = id
			}
		}
		if f.done {
			fixes = append(fixes, f)
		}
	}
	for i := 0; i < len(fixes); i += r.s.opts.BatchN {
		chunk := fixes[i:min(i+r.s.opts.BatchN, len(fixes))]
		err := r.s.dir.Batch(context.WithoutCancel(r.ctx), r.cfg.Tenant, func(b *pbxusers.Batch) error {
			for _, f := range chunk {
				_, err := b.ModifyUser(f.id, func(u *pbxusers.User) error {
					if f.managerID != "" {
						u.ManagerID = f.managerID
					}
					if u.Owner.Synced == nil {
						u.Owner.Synced = map[string]string{}
					}
					u.Owner.Synced[fManager] = f.dn
					if !f.pending {
						u.Owner.Hash = f.hash
					}
					return nil
				})
				if err != nil && r.userError(err, f.userName, "set manager") {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		r.progress(StageManagers, i+len(chunk), len(fixes))
		if context.Cause(r.ctx) != nil {
			return context.Cause(r.ctx)
		}
	}
	return nil
}

// deactivate writes the deactivations the guards allowed (in a dry run it
// only lists them).
func (r *run) deactivate() error {
	deacts := r.deacts
	r.deacts = nil
	for i := 0; i < len(deacts); i += r.s.opts.BatchN {
		chunk := deacts[i:min(i+r.s.opts.BatchN, len(deacts))]
		var done []deactivation
		err := r.s.dir.Batch(context.WithoutCancel(r.ctx), r.cfg.Tenant, func(b *pbxusers.Batch) error {
			done = done[:0]
			for _, d := range chunk {
				_, err := b.ModifyUser(d.id, func(u *pbxusers.User) error {
					u.Status = pbxusers.StatusInactive
					if u.Owner.Synced == nil {
						u.Owner.Synced = map[string]string{}
					}
					u.Owner.Synced[fStatus] = d.status
					u.Owner.Hash = d.hash
					return nil
				})
				if err != nil {
					if r.userError(err, d.userName, "deactivate") {
						return err
					}
					continue
				}
				done = append(done, d)
			}
			if r.dry {
				return errDryRun
			}
			return nil
		})
		if err != nil && !errors.Is(err, errDryRun) {
			r.deacts = deacts[i:]
			r.withhold()
			return fmt.Errorf("deactivate users: %w", err)
		}
		for _, d := range done {
			r.action(Action{Op: OpDeactivate, UserID: d.id, ExternalID: d.ext, UserName: d.userName, DN: d.dn, Reason: d.reason})
		}
		r.plan.Counts.Deactivated += len(done)
		r.progress(StageDeactivate, i+len(chunk), len(deacts))
		if cause := context.Cause(r.ctx); cause != nil && i+len(chunk) < len(deacts) {
			r.deacts = deacts[i+len(chunk):]
			r.withhold()
			return cause
		}
	}
	return nil
}

// userError records a per-user failure outside the streamed batches and
// reports whether it is a store error that must fail the batch.
func (r *run) userError(err error, userName, what string) bool {
	var ce *pbxusers.ConflictError
	if errors.As(err, &ce) || errors.Is(err, pbxusers.ErrInvalid) || errors.Is(err, pbxusers.ErrNotFound) {
		msg := fmt.Sprintf("%s: %s: %v", userName, what, err)
		r.errs = append(r.errs, msg)
		r.plan.Counts.Errors++
		r.logger.Warn("sync user error", "detail", msg)
		return false
	}
	return true
}

// runError records a problem of the run (not of one user), once.
func (r *run) runError(msg string) {
	for _, e := range r.plan.Errors {
		if e == msg {
			return
		}
	}
	r.plan.Errors = append(r.plan.Errors, msg)
	r.plan.Counts.Errors++
	r.logger.Warn("sync problem", "detail", msg)
}

// action adds an action to the plan, within RunOptions.MaxActionsN.
func (r *run) action(a Action) {
	if r.opts.MaxActionsN < 0 || (r.opts.MaxActionsN > 0 && len(r.plan.Actions) >= r.opts.MaxActionsN) {
		r.plan.ActionsOmitted++
		return
	}
	r.plan.Actions = append(r.plan.Actions, a)
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
