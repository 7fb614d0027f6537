package pbxusers

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
)

// CreateUsers creates users in the batch with the outcome of calling
// CreateUser for each, one after the other in order: the same validation,
// ownership, references, unique keys (against the tenant's users and the
// earlier rows of the call), change-log entries and welcome mails. It does
// the work per call instead of per user: validation and normalization in
// parallel before the writes, every unique key looked up with one query per
// key, and the users, their change-log entries and mails written with
// multi-row statements.
//
// It returns the users as stored and each row's error, nil for a row that
// was created. A row the library refuses (a *ValidationError, a
// *ConflictError, a missing reference) fails alone; the others are created.
// The third result is a store failure, which fails the whole batch: return
// it from the Batch function.
//
// retry, when not nil, is called on the caller's goroutine with the index
// and error of a refused row; if it returns a user and true, that user is
// tried in the row's place, as a caller would that left out a refused value
// and called CreateUser again. Passwords in User.Password.New are hashed
// here (slow: prefer invite-type users in bulk).
func (b *Batch) CreateUsers(users []User, retry func(i int, err error) (User, bool)) ([]User, []error, error) {
	return b.t.createUsers(b.tenant, users, retry)
}

// bulkRow is one row of createUsers.
type bulkRow struct {
	in   User   // as given (or as retry returned it)
	u    User   // as it will be stored
	hash []byte // of in.Password.New
	err  error
	done bool // written by createUser (auto-assigned or prefix-checked extension)
}

func (t *txn) createUsers(tenant string, in []User, retry func(i int, err error) (User, bool)) ([]User, []error, error) {
	tn, err := t.tenant(tenant)
	if err != nil {
		return nil, nil, err
	}
	rows := make([]bulkRow, len(in))
	for i := range in {
		rows[i].in = in[i]
	}
	return t.createRows(tn, rows, retry)
}

// createRows is createUsers for rows holding their input (and, for rows
// whose password was hashed before, its hash).
func (t *txn) createRows(tn Tenant, rows []bulkRow, retry func(i int, err error) (User, bool)) ([]User, []error, error) {
	for i := range rows {
		rows[i].u.ID = newID() // in row order, so ids sort as the rows do
	}
	t.prepareRows(tn, rows)

	c := &bulkCreate{t: t, tn: tn, taken: map[string]UserKeyHolder{}, holders: map[UserKey]map[string]UserKeyHolder{},
		refs: &refCache{Tx: t.tx}}
	if err := c.lookUp(rows); err != nil {
		return nil, nil, err
	}
	for i := range rows {
		r := &rows[i]
		for {
			if r.err == nil {
				if err := c.accept(r); err != nil && !isRowProblem(err) {
					return nil, nil, err
				} else {
					r.err = err
				}
			}
			if r.err == nil || retry == nil {
				break
			}
			next, ok := retry(i, r.err)
			if !ok {
				break
			}
			r.in, r.err, r.hash = next, nil, nil
			r.u = User{ID: newID()}
			t.prepareRow(tn, r)
			if r.err == nil {
				if err := c.lookUp([]bulkRow{*r}); err != nil {
					return nil, nil, err
				}
			}
		}
		if r.err == nil && !r.done {
			c.pending = append(c.pending, r)
		}
	}
	if err := c.flush(); err != nil {
		return nil, nil, err
	}
	out := make([]User, len(rows))
	errs := make([]error, len(rows))
	for i, r := range rows {
		if r.err != nil {
			errs[i] = r.err
			continue
		}
		out[i] = r.u
	}
	return out, errs, nil
}

// minParallelN is the smallest number of rows worth spreading over
// goroutines.
const minParallelN = 16

// prepareRows runs newUser (and password hashing) for every row, on as
// many goroutines as there are CPUs: it reads nothing from the store.
func (t *txn) prepareRows(tn Tenant, rows []bulkRow) {
	workers := min(runtime.GOMAXPROCS(0), len(rows)/minParallelN)
	if workers <= 1 {
		for i := range rows {
			t.prepareRow(tn, &rows[i])
		}
		return
	}
	var wg sync.WaitGroup
	per := (len(rows) + workers - 1) / workers
	for from := 0; from < len(rows); from += per {
		part := rows[from:min(from+per, len(rows))]
		wg.Go(func() {
			for i := range part {
				t.prepareRow(tn, &part[i])
			}
		})
	}
	wg.Wait()
}

