package storecopy

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// Records: what the reader hands out and the hasher hashes. Each is an
// object as the store returns it, plus what its JSON leaves out.

// teamRecord is a team with its member ids (sorted).
type teamRecord struct {
	Team    pbxusers.Team `json:"team"`
	Members []string      `json:"members"`
}

// userRecord is a user with its password hash. User.Teams is sorted: it is
// a set, and backends list it in their own order.
type userRecord struct {
	User         pbxusers.User `json:"user"`
	PasswordHash []byte        `json:"passwordHash,omitempty"`
}

// tokenRecord is an API token with its hash.
type tokenRecord struct {
	Token pbxusers.APIToken `json:"token"`
	Hash  []byte            `json:"hash"`
}

// webhookRecord is a webhook with its signing secret (which the JSON of
// pbxusers.Webhook leaves out). The worker lease is cleared: it is not
// copied.
type webhookRecord struct {
	Webhook pbxusers.Webhook `json:"webhook"`
	Secret  string           `json:"secret"`
}

// mailRecord is an outbox message with its delivery attempts. The worker
// lease (ClaimedBy, ClaimedUntil) is cleared: it is not copied.
type mailRecord struct {
	Message  pbxusers.OutboxMessage `json:"message"`
	Attempts []pbxusers.MailAttempt `json:"attempts"`
}

// visitor receives the objects of a store, kind by kind in copy order, in
// batches. usersDone is called once every tenant's users were visited.
type visitor interface {
	tenants([]pbxusers.Tenant) error
	profiles([]pbxusers.Profile) error
	timeFrames([]pbxusers.StoredTimeFrame) error
	teams([]teamRecord) error
	users([]userRecord) error
	usersDone() error
	devices([]pbxusers.Device) error
	numbers([]pbxusers.Number) error
	tokens([]tokenRecord) error
	webhooks([]webhookRecord) error
	changes([]pbxusers.Change) error
	mail([]mailRecord) error
	syncRuns([]pbxusers.SyncRun) error
	syncState([]pbxusers.SyncState) error
}

// reader enumerates a store through one Tx in a stable order.
type reader struct {
	ctx     context.Context
	tx      pbxusers.Tx
	opts    Options
	phase   string
	pageN   int
	tenants []pbxusers.Tenant

	claimed int                // pending messages with a live worker claim
	dirs    map[Directory]bool // directories whose sync state was looked up
	states  int
}

func newReader(ctx context.Context, tx pbxusers.Tx, opts Options) (*reader, error) {
	tns, err := tx.ListTenants(ctx)
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	sort.Slice(tns, func(i, j int) bool { return tns[i].ID < tns[j].ID })
	return &reader{ctx: ctx, tx: tx, opts: opts, phase: "copy", pageN: min(max(opts.BatchN, 1), pbxusers.MaxPageSize),
		tenants: tns, dirs: map[Directory]bool{}}, nil
}

func (r *reader) progress(k Kind, done, total int) {
	if r.opts.Progress != nil {
		r.opts.Progress(Progress{Phase: r.phase, Kind: k, Done: done, Total: total})
	}
}

// emit hashes a batch and hands it to v (when there is one).
func emit[T any](r *reader, h *hasher, k Kind, batch []T, done *int, total int, visit func([]T) error) error {
	if len(batch) == 0 {
		return nil
	}
	if err := add(h, k, batch); err != nil {
		return err
	}
	if visit != nil {
		if err := visit(batch); err != nil {
			return err
		}
	}
	*done += len(batch)
	r.progress(k, *done, total)
	return nil
}

// chunks hands out a slice in batches of n.
func chunks[T any](r *reader, h *hasher, k Kind, all []T, done *int, total int, visit func([]T) error) error {
	for len(all) > 0 {
		n := min(len(all), r.pageN)
		if err := emit(r, h, k, all[:n], done, total, visit); err != nil {
			return err
		}
		all = all[n:]
	}
	return nil
}

