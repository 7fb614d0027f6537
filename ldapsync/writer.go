package ldapsync

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// writer is the state of a run's writer stage. While the read goes on it
// lives in the writer goroutine, which writes the reader's items batch by
// batch; once the read is over the run's goroutine uses it to set managers
// and deactivate users. It owns the run's plan and everything the plan is
// made from; nothing else writes them.
type writer struct {
	*run
	plan      *Plan
	names     nameCache
	created   map[string]string // external id → id of users created this run
	groupSets map[string][2][]string
	managers  []followUp // users whose manager is set after the read
	deacts    []followUp // users to deactivate once the guards allow it
	conflicts []string
	errs      []string
	appliedN  int // items applied, for progress

	blockCause error // the incomplete read's error, for a blocked run
}

func newWriter(r *run, plan *Plan) *writer {
	w := &writer{run: r, plan: plan, created: map[string]string{}}
	w.names = nameCache{ids: map[string]string{}, report: w.runError}
	return w
}

// followUp is the record of the stages after the writer's batches: a user
// whose manager is set once every user exists, or whom the guards must
// allow to deactivate.
type followUp struct {
	id, ext, userName string
	dn                string // the entry's DN; "" for a user the read did not return
	hash              string // Owner.Hash to store with it

	// Managers.
	managerDN string // to resolve to a user
	managerID string // what it resolved to; "" for no manager
	pending   bool   // something else is pending: keep hashPending

	// Deactivations.
	status string // Owner.Synced["status"] to store
	reason string
}

