package pbxusers

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"time"
)

// ---- profiles

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

// DeleteProfile deletes a profile. It fails with ErrInUse while users or
// teams use it.
func (d *Directory) DeleteProfile(ctx context.Context, tenant, id string) error {
	defer d.cache.drop("profiles:" + tenant)
	return d.update(ctx, func(t *txn) error {
		p, err := t.tx.GetProfile(t.ctx, tenant, id)
		if err != nil {
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

// ---- devices

// AddDevice creates a device, assigned to d.UserID or unassigned. The
// library generates the SIP secret, and the SIP id when none is given.
func (d *Directory) AddDevice(ctx context.Context, tenant string, dev Device) (Device, error) {
	if err := dev.normalize(); err != nil {
		return Device{}, err
	}
	err := d.update(ctx, func(t *txn) error {
		if _, err := t.tenant(tenant); err != nil {
			return err
		}
		base := "dev"
		if dev.UserID != "" {
			u, err := t.tx.GetUser(t.ctx, tenant, dev.UserID)
			if isNotFound(err) {
				return Invalid("userId", "no user %q", dev.UserID)
			}
			if err != nil {
				return err
			}
			if u.Extension != "" {
				base = u.Extension
			}
		}
		if dev.SIPID == "" {
			dev.SIPID = base + "-" + strings.ToLower(randomSecret(6))
		}
		dev.ID, dev.TenantID, dev.Secret = newID(), tenant, randomSecret(24)
		dev.Version, dev.Created, dev.Updated = 1, t.now, t.now
		if err := t.tx.CreateDevice(t.ctx, &dev); err != nil {
			return err
		}
		return t.record(Change{TenantID: tenant, Entity: EntityDevice, EntityID: dev.ID, Action: ActionCreate,
			Summary: dev.SIPID, Fields: Diff(nil, dev), Version: dev.Version})
	})
	return dev, err
}

// GetDevice returns a device, including its SIP secret.
func (d *Directory) GetDevice(ctx context.Context, tenant, id string) (Device, error) {
	return read(d, ctx, func(t *txn) (Device, error) { return t.tx.GetDevice(t.ctx, tenant, id) })
}

// ListDevices lists a user's devices, or all the tenant's when userID is "".
func (d *Directory) ListDevices(ctx context.Context, tenant, userID string) ([]Device, error) {
	return read(d, ctx, func(t *txn) ([]Device, error) { return t.tx.ListDevices(t.ctx, tenant, userID) })
}

// UpdateDevice changes a device's user, kind, label, SIP id, MAC, model and
// hot-desk flag. The secret is kept unless rotate is true, which generates a
// new one.
func (d *Directory) UpdateDevice(ctx context.Context, tenant string, dev Device, rotate bool) (Device, error) {
	if err := dev.normalize(); err != nil {
		return Device{}, err
	}
	err := d.update(ctx, func(t *txn) error {
		old, err := t.tx.GetDevice(t.ctx, tenant, dev.ID)
		if err != nil {
			return err
		}
		if dev.Version != 0 && dev.Version != old.Version {
			return versionConflict("device", dev.ID)
		}
		if dev.UserID != "" {
			if _, err := t.tx.GetUser(t.ctx, tenant, dev.UserID); isNotFound(err) {
				return Invalid("userId", "no user %q", dev.UserID)
			} else if err != nil {
				return err
			}
		}
		if dev.SIPID == "" {
			dev.SIPID = old.SIPID
		}
		dev.TenantID, dev.Created, dev.Secret = tenant, old.Created, old.Secret
		if rotate {
			dev.Secret = randomSecret(24)
		}
		dev.Version, dev.Updated = old.Version+1, t.now
		if err := t.tx.UpdateDevice(t.ctx, &dev, old.Version); err != nil {
			return err
		}
		return t.record(Change{TenantID: tenant, Entity: EntityDevice, EntityID: dev.ID, Action: ActionUpdate,
			Summary: dev.SIPID, Fields: Diff(old, dev), Version: dev.Version})
	})
	return dev, err
}

// RemoveDevice deletes a device.
func (d *Directory) RemoveDevice(ctx context.Context, tenant, id string) error {
	return d.update(ctx, func(t *txn) error {
		dev, err := t.tx.GetDevice(t.ctx, tenant, id)
		if err != nil {
			return err
		}
		if err := t.tx.DeleteDevice(t.ctx, tenant, id); err != nil {
			return err
		}
		return t.record(Change{TenantID: tenant, Entity: EntityDevice, EntityID: id, Action: ActionDelete, Summary: dev.SIPID, Version: dev.Version})
	})
}

// ---- numbers

// AssignNumber adds a phone number to the tenant's inventory, or changes it,
// routed to userID (empty leaves it unassigned).
func (d *Directory) AssignNumber(ctx context.Context, tenant, number, userID, label string) (Number, error) {
	var n Number
	err := d.update(ctx, func(t *txn) error {
		tn, err := t.tenant(tenant)
		if err != nil {
			return err
		}
		e164, _, err := NormalizeE164(number, tn.Region)
		if err != nil {
			return Invalid("number", "%q %s", number, err.Error())
		}
		if userID != "" {
			if _, err := t.tx.GetUser(t.ctx, tenant, userID); isNotFound(err) {
				return Invalid("userId", "no user %q", userID)
			} else if err != nil {
				return err
			}
		}
		old, err := t.tx.GetNumber(t.ctx, tenant, e164)
		action := ActionUpdate
		switch {
		case isNotFound(err):
			action, old = ActionCreate, Number{}
			n.Created = t.now
		case err != nil:
			return err
		default:
			n.Created = old.Created
		}
		n.TenantID, n.E164, n.UserID, n.Label, n.Updated = tenant, e164, userID, label, t.now
		if err := t.tx.PutNumber(t.ctx, &n); err != nil {
			return err
		}
		var before any
		if action == ActionUpdate {
			before = old
		}
		return t.record(Change{TenantID: tenant, Entity: EntityNumber, EntityID: e164, Action: action, Summary: e164, Fields: Diff(before, n)})
	})
	return n, err
}

// ReleaseNumber removes a number from the tenant's inventory.
func (d *Directory) ReleaseNumber(ctx context.Context, tenant, number string) error {
	return d.update(ctx, func(t *txn) error {
		tn, err := t.tenant(tenant)
		if err != nil {
			return err
		}
		e164, _, err := NormalizeE164(number, tn.Region)
		if err != nil {
			return Invalid("number", "%q %s", number, err.Error())
		}
		if err := t.tx.DeleteNumber(t.ctx, tenant, e164); err != nil {
			return err
		}
		return t.record(Change{TenantID: tenant, Entity: EntityNumber, EntityID: e164, Action: ActionDelete, Summary: e164})
	})
}

// ListNumbers lists the tenant's numbers, or those routed to a user.
func (d *Directory) ListNumbers(ctx context.Context, tenant, userID string) ([]Number, error) {
	return read(d, ctx, func(t *txn) ([]Number, error) { return t.tx.ListNumbers(t.ctx, tenant, userID) })
}

// ---- time frames

// CreateTimeFrame stores a tenant-wide time frame that answering rules can
// refer to by id. An empty ID is assigned.
func (d *Directory) CreateTimeFrame(ctx context.Context, tenant string, tf TimeFrame) (StoredTimeFrame, error) {
	if tf.ID == "" {
		tf.ID = newID()
	}
	if err := tf.Validate(); err != nil {
		return StoredTimeFrame{}, err
	}
	if tf.TimeZone != "" {
		tf.TimeZone = CanonicalTimeZone(tf.TimeZone)
		if _, err := loadLocation(tf.TimeZone); err != nil {
			return StoredTimeFrame{}, Invalid("timeZone", "unknown IANA time zone %q", tf.TimeZone)
		}
	}
	s := StoredTimeFrame{TimeFrame: tf}
	err := d.update(ctx, func(t *txn) error {
		if _, err := t.tenant(tenant); err != nil {
			return err
		}
		s.TenantID, s.Version, s.Created, s.Updated = tenant, 1, t.now, t.now
		if err := t.tx.CreateTimeFrame(t.ctx, &s); err != nil {
			return err
		}
		return t.record(Change{TenantID: tenant, Entity: EntityTimeFrame, EntityID: tf.ID, Action: ActionCreate,
			Summary: tf.Name, Fields: Diff(nil, s), Version: 1})
	})
	return s, err
}

// GetTimeFrame returns a time frame.
func (d *Directory) GetTimeFrame(ctx context.Context, tenant, id string) (StoredTimeFrame, error) {
	return read(d, ctx, func(t *txn) (StoredTimeFrame, error) { return t.tx.GetTimeFrame(t.ctx, tenant, id) })
}

// ListTimeFrames lists the tenant's time frames.
func (d *Directory) ListTimeFrames(ctx context.Context, tenant string) ([]StoredTimeFrame, error) {
	return read(d, ctx, func(t *txn) ([]StoredTimeFrame, error) { return t.tx.ListTimeFrames(t.ctx, tenant) })
}

// UpdateTimeFrame replaces a time frame. version, when not zero, must be the
// current version.
func (d *Directory) UpdateTimeFrame(ctx context.Context, tenant string, tf TimeFrame, version int64) (StoredTimeFrame, error) {
	if err := tf.Validate(); err != nil {
		return StoredTimeFrame{}, err
	}
	tf.TimeZone = CanonicalTimeZone(tf.TimeZone)
	var s StoredTimeFrame
	err := d.update(ctx, func(t *txn) error {
		old, err := t.tx.GetTimeFrame(t.ctx, tenant, tf.ID)
		if err != nil {
			return err
		}
		if version != 0 && version != old.Version {
			return versionConflict("time frame", tf.ID)
		}
		s = StoredTimeFrame{TimeFrame: tf, TenantID: tenant, Version: old.Version + 1, Created: old.Created, Updated: t.now}
		if err := t.tx.UpdateTimeFrame(t.ctx, &s, old.Version); err != nil {
			return err
		}
		return t.record(Change{TenantID: tenant, Entity: EntityTimeFrame, EntityID: tf.ID, Action: ActionUpdate,
			Summary: tf.Name, Fields: Diff(old, s), Version: s.Version})
	})
	return s, err
}

// DeleteTimeFrame deletes a time frame. It fails with ErrInUse while an
// answering rule refers to it: deleting it would silently disable the rule.
func (d *Directory) DeleteTimeFrame(ctx context.Context, tenant, id string) error {
	return d.update(ctx, func(t *txn) error {
		tf, err := t.tx.GetTimeFrame(t.ctx, tenant, id)
		if err != nil {
			return err
		}
		if err := t.tx.DeleteTimeFrame(t.ctx, tenant, id); err != nil {
			return err
		}
		return t.record(Change{TenantID: tenant, Entity: EntityTimeFrame, EntityID: id, Action: ActionDelete, Summary: tf.Name, Version: tf.Version})
	})
}

// ---- change log

// Changes returns change log entries of a tenant, oldest first.
func (d *Directory) Changes(ctx context.Context, tenant string, q ChangeQuery) ([]Change, error) {
	if q.Limit <= 0 {
		q.Limit = DefaultPageSize
	}
	if q.Limit > MaxPageSize {
		q.Limit = MaxPageSize
	}
	return read(d, ctx, func(t *txn) ([]Change, error) { return t.tx.ListChanges(t.ctx, tenant, q) })
}

// ---- API tokens

// TokenPrefix starts every API token, so secret scanners recognise them.
const TokenPrefix = "pbxg_"

// CreateToken creates a bearer token for the tenant's SCIM endpoint and
// returns the token itself (shown once, never stored) and its record.
func (d *Directory) CreateToken(ctx context.Context, tenant, name string) (string, APIToken, error) {
	if err := checkLabel(name); err != nil {
		return "", APIToken{}, err
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return "", APIToken{}, fmt.Errorf("read random: %w", err)
	}
	enc := base64.RawURLEncoding.EncodeToString(secret)
	sum := sha256.Sum256([]byte(enc))
	tok := APIToken{ID: strings.ToLower(randomSecret(12)), TenantID: tenant, Name: name, Hash: sum[:]}
	err := d.update(ctx, func(t *txn) error {
		if _, err := t.tenant(tenant); err != nil {
			return err
		}
		tok.Created = t.now
		if err := t.tx.CreateToken(t.ctx, &tok); err != nil {
			return err
		}
		return t.record(Change{TenantID: tenant, Entity: EntityToken, EntityID: tok.ID, Action: ActionCreate, Summary: name})
	})
	if err != nil {
		return "", APIToken{}, err
	}
	return TokenPrefix + tok.ID + "." + enc, tok, nil
}

func checkLabel(name string) error {
	var p Problems
	checkText(&p, "name", name, 100)
	return p.Err()
}

// ListTokens lists a tenant's tokens, without secrets.
func (d *Directory) ListTokens(ctx context.Context, tenant string) ([]APIToken, error) {
	var out []APIToken
	err := d.view(ctx, func(t *txn) error {
		if _, err := t.tenant(tenant); err != nil {
			return err
		}
		var err error
		out, err = t.tx.ListTokens(t.ctx, tenant)
		return err
	})
	return out, err
}

// RevokeToken revokes a token of the tenant. Revoking twice is not an error.
// A gateway process other than the one revoking refuses the token within
// two seconds (it trusts what it read of a token that long).
func (d *Directory) RevokeToken(ctx context.Context, tenant, id string) error {
	defer d.cache.drop("token:" + id)
	err := d.update(ctx, func(t *txn) error {
		tok, err := t.tx.GetToken(t.ctx, id)
		if err != nil || tok.TenantID != tenant {
			return notFound("token", id)
		}
		if tok.Revoked != nil {
			return nil
		}
		tok.Revoked = &t.now
		if err := t.tx.UpdateToken(t.ctx, &tok); err != nil {
			return err
		}
		return t.record(Change{TenantID: tenant, Entity: EntityToken, EntityID: id, Action: ActionRevoke, Summary: tok.Name})
	})
	if err == nil {
		d.touches.Delete(id)
	}
	return err
}

// Authenticate checks a bearer token and returns its record; the token's
// tenant is the only tenant the caller may see. Missing, malformed, unknown,
// revoked and expired tokens all fail with ErrUnauthenticated. The secret is
// compared in constant time.
func (d *Directory) Authenticate(ctx context.Context, token string) (APIToken, error) {
	rest, ok := strings.CutPrefix(token, TokenPrefix)
	if !ok {
		return APIToken{}, ErrUnauthenticated
	}
	id, secret, ok := strings.Cut(rest, ".")
	if !ok || id == "" || len(id) > 64 || secret == "" {
		return APIToken{}, ErrUnauthenticated
	}
	var tok APIToken
	var err error
	if v, ok := d.cache.get("token:"+id, d.now()); ok {
		tok = v.(APIToken)
	} else {
		err = d.view(ctx, func(t *txn) error {
			var err error
			tok, err = t.tx.GetToken(t.ctx, id)
			return err
		})
		if err == nil {
			d.cache.put("token:"+id, tok, d.now())
		}
	}
	sum := sha256.Sum256([]byte(secret))
	if err != nil {
		if isNotFound(err) {
			equalSecret(sum[:], sum[:]) // same work as a found token
			return APIToken{}, ErrUnauthenticated
		}
		return APIToken{}, err
	}
	now := d.now()
	if !equalSecret(sum[:], tok.Hash) || tok.Revoked != nil || (tok.ExpiresAt != nil && now.After(*tok.ExpiresAt)) {
		return APIToken{}, ErrUnauthenticated
	}
	if last, ok := d.touches.Load(id); !ok || now.Sub(last.(time.Time)) > time.Minute {
		d.touches.Store(id, now)
		_ = d.store.Update(ctx, func(tx Tx) error {
			cur, err := tx.GetToken(ctx, id)
			if err != nil {
				return err
			}
			u := now.UTC().Truncate(time.Microsecond)
			cur.LastUsed = &u
			return tx.UpdateToken(ctx, &cur)
		})
	}
	return tok, nil
}
