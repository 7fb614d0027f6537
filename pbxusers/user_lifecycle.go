package pbxusers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// CreateUser creates a user in a tenant and returns it as stored. The
// library assigns ID, Version and the timestamps. Unless the actor is
// manual, the user is owned by the actor's source. A person created without
// a password is invite-type. It fails with a *ValidationError for bad input
// and a *ConflictError when userName, the extension, the station number,
// the external id or (with Tenant.UniqueEmails) an email is taken.
func (d *Directory) CreateUser(ctx context.Context, tenant string, u User) (User, error) {
	hash, err := d.hashPassword(&u)
	if err != nil {
		return User{}, err
	}
	var out User
	err = d.update(ctx, func(t *txn) error {
		var err error
		out, err = t.createUser(tenant, u, hash)
		return err
	})
	return out, err
}

func (t *txn) createUser(tenant string, in User, hash []byte) (User, error) {
	tn, err := t.tenant(tenant)
	if err != nil {
		return User{}, err
	}
	u, err := t.newUser(tn, in, hash, newID())
	if err != nil {
		return User{}, err
	}
	if u.Extension == "" && tn.Extensions.AutoAssign {
		ext, err := t.nextExtension(tn, u.Kind)
		if err != nil {
			return User{}, err
		}
		u.Extension = ext
	}
	if err := t.checkUserRefs(tenant, &u, nil); err != nil {
		return User{}, err
	}
	if err := t.checkUserUnique(tn, &u, nil); err != nil {
		return User{}, err
	}
	u.Password.New = ""
	if err := t.tx.CreateUser(t.ctx, &u); err != nil {
		return User{}, err
	}
	if hash != nil {
		if err := t.tx.SetPasswordHash(t.ctx, tenant, u.ID, hash); err != nil {
			return User{}, err
		}
	}
	if err := t.record(Change{TenantID: tenant, Entity: EntityUser, EntityID: u.ID, Action: ActionCreate,
		Summary: u.UserName, Fields: Diff(nil, u), Version: u.Version}); err != nil {
		return User{}, err
	}
	if err := t.userCreated(tn, &u); err != nil {
		return User{}, err
	}
	if err := t.resolveManagerRefs(tenant, &u, nil); err != nil {
		return User{}, err
	}
	return u, nil
}

// newUser is the part of a create that reads nothing from the store: the
// library's fields, ownership and normalization. It is safe to run from
// several goroutines at once (CreateUsers does).
func (t *txn) newUser(tn Tenant, in User, hash []byte, id string) (User, error) {
	u := in.Clone()
	u.ID = id
	u.TenantID = tn.ID
	u.Version = 1
	u.Created, u.Updated = t.now, t.now
	u.DeactivatedBy = ""
	if t.actor.Source != SourceManual || u.Owner.Source == "" {
		if u.Owner.Source != "" && u.Owner.Source != t.actor.Source {
			return User{}, Invalid("owner.source", "a %s client cannot create a user owned by %s", t.actor.Source, u.Owner.Source)
		}
		u.Owner.Source = t.actor.Source
	}
	u.Password.IsSet, u.Password.SetAt = false, nil
	if hash != nil {
		now := t.now
		u.Password.IsSet, u.Password.SetAt = true, &now
	}
	if err := u.normalize(tn.Region, tn.Extensions); err != nil {
		return User{}, err
	}
	if u.Status == StatusInactive {
		u.DeactivatedBy = t.actor.Source
	}
	return u, nil
}