// applyBatch writes one batch in one transaction (rolled back in a dry
// run). Per-user conflicts and refused values are recorded and the batch
// goes on; a store error fails the batch and the run.
func (w *writer) applyBatch(batch []*item) error {
	var acts []Action
	var fixes, deacts []followUp
	var conflicts, errs []string
	created := map[string]string{}
	var counts Counts
	err := w.s.dir.Batch(context.WithoutCancel(w.ctx), w.cfg.Tenant, func(b *pbxusers.Batch) error {
		acts, fixes, deacts, conflicts, errs, counts = nil, nil, nil, nil, nil, Counts{}
		clear(created)
		outs, err := w.applyItems(b, batch, created)
		if err != nil {
			return err
		}
		for i, it := range batch {
			out := outs[i]
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
		if w.dry {
			return errDryRun
		}
		return nil
	})
	if err != nil && !errors.Is(err, errDryRun) {
		return fmt.Errorf("write batch of %d users: %w", len(batch), err)
	}
	c := &w.plan.Counts
	c.Created += counts.Created
	c.Updated += counts.Updated
	c.Reactivated += counts.Reactivated
	c.Unchanged += counts.Unchanged
	c.Conflicts += counts.Conflicts
	c.Errors += len(errs)
	w.conflicts = append(w.conflicts, conflicts...)
	w.errs = append(w.errs, errs...)
	for _, a := range acts {
		w.action(a)
	}
	for _, msg := range conflicts {
		w.logger.Warn("sync conflict", "detail", msg)
	}
	for _, msg := range errs {
		w.logger.Warn("sync user error", "detail", msg)
	}
	if !w.dry { // a dry run's users were rolled back: nothing to point at
		for ext, id := range created {
			w.created[ext] = id
		}
		w.managers = append(w.managers, fixes...)
	}
	w.deacts = append(w.deacts, deacts...)
	w.appliedN += len(batch)
	w.progress(StageApply, w.appliedN, int(w.pendingN.Load()))
	return nil
}

// mapGroups is Config.MapGroups, remembered per set of groups: users share
// a few sets, and mapping normalizes every group DN.
func (w *writer) mapGroups(groups []string) (profiles, teams []string) {
	key := strings.Join(groups, "\n")
	if m, ok := w.groupSets[key]; ok {
		return m[0], m[1]
	}
	profiles, teams = w.cfg.MapGroups(groups)
	if w.groupSets == nil {
		w.groupSets = map[string][2][]string{}
	}
	if len(w.groupSets) < maxGroupSetsN {
		w.groupSets[key] = [2][]string{profiles, teams}
	}
	return profiles, teams
}

// applyItems writes a batch's items in order: each run of entries no user
// has yet with one CreateUsers call, the others one by one. A returned
// error is a store error that fails the batch.
func (w *writer) applyItems(b *pbxusers.Batch, batch []*item, created map[string]string) ([]outcome, error) {
	outs := make([]outcome, len(batch))
	var run []int // indexes of the creates not written yet
	flush := func() error {
		if len(run) == 0 {
			return nil
		}
		its := make([]*item, len(run))
		for j, i := range run {
			its[j] = batch[i]
		}
		res, err := w.createMany(b, its, created)
		if err != nil {
			return err
		}
		for j, i := range run {
			outs[i] = res[j]
		}
		run = run[:0]
		return nil
	}
	for i, it := range batch {
		if len(w.cfg.GroupMappings) > 0 {
			it.profiles, it.teams = w.mapGroups(it.e.Groups)
		}
		if it.owned == nil {
			run = append(run, i)
			continue
		}
		if err := flush(); err != nil {
			return nil, err
		}
		outs[i] = w.update(b, it)
		if w.names.failure != nil {
			return nil, w.names.failure
		}
		if outs[i].storeErr != nil {
			return nil, outs[i].storeErr
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return outs, nil
}

// creation is the state of one entry's create across the attempts the
// library's refusals take: values it refused are left out and the user
// is tried again.
type creation struct {
	it        *item
	skip      map[string]bool
	problems  []string
	attempt   int
	exhausted bool
	user      pbxusers.User // as last tried
	res       outcome       // of the last attempt
}

// build makes the user the entry says, leaving out what skip names.
func (w *writer) build(b *pbxusers.Batch, c *creation) {
	u := pbxusers.User{
		Kind:   pbxusers.KindPerson,
		Status: pbxusers.StatusActive,
		Owner:  pbxusers.Owner{Source: pbxusers.SourceLDAP, ExternalID: c.it.e.ExternalID, Directory: w.cfg.Name},
	}
	c.res = w.applyWant(b, &u, c.it, c.skip)
	u.Owner.Hash = c.it.hash
	if c.res.pending {
		u.Owner.Hash = hashPending
	}
	c.user = u
}

// refused records why the library refused c's user and reports whether to
// build it again without the refused values and retry.
func (w *writer) refused(b *pbxusers.Batch, c *creation, err error) bool {
	if nums, reasons, rest := refusedPhones(err, &c.user); len(nums) > 0 {
		for i, n := range nums {
			c.skip[skipPhone+n] = true
			c.problems = append(c.problems, fmt.Sprintf("phone number %q left out: %s", n, reasons[i]))
		}
		if rest == nil {
			return w.again(b, c)
		}
		err = rest
	}
	if w.classify(err, c.attempt, c.skip, &c.problems, &c.res) {
		return w.again(b, c)
	}
	return false
}

// again starts c's next attempt, unless it was the last.
func (w *writer) again(b *pbxusers.Batch, c *creation) bool {
	c.attempt++
	if c.attempt == maxAttemptsN {
		c.exhausted = true
		return false
	}
	w.build(b, c)
	return true
}

// made is the outcome of c once its user nu exists.
func (w *writer) made(c *creation, nu pbxusers.User, created map[string]string) outcome {
	res, it := c.res, c.it
	res.problems = append(c.problems, res.problems...)
	created[it.e.ExternalID] = nu.ID
	res.act = Action{Op: OpCreate, UserID: nu.ID, ExternalID: it.e.ExternalID, UserName: nu.UserName,
		DN: it.e.DN, Fields: res.fields}
	if res.deferMgr {
		res.fix = &followUp{id: nu.ID, ext: it.e.ExternalID, userName: nu.UserName, managerDN: it.e.ManagerDN,
			hash: it.hash, pending: res.other}
	}
	return res
}

// failed is the outcome of c when its user was not created.
func (c *creation) failed() outcome {
	if c.exhausted {
		return outcome{failure: "the library kept refusing values; see the errors above", problems: c.problems}
	}
	res := c.res
	res.problems = append(c.problems, res.problems...)
	return res
}

// createMany creates the users for entries no user has, in one
// CreateUsers call. A returned error is a store error.
func (w *writer) createMany(b *pbxusers.Batch, its []*item, created map[string]string) ([]outcome, error) {
	cs := make([]creation, len(its))
	users := make([]pbxusers.User, len(its))
	for i, it := range its {
		cs[i] = creation{it: it, skip: map[string]bool{}}
		w.build(b, &cs[i])
		users[i] = cs[i].user
	}
	if w.names.failure != nil {
		return nil, w.names.failure
	}
	nus, errs, err := b.CreateUsers(users, func(i int, err error) (pbxusers.User, bool) {
		if !w.refused(b, &cs[i], err) {
			return pbxusers.User{}, false
		}
		return cs[i].user, true
	})
	if err != nil {
		return nil, err
	}
	if w.names.failure != nil {
		return nil, w.names.failure
	}
	outs := make([]outcome, len(its))
	for i := range cs {
		if errs[i] != nil {
			outs[i] = cs[i].failed()
			if outs[i].storeErr != nil {
				return nil, outs[i].storeErr
			}
			continue
		}
		outs[i] = w.made(&cs[i], nus[i], created)
	}
	return outs, nil
}

// update applies an entry's changes to the user that has its external id.
func (w *writer) update(b *pbxusers.Batch, it *item) outcome {
	skip := map[string]bool{}
	var problems []string
	for attempt := 0; ; attempt++ {
		var res outcome
		var before int64
		nu, err := b.ModifyUser(it.owned.id, func(u *pbxusers.User) error {
			before = u.Version
			synced := u.Owner.Synced
			res = w.applyWant(b, u, it, skip)
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
		if w.classify(err, attempt, skip, &problems, &res) {
			continue
		}
		res.problems = append(problems, res.problems...)
		if res.refused() {
			return res
		}
		act := Action{UserID: nu.ID, ExternalID: it.e.ExternalID, UserName: nu.UserName, DN: it.e.DN, Fields: res.fields}
		switch {
		case res.reactivated:
			act.Op, act.Reason = OpReactivate, "enabled in the directory again"
		case len(res.fields) > 0:
			act.Op = OpUpdate
		}
		if nu.Version != before || act.Op != "" {
			res.act = act
		}
		if res.deferMgr {
			res.fix = &followUp{id: nu.ID, ext: it.e.ExternalID, userName: nu.UserName, managerDN: it.e.ManagerDN,
				hash: it.hash, pending: res.other || res.deferDeact}
		}
		if res.deferDeact {
			h := it.hash
			if res.other || res.deferMgr {
				h = hashPending
			}
			res.deact = &followUp{id: nu.ID, ext: it.e.ExternalID, userName: nu.UserName, dn: it.e.DN,
				hash: h, status: statusDisabled, reason: "disabled in the directory"}
		}
		return res
	}
}

// classify turns a CreateUser or ModifyUser error into out's conflict,
// failure or store error; it returns true when values the library refused
// are to be left out and the write tried again (once).
func (w *writer) classify(err error, attempt int, skip map[string]bool, problems *[]string, out *outcome) (retry bool) {
	if err == nil {
		return false
	}
	var ce *pbxusers.ConflictError
	switch {
	case errors.As(err, &ce) && !errors.Is(err, pbxusers.ErrVersionMismatch):
		out.conflict = ce.Error()
		return false
	case errors.Is(err, pbxusers.ErrInvalid):
		if keys, ok := validationKeys(err, w.fields); ok && attempt < maxAttemptsN-1 {
			for _, k := range keys {
				skip[k] = true
			}
			var ve *pbxusers.ValidationError
			errors.As(err, &ve)
			for _, fe := range ve.Fields {
				*problems = append(*problems, fmt.Sprintf("%s left out: %s", fe.Field, fe.Reason))
			}
			return true
		}
		out.failure = err.Error()
		return false
	case errors.Is(err, pbxusers.ErrNotFound), errors.Is(err, pbxusers.ErrVersionMismatch):
		out.failure = err.Error() // deleted or changed meanwhile: the next run looks again
		return false
	}
	out.storeErr = err
	return false
}

// managerNow resolves a manager DN to a user id from what the run knows:
// DNs read so far and users that exist or were created.
func (w *writer) managerNow(dn string) (string, bool) {
	if w.dns == nil {
		return "", false
	}
	ext, ok := w.dns.get(dn)
	if !ok {
		return "", false
	}
	return w.userIDOf(ext)
}

func (w *writer) userIDOf(ext string) (string, bool) {
	if id, ok := w.created[ext]; ok {
		return id, true
	}
	o, ok, err := w.owned.get(w.ctx, ext, false)
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
func (w *writer) resolveManagers() error {
	extOf := map[string]string{} // lowercased DN → external id, "" if no user entry
	lookups := 0
	var fixes []followUp // the managers resolved
	for _, m := range w.managers {
		key := strings.ToLower(m.managerDN)
		ext, ok := extOf[key]
		if !ok {
			if ext, ok = w.dns.get(m.managerDN); !ok && lookups < maxManagerLookupsN {
				lookups++
				var err error
				ext, _, err = w.client.lookupID(w.ctx, m.managerDN)
				if err != nil {
					return fmt.Errorf("look up manager %q: %w", m.managerDN, err)
				}
			}
			extOf[key] = ext
		}
		f, done := m, false
		if ext == "" {
			done = true // not a user of this directory: no manager to set
		} else if id, ok := w.userIDOf(ext); ok {
			done = true
			if id != m.id { // else the entry names itself: no manager
				f.managerID = id
			}
		}
		if done {
			fixes = append(fixes, f)
		}
	}
	for i := 0; i < len(fixes); i += w.s.opts.BatchN {
		chunk := fixes[i:min(i+w.s.opts.BatchN, len(fixes))]
		err := w.s.dir.Batch(context.WithoutCancel(w.ctx), w.cfg.Tenant, func(b *pbxusers.Batch) error {
			for _, f := range chunk {
				_, err := b.ModifyUser(f.id, func(u *pbxusers.User) error {
					if f.managerID != "" {
						u.ManagerID = f.managerID
					}
					if u.Owner.Synced == nil {
						u.Owner.Synced = map[string]string{}
					}
					u.Owner.Synced[fManager] = f.managerDN
					if !f.pending {
						u.Owner.Hash = f.hash
					}
					return nil
				})
				if err != nil && w.userError(err, f.userName, "set manager") {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		w.progress(StageManagers, i+len(chunk), len(fixes))
		if context.Cause(w.ctx) != nil {
			return context.Cause(w.ctx)
		}
	}
	return nil
}

// deactivate writes the deactivations the guards allowed (in a dry run it
// only lists them).
func (w *writer) deactivate() error {
	deacts := w.deacts
	w.deacts = nil
	for i := 0; i < len(deacts); i += w.s.opts.BatchN {
		chunk := deacts[i:min(i+w.s.opts.BatchN, len(deacts))]
		var done []followUp
		err := w.s.dir.Batch(context.WithoutCancel(w.ctx), w.cfg.Tenant, func(b *pbxusers.Batch) error {
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
					if w.userError(err, d.userName, "deactivate") {
						return err
					}
					continue
				}
				done = append(done, d)
			}
			if w.dry {
				return errDryRun
			}
			return nil
		})
		if err != nil && !errors.Is(err, errDryRun) {
			w.deacts = deacts[i:]
			w.withhold()
			return fmt.Errorf("deactivate users: %w", err)
		}
		for _, d := range done {
			w.action(Action{Op: OpDeactivate, UserID: d.id, ExternalID: d.ext, UserName: d.userName, DN: d.dn, Reason: d.reason})
		}
		w.plan.Counts.Deactivated += len(done)
		w.progress(StageDeactivate, i+len(chunk), len(deacts))
		if cause := context.Cause(w.ctx); cause != nil && i+len(chunk) < len(deacts) {
			w.deacts = deacts[i+len(chunk):]
			w.withhold()
			return cause
		}
	}
	return nil
}

// userError records a per-user failure outside the streamed batches and
// reports whether it is a store error that must fail the batch.
func (w *writer) userError(err error, userName, what string) bool {
	var ce *pbxusers.ConflictError
	if errors.As(err, &ce) || errors.Is(err, pbxusers.ErrInvalid) || errors.Is(err, pbxusers.ErrNotFound) {
		msg := fmt.Sprintf("%s: %s: %v", userName, what, err)
		w.errs = append(w.errs, msg)
		w.plan.Counts.Errors++
		w.logger.Warn("sync user error", "detail", msg)
		return false
	}
	return true
}

// runError records a problem of the run (not of one user), once.
func (w *writer) runError(msg string) {
	for _, e := range w.plan.Errors {
		if e == msg {
			return
		}
	}
	w.plan.Errors = append(w.plan.Errors, msg)
	w.plan.Counts.Errors++
	w.logger.Warn("sync problem", "detail", msg)
}

// action adds an action to the plan, within RunOptions.MaxActionsN.
func (w *writer) action(a Action) {
	if w.opts.MaxActionsN < 0 || (w.opts.MaxActionsN > 0 && len(w.plan.Actions) >= w.opts.MaxActionsN) {
		w.plan.ActionsOmitted++
		return
	}
	w.plan.Actions = append(w.plan.Actions, a)
}

// failed marks the run failed with a message for people.
func (w *writer) failed(err error, msg string) error {
	w.plan.Status, w.plan.Message = pbxusers.SyncFailed, "failed: "+msg+": "+err.Error()
	return err
}

// block marks the run blocked and lists the withheld deactivations.
func (w *writer) block(why string) {
	w.plan.Status, w.plan.Blocked = pbxusers.SyncBlocked, why
	w.withhold()
}

// withhold lists the deactivations that will not happen in the plan.
func (w *writer) withhold() {
	for _, d := range w.deacts {
		w.action(Action{Op: OpDeactivate, UserID: d.id, ExternalID: d.ext, UserName: d.userName, DN: d.dn,
			Reason: d.reason, Withheld: true})
	}
	w.plan.Counts.Withheld += len(w.deacts)
	w.deacts = nil
}
