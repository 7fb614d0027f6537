package pbxusers

import (
	"context"
	"fmt"
	"strings"
)

// A Reference is one place that refers to an object: what would be left
// pointing at nothing if the object were deleted. Deletes refuse with
// ErrInUse listing every Reference, unless called with Cascade.
type Reference struct {
	// Entity and ID name the referrer: a user, a team or a number.
	Entity Entity `json:"entity"`
	ID     string `json:"id"`
	// Name is the referrer's readable name: a userName, a team name or a
	// number.
	Name string `json:"name"`
	// Field is where the referrer holds the reference: "routing" (an
	// answering rule, ring plan or forward), "manager", "queues" (a call
	// queue membership), "profiles", "userId" (a number's assignment),
	// "callerId.number" or "callerId.allowed".
	Field string `json:"field"`
}

// String names the referrer and the field that refers.
func (r Reference) String() string {
	return fmt.Sprintf("%s %q (%s)", r.Entity, r.Name, r.Field)
}

// What refers to what:
//
//   - a user or system user: other users' routing (forwards, ring targets,
//     queue/auto attendant/conference destinations), users it manages, the
//     members of a call queue, and the numbers routed to it. Its own
//     devices and its team and queue memberships are part of it and go
//     with it.
//   - a profile: the users and teams it is bound to;
//   - a time frame: the routing of users whose answering rules name it;
//   - a number (DID): users whose caller ID shows it or lists it among the
//     numbers they may choose.
//
// A team has no referrers: its members list is part of it.

// DeleteOption changes how a delete treats the objects that refer to the one
// deleted.
type DeleteOption func(*deleteOptions)

type deleteOptions struct{ cascade bool }

// Cascade makes a delete rewrite everything that refers to the object, in
// the same transaction, each rewrite recorded in the change log: forwards
// and ring targets to a deleted user are removed from answering rules, a
// deleted manager is cleared, queue members lose the membership, numbers
// are unassigned, a deleted profile is unbound, and a deleted time frame is
// dropped from the rules that name it (a rule left with none is removed,
// never made unconditional), and a released number leaves the caller IDs
// that showed or listed it.
func Cascade() DeleteOption { return func(o *deleteOptions) { o.cascade = true } }

func deleteOpts(opts []DeleteOption) deleteOptions {
	var o deleteOptions
	for _, f := range opts {
		f(&o)
	}
	return o
}

// maxListedReferences caps how many references an ErrInUse message names;
// ConflictError.References holds them all.
const maxListedReferences = 20

// inUse is the error of a delete refused because refs refer to the object.
func inUse(kind, name string, refs []Reference) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%q is referred to by ", name)
	for i, r := range refs {
		if i == maxListedReferences {
			fmt.Fprintf(&b, " and %d more", len(refs)-i)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(r.String())
	}
	b.WriteString("; delete with cascade to rewrite them")
	return &ConflictError{Kind: kind, Reason: b.String(), References: refs, Err: ErrInUse}
}

// referrers returns what refers to the object, without the object itself.
func (t *txn) referrers(tenant string, entity Entity, id string) ([]Reference, error) {
	refs, err := t.tx.Referrers(t.ctx, tenant, entity, id)
	if err != nil {
		return nil, fmt.Errorf("find what refers to %s %s: %w", entity, id, err)
	}
	out := refs[:0]
	for _, r := range refs {
		if !(r.Entity == entity && r.ID == id) {
			out = append(out, r)
		}
	}
	return out, nil
}

// unreference rewrites each referrer so that it no longer refers to the
// object of kind entity with the id, recording each rewrite.
func (t *txn) unreference(tenant string, entity Entity, id string, refs []Reference) error {
	for _, r := range refs {
		var err error
		switch r.Entity {
		case EntityUser:
			err = t.rewriteUser(tenant, r.ID, func(u *User) {
				switch {
				case entity == EntityUser && r.Field == "routing":
					u.Routing, _ = u.Routing.WithoutUser(id)
				case entity == EntityUser && r.Field == "manager":
					u.ManagerID = ""
				case entity == EntityUser && r.Field == "queues":
					u.Queues = removeQueue(u.Queues, id)
				case entity == EntityProfile:
					u.Profiles = removeString(u.Profiles, id)
				case entity == EntityTimeFrame:
					u.Routing = u.Routing.WithoutTimeFrame(id)
				case entity == EntityNumber && r.Field == "callerId.number":
					u.CallerID.Number = ""
				case entity == EntityNumber && r.Field == "callerId.allowed":
					u.CallerID.Allowed = removeString(u.CallerID.Allowed, id)
				}
			})
		case EntityTeam:
			err = t.rewriteTeam(tenant, r.ID, func(tm *Team) { tm.Profiles = removeString(tm.Profiles, id) })
		case EntityNumber:
			var n Number
			if n, err = t.tx.GetNumber(t.ctx, tenant, r.ID); err == nil {
				next := n
				next.UserID = ""
				_, err = t.putNumber(&n, next)
			}
		}
		if err != nil {
			return fmt.Errorf("rewrite %s: %w", r, err)
		}
	}
	return nil
}

// rewriteUser applies edit to a stored user as a system rewrite (no
// ownership check: the referrer is only made to stop pointing at something
// deleted) and records the change.
func (t *txn) rewriteUser(tenant, id string, edit func(*User)) error {
	old, err := t.tx.GetUser(t.ctx, tenant, id)
	if err != nil {
		return err
	}
	next := old.Clone()
	edit(&next)
	fields := Diff(old, next)
	if len(fields) == 0 {
		return nil
	}
	next.Version, next.Updated = old.Version+1, t.now
	if err := t.tx.UpdateUser(t.ctx, &next, old.Version); err != nil {
		return err
	}
	return t.record(Change{TenantID: tenant, Entity: EntityUser, EntityID: id, Action: ActionUpdate,
		Summary: next.UserName, Fields: fields, Version: next.Version})
}

// rewriteTeam is rewriteUser for a team.
func (t *txn) rewriteTeam(tenant, id string, edit func(*Team)) error {
	old, err := t.tx.GetTeam(t.ctx, tenant, id)
	if err != nil {
		return err
	}
	next := old
	next.Profiles = append([]string(nil), old.Profiles...)
	edit(&next)
	fields := Diff(old, next)
	if len(fields) == 0 {
		return nil
	}
	next.Version, next.Updated = old.Version+1, t.now
	if err := t.tx.UpdateTeam(t.ctx, &next, old.Version); err != nil {
		return err
	}
	return t.record(Change{TenantID: tenant, Entity: EntityTeam, EntityID: id, Action: ActionUpdate,
		Summary: next.Name, Fields: fields, Version: next.Version})
}

func removeString(list []string, s string) []string {
	out := make([]string, 0, len(list))
	for _, v := range list {
		if v != s {
			out = append(out, v)
		}
	}
	return out
}

func removeQueue(list []QueueMembership, queue string) []QueueMembership {
	out := make([]QueueMembership, 0, len(list))
	for _, m := range list {
		if m.QueueID != queue {
			out = append(out, m)
		}
	}
	return out
}

// References returns everything that refers to the object of kind entity
// (EntityUser, EntityProfile or EntityTimeFrame) with the id: what a delete
// without Cascade would name, and what a delete with Cascade rewrites.
func (d *Directory) References(ctx context.Context, tenant string, entity Entity, id string) ([]Reference, error) {
	return read(d, ctx, func(t *txn) ([]Reference, error) { return t.referrers(tenant, entity, id) })
}