// resolveManagerRefs makes u the manager of every user who was waiting for
// it (User.ManagerRef naming its externalId), when u is new or has a new
// externalId, and records each rewrite. A new user's id needs no look-up:
// it was made just now, so no one can have named it before.
func (t *txn) resolveManagerRefs(tenant string, u, old *User) error {
	if u.Kind != KindPerson {
		return nil
	}
	if old != nil && old.Owner.ExternalID == u.Owner.ExternalID {
		return nil
	}
	for _, ref := range []string{u.Owner.ExternalID} {
		if ref == "" {
			continue
		}
		ids, err := t.tx.AwaitingManager(t.ctx, tenant, ref)
		if err != nil {
			return fmt.Errorf("find users waiting for manager %q: %w", ref, err)
		}
		for _, id := range ids {
			if id == u.ID {
				continue
			}
			if err := t.rewriteUser(tenant, id, func(w *User) {
				if w.ManagerRef == ref && w.ManagerID == "" {
					w.ManagerID, w.ManagerRef = u.ID, ""
				}
			}); err != nil {
				return err
			}
		}
	}
	return nil
}

func (t *txn) nextExtension(tn Tenant, k UserKind) (string, error) {
	r := tn.Extensions.rangeFor(k)
	if r.Empty() {
		return "", Invalid("extension", "tenant %q has no extension range for %s users", tn.ID, k)
	}
	from := r.From
	for i := 0; i < 64; i++ { // skip reserved and prefix-colliding numbers, bounded
		ext, err := t.tx.NextFreeExtension(t.ctx, tn.ID, Range{From: from, To: r.To})
		if err != nil {
			return "", fmt.Errorf("allocate extension: %w", err)
		}
		if ext == "" {
			break
		}
		if tn.Extensions.check(ext) == "" {
			if !tn.Extensions.PrefixFree {
				return ext, nil
			}
			if other, err := t.prefixCollision(tn.ID, ext, ""); err != nil {
				return "", err
			} else if other == "" {
				return ext, nil
			}
		}
		if from = nextInRange(ext, r); from == "" {
			break
		}
	}
	return "", &ConflictError{Kind: "extension range", Field: "extension", Value: r.From + "-" + r.To, Reason: "no free extension left in the range"}
}

// NextExtension returns the lowest free extension of the tenant's range for
// a kind of user, without reserving it.
func (d *Directory) NextExtension(ctx context.Context, tenant string, kind UserKind) (string, error) {
	var ext string
	err := d.view(ctx, func(t *txn) error {
		tn, err := t.tenant(tenant)
		if err != nil {
			return err
		}
		ext, err = t.nextExtension(tn, kind)
		return err
	})
	return ext, err
}

// checkUserRefs checks that everything the user points at exists in the
// same tenant and has the right kind. On update (old set), references the
// user already had are not checked again: the store keeps them valid.
func (t *txn) checkUserRefs(tenant string, u *User, old *User) error {
	var p Problems
	had := map[string]bool{}
	if old != nil {
		for _, id := range old.Profiles {
			had["p"+id] = true
		}
		for _, id := range old.Teams {
			had["t"+id] = true
		}
		for _, q := range old.Queues {
			had["q"+q.QueueID] = true
		}
		for _, id := range old.Routing.UserRefs() {
			had["u"+id] = true
		}
		for _, id := range old.Routing.TimeFrameRefs() {
			had["f"+id] = true
		}
		if old.ManagerID != "" {
			had["m"+old.ManagerID] = true
		}
	}
	for i, id := range u.Profiles {
		if had["p"+id] {
			continue
		}
		if _, err := t.tx.GetProfile(t.ctx, tenant, id); err != nil {
			if !isNotFound(err) {
				return err
			}
			p.Add(fmt.Sprintf("profiles[%d]", i), "no profile %q", id)
		}
	}
	for i, id := range u.Teams {
		if had["t"+id] {
			continue
		}
		if _, err := t.tx.GetTeam(t.ctx, tenant, id); err != nil {
			if !isNotFound(err) {
				return err
			}
			p.Add(fmt.Sprintf("teams[%d]", i), "no team %q", id)
		}
	}
	for i, q := range u.Queues {
		if had["q"+q.QueueID] {
			continue
		}
		qu, err := t.tx.GetUser(t.ctx, tenant, q.QueueID)
		switch {
		case isNotFound(err):
			p.Add(fmt.Sprintf("queues[%d].queueId", i), "no call queue %q", q.QueueID)
		case err != nil:
			return err
		case qu.Kind != KindCallQueue:
			p.Add(fmt.Sprintf("queues[%d].queueId", i), "%q is a %s, not a call queue", q.QueueID, qu.Kind)
		}
	}
	if u.ManagerID != "" {
		u.ManagerRef = ""
	}
	checkText(&p, "managerRef", u.ManagerRef, 256)
	switch {
	case u.ManagerID == "" || had["m"+u.ManagerID]:
	case u.ManagerID == u.ID:
		p.Add("managerId", "a user cannot be their own manager")
	default:
		if _, err := t.tx.GetUser(t.ctx, tenant, u.ManagerID); err != nil {
			if !isNotFound(err) {
				return err
			}
			p.Add("managerId", "no user %q", u.ManagerID)
		}
	}
	kinds := u.Routing.systemRefs()
	for _, id := range u.Routing.UserRefs() {
		if id == u.ID || had["u"+id] {
			continue
		}
		ref, err := t.tx.GetUser(t.ctx, tenant, id)
		switch {
		case isNotFound(err):
			p.Add("routing", "forwards to unknown user %q", id)
		case err != nil:
			return err
		case kinds[id] != "" && ref.Kind != kinds[id]:
			p.Add("routing", "forwards to %q as a %s, but it is a %s", id, kinds[id], ref.Kind)
		}
	}
	for _, id := range u.Routing.TimeFrameRefs() {
		if had["f"+id] {
			continue
		}
		if _, err := t.tx.GetTimeFrame(t.ctx, tenant, id); err != nil {
			if !isNotFound(err) {
				return err
			}
			p.Add("routing", "uses unknown time frame %q", id)
		}
	}
	return p.Err()
}

