package pbxusers

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Profile is a named permission bundle (a role such as "Supervisor", an
// Alotech profile, a NetSapiens scope) that users get directly or through a
// team bound to it.
type Profile struct {
	// ID is assigned by the library.
	ID       string `json:"id"`
	TenantID string `json:"tenantId"`
	// Name is unique per tenant, case-insensitive.
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Role, when set, is the role the profile implies for display; a user's
	// own Role field is what the portals use.
	Role Role `json:"role,omitempty"`
	// Priority orders profiles granted through teams: lower wins.
	Priority int `json:"priority,omitempty"`
	// Grants are the permission values the profile sets.
	Grants  PermissionSet `json:"grants,omitempty"`
	Version int64         `json:"version"`
	Created time.Time     `json:"created"`
	Updated time.Time     `json:"updated"`
}

// Origin says where an effective permission value came from.
type Origin struct {
	// Kind is "override", "profile", "team" or "default".
	Kind string `json:"kind"`
	// ProfileID and ProfileName are set for "profile" and "team".
	ProfileID   string `json:"profileId,omitempty"`
	ProfileName string `json:"profileName,omitempty"`
	// TeamID and TeamName are set for "team": the team that bound the profile.
	TeamID   string `json:"teamId,omitempty"`
	TeamName string `json:"teamName,omitempty"`
}

// String says where an effective value came from.
func (o Origin) String() string {
	switch o.Kind {
	case "profile":
		return fmt.Sprintf("profile %q", o.ProfileName)
	case "team":
		return fmt.Sprintf("profile %q via team %q", o.ProfileName, o.TeamName)
	}
	return o.Kind
}

// Effective is one permission's value for a user and where it came from.
type Effective struct {
	Permission Permission `json:"permission"`
	Value      Value      `json:"value"`
	From       Origin     `json:"from"`
}

// EffectivePermissions computes every permission of the catalogue for a user
// with the given profiles. The precedence, highest first:
//
//  1. the user's own override (User.Overrides);
//  2. the user's profiles (User.Profiles), in the order listed: the first
//     profile that sets the permission wins;
//  3. profiles bound to the user's teams, ordered by profile Priority (lower
//     first), then by profile name, then by team name: the first wins;
//  4. the catalogue default.
//
// profiles must hold every profile named by the user or bound to teams; a
// missing one is skipped. teams holds the user's teams with their bound
// profiles. The result is sorted by permission name.
func EffectivePermissions(u User, profiles map[string]Profile, teams []Team) []Effective {
	type via struct {
		p    Profile
		team Team
	}
	var teamProfiles []via
	for _, t := range teams {
		for _, pid := range t.Profiles {
			if p, ok := profiles[pid]; ok {
				teamProfiles = append(teamProfiles, via{p, t})
			}
		}
	}
	sort.SliceStable(teamProfiles, func(i, j int) bool {
		a, b := teamProfiles[i], teamProfiles[j]
		if a.p.Priority != b.p.Priority {
			return a.p.Priority < b.p.Priority
		}
		if a.p.Name != b.p.Name {
			return a.p.Name < b.p.Name
		}
		return a.team.Name < b.team.Name
	})
	out := make([]Effective, 0, len(catalogue))
	for _, def := range Catalogue() {
		e := Effective{Permission: def.Name, Value: def.Default, From: Origin{Kind: "default"}}
		if v, ok := u.Overrides[def.Name]; ok {
			e.Value, e.From = v, Origin{Kind: "override"}
			out = append(out, e)
			continue
		}
		found := false
		for _, pid := range u.Profiles {
			p, ok := profiles[pid]
			if !ok {
				continue
			}
			if v, ok := p.Grants[def.Name]; ok {
				e.Value, e.From = v, Origin{Kind: "profile", ProfileID: p.ID, ProfileName: p.Name}
				found = true
				break
			}
		}
		if !found {
			for _, tp := range teamProfiles {
				if v, ok := tp.p.Grants[def.Name]; ok {
					e.Value = v
					e.From = Origin{Kind: "team", ProfileID: tp.p.ID, ProfileName: tp.p.Name, TeamID: tp.team.ID, TeamName: tp.team.Name}
					break
				}
			}
		}
		out = append(out, e)
	}
	return out
}

func (p *Profile) normalize() error {
	var pr Problems
	p.Name = strings.TrimSpace(p.Name)
	if p.Name == "" {
		pr.Add("name", "is required")
	}
	checkText(&pr, "name", p.Name, 128)
	checkText(&pr, "description", p.Description, 1000)
	if p.Role != "" && !p.Role.valid() {
		pr.Add("role", "must be user, agent, supervisor, admin or owner")
	}
	pr.Merge("grants", p.Grants.Validate())
	return pr.Err()
}

// CreateProfile creates a permission profile.
func (d *Directory) CreateProfile(ctx context.Context, tenant string, p Profile) (Profile, error) {
	defer d.cache.drop("profiles:" + tenant)
	if err := p.normalize(); err != nil {
		return Profile{}, err
	}
	err := d.update(ctx, func(t *txn) error {
		if _, err := t.tenant(tenant); err != nil {
			return err
		}
		if other, err := t.tx.LookupProfile(t.ctx, tenant, p.Name); err == nil {
			return &ConflictError{Kind: "profile", Field: "name", Value: p.Name, ExistingID: other.ID}
		} else if !isNotFound(err) {
			return err
		}
		p.ID, p.TenantID, p.Version, p.Created, p.Updated = newID(), tenant, 1, t.now, t.now
		if err := t.tx.CreateProfile(t.ctx, &p); err != nil {
			return err
		}
		return t.record(Change{TenantID: tenant, Entity: EntityProfile, EntityID: p.ID, Action: ActionCreate,
			Summary: p.Name, Fields: Diff(nil, p), Version: p.Version})
	})
	return p, err
}

// GetProfile returns a profile.
func (d *Directory) GetProfile(ctx context.Context, tenant, id string) (Profile, error) {
	return read(d, ctx, func(t *txn) (Profile, error) { return t.tx.GetProfile(t.ctx, tenant, id) })
}

// LookupProfile finds a profile by name, case-insensitively.
func (d *Directory) LookupProfile(ctx context.Context, tenant, name string) (Profile, error) {
	return read(d, ctx, func(t *txn) (Profile, error) { return t.tx.LookupProfile(t.ctx, tenant, name) })
}

// ListProfiles returns the tenant's profiles ordered by name.
func (d *Directory) ListProfiles(ctx context.Context, tenant string) ([]Profile, error) {
	key := "profiles:" + tenant
	if v, ok := d.cache.get(key, d.now()); ok {
		return append([]Profile(nil), v.([]Profile)...), nil
	}
	var out []Profile
	err := d.view(ctx, func(t *txn) error {
		if _, err := t.tenant(tenant); err != nil {
			return err
		}
		var err error
		out, err = t.tx.ListProfiles(t.ctx, tenant)
		return err
	})
	if err == nil {
		d.cache.put(key, append([]Profile(nil), out...), d.now())
	}
	return out, err
}

// UpdateProfile replaces a profile's name, description, role, priority and
// grants. When p.Version is not zero it must be the current version.
func (d *Directory) UpdateProfile(ctx context.Context, tenant string, p Profile) (Profile, error) {
	defer d.cache.drop("profiles:" + tenant)
	if err := p.normalize(); err != nil {
		return Profile{}, err
	}
	err := d.update(ctx, func(t *txn) error {
		old, err := t.tx.GetProfile(t.ctx, tenant, p.ID)
		if err != nil {
			return err
		}
		if p.Version != 0 && p.Version != old.Version {
			return versionConflict("profile", p.ID)
		}
		if other, err := t.tx.LookupProfile(t.ctx, tenant, p.Name); err == nil && other.ID != p.ID {
			return &ConflictError{Kind: "profile", Field: "name", Value: p.Name, ExistingID: other.ID}
		} else if err != nil && !isNotFound(err) {
			return err
		}
		p.TenantID, p.Created, p.Version, p.Updated = tenant, old.Created, old.Version, old.Updated
		fields := Diff(old, p)
		if len(fields) == 0 {
			p = old
			return nil
		}
		p.Version, p.Updated = old.Version+1, t.now
		if err := t.tx.UpdateProfile(t.ctx, &p, old.Version); err != nil {
			return err
		}
		return t.record(Change{TenantID: tenant, Entity: EntityProfile, EntityID: p.ID, Action: ActionUpdate,
			Summary: p.Name, Fields: fields, Version: p.Version})
	})
	return p, err
}

// DeleteProfile deletes a profile. While users or teams have it, it fails
// with ErrInUse naming each, unless opts has Cascade, which unbinds it from
// them in the same transaction.
func (d *Directory) DeleteProfile(ctx context.Context, tenant, id string, opts ...DeleteOption) error {
	defer d.cache.drop("profiles:" + tenant)
	o := deleteOpts(opts)
	return d.update(ctx, func(t *txn) error {
		p, err := t.tx.GetProfile(t.ctx, tenant, id)
		if err != nil {
			return err
		}
		refs, err := t.referrers(tenant, EntityProfile, id)
		if err != nil {
			return err
		}
		if len(refs) > 0 && !o.cascade {
			return inUse("profile", p.Name, refs)
		}
		if err := t.unreference(tenant, EntityProfile, id, refs); err != nil {
			return err
		}
		if err := t.tx.DeleteProfile(t.ctx, tenant, id); err != nil {
			return err
		}
		return t.record(Change{TenantID: tenant, Entity: EntityProfile, EntityID: id, Action: ActionDelete, Summary: p.Name, Version: p.Version})
	})
}

// Effective returns every permission of a user with its value and where the
// value came from; see EffectivePermissions for the precedence.
func (d *Directory) Effective(ctx context.Context, tenant, userID string) ([]Effective, error) {
	var out []Effective
	err := d.view(ctx, func(t *txn) error {
		u, err := t.tx.GetUser(t.ctx, tenant, userID)
		if err != nil {
			return err
		}
		profiles := map[string]Profile{}
		load := func(id string) error {
			if _, ok := profiles[id]; ok {
				return nil
			}
			p, err := t.tx.GetProfile(t.ctx, tenant, id)
			if isNotFound(err) {
				return nil
			}
			profiles[id] = p
			return err
		}
		for _, id := range u.Profiles {
			if err := load(id); err != nil {
				return err
			}
		}
		teams := make([]Team, 0, len(u.Teams))
		for _, id := range u.Teams {
			tm, err := t.tx.GetTeam(t.ctx, tenant, id)
			if isNotFound(err) {
				continue
			}
			if err != nil {
				return err
			}
			teams = append(teams, tm)
			for _, pid := range tm.Profiles {
				if err := load(pid); err != nil {
					return err
				}
			}
		}
		out = EffectivePermissions(u, profiles, teams)
		return nil
	})
	return out, err
}