// each reads every kind in copy order, hashing each object into h and
// handing batches to v (nil: only hash).
func (r *reader) each(h *hasher, v visitor) error {
	steps := []func() error{
		func() error {
			var done int
			return chunks(r, h, KindTenants, r.tenants, &done, len(r.tenants), fn(v, visitor.tenants))
		},
		func() error { return r.eachProfiles(h, fn(v, visitor.profiles)) },
		func() error { return r.eachTimeFrames(h, fn(v, visitor.timeFrames)) },
		func() error { return r.eachTeams(h, fn(v, visitor.teams)) },
		func() error {
			if err := r.eachUsers(h, fn(v, visitor.users)); err != nil {
				return err
			}
			if v != nil {
				return v.usersDone()
			}
			return nil
		},
		func() error { return r.eachDevices(h, fn(v, visitor.devices)) },
		func() error { return r.eachNumbers(h, fn(v, visitor.numbers)) },
		func() error { return r.eachTokens(h, fn(v, visitor.tokens)) },
		func() error { return r.eachWebhooks(h, fn(v, visitor.webhooks)) },
		func() error { return r.eachChanges(h, fn(v, visitor.changes)) },
		func() error { return r.eachMail(h, fn(v, visitor.mail)) },
		func() error {
			runs, err := r.eachSyncRuns(h, fn(v, visitor.syncRuns))
			if err != nil {
				return err
			}
			return r.eachSyncState(h, runs, fn(v, visitor.syncState))
		},
	}
	for _, step := range steps {
		if err := r.ctx.Err(); err != nil {
			return err
		}
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// fn binds a visitor method, or returns nil without a visitor.
func fn[T any](v visitor, m func(visitor, []T) error) func([]T) error {
	if v == nil {
		return nil
	}
	return func(b []T) error { return m(v, b) }
}

func (r *reader) eachProfiles(h *hasher, visit func([]pbxusers.Profile) error) error {
	var done int
	for _, tn := range r.tenants {
		ps, err := r.tx.ListProfiles(r.ctx, tn.ID)
		if err != nil {
			return fmt.Errorf("list profiles of %q: %w", tn.ID, err)
		}
		sort.Slice(ps, func(i, j int) bool { return ps[i].ID < ps[j].ID })
		if err := chunks(r, h, KindProfiles, ps, &done, 0, visit); err != nil {
			return err
		}
	}
	return nil
}

func (r *reader) eachTimeFrames(h *hasher, visit func([]pbxusers.StoredTimeFrame) error) error {
	var done int
	for _, tn := range r.tenants {
		tfs, err := r.tx.ListTimeFrames(r.ctx, tn.ID)
		if err != nil {
			return fmt.Errorf("list time frames of %q: %w", tn.ID, err)
		}
		sort.Slice(tfs, func(i, j int) bool { return tfs[i].ID < tfs[j].ID })
		if err := chunks(r, h, KindTimeFrames, tfs, &done, 0, visit); err != nil {
			return err
		}
	}
	return nil
}

// afterID is the keyset filter of the page after the id.
func afterID(id string) pbxusers.Filter {
	if id == "" {
		return nil
	}
	return &pbxusers.Compare{Attr: pbxusers.AttrID, Op: pbxusers.OpGt, Value: id}
}

// nextCursor checks that a page moved past the cursor (a store that ignored
// the filter would otherwise page forever) and returns its last id.
func nextCursor(k Kind, tenant, after string, ids []string) (string, error) {
	last := ids[len(ids)-1]
	if after != "" && ids[0] <= after || !sort.StringsAreSorted(ids) {
		return "", fmt.Errorf("list %s of %q: the store returned ids out of order after %q", k, tenant, after)
	}
	return last, nil
}

func (r *reader) eachTeams(h *hasher, visit func([]teamRecord) error) error {
	var done int
	for _, tn := range r.tenants {
		after := ""
		for {
			page, err := r.tx.ListTeams(r.ctx, tn.ID, pbxusers.TeamQuery{Filter: afterID(after), SortBy: pbxusers.AttrID, Limit: r.pageN})
			if err != nil {
				return fmt.Errorf("list teams of %q: %w", tn.ID, err)
			}
			if len(page.Teams) == 0 {
				break
			}
			batch := make([]teamRecord, len(page.Teams))
			ids := make([]string, len(page.Teams))
			for i, tm := range page.Teams {
				members, err := r.members(tn.ID, tm.ID)
				if err != nil {
					return err
				}
				batch[i], ids[i] = teamRecord{Team: tm, Members: members}, tm.ID
			}
			if after, err = nextCursor(KindTeams, tn.ID, after, ids); err != nil {
				return err
			}
			if err := emit(r, h, KindTeams, batch, &done, 0, visit); err != nil {
				return err
			}
		}
	}
	return nil
}

// members returns a team's member ids, sorted.
func (r *reader) members(tenant, team string) ([]string, error) {
	var out []string
	for offset := 0; ; offset += pbxusers.MaxPageSize {
		ids, total, err := r.tx.ListTeamMembers(r.ctx, tenant, team, offset, pbxusers.MaxPageSize)
		if err != nil {
			return nil, fmt.Errorf("list members of team %s: %w", team, err)
		}
		out = append(out, ids...)
		if len(ids) == 0 || offset+len(ids) >= total {
			break
		}
	}
	slices.Sort(out)
	return out, nil
}

func (r *reader) eachUsers(h *hasher, visit func([]userRecord) error) error {
	total := 0
	for _, tn := range r.tenants {
		p, err := r.tx.ListUsers(r.ctx, tn.ID, pbxusers.UserQuery{IncludeSystem: true, Limit: -1})
		if err != nil {
			return fmt.Errorf("count users of %q: %w", tn.ID, err)
		}
		total += p.Total
	}
	var done int
	for _, tn := range r.tenants {
		after := ""
		for {
			page, err := r.tx.ListUsers(r.ctx, tn.ID, pbxusers.UserQuery{Filter: afterID(after), IncludeSystem: true,
				SortBy: pbxusers.AttrID, Limit: r.pageN})
			if err != nil {
				return fmt.Errorf("list users of %q: %w", tn.ID, err)
			}
			if len(page.Users) == 0 {
				break
			}
			batch := make([]userRecord, len(page.Users))
			ids := make([]string, len(page.Users))
			for i, u := range page.Users {
				hash, err := r.tx.GetPasswordHash(r.ctx, tn.ID, u.ID)
				if err != nil {
					return fmt.Errorf("read password hash of user %s: %w", u.ID, err)
				}
				if len(hash) == 0 {
					hash = nil
				}
				u.Teams = slices.Sorted(slices.Values(u.Teams))
				if len(u.Teams) == 0 {
					u.Teams = nil
				}
				batch[i], ids[i] = userRecord{User: u, PasswordHash: hash}, u.ID
			}
			if after, err = nextCursor(KindUsers, tn.ID, after, ids); err != nil {
				return err
			}
			if err := emit(r, h, KindUsers, batch, &done, total, visit); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *reader) eachDevices(h *hasher, visit func([]pbxusers.Device) error) error {
	var done int
	for _, tn := range r.tenants {
		ds, err := r.tx.ListDevices(r.ctx, tn.ID, "")
		if err != nil {
			return fmt.Errorf("list devices of %q: %w", tn.ID, err)
		}
		sort.Slice(ds, func(i, j int) bool { return ds[i].ID < ds[j].ID })
		if err := chunks(r, h, KindDevices, ds, &done, 0, visit); err != nil {
			return err
		}
	}
	return nil
}

func (r *reader) eachNumbers(h *hasher, visit func([]pbxusers.Number) error) error {
	var done int
	for _, tn := range r.tenants {
		ns, err := r.tx.ListNumbers(r.ctx, tn.ID, "")
		if err != nil {
			return fmt.Errorf("list numbers of %q: %w", tn.ID, err)
		}
		sort.Slice(ns, func(i, j int) bool { return ns[i].E164 < ns[j].E164 })
		if err := chunks(r, h, KindNumbers, ns, &done, 0, visit); err != nil {
			return err
		}
	}
	return nil
}

func (r *reader) eachTokens(h *hasher, visit func([]tokenRecord) error) error {
	var done int
	for _, tn := range r.tenants {
		ts, err := r.tx.ListTokens(r.ctx, tn.ID)
		if err != nil {
			return fmt.Errorf("list tokens of %q: %w", tn.ID, err)
		}
		sort.Slice(ts, func(i, j int) bool { return ts[i].ID < ts[j].ID })
		recs := make([]tokenRecord, len(ts))
		for i, t := range ts {
			recs[i] = tokenRecord{Token: t, Hash: t.Hash}
		}
		if err := chunks(r, h, KindTokens, recs, &done, 0, visit); err != nil {
			return err
		}
	}
	return nil
}

func (r *reader) eachWebhooks(h *hasher, visit func([]webhookRecord) error) error {
	var done int
	for _, tn := range r.tenants {
		ws, err := r.tx.ListWebhooks(r.ctx, tn.ID)
		if err != nil {
			return fmt.Errorf("list webhooks of %q: %w", tn.ID, err)
		}
		sort.Slice(ws, func(i, j int) bool { return ws[i].ID < ws[j].ID })
		recs := make([]webhookRecord, len(ws))
		for i, w := range ws {
			w.ClaimedBy, w.ClaimedUntil = "", time.Time{}
			recs[i] = webhookRecord{Webhook: w, Secret: w.Secret}
		}
		if err := chunks(r, h, KindWebhooks, recs, &done, 0, visit); err != nil {
			return err
		}
	}
	return nil
}

// eachChanges reads every tenant's change log and merges them by seq, the
// order the store assigned them in (seqs are global).
func (r *reader) eachChanges(h *hasher, visit func([]pbxusers.Change) error) error {
	type cursor struct {
		tenant string
		buf    []pbxusers.Change
		after  int64
		done   bool
	}
	curs := make([]*cursor, len(r.tenants))
	for i, tn := range r.tenants {
		curs[i] = &cursor{tenant: tn.ID}
	}
	fill := func(c *cursor) error {
		if len(c.buf) > 0 || c.done {
			return nil
		}
		cs, err := r.tx.ListChanges(r.ctx, c.tenant, pbxusers.ChangeQuery{AfterSeq: c.after, Limit: pbxusers.MaxPageSize})
		if err != nil {
			return fmt.Errorf("list changes of %q: %w", c.tenant, err)
		}
		if len(cs) == 0 {
			c.done = true
			return nil
		}
		for i, ch := range cs {
			if ch.Seq <= c.after || i > 0 && ch.Seq <= cs[i-1].Seq {
				return fmt.Errorf("list changes of %q: seqs out of order after %d", c.tenant, c.after)
			}
		}
		c.buf, c.after = cs, cs[len(cs)-1].Seq
		return nil
	}
	var done int
	batch := make([]pbxusers.Change, 0, r.pageN)
	for {
		var next *cursor
		for _, c := range curs {
			if err := fill(c); err != nil {
				return err
			}
			if len(c.buf) > 0 && (next == nil || c.buf[0].Seq < next.buf[0].Seq) {
				next = c
			}
		}
		if next == nil {
			break
		}
		batch = append(batch, next.buf[0])
		next.buf = next.buf[1:]
		if len(batch) == r.pageN {
			if err := emit(r, h, KindChanges, batch, &done, 0, visit); err != nil {
				return err
			}
			batch = make([]pbxusers.Change, 0, r.pageN)
		}
	}
	return emit(r, h, KindChanges, batch, &done, 0, visit)
}

// eachMail reads every tenant's outbox. ListMail pages only by a limit,
// newest first, so each tenant's outbox is asked for whole; CountMail then
// checks that nothing was left out, and if something was (a store capping
// the limit), the missing ids are looked up one by one.
func (r *reader) eachMail(h *hasher, visit func([]mailRecord) error) error {
	counts, err := r.tx.CountMail(r.ctx)
	if err != nil {
		return fmt.Errorf("count mail: %w", err)
	}
	want := 0
	for _, n := range counts {
		want += n
	}
	var all []pbxusers.OutboxMessage
	seen := map[int64]bool{}
	var maxID int64
	for _, tn := range r.tenants {
		ms, err := r.tx.ListMail(r.ctx, tn.ID, pbxusers.MailQuery{Limit: math.MaxInt32})
		if err != nil {
			return fmt.Errorf("list mail of %q: %w", tn.ID, err)
		}
		for _, m := range ms {
			if !seen[m.ID] {
				seen[m.ID] = true
				all = append(all, m)
				maxID = max(maxID, m.ID)
			}
		}
	}
	if len(all) < want {
		// Look the missing ids up. Bounded: every id up to the largest
		// seen, once per tenant.
		for id := int64(1); id <= maxID && len(all) < want; id++ {
			if seen[id] {
				continue
			}
			for _, tn := range r.tenants {
				m, err := r.tx.GetMail(r.ctx, tn.ID, id)
				if errors.Is(err, pbxusers.ErrNotFound) {
					continue
				}
				if err != nil {
					return fmt.Errorf("get mail %d: %w", id, err)
				}
				seen[id] = true
				all = append(all, m)
				break
			}
		}
	}
	if len(all) != want {
		return fmt.Errorf("read the outbox: found %d of the %d messages CountMail reports", len(all), want)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].ID < all[j].ID })
	var done int
	for len(all) > 0 {
		n := min(len(all), r.pageN)
		batch := make([]mailRecord, n)
		for i, m := range all[:n] {
			as, err := r.tx.ListMailAttempts(r.ctx, m.ID)
			if err != nil {
				return fmt.Errorf("list attempts of mail %d: %w", m.ID, err)
			}
			if m.ClaimedBy != "" || !m.ClaimedUntil.IsZero() {
				if m.Status == pbxusers.MailPending {
					r.claimed++
				}
				m.ClaimedBy, m.ClaimedUntil = "", time.Time{}
			}
			batch[i] = mailRecord{Message: m, Attempts: as}
		}
		if err := emit(r, h, KindMail, batch, &done, want, visit); err != nil {
			return err
		}
		all = all[n:]
	}
	return nil
}

// eachSyncRuns reads every tenant's sync history, oldest first, and returns
// the directories it names.
func (r *reader) eachSyncRuns(h *hasher, visit func([]pbxusers.SyncRun) error) ([]Directory, error) {
	var all []pbxusers.SyncRun
	dirs := map[Directory]bool{}
	for _, tn := range r.tenants {
		runs, err := r.tx.ListSyncRuns(r.ctx, tn.ID, "", math.MaxInt32)
		if err != nil {
			return nil, fmt.Errorf("list sync runs of %q: %w", tn.ID, err)
		}
		for _, run := range runs {
			if run.TenantID != tn.ID {
				continue // a store that treats the tenant as optional
			}
			all = append(all, run)
			dirs[Directory{Tenant: run.TenantID, Name: run.Directory}] = true
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].ID < all[j].ID })
	var done int
	if err := chunks(r, h, KindSyncRuns, all, &done, len(all), visit); err != nil {
		return nil, err
	}
	out := make([]Directory, 0, len(dirs))
	for d := range dirs {
		out = append(out, d)
	}
	return out, nil
}

// eachSyncState reads the sync state of the directories the history and
// Options.Directories name.
func (r *reader) eachSyncState(h *hasher, fromRuns []Directory, visit func([]pbxusers.SyncState) error) error {
	for _, d := range append(fromRuns, r.opts.Directories...) {
		r.dirs[d] = true
	}
	dirs := make([]Directory, 0, len(r.dirs))
	for d := range r.dirs {
		dirs = append(dirs, d)
	}
	sort.Slice(dirs, func(i, j int) bool {
		if dirs[i].Tenant != dirs[j].Tenant {
			return dirs[i].Tenant < dirs[j].Tenant
		}
		return dirs[i].Name < dirs[j].Name
	})
	var states []pbxusers.SyncState
	for _, d := range dirs {
		st, err := r.tx.GetSyncState(r.ctx, d.Tenant, d.Name)
		if errors.Is(err, pbxusers.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("get sync state of %s/%s: %w", d.Tenant, d.Name, err)
		}
		states = append(states, st)
	}
	r.states = len(states)
	var done int
	return chunks(r, h, KindSyncState, states, &done, len(states), visit)
}

// skipped says what a copy of what this reader read leaves behind.
func (r *reader) skipped() []string {
	out := []string{
		"set-password links (setup tokens): a store finds them by id only, so they cannot be listed; " +
			"links already mailed and not yet used stop working on the target (send new ones)",
		"leases (the LDAP sync locks): they belong to running processes; the target starts with none",
	}
	if r.claimed > 0 {
		out = append(out, fmt.Sprintf("the mail worker's claim on %d pending message(s) (claimedBy/claimedUntil, "+
			"left out of the mail checksum): the target's worker sends them when due", r.claimed))
	}
	names := make([]string, 0, len(r.dirs))
	for d := range r.dirs {
		names = append(names, d.Tenant+"/"+d.Name)
	}
	sort.Strings(names)
	list := "none"
	if len(names) > 0 {
		list = strings.Join(names, ", ")
	}
	out = append(out, fmt.Sprintf("sync state of directories neither the sync history nor the configuration names "+
		"(a state is found by directory name only); looked up: %s; found %d", list, r.states))
	return out
}