// checkUserUnique reports the first unique key of u that another user of the
// tenant holds. On update (old set), keys that did not change are not
// looked up again: the store's unique indexes already hold them.
func (t *txn) checkUserUnique(tn Tenant, u *User, old *User) error {
	conflicts, err := t.userConflicts(tn, u, old, 1)
	if err != nil {
		return err
	}
	if len(conflicts) > 0 {
		return conflicts[0]
	}
	return nil
}

// userConflicts returns up to max (0: every) unique keys of u that another
// user of the tenant holds, in a fixed order: userName, emails, extension,
// station number, external id, extension prefix.
func (t *txn) userConflicts(tn Tenant, u *User, old *User, max int) ([]*ConflictError, error) {
	self := ""
	if old != nil {
		self = old.ID
	}
	unchanged := func(key UserKey, value string) bool {
		if old == nil {
			return false
		}
		switch key {
		case KeyUserName:
			return UserNameKey(old.UserName) == UserNameKey(value)
		case KeyExtension:
			return old.Extension == value
		case KeyStationNumber:
			return old.StationNumber == value
		case KeyEmail:
			for _, e := range old.Emails {
				if strings.EqualFold(e.Value, value) {
					return true
				}
			}
		}
		return false
	}
	var out []*ConflictError
	full := func() bool { return max > 0 && len(out) >= max }
	check := func(key UserKey, field, value string) error {
		if full() || value == "" || unchanged(key, value) {
			return nil
		}
		other, err := t.tx.LookupUser(t.ctx, tn.ID, key, value)
		switch {
		case isNotFound(err):
			return nil
		case err != nil:
			return err
		case other.ID == self:
			return nil
		}
		c := &ConflictError{Kind: "user", Field: field, Value: value, ExistingID: other.ID}
		if other.Owner.Source != t.actor.Source {
			c.Reason = fmt.Sprintf("already used by user %q owned by source %s", other.UserName, other.Owner.Source)
		}
		out = append(out, c)
		return nil
	}
	if err := check(KeyUserName, "userName", u.UserName); err != nil {
		return nil, err
	}
	for _, e := range u.Emails {
		if !tn.UniqueEmails {
			break
		}
		if err := check(KeyEmail, "email", e.Value); err != nil {
			return nil, err
		}
	}
	if err := check(KeyExtension, "extension", u.Extension); err != nil {
		return nil, err
	}
	if err := check(KeyStationNumber, "stationNumber", u.StationNumber); err != nil {
		return nil, err
	}
	if !full() && u.Owner.ExternalID != "" && (old == nil || old.Owner.ExternalID != u.Owner.ExternalID || old.Owner.Source != u.Owner.Source) {
		other, err := t.tx.LookupUser(t.ctx, tn.ID, KeyExternalID, u.Owner.ExternalID)
		switch {
		case isNotFound(err):
		case err != nil:
			return nil, err
		case other.ID != self && other.Owner.Source == u.Owner.Source:
			out = append(out, &ConflictError{Kind: "user", Field: "externalId", Value: u.Owner.ExternalID, ExistingID: other.ID})
		}
	}
	if !full() && tn.Extensions.PrefixFree && u.Extension != "" && (old == nil || old.Extension != u.Extension) {
		other, err := t.prefixCollision(tn.ID, u.Extension, self)
		if err != nil {
			return nil, err
		}
		if other != "" {
			out = append(out, &ConflictError{Kind: "user", Field: "extension", Value: u.Extension,
				Reason: fmt.Sprintf("collides with extension %s (one is a prefix of the other)", other)})
		}
	}
	return out, nil
}

