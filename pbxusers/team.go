package pbxusers

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Team is a group of users (a SCIM group, an Alotech team, an LDAP group
// mapped to a team). Team members can see each other's status; a team can be
// bound to profiles so that every member gets their permissions.
type Team struct {
	// ID is assigned by the library.
	ID       string `json:"id"`
	TenantID string `json:"tenantId"`
	// Name is unique per tenant, case-insensitive.
	Name string `json:"name"`
	// Owner is the source that manages the team and its external id.
	Owner Owner `json:"owner"`
	// Profiles are profile ids granted to every member.
	Profiles []string `json:"profiles,omitempty"`
	// Members is the number of members. Read-only; list them with
	// Directory.ListTeamMembers.
	Members int       `json:"members"`
	Version int64     `json:"version"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

func (tm *Team) normalize() error {
	var p Problems
	tm.Name = strings.TrimSpace(tm.Name)
	if tm.Name == "" {
		p.Add("name", "is required")
	}
	checkText(&p, "name", tm.Name, 256)
	checkText(&p, "owner.externalId", tm.Owner.ExternalID, 256)
	if tm.Owner.Source == "" {
		tm.Owner.Source = SourceManual
	}
	if !tm.Owner.Source.valid() {
		p.Add("owner.source", "must be manual, scim or ldap")
	}
	tm.Profiles = dedupe(&p, "profiles", tm.Profiles)
	return p.Err()
}

func (t *txn) checkTeam(tenant string, tm *Team, self string) error {
	var p Problems
	for i, id := range tm.Profiles {
		if _, err := t.tx.GetProfile(t.ctx, tenant, id); err != nil {
			if !isNotFound(err) {
				return err
			}
			p.Add(fmt.Sprintf("profiles[%d]", i), "no profile %q", id)
		}
	}
	if err := p.Err(); err != nil {
		return err
	}
	if other, err := t.tx.LookupTeam(t.ctx, tenant, TeamKeyName, tm.Name); err == nil && other.ID != self {
		return &ConflictError{Kind: "team", Field: "name", Value: tm.Name, ExistingID: other.ID}
	} else if err != nil && !isNotFound(err) {
		return err
	}
	if tm.Owner.ExternalID != "" {
		if other, err := t.tx.LookupTeam(t.ctx, tenant, TeamKeyExternalID, tm.Owner.ExternalID); err == nil && other.ID != self {
			return &ConflictError{Kind: "team", Field: "externalId", Value: tm.Owner.ExternalID, ExistingID: other.ID}
		} else if err != nil && !isNotFound(err) {
			return err
		}
	}
	return nil
}

// CreateTeam creates a team with the given members (user ids).
func (d *Directory) CreateTeam(ctx context.Context, tenant string, tm Team, members []string) (Team, error) {
	err := d.update(ctx, func(t *txn) error {
		if _, err := t.tenant(tenant); err != nil {
			return err
		}
		if t.actor.Source != SourceManual || tm.Owner.Source == "" {
			tm.Owner.Source = t.actor.Source
		}
		if err := tm.normalize(); err != nil {
			return err
		}
		if err := t.checkTeam(tenant, &tm, ""); err != nil {
			return err
		}
		tm.ID, tm.TenantID, tm.Version, tm.Created, tm.Updated, tm.Members = newID(), tenant, 1, t.now, t.now, 0
		if err := t.tx.CreateTeam(t.ctx, &tm); err != nil {
			return err
		}
		if err := t.record(Change{TenantID: tenant, Entity: EntityTeam, EntityID: tm.ID, Action: ActionCreate,
			Summary: tm.Name, Fields: Diff(nil, tm), Version: tm.Version}); err != nil {
			return err
		}
		if len(members) == 0 {
			return nil
		}
		added, err := t.tx.AddTeamMembers(t.ctx, tenant, tm.ID, dedupeIDs(members))
		if err != nil {
			return err
		}
		tm.Members = len(added)
		return t.record(Change{TenantID: tenant, Entity: EntityTeam, EntityID: tm.ID, Action: ActionAddMembers,
			Summary: tm.Name, Fields: []FieldChange{{Field: "members", New: added}}, Version: tm.Version})
	})
	return tm, err
}

func dedupeIDs(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if id != "" && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// GetTeam returns a team.
func (d *Directory) GetTeam(ctx context.Context, tenant, id string) (Team, error) {
	return read(d, ctx, func(t *txn) (Team, error) { return t.tx.GetTeam(t.ctx, tenant, id) })
}

// LookupTeam finds a team by name or external id.
func (d *Directory) LookupTeam(ctx context.Context, tenant string, key TeamKey, value string) (Team, error) {
	return read(d, ctx, func(t *txn) (Team, error) { return t.tx.LookupTeam(t.ctx, tenant, key, value) })
}

// ListTeams returns one page of the tenant's teams.
func (d *Directory) ListTeams(ctx context.Context, tenant string, q TeamQuery) (TeamPage, error) {
	if err := ValidateTeamFilter(q.Filter); err != nil {
		return TeamPage{}, err
	}
	uq := clampQuery(UserQuery{Offset: q.Offset, Limit: q.Limit})
	q.Offset, q.Limit = uq.Offset, uq.Limit
	var page TeamPage
	err := d.view(ctx, func(t *txn) error {
		if _, err := t.tenant(tenant); err != nil {
			return err
		}
		var err error
		page, err = t.tx.ListTeams(t.ctx, tenant, q)
		return err
	})
	return page, err
}

// UpdateTeam renames a team, changes its external id or its bound profiles.
// When tm.Version is not zero it must be the current version.
func (d *Directory) UpdateTeam(ctx context.Context, tenant string, tm Team) (Team, error) {
	return d.ModifyTeam(ctx, tenant, tm.ID, func(cur *Team) error {
		if tm.Version != 0 && tm.Version != cur.Version {
			return versionConflict("team", tm.ID)
		}
		cur.Name, cur.Profiles, cur.Owner.ExternalID = tm.Name, tm.Profiles, tm.Owner.ExternalID
		return nil
	})
}

// ModifyTeam reads a team, lets fn change it, and writes it back in one
// transaction. Members are changed with the member methods, not here.
func (d *Directory) ModifyTeam(ctx context.Context, tenant, id string, fn func(*Team) error) (Team, error) {
	var out Team
	err := d.update(ctx, func(t *txn) error {
		old, err := t.tx.GetTeam(t.ctx, tenant, id)
		if err != nil {
			return err
		}
		if err := t.canWrite("team", old.Name, old.Owner); err != nil {
			return err
		}
		tm := old
		tm.Profiles = append([]string(nil), old.Profiles...)
		if err := fn(&tm); err != nil {
			return err
		}
		tm.ID, tm.TenantID, tm.Created, tm.Members = old.ID, old.TenantID, old.Created, old.Members
		tm.Owner.Source, tm.Owner.Directory = old.Owner.Source, old.Owner.Directory
		if err := tm.normalize(); err != nil {
			return err
		}
		tm.Version, tm.Updated = old.Version, old.Updated
		fields := Diff(old, tm)
		if len(fields) == 0 {
			out = old
			return nil
		}
		if err := t.checkTeam(tenant, &tm, tm.ID); err != nil {
			return err
		}
		tm.Version, tm.Updated = old.Version+1, t.now
		if err := t.tx.UpdateTeam(t.ctx, &tm, old.Version); err != nil {
			return err
		}
		out = tm
		return t.record(Change{TenantID: tenant, Entity: EntityTeam, EntityID: id, Action: ActionUpdate,
			Summary: tm.Name, Fields: fields, Version: tm.Version})
	})
	return out, err
}

// DeleteTeam deletes a team and its memberships (not its members).
func (d *Directory) DeleteTeam(ctx context.Context, tenant, id string) error {
	return d.DeleteTeamIf(ctx, tenant, id, nil)
}

// DeleteTeamIf deletes a team like DeleteTeam when check, run on the current
// team in the same transaction, returns nil; else it returns check's error.
func (d *Directory) DeleteTeamIf(ctx context.Context, tenant, id string, check func(Team) error) error {
	return d.update(ctx, func(t *txn) error {
		tm, err := t.tx.GetTeam(t.ctx, tenant, id)
		if err != nil {
			return err
		}
		if check != nil {
			if err := check(tm); err != nil {
				return err
			}
		}
		if err := t.canWrite("team", tm.Name, tm.Owner); err != nil {
			return err
		}
		if err := t.tx.DeleteTeam(t.ctx, tenant, id); err != nil {
			return err
		}
		return t.record(Change{TenantID: tenant, Entity: EntityTeam, EntityID: id, Action: ActionDelete, Summary: tm.Name, Version: tm.Version})
	})
}

// AddTeamMembers adds users to a team; users already in it are left alone.
// It returns the team with its new version and member count.
func (d *Directory) AddTeamMembers(ctx context.Context, tenant, id string, users []string) (Team, error) {
	return d.changeMembers(ctx, tenant, id, users, nil, false, nil)
}

// RemoveTeamMembers removes users from a team; non-members are ignored.
func (d *Directory) RemoveTeamMembers(ctx context.Context, tenant, id string, users []string) (Team, error) {
	return d.changeMembers(ctx, tenant, id, nil, users, false, nil)
}

// SetTeamMembers makes users exactly the team's members (an empty list
// empties the team).
func (d *Directory) SetTeamMembers(ctx context.Context, tenant, id string, users []string) (Team, error) {
	return d.changeMembers(ctx, tenant, id, users, nil, true, nil)
}

// ChangeTeamMembers adds and removes members in one transaction.
func (d *Directory) ChangeTeamMembers(ctx context.Context, tenant, id string, add, remove []string) (Team, error) {
	return d.changeMembers(ctx, tenant, id, add, remove, false, nil)
}

// MemberChange is a change of a team's members: users to add and to
// remove, or, with Replace, Add as the complete new member list.
type MemberChange struct {
	Add, Remove []string
	Replace     bool
}

// ChangeTeamMembersIf applies a member change when check, run on the current
// team in the same transaction, returns nil; else it changes nothing and
// returns check's error (for example a stale If-Match version).
func (d *Directory) ChangeTeamMembersIf(ctx context.Context, tenant, id string, c MemberChange, check func(Team) error) (Team, error) {
	return d.changeMembers(ctx, tenant, id, c.Add, c.Remove, c.Replace, check)
}

func (d *Directory) changeMembers(ctx context.Context, tenant, id string, add, remove []string, replace bool, check func(Team) error) (Team, error) {
	var out Team
	err := d.update(ctx, func(t *txn) error {
		tm, err := t.tx.GetTeam(t.ctx, tenant, id)
		if err != nil {
			return err
		}
		if check != nil {
			if err := check(tm); err != nil {
				return err
			}
		}
		if err := t.canWrite("team", tm.Name, tm.Owner); err != nil {
			return err
		}
		add, remove := dedupeIDs(add), dedupeIDs(remove)
		if replace {
			want := make(map[string]bool, len(add))
			for _, u := range add {
				want[u] = true
			}
			const chunk = 5000
			for off := 0; ; off += chunk {
				ids, _, err := t.tx.ListTeamMembers(t.ctx, tenant, id, off, chunk)
				if err != nil {
					return err
				}
				for _, m := range ids {
					if !want[m] {
						remove = append(remove, m)
					}
				}
				if len(ids) < chunk {
					break
				}
			}
		}
		var added, removed []string
		if len(remove) > 0 {
			if removed, err = t.tx.RemoveTeamMembers(t.ctx, tenant, id, remove); err != nil {
				return err
			}
		}
		if len(add) > 0 {
			if added, err = t.tx.AddTeamMembers(t.ctx, tenant, id, add); err != nil {
				return err
			}
		}
		if len(added) == 0 && len(removed) == 0 {
			out = tm
			return nil
		}
		prev := tm.Version
		tm.Version, tm.Updated = tm.Version+1, t.now
		tm.Members += len(added) - len(removed)
		if err := t.tx.UpdateTeam(t.ctx, &tm, prev); err != nil {
			return err
		}
		out = tm
		if len(removed) > 0 {
			if err := t.record(Change{TenantID: tenant, Entity: EntityTeam, EntityID: id, Action: ActionRemoveMembers,
				Summary: tm.Name, Fields: []FieldChange{{Field: "members", Old: removed}}, Version: tm.Version}); err != nil {
				return err
			}
		}
		if len(added) > 0 {
			return t.record(Change{TenantID: tenant, Entity: EntityTeam, EntityID: id, Action: ActionAddMembers,
				Summary: tm.Name, Fields: []FieldChange{{Field: "members", New: added}}, Version: tm.Version})
		}
		return nil
	})
	return out, err
}

// ListTeamMembers returns a page of a team's member ids (stable order) and
// the number of members.
func (d *Directory) ListTeamMembers(ctx context.Context, tenant, id string, offset, limit int) ([]string, int, error) {
	var ids []string
	var total int
	err := d.view(ctx, func(t *txn) error {
		var err error
		ids, total, err = t.tx.ListTeamMembers(t.ctx, tenant, id, offset, limit)
		return err
	})
	return ids, total, err
}

// TeamQuery selects and pages teams.
type TeamQuery struct {
	// Filter selects teams by AttrID, AttrDisplayName, AttrExternalID,
	// AttrCreated, AttrLastModified or AttrMember; nil selects all.
	Filter Filter
	SortBy Attr
	// Descending reverses the order.
	Descending bool
	Offset     int
	Limit      int
}

// TeamPage is one page of a team listing.
type TeamPage struct {
	Teams []Team
	Total int
}

// ModifyTeamAndMembers reads a team, lets fn change its attributes and say
// how its members change, and writes both in one transaction under one new
// version. When fn, the new attributes or the member change fail (an
// unknown user, a taken name, a stale version checked by fn), nothing is
// written: a SCIM PATCH or PUT of a group is atomic (RFC 7644 §3.5.2).
// fn may call members to read the current member ids inside the
// transaction. Attributes follow ModifyTeam's rules and members
// ChangeTeamMembersIf's; a request that changes nothing keeps the version.
func (d *Directory) ModifyTeamAndMembers(ctx context.Context, tenant, id string, fn func(tm *Team, members func() ([]string, error)) (MemberChange, error)) (Team, error) {
	var out Team
	err := d.update(ctx, func(t *txn) error {
		old, err := t.tx.GetTeam(t.ctx, tenant, id)
		if err != nil {
			return err
		}
		if err := t.canWrite("team", old.Name, old.Owner); err != nil {
			return err
		}
		listAll := func() ([]string, error) {
			var all []string
			const chunk = 5000
			for off := 0; ; off += chunk {
				ids, _, err := t.tx.ListTeamMembers(t.ctx, tenant, id, off, chunk)
				if err != nil {
					return nil, err
				}
				all = append(all, ids...)
				if len(ids) < chunk {
					return all, nil
				}
			}
		}
		tm := old
		tm.Profiles = append([]string(nil), old.Profiles...)
		c, err := fn(&tm, listAll)
		if err != nil {
			return err
		}
		tm.ID, tm.TenantID, tm.Created, tm.Members = old.ID, old.TenantID, old.Created, old.Members
		tm.Owner.Source, tm.Owner.Directory = old.Owner.Source, old.Owner.Directory
		if err := tm.normalize(); err != nil {
			return err
		}
		tm.Version, tm.Updated = old.Version, old.Updated
		fields := Diff(old, tm)
		if len(fields) > 0 {
			if err := t.checkTeam(tenant, &tm, tm.ID); err != nil {
				return err
			}
		}

		add, remove := dedupeIDs(c.Add), dedupeIDs(c.Remove)
		if c.Replace {
			want := make(map[string]bool, len(add))
			for _, u := range add {
				want[u] = true
			}
			cur, err := listAll()
			if err != nil {
				return err
			}
			remove = nil
			for _, m := range cur {
				if !want[m] {
					remove = append(remove, m)
				}
			}
		}
		var added, removed []string
		if len(remove) > 0 {
			if removed, err = t.tx.RemoveTeamMembers(t.ctx, tenant, id, remove); err != nil {
				return err
			}
		}
		if len(add) > 0 {
			if added, err = t.tx.AddTeamMembers(t.ctx, tenant, id, add); err != nil {
				return err
			}
		}
		if len(fields) == 0 && len(added) == 0 && len(removed) == 0 {
			out = old
			return nil
		}
		tm.Version, tm.Updated = old.Version+1, t.now
		tm.Members += len(added) - len(removed)
		if err := t.tx.UpdateTeam(t.ctx, &tm, old.Version); err != nil {
			return err
		}
		out = tm
		if len(fields) > 0 {
			if err := t.record(Change{TenantID: tenant, Entity: EntityTeam, EntityID: id, Action: ActionUpdate,
				Summary: tm.Name, Fields: fields, Version: tm.Version}); err != nil {
				return err
			}
		}
		if len(removed) > 0 {
			if err := t.record(Change{TenantID: tenant, Entity: EntityTeam, EntityID: id, Action: ActionRemoveMembers,
				Summary: tm.Name, Fields: []FieldChange{{Field: "members", Old: removed}}, Version: tm.Version}); err != nil {
				return err
			}
		}
		if len(added) > 0 {
			return t.record(Change{TenantID: tenant, Entity: EntityTeam, EntityID: id, Action: ActionAddMembers,
				Summary: tm.Name, Fields: []FieldChange{{Field: "members", New: added}}, Version: tm.Version})
		}
		return nil
	})
	return out, err
}