// prepareRow fills r.u from r.in (keeping r.u.ID), or sets r.err.
func (t *txn) prepareRow(tn Tenant, r *bulkRow) {
	id := r.u.ID
	if r.hash == nil {
		if r.hash, r.err = t.d.hashPassword(&r.in); r.err != nil {
			return
		}
	}
	r.u, r.err = t.newUser(tn, r.in, r.hash, id)
}

// bulkCreate is the state of one createUsers call after its rows are
// prepared.
type bulkCreate struct {
	t  *txn
	tn Tenant
	// holders are the tenant's users holding the keys of the rows, as
	// looked up before the call wrote anything: key → value → holder.
	holders map[UserKey]map[string]UserKeyHolder
	// taken are the keys of the rows accepted so far (written or
	// pending): key kind + normalized value → the user.
	taken   map[string]UserKeyHolder
	refs    *refCache
	pending []*bulkRow
}

// keyValues returns the values of u's unique keys that createUser looks
// up, per key.
func (c *bulkCreate) keyValues(u *User, add func(key UserKey, v string)) {
	add(KeyUserName, u.UserName)
	if c.tn.UniqueEmails {
		for _, e := range u.Emails {
			add(KeyEmail, e.Value)
		}
	}
	add(KeyExtension, u.Extension)
	add(KeyStationNumber, u.StationNumber)
	add(KeyExternalID, u.Owner.ExternalID)
}

// lookUp looks up the keys of rows not looked up yet, one query per key.
func (c *bulkCreate) lookUp(rows []bulkRow) error {
	want := map[UserKey][]string{}
	for i := range rows {
		if rows[i].err != nil {
			continue
		}
		c.keyValues(&rows[i].u, func(key UserKey, v string) {
			if v == "" {
				return
			}
			if _, ok := c.holders[key][v]; ok {
				return
			}
			want[key] = append(want[key], v)
		})
	}
	for key, values := range want {
		found, err := c.t.tx.UserKeyHolders(c.t.ctx, c.tn.ID, key, values)
		if err != nil {
			return fmt.Errorf("look up %s of %d users: %w", key, len(values), err)
		}
		m := c.holders[key]
		if m == nil {
			m = map[string]UserKeyHolder{}
			c.holders[key] = m
		}
		for _, v := range values {
			m[v] = found[v] // the zero holder marks a value nobody holds
		}
	}
	return nil
}

// takenKey is the key of taken for a unique key's value, normalized as the
// store compares it.
func takenKey(key UserKey, v string, src Source) string {
	switch key {
	case KeyUserName:
		v = UserNameKey(v)
	case KeyEmail:
		v = strings.ToLower(strings.TrimSpace(v))
	case KeyExternalID:
		v = string(src) + "\x00" + v
	}
	return string(key) + "\x00" + v
}

// accept checks a prepared row as createUser would and marks it pending,
// or writes it with createUser where its extension needs the store's
// current state (auto-assigned, or prefix-free).
func (c *bulkCreate) accept(r *bulkRow) error {
	t, u := c.t, &r.u
	if (u.Extension == "" && c.tn.Extensions.AutoAssign) || (c.tn.Extensions.PrefixFree && u.Extension != "") {
		if err := c.flush(); err != nil {
			return err
		}
		nu, err := t.createUser(c.tn.ID, r.in, r.hash)
		if err != nil {
			return err
		}
		r.u, r.done = nu, true
		c.take(u)
		return nil
	}
	sub := *t
	sub.tx = c.refs
	if err := sub.checkUserRefs(c.tn.ID, u, nil); err != nil {
		return err
	}
	if err := c.checkUnique(u); err != nil {
		return err
	}
	c.take(u)
	return nil
}