// prefixCollision returns an extension of another user that is a prefix of
// ext or has ext as a prefix.
func (t *txn) prefixCollision(tenant, ext, self string) (string, error) {
	var or Or
	for i := 1; i < len(ext); i++ {
		or = append(or, Eq(AttrExtension, ext[:i]))
	}
	or = append(or, And{&Compare{Attr: AttrExtension, Op: OpSw, Value: ext}, &Compare{Attr: AttrExtension, Op: OpNe, Value: ext}})
	page, err := t.tx.ListUsers(t.ctx, tenant, UserQuery{Filter: or, IncludeSystem: true, Limit: 2})
	if err != nil {
		return "", fmt.Errorf("check extension prefixes: %w", err)
	}
	for _, o := range page.Users {
		if o.ID != self {
			return o.Extension, nil
		}
	}
	return "", nil
}

// UpdateUser replaces a user's writable fields with those of u (matched by
// u.ID). When u.Version is not zero it must be the current version, else the
// update fails with ErrVersionMismatch. The owner's source and directory
// change only through TransferOwnership. An update that changes nothing
// leaves the version alone.
func (d *Directory) UpdateUser(ctx context.Context, tenant string, u User) (User, error) {
	hash, err := d.hashPassword(&u)
	if err != nil {
		return User{}, err
	}
	var out User
	err = d.update(ctx, func(t *txn) error {
		old, err := t.tx.GetUser(t.ctx, tenant, u.ID)
		if err != nil {
			return err
		}
		if u.Version != 0 && u.Version != old.Version {
			return versionConflict("user", u.ID)
		}
		out, err = t.updateUser(old, u, hash)
		return err
	})
	return out, err
}

// ModifyUser reads a user, lets fn change it and writes it back in one
// transaction, so no concurrent change is lost. If fn returns an error
// nothing is written and that error is returned.
func (d *Directory) ModifyUser(ctx context.Context, tenant, id string, fn func(u *User) error) (User, error) {
	var out User
	var hashErr error
	err := d.update(ctx, func(t *txn) error {
		old, err := t.tx.GetUser(t.ctx, tenant, id)
		if err != nil {
			return err
		}
		u := old.Clone()
		if err := fn(&u); err != nil {
			return err
		}
		u.ID = old.ID
		var hash []byte
		if hash, hashErr = t.d.hashPassword(&u); hashErr != nil {
			return hashErr
		}
		out, err = t.updateUser(old, u, hash)
		return err
	})
	return out, err
}

// canWrite reports whether the actor may change an object owned by owner.
// Admins (manual) may change anything and sources what they own. An
// identity provider (scim) may also change what an admin made by hand — the
// usual first step when a company connects Okta or Entra is to link the
// users that exist — while the owner stays manual until an admin transfers
// it. A directory sync (ldap) changes only what it owns.
func (t *txn) canWrite(kind, name string, owner Owner) error {
	if t.actor.Source == SourceManual || owner.Source == t.actor.Source || owner.Source == "" {
		return nil
	}
	if t.actor.Source == SourceSCIM && owner.Source == SourceManual {
		return nil
	}
	reason := fmt.Sprintf("%s %q is owned by source %s", kind, name, owner.Source)
	if owner.Directory != "" {
		reason += " (directory " + owner.Directory + ")"
	}
	reason += "; an admin can hand it over with a transfer of ownership"
	return &ConflictError{Kind: kind, Reason: reason}
}

func (t *txn) updateUser(old, in User, hash []byte) (User, error) {
	if err := t.canWrite("user", old.UserName, old.Owner); err != nil {
		return User{}, err
	}
	tn, err := t.tenant(old.TenantID)
	if err != nil {
		return User{}, err
	}
	u := in.Clone()
	u.ID, u.TenantID, u.Created = old.ID, old.TenantID, old.Created
	u.Owner.Source, u.Owner.Directory = old.Owner.Source, old.Owner.Directory
	u.Password.IsSet, u.Password.SetAt = old.Password.IsSet, old.Password.SetAt
	if hash != nil {
		u.Password.IsSet, u.Password.SetAt = true, &t.now
	}
	u.DeactivatedBy = old.DeactivatedBy
	if err := u.normalize(tn.Region, tn.Extensions); err != nil {
		return User{}, err
	}
	action := ActionUpdate
	switch {
	case old.Status == StatusActive && u.Status == StatusInactive:
		action, u.DeactivatedBy = ActionDeactivate, t.actor.Source
	case old.Status == StatusInactive && u.Status == StatusActive:
		action, u.DeactivatedBy = ActionReactivate, ""
	}
	if u.Kind != old.Kind {
		return User{}, Invalid("kind", "cannot change from %s to %s; create a new user", old.Kind, u.Kind)
	}
	u.Version, u.Updated = old.Version, old.Updated
	u.Password.New = ""
	fields := Diff(old, u)
	if len(fields) == 0 && hash == nil {
		return old, nil
	}
	if err := t.checkUserRefs(tn.ID, &u, &old); err != nil {
		return User{}, err
	}
	if err := t.checkUserUnique(tn, &u, &old); err != nil {
		return User{}, err
	}
	u.Version, u.Updated = old.Version+1, t.now
	write := t.tx.UpdateUser
	if sameSides(&old, &u) {
		write = t.tx.UpdateUserRow
	}
	if err := write(t.ctx, &u, old.Version); err != nil {
		return User{}, err
	}
	if hash != nil {
		if err := t.tx.SetPasswordHash(t.ctx, tn.ID, u.ID, hash); err != nil {
			return User{}, err
		}
		fields = append(fields, FieldChange{Field: "password", New: "[redacted]"})
	}
	if err := t.record(Change{TenantID: tn.ID, Entity: EntityUser, EntityID: u.ID, Action: action,
		Summary: u.UserName, Fields: fields, Version: u.Version}); err != nil {
		return User{}, err
	}
	if err := t.userUpdated(tn, &old, &u); err != nil {
		return User{}, err
	}
	if err := t.resolveManagerRefs(tn.ID, &u, &old); err != nil {
		return User{}, err
	}
	return u, nil
}

// sameSides reports whether b has the emails, memberships and routing
// references of a, the parts of a user the store keeps in rows of their
// own (see Tx.UpdateUserRow).
func sameSides(a, b *User) bool {
	return slices.Equal(a.Emails, b.Emails) && slices.Equal(a.Profiles, b.Profiles) &&
		slices.Equal(a.Queues, b.Queues) && slices.Equal(a.Teams, b.Teams) &&
		slices.Equal(a.Routing.UserRefs(), b.Routing.UserRefs()) &&
		slices.Equal(a.Routing.TimeFrameRefs(), b.Routing.TimeFrameRefs())
}