func (c *bulkCreate) take(u *User) {
	c.keyValues(u, func(key UserKey, v string) {
		if v != "" {
			c.taken[takenKey(key, v, u.Owner.Source)] = UserKeyHolder{ID: u.ID, UserName: u.UserName, Source: u.Owner.Source}
		}
	})
}

// checkUnique is checkUserUnique for a new user against the holders looked
// up and the rows accepted before it.
func (c *bulkCreate) checkUnique(u *User) error {
	src := c.t.actor.Source
	check := func(key UserKey, field, value string) error {
		if value == "" {
			return nil
		}
		h, ok := c.holders[key][value]
		if !ok {
			// A value not looked up (a row retry changed): ask the store.
			if err := c.lookUp([]bulkRow{{u: User{UserName: pick(key, KeyUserName, value), Extension: pick(key, KeyExtension, value),
				StationNumber: pick(key, KeyStationNumber, value), Emails: emailsOf(key, value),
				Owner: Owner{ExternalID: pick(key, KeyExternalID, value)}}}}); err != nil {
				return err
			}
			h = c.holders[key][value]
		}
		if h.ID == "" {
			h = c.taken[takenKey(key, value, u.Owner.Source)]
		}
		if h.ID == "" || (key == KeyExternalID && h.Source != u.Owner.Source) {
			return nil
		}
		ce := &ConflictError{Kind: "user", Field: field, Value: value, ExistingID: h.ID}
		if key != KeyExternalID && h.Source != src {
			ce.Reason = fmt.Sprintf("already used by user %q owned by source %s", h.UserName, h.Source)
		}
		return ce
	}
	if err := check(KeyUserName, "userName", u.UserName); err != nil {
		return err
	}
	if c.tn.UniqueEmails {
		for _, e := range u.Emails {
			if err := check(KeyEmail, "email", e.Value); err != nil {
				return err
			}
		}
	}
	if err := check(KeyExtension, "extension", u.Extension); err != nil {
		return err
	}
	if err := check(KeyStationNumber, "stationNumber", u.StationNumber); err != nil {
		return err
	}
	return check(KeyExternalID, "externalId", u.Owner.ExternalID)
}

func pick(key, want UserKey, v string) string {
	if key == want {
		return v
	}
	return ""
}

func emailsOf(key UserKey, v string) []Email {
	if key == KeyEmail {
		return []Email{{Value: v}}
	}
	return nil
}

// flush writes the pending rows: the users, their password hashes, their
// change-log entries, welcome mails, and the users waiting for them as
// their manager, as createUser does for one.
func (c *bulkCreate) flush() error {
	rows := c.pending
	c.pending = nil
	if len(rows) == 0 {
		return nil
	}
	t := c.t
	users := make([]*User, len(rows))
	changes := make([]Change, len(rows))
	for i, r := range rows {
		r.u.Password.New = ""
		users[i] = &r.u
	}
	// The field diffs read only the users: on every CPU, like prepareRows.
	diff := func(from, to int) {
		for i := from; i < to; i++ {
			u := users[i]
			changes[i] = Change{TenantID: c.tn.ID, Entity: EntityUser, EntityID: u.ID, Action: ActionCreate,
				Summary: u.UserName, Fields: Diff(nil, *u), Version: u.Version}
		}
	}
	if workers := min(runtime.GOMAXPROCS(0), len(rows)/minParallelN); workers > 1 {
		var wg sync.WaitGroup
		per := (len(rows) + workers - 1) / workers
		for from := 0; from < len(rows); from += per {
			wg.Go(func() { diff(from, min(from+per, len(rows))) })
		}
		wg.Wait()
	} else {
		diff(0, len(rows))
	}
	if err := t.tx.CreateUsers(t.ctx, users); err != nil {
		return err
	}
	for _, r := range rows {
		if r.hash != nil {
			if err := t.tx.SetPasswordHash(t.ctx, c.tn.ID, r.u.ID, r.hash); err != nil {
				return err
			}
		}
	}
	cs := make([]*Change, len(changes))
	for i := range changes {
		t.stamp(&changes[i])
		cs[i] = &changes[i]
	}
	if err := t.tx.AppendChanges(t.ctx, cs); err != nil {
		return fmt.Errorf("append change log: %w", err)
	}
	t.changes = append(t.changes, changes...)
	var mails []*OutboxMessage
	for _, u := range users {
		if !t.noWelcome && welcomeDue(c.tn, u) {
			mails = append(mails, &OutboxMessage{TenantID: c.tn.ID, UserID: u.ID, Kind: MailWelcome, To: u.PrimaryEmail(),
				Status: MailPending, NextAttempt: t.now, Created: t.now, Updated: t.now})
		}
	}
	if len(mails) > 0 {
		if err := t.tx.EnqueueMails(t.ctx, mails); err != nil {
			return fmt.Errorf("queue %s mail: %w", MailWelcome, err)
		}
		t.mailQueued += len(mails)
	}
	return c.resolveManagerRefs(users)
}