// DeactivateUser sets a user inactive, keeping everything else. It is
// idempotent: deactivating an inactive user changes nothing.
func (d *Directory) DeactivateUser(ctx context.Context, tenant, id string) (User, error) {
	return d.ModifyUser(ctx, tenant, id, func(u *User) error { u.Status = StatusInactive; return nil })
}

// ActivateUser sets a user active again. It is idempotent.
func (d *Directory) ActivateUser(ctx context.Context, tenant, id string) (User, error) {
	return d.ModifyUser(ctx, tenant, id, func(u *User) error { u.Status = StatusActive; return nil })
}

// DeleteUser deletes a user or system user with its devices, team and queue
// memberships in one transaction. While anything else refers to it (see
// Reference) it fails with ErrInUse naming every referrer, unless opts has
// Cascade, which rewrites the referrers in the same transaction.
func (d *Directory) DeleteUser(ctx context.Context, tenant, id string, opts ...DeleteOption) error {
	return d.DeleteUserIf(ctx, tenant, id, nil, opts...)
}

// DeleteUserIf deletes a user like DeleteUser when check, run on the current
// user in the same transaction, returns nil; else it deletes nothing and
// returns check's error (for example a stale If-Match version).
func (d *Directory) DeleteUserIf(ctx context.Context, tenant, id string, check func(User) error, opts ...DeleteOption) error {
	o := deleteOpts(opts)
	return d.update(ctx, func(t *txn) error { return t.deleteUser(tenant, id, check, o) })
}

func (t *txn) deleteUser(tenant, id string, check func(User) error, o deleteOptions) error {
	u, err := t.tx.GetUser(t.ctx, tenant, id)
	if err != nil {
		return err
	}
	if check != nil {
		if err := check(u); err != nil {
			return err
		}
	}
	if err := t.canWrite("user", u.UserName, u.Owner); err != nil {
		return err
	}
	refs, err := t.referrers(tenant, EntityUser, id)
	if err != nil {
		return err
	}
	if len(refs) > 0 && !o.cascade {
		return inUse("user", u.UserName, refs)
	}
	if err := t.unreference(tenant, EntityUser, id, refs); err != nil {
		return err
	}
	if err := t.tx.DeleteUser(t.ctx, tenant, id); err != nil {
		return err
	}
	return t.record(Change{TenantID: tenant, Entity: EntityUser, EntityID: id, Action: ActionDelete,
		Summary: u.UserName, Version: u.Version})
}

// TransferOwnership hands a user over to another source (for example from
// ldap to scim, or back to manual). Only an admin (a manual actor) may do it.
func (d *Directory) TransferOwnership(ctx context.Context, tenant, id string, to Owner) (User, error) {
	if to.Source == "" || !to.Source.valid() {
		return User{}, Invalid("owner.source", "must be manual, scim or ldap")
	}
	var out User
	err := d.update(ctx, func(t *txn) error {
		if t.actor.Source != SourceManual {
			return &ConflictError{Kind: "user", Reason: "only an admin can transfer ownership"}
		}
		old, err := t.tx.GetUser(t.ctx, tenant, id)
		if err != nil {
			return err
		}
		tn, err := t.tenant(tenant)
		if err != nil {
			return err
		}
		u := old.Clone()
		u.Owner = to
		if err := t.checkUserUnique(tn, &u, &old); err != nil {
			return err
		}
		u.Version, u.Updated = old.Version+1, t.now
		if err := t.tx.UpdateUser(t.ctx, &u, old.Version); err != nil {
			return err
		}
		out = u
		return t.record(Change{TenantID: tenant, Entity: EntityUser, EntityID: id, Action: ActionTransfer,
			Summary: u.UserName, Fields: Diff(old, u), Version: u.Version})
	})
	return out, err
}

// IsOwnedBy reports whether err is the ownership conflict of a write refused
// because another source owns the object.
func IsOwnedBy(err error) bool {
	var c *ConflictError
	return errors.As(err, &c) && strings.Contains(c.Reason, "is owned by source")
}