// resolveManagerRefs is txn.resolveManagerRefs for new users, with one
// query for all of them.
func (c *bulkCreate) resolveManagerRefs(users []*User) error {
	t := c.t
	var refs []string
	owner := map[string]string{} // ref → the new user it names
	for _, u := range users {
		if u.Kind != KindPerson {
			continue
		}
		for _, ref := range []string{u.Owner.ExternalID, u.ID} {
			if ref != "" {
				if _, ok := owner[ref]; !ok {
					refs = append(refs, ref)
					owner[ref] = u.ID
				}
			}
		}
	}
	waiting, err := t.tx.AwaitingManagers(t.ctx, c.tn.ID, refs)
	if err != nil {
		return fmt.Errorf("find users waiting for a manager: %w", err)
	}
	for _, ref := range refs { // in the order createUser would resolve them
		for _, id := range waiting[ref] {
			if id == owner[ref] {
				continue
			}
			if err := t.rewriteUser(c.tn.ID, id, func(w *User) {
				if w.ManagerRef == ref && w.ManagerID == "" {
					w.ManagerID, w.ManagerRef = owner[ref], ""
				}
			}); err != nil {
				return err
			}
		}
	}
	return nil
}

// refCache answers the reads of checkUserRefs from what it read before in
// the same call: a batch's users share a few profiles and teams.
type refCache struct {
	Tx
	profiles, teams, frames map[string]error
	users                   map[string]refUser
}

type refUser struct {
	u   User
	err error
}

func (r *refCache) GetProfile(ctx context.Context, tenant, id string) (Profile, error) {
	if err, ok := r.profiles[id]; ok {
		return Profile{ID: id}, err
	}
	_, err := r.Tx.GetProfile(ctx, tenant, id)
	if err == nil || isNotFound(err) {
		if r.profiles == nil {
			r.profiles = map[string]error{}
		}
		r.profiles[id] = err
	}
	return Profile{ID: id}, err
}

func (r *refCache) GetTeam(ctx context.Context, tenant, id string) (Team, error) {
	if err, ok := r.teams[id]; ok {
		return Team{ID: id}, err
	}
	_, err := r.Tx.GetTeam(ctx, tenant, id)
	if err == nil || isNotFound(err) {
		if r.teams == nil {
			r.teams = map[string]error{}
		}
		r.teams[id] = err
	}
	return Team{ID: id}, err
}

func (r *refCache) GetTimeFrame(ctx context.Context, tenant, id string) (StoredTimeFrame, error) {
	if err, ok := r.frames[id]; ok {
		return StoredTimeFrame{}, err
	}
	tf, err := r.Tx.GetTimeFrame(ctx, tenant, id)
	if err == nil || isNotFound(err) {
		if r.frames == nil {
			r.frames = map[string]error{}
		}
		r.frames[id] = err
	}
	return tf, err
}

func (r *refCache) GetUser(ctx context.Context, tenant, id string) (User, error) {
	if c, ok := r.users[id]; ok {
		return c.u, c.err
	}
	u, err := r.Tx.GetUser(ctx, tenant, id)
	if err == nil || isNotFound(err) {
		if r.users == nil {
			r.users = map[string]refUser{}
		}
		r.users[id] = refUser{u: User{ID: u.ID, Kind: u.Kind}, err: err}
	}
	return u, err
}
