package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pbxgate/pbxgate/pbxusers"
	"github.com/pbxgate/pbxgate/pbxusers/internal/sqlquery"
)

func encode(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode: %w", err)
	}
	return string(b), nil
}

func notFoundErr(kind, id string, err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s %q: %w", kind, id, pbxusers.ErrNotFound)
	}
	return mapErr(err)
}

// ---- tenants

func (t *txn) CreateTenant(ctx context.Context, tn *pbxusers.Tenant) error {
	doc, err := encode(tn)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, "INSERT INTO tenants (id, doc, version, created, updated) VALUES (?,?,?,?,?)",
		tn.ID, doc, tn.Version, micro(tn.Created), micro(tn.Updated))
	return writeErr(err, tn.ID)
}

func (t *txn) GetTenant(ctx context.Context, id string) (pbxusers.Tenant, error) {
	var doc string
	var tn pbxusers.Tenant
	err := t.queryRow(ctx, "SELECT doc FROM tenants WHERE id = ?", id).Scan(&doc)
	if err != nil {
		return tn, notFoundErr("tenant", id, err)
	}
	err = json.Unmarshal([]byte(doc), &tn)
	return tn, err
}

func (t *txn) UpdateTenant(ctx context.Context, tn *pbxusers.Tenant, expect int64) error {
	doc, err := encode(tn)
	if err != nil {
		return err
	}
	res, err := t.exec(ctx, "UPDATE tenants SET doc = ?, version = ?, updated = ? WHERE id = ? AND version = ?",
		doc, tn.Version, micro(tn.Updated), tn.ID, expect)
	if err != nil {
		return writeErr(err, tn.ID)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if _, err := t.GetTenant(ctx, tn.ID); err != nil {
			return err
		}
		return &pbxusers.ConflictError{Kind: "tenant", Field: "version", Value: tn.ID, Err: pbxusers.ErrVersionMismatch}
	}
	return nil
}

func (t *txn) ListTenants(ctx context.Context) ([]pbxusers.Tenant, error) {
	docs, err := t.strings(ctx, "SELECT doc FROM tenants ORDER BY id")
	if err != nil {
		return nil, err
	}
	out := make([]pbxusers.Tenant, len(docs))
	for i, d := range docs {
		if err := json.Unmarshal([]byte(d), &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ---- profiles

func (t *txn) CreateProfile(ctx context.Context, p *pbxusers.Profile) error {
	doc, err := encode(p)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, "INSERT INTO profiles (id, tenant_id, name_lc, doc, version, created, updated) VALUES (?,?,?,?,?,?,?)",
		p.ID, p.TenantID, strings.ToLower(p.Name), doc, p.Version, micro(p.Created), micro(p.Updated))
	return writeErr(err, p.Name)
}

func (t *txn) getProfile(ctx context.Context, where string, args ...any) (pbxusers.Profile, error) {
	var doc string
	var p pbxusers.Profile
	if err := t.queryRow(ctx, "SELECT doc FROM profiles WHERE "+where, args...).Scan(&doc); err != nil {
		return p, err
	}
	err := json.Unmarshal([]byte(doc), &p)
	return p, err
}

func (t *txn) GetProfile(ctx context.Context, tenant, id string) (pbxusers.Profile, error) {
	p, err := t.getProfile(ctx, "tenant_id = ? AND id = ?", tenant, id)
	if err != nil {
		return p, notFoundErr("profile", id, err)
	}
	return p, nil
}

func (t *txn) LookupProfile(ctx context.Context, tenant, name string) (pbxusers.Profile, error) {
	p, err := t.getProfile(ctx, "tenant_id = ? AND name_lc = ?", tenant, strings.ToLower(strings.TrimSpace(name)))
	if err != nil {
		return p, notFoundErr("profile", name, err)
	}
	return p, nil
}

func (t *txn) UpdateProfile(ctx context.Context, p *pbxusers.Profile, expect int64) error {
	doc, err := encode(p)
	if err != nil {
		return err
	}
	res, err := t.exec(ctx, "UPDATE profiles SET name_lc = ?, doc = ?, version = ?, updated = ? WHERE tenant_id = ? AND id = ? AND version = ?",
		strings.ToLower(p.Name), doc, p.Version, micro(p.Updated), p.TenantID, p.ID, expect)
	if err != nil {
		return writeErr(err, p.Name)
	}
	return t.checkUpdated(ctx, res, "profiles", "profile", p.TenantID, p.ID)
}

func (t *txn) DeleteProfile(ctx context.Context, tenant, id string) error {
	var users, teams int
	if err := t.queryRow(ctx, `SELECT (SELECT count(*) FROM user_profiles WHERE profile_id = ?1),
		(SELECT count(*) FROM team_profiles WHERE profile_id = ?1)`, id).Scan(&users, &teams); err != nil {
		return mapErr(err)
	}
	if users+teams > 0 {
		return &pbxusers.ConflictError{Kind: "profile", Field: "id", Value: id,
			Reason: fmt.Sprintf("is used by %d users and %d teams", users, teams), Err: pbxusers.ErrInUse}
	}
	res, err := t.exec(ctx, "DELETE FROM profiles WHERE tenant_id = ? AND id = ?", tenant, id)
	if err != nil {
		return writeErr(err, id)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("profile %q: %w", id, pbxusers.ErrNotFound)
	}
	return nil
}

func (t *txn) ListProfiles(ctx context.Context, tenant string) ([]pbxusers.Profile, error) {
	docs, err := t.strings(ctx, "SELECT doc FROM profiles WHERE tenant_id = ? ORDER BY name_lc, id", tenant)
	if err != nil {
		return nil, err
	}
	out := make([]pbxusers.Profile, len(docs))
	for i, d := range docs {
		if err := json.Unmarshal([]byte(d), &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ---- teams

const teamColumns = "u.id, u.tenant_id, u.version, u.created, u.updated, u.doc, u.member_count"

func scanTeam(sc interface{ Scan(...any) error }) (pbxusers.Team, error) {
	var tm pbxusers.Team
	var id, tenant, doc string
	var version, created, updated int64
	var members int
	if err := sc.Scan(&id, &tenant, &version, &created, &updated, &doc, &members); err != nil {
		return tm, err
	}
	if err := json.Unmarshal([]byte(doc), &tm); err != nil {
		return tm, fmt.Errorf("decode team %s: %w", id, err)
	}
	tm.ID, tm.TenantID, tm.Version, tm.Members = id, tenant, version, members
	tm.Created, tm.Updated = fromMicro(created), fromMicro(updated)
	return tm, nil
}

func teamDoc(tm *pbxusers.Team) (string, error) {
	c := *tm
	c.ID, c.TenantID, c.Version, c.Members = "", "", 0, 0
	return encode(c)
}

func (t *txn) writeTeamProfiles(ctx context.Context, tm *pbxusers.Team) error {
	if _, err := t.exec(ctx, "DELETE FROM team_profiles WHERE team_id = ?", tm.ID); err != nil {
		return mapErr(err)
	}
	for i, p := range tm.Profiles {
		if _, err := t.exec(ctx, "INSERT INTO team_profiles (team_id, profile_id, pos) VALUES (?,?,?)", tm.ID, p, i); err != nil {
			return writeErr(err, p)
		}
	}
	return nil
}

func (t *txn) CreateTeam(ctx context.Context, tm *pbxusers.Team) error {
	doc, err := teamDoc(tm)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, "INSERT INTO teams (id, tenant_id, name_lc, external_id, version, created, updated, doc) VALUES (?,?,?,?,?,?,?,?)",
		tm.ID, tm.TenantID, strings.ToLower(tm.Name), nullable(tm.Owner.ExternalID), tm.Version, micro(tm.Created), micro(tm.Updated), doc)
	if err != nil {
		return writeErr(err, tm.Name)
	}
	return t.writeTeamProfiles(ctx, tm)
}

func (t *txn) GetTeam(ctx context.Context, tenant, id string) (pbxusers.Team, error) {
	tm, err := scanTeam(t.queryRow(ctx, "SELECT "+teamColumns+" FROM teams u WHERE u.tenant_id = ? AND u.id = ?", tenant, id))
	if err != nil {
		return tm, notFoundErr("team", id, err)
	}
	return tm, nil
}

func (t *txn) LookupTeam(ctx context.Context, tenant string, key pbxusers.TeamKey, value string) (pbxusers.Team, error) {
	var where string
	arg := any(value)
	switch key {
	case pbxusers.TeamKeyName:
		where, arg = "u.name_lc = ?", strings.ToLower(strings.TrimSpace(value))
	case pbxusers.TeamKeyExternalID:
		where = "u.external_id = ?"
	default:
		return pbxusers.Team{}, pbxusers.Invalid("key", "cannot look teams up by %q", key)
	}
	tm, err := scanTeam(t.queryRow(ctx, "SELECT "+teamColumns+" FROM teams u WHERE u.tenant_id = ? AND "+where, tenant, arg))
	if err != nil {
		return tm, notFoundErr("team", value, err)
	}
	return tm, nil
}

func (t *txn) UpdateTeam(ctx context.Context, tm *pbxusers.Team, expect int64) error {
	doc, err := teamDoc(tm)
	if err != nil {
		return err
	}
	res, err := t.exec(ctx, "UPDATE teams SET name_lc = ?, external_id = ?, version = ?, updated = ?, doc = ? WHERE tenant_id = ? AND id = ? AND version = ?",
		strings.ToLower(tm.Name), nullable(tm.Owner.ExternalID), tm.Version, micro(tm.Updated), doc, tm.TenantID, tm.ID, expect)
	if err != nil {
		return writeErr(err, tm.Name)
	}
	if err := t.checkUpdated(ctx, res, "teams", "team", tm.TenantID, tm.ID); err != nil {
		return err
	}
	return t.writeTeamProfiles(ctx, tm)
}

func (t *txn) DeleteTeam(ctx context.Context, tenant, id string) error {
	res, err := t.exec(ctx, "DELETE FROM teams WHERE tenant_id = ? AND id = ?", tenant, id)
	if err != nil {
		return writeErr(err, id)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("team %q: %w", id, pbxusers.ErrNotFound)
	}
	return nil
}

func (t *txn) ListTeams(ctx context.Context, tenant string, q pbxusers.TeamQuery) (pbxusers.TeamPage, error) {
	b := newBuilder()
	b.Where("u.tenant_id = ?", tenant)
	if q.Filter != nil {
		if err := b.Filter(q.Filter, sqlquery.TeamAttrs); err != nil {
			return pbxusers.TeamPage{}, err
		}
	}
	order, err := sqlquery.SortColumn(q.SortBy, sqlquery.TeamSorts)
	if err != nil {
		return pbxusers.TeamPage{}, err
	}
	var page pbxusers.TeamPage
	where := b.SQL()
	if err := t.queryRow(ctx, "SELECT count(*) FROM teams u WHERE "+where, b.Args...).Scan(&page.Total); err != nil {
		return page, mapErr(err)
	}
	if q.Limit < 0 || page.Total == 0 || q.Offset >= page.Total {
		return page, nil
	}
	limit := q.Limit
	if limit == 0 {
		limit = pbxusers.DefaultPageSize
	}
	sorted := orderBy(order, q.Descending)
	rows, err := t.query(ctx, "SELECT "+teamColumns+" FROM teams u WHERE "+where+" ORDER BY "+sorted+" LIMIT ? OFFSET ?",
		append(b.Args, limit, q.Offset)...)
	if err != nil {
		return page, mapErr(err)
	}
	defer rows.Close()
	for rows.Next() {
		tm, err := scanTeam(rows)
		if err != nil {
			return page, err
		}
		page.Teams = append(page.Teams, tm)
	}
	return page, mapErr(rows.Err())
}

func (t *txn) teamExists(ctx context.Context, tenant, team string) error {
	var n int
	if err := t.queryRow(ctx, "SELECT count(*) FROM teams WHERE tenant_id = ? AND id = ?", tenant, team).Scan(&n); err != nil {
		return mapErr(err)
	}
	if n == 0 {
		return fmt.Errorf("team %q: %w", team, pbxusers.ErrNotFound)
	}
	return nil
}

func (t *txn) AddTeamMembers(ctx context.Context, tenant, team string, users []string) ([]string, error) {
	if err := t.teamExists(ctx, tenant, team); err != nil {
		return nil, err
	}
	var added []string
	for _, u := range users {
		var n int
		if err := t.queryRow(ctx, "SELECT count(*) FROM users WHERE tenant_id = ? AND id = ?", tenant, u).Scan(&n); err != nil {
			return nil, mapErr(err)
		}
		if n == 0 {
			return nil, fmt.Errorf("member %q: user %w", u, pbxusers.ErrNotFound)
		}
		res, err := t.exec(ctx, "INSERT OR IGNORE INTO team_members (team_id, user_id) VALUES (?,?)", team, u)
		if err != nil {
			return nil, mapErr(err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			added = append(added, u)
		}
	}
	return added, nil
}

func (t *txn) RemoveTeamMembers(ctx context.Context, tenant, team string, users []string) ([]string, error) {
	if err := t.teamExists(ctx, tenant, team); err != nil {
		return nil, err
	}
	var removed []string
	for _, u := range users {
		res, err := t.exec(ctx, "DELETE FROM team_members WHERE team_id = ? AND user_id = ?", team, u)
		if err != nil {
			return nil, mapErr(err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			removed = append(removed, u)
		}
	}
	return removed, nil
}

func (t *txn) ListTeamMembers(ctx context.Context, tenant, team string, offset, limit int) ([]string, int, error) {
	if err := t.teamExists(ctx, tenant, team); err != nil {
		return nil, 0, err
	}
	var total int
	if err := t.queryRow(ctx, "SELECT count(*) FROM team_members WHERE team_id = ?", team).Scan(&total); err != nil {
		return nil, 0, mapErr(err)
	}
	if limit <= 0 {
		limit = -1
	}
	ids, err := t.strings(ctx, "SELECT user_id FROM team_members WHERE team_id = ? ORDER BY user_id LIMIT ? OFFSET ?", team, limit, max(offset, 0))
	return ids, total, err
}

// ---- devices

func (t *txn) CreateDevice(ctx context.Context, d *pbxusers.Device) error {
	doc, err := encode(d)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, "INSERT INTO devices (id, tenant_id, user_id, sip_id, mac, version, created, updated, doc) VALUES (?,?,?,?,?,?,?,?,?)",
		d.ID, d.TenantID, nullable(d.UserID), d.SIPID, nullable(d.MAC), d.Version, micro(d.Created), micro(d.Updated), doc)
	return writeErr(err, d.SIPID)
}

func (t *txn) scanDevices(ctx context.Context, where string, args ...any) ([]pbxusers.Device, error) {
	rows, err := t.query(ctx, "SELECT doc, user_id FROM devices WHERE "+where+" ORDER BY sip_id", args...)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []pbxusers.Device
	for rows.Next() {
		var doc string
		var user sql.NullString
		if err := rows.Scan(&doc, &user); err != nil {
			return nil, err
		}
		var d pbxusers.Device
		if err := json.Unmarshal([]byte(doc), &d); err != nil {
			return nil, err
		}
		d.UserID = user.String
		out = append(out, d)
	}
	return out, mapErr(rows.Err())
}

func (t *txn) GetDevice(ctx context.Context, tenant, id string) (pbxusers.Device, error) {
	ds, err := t.scanDevices(ctx, "tenant_id = ? AND id = ?", tenant, id)
	if err != nil {
		return pbxusers.Device{}, err
	}
	if len(ds) == 0 {
		return pbxusers.Device{}, fmt.Errorf("device %q: %w", id, pbxusers.ErrNotFound)
	}
	return ds[0], nil
}

func (t *txn) UpdateDevice(ctx context.Context, d *pbxusers.Device, expect int64) error {
	doc, err := encode(d)
	if err != nil {
		return err
	}
	res, err := t.exec(ctx, "UPDATE devices SET user_id = ?, sip_id = ?, mac = ?, version = ?, updated = ?, doc = ? WHERE tenant_id = ? AND id = ? AND version = ?",
		nullable(d.UserID), d.SIPID, nullable(d.MAC), d.Version, micro(d.Updated), doc, d.TenantID, d.ID, expect)
	if err != nil {
		return writeErr(err, d.SIPID)
	}
	return t.checkUpdated(ctx, res, "devices", "device", d.TenantID, d.ID)
}

func (t *txn) DeleteDevice(ctx context.Context, tenant, id string) error {
	res, err := t.exec(ctx, "DELETE FROM devices WHERE tenant_id = ? AND id = ?", tenant, id)
	if err != nil {
		return mapErr(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("device %q: %w", id, pbxusers.ErrNotFound)
	}
	return nil
}

func (t *txn) ListDevices(ctx context.Context, tenant, userID string) ([]pbxusers.Device, error) {
	if userID == "" {
		return t.scanDevices(ctx, "tenant_id = ?", tenant)
	}
	return t.scanDevices(ctx, "tenant_id = ? AND user_id = ?", tenant, userID)
}

// ---- numbers

func (t *txn) PutNumber(ctx context.Context, n *pbxusers.Number) error {
	_, err := t.exec(ctx, `INSERT INTO numbers (tenant_id, e164, user_id, label, created, updated) VALUES (?,?,?,?,?,?)
		ON CONFLICT (tenant_id, e164) DO UPDATE SET user_id = excluded.user_id, label = excluded.label, updated = excluded.updated`,
		n.TenantID, n.E164, nullable(n.UserID), n.Label, micro(n.Created), micro(n.Updated))
	return writeErr(err, n.E164)
}

func (t *txn) listNumbers(ctx context.Context, where string, args ...any) ([]pbxusers.Number, error) {
	rows, err := t.query(ctx, "SELECT tenant_id, e164, user_id, label, created, updated FROM numbers WHERE "+where+" ORDER BY e164", args...)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []pbxusers.Number
	for rows.Next() {
		var n pbxusers.Number
		var user sql.NullString
		var c, u int64
		if err := rows.Scan(&n.TenantID, &n.E164, &user, &n.Label, &c, &u); err != nil {
			return nil, err
		}
		n.UserID, n.Created, n.Updated = user.String, fromMicro(c), fromMicro(u)
		out = append(out, n)
	}
	return out, mapErr(rows.Err())
}

func (t *txn) GetNumber(ctx context.Context, tenant, e164 string) (pbxusers.Number, error) {
	ns, err := t.listNumbers(ctx, "tenant_id = ? AND e164 = ?", tenant, e164)
	if err != nil {
		return pbxusers.Number{}, err
	}
	if len(ns) == 0 {
		return pbxusers.Number{}, fmt.Errorf("number %q: %w", e164, pbxusers.ErrNotFound)
	}
	return ns[0], nil
}

func (t *txn) DeleteNumber(ctx context.Context, tenant, e164 string) error {
	res, err := t.exec(ctx, "DELETE FROM numbers WHERE tenant_id = ? AND e164 = ?", tenant, e164)
	if err != nil {
		return mapErr(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("number %q: %w", e164, pbxusers.ErrNotFound)
	}
	return nil
}

func (t *txn) ListNumbers(ctx context.Context, tenant, userID string) ([]pbxusers.Number, error) {
	if userID == "" {
		return t.listNumbers(ctx, "tenant_id = ?", tenant)
	}
	return t.listNumbers(ctx, "tenant_id = ? AND user_id = ?", tenant, userID)
}

// ---- time frames

func (t *txn) CreateTimeFrame(ctx context.Context, tf *pbxusers.StoredTimeFrame) error {
	doc, err := encode(tf)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, "INSERT INTO timeframes (id, tenant_id, doc, version, created, updated) VALUES (?,?,?,?,?,?)",
		tf.ID, tf.TenantID, doc, tf.Version, micro(tf.Created), micro(tf.Updated))
	return writeErr(err, tf.ID)
}

func (t *txn) listTimeFrames(ctx context.Context, where string, args ...any) ([]pbxusers.StoredTimeFrame, error) {
	docs, err := t.strings(ctx, "SELECT doc FROM timeframes WHERE "+where+" ORDER BY id", args...)
	if err != nil {
		return nil, err
	}
	out := make([]pbxusers.StoredTimeFrame, len(docs))
	for i, d := range docs {
		if err := json.Unmarshal([]byte(d), &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (t *txn) GetTimeFrame(ctx context.Context, tenant, id string) (pbxusers.StoredTimeFrame, error) {
	tfs, err := t.listTimeFrames(ctx, "tenant_id = ? AND id = ?", tenant, id)
	if err != nil {
		return pbxusers.StoredTimeFrame{}, err
	}
	if len(tfs) == 0 {
		return pbxusers.StoredTimeFrame{}, fmt.Errorf("time frame %q: %w", id, pbxusers.ErrNotFound)
	}
	return tfs[0], nil
}

func (t *txn) UpdateTimeFrame(ctx context.Context, tf *pbxusers.StoredTimeFrame, expect int64) error {
	doc, err := encode(tf)
	if err != nil {
		return err
	}
	res, err := t.exec(ctx, "UPDATE timeframes SET doc = ?, version = ?, updated = ? WHERE tenant_id = ? AND id = ? AND version = ?",
		doc, tf.Version, micro(tf.Updated), tf.TenantID, tf.ID, expect)
	if err != nil {
		return writeErr(err, tf.ID)
	}
	return t.checkUpdated(ctx, res, "timeframes", "time frame", tf.TenantID, tf.ID)
}

func (t *txn) DeleteTimeFrame(ctx context.Context, tenant, id string) error {
	users, err := t.strings(ctx, "SELECT user_id FROM routing_timeframe_refs WHERE timeframe_id = ? ORDER BY user_id LIMIT 5", id)
	if err != nil {
		return err
	}
	if len(users) > 0 {
		return &pbxusers.ConflictError{Kind: "time frame", Field: "id", Value: id,
			Reason: "is used by the answering rules of users " + strings.Join(users, ", "), Err: pbxusers.ErrInUse}
	}
	res, err := t.exec(ctx, "DELETE FROM timeframes WHERE tenant_id = ? AND id = ?", tenant, id)
	if err != nil {
		return writeErr(err, id)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("time frame %q: %w", id, pbxusers.ErrNotFound)
	}
	return nil
}

func (t *txn) ListTimeFrames(ctx context.Context, tenant string) ([]pbxusers.StoredTimeFrame, error) {
	return t.listTimeFrames(ctx, "tenant_id = ?", tenant)
}

// ---- change log

func (t *txn) AppendChange(ctx context.Context, c *pbxusers.Change) error {
	var fields any
	if len(c.Fields) > 0 {
		f, err := encode(c.Fields)
		if err != nil {
			return err
		}
		fields = f
	}
	res, err := t.exec(ctx, `INSERT INTO changes (tenant_id, at, actor_source, actor_name, entity, entity_id, action, summary, fields, version)
		VALUES (?,?,?,?,?,?,?,?,?,?)`, c.TenantID, micro(c.At), string(c.Actor.Source), c.Actor.Name, string(c.Entity), c.EntityID,
		string(c.Action), c.Summary, fields, c.Version)
	if err != nil {
		return mapErr(err)
	}
	c.Seq, err = res.LastInsertId()
	return err
}

func (t *txn) ListChanges(ctx context.Context, tenant string, q pbxusers.ChangeQuery) ([]pbxusers.Change, error) {
	b := newBuilder()
	b.Where("tenant_id = ?", tenant)
	b.Where("seq > ?", q.AfterSeq)
	if q.Entity != "" {
		b.Where("entity = ?", q.Entity)
	}
	if q.EntityID != "" {
		b.Where("entity_id = ?", q.EntityID)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = pbxusers.DefaultPageSize
	}
	rows, err := t.query(ctx, `SELECT seq, tenant_id, at, actor_source, actor_name, entity, entity_id, action, summary, fields, version
		FROM changes WHERE `+b.SQL()+` ORDER BY seq LIMIT ?`, append(b.Args, limit)...)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []pbxusers.Change
	for rows.Next() {
		var c pbxusers.Change
		var at int64
		var src, entity, action string
		var fields sql.NullString
		if err := rows.Scan(&c.Seq, &c.TenantID, &at, &src, &c.Actor.Name, &entity, &c.EntityID, &action, &c.Summary, &fields, &c.Version); err != nil {
			return nil, err
		}
		c.At, c.Actor.Source, c.Entity, c.Action = fromMicro(at), pbxusers.Source(src), pbxusers.Entity(entity), pbxusers.Action(action)
		if fields.Valid {
			if err := json.Unmarshal([]byte(fields.String), &c.Fields); err != nil {
				return nil, err
			}
		}
		out = append(out, c)
	}
	return out, mapErr(rows.Err())
}

// ---- API tokens

func microPtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return micro(*t)
}

func timePtr(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMicro(v.Int64)
	return &t
}

func (t *txn) CreateToken(ctx context.Context, tok *pbxusers.APIToken) error {
	_, err := t.exec(ctx, "INSERT INTO api_tokens (id, tenant_id, name, hash, created, last_used, revoked, expires, scope) VALUES (?,?,?,?,?,?,?,?,?)",
		tok.ID, tok.TenantID, tok.Name, tok.Hash, micro(tok.Created), microPtr(tok.LastUsed),
		microPtr(tok.Revoked), microPtr(tok.ExpiresAt), string(tok.Scope.OrDefault()))
	return writeErr(err, tok.ID)
}

func (t *txn) scanTokens(ctx context.Context, where string, args ...any) ([]pbxusers.APIToken, error) {
	rows, err := t.query(ctx, "SELECT id, tenant_id, name, hash, created, last_used, revoked, expires, scope FROM api_tokens WHERE "+where+" ORDER BY created, id", args...)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []pbxusers.APIToken
	for rows.Next() {
		var tok pbxusers.APIToken
		var created int64
		var last, revoked, expires sql.NullInt64
		if err := rows.Scan(&tok.ID, &tok.TenantID, &tok.Name, &tok.Hash, &created, &last, &revoked, &expires, &tok.Scope); err != nil {
			return nil, err
		}
		tok.Created = fromMicro(created)
		tok.LastUsed, tok.Revoked, tok.ExpiresAt = timePtr(last), timePtr(revoked), timePtr(expires)
		out = append(out, tok)
	}
	return out, mapErr(rows.Err())
}

func (t *txn) GetToken(ctx context.Context, id string) (pbxusers.APIToken, error) {
	toks, err := t.scanTokens(ctx, "id = ?", id)
	if err != nil {
		return pbxusers.APIToken{}, err
	}
	if len(toks) == 0 {
		return pbxusers.APIToken{}, fmt.Errorf("token %q: %w", id, pbxusers.ErrNotFound)
	}
	return toks[0], nil
}

func (t *txn) UpdateToken(ctx context.Context, tok *pbxusers.APIToken) error {
	res, err := t.exec(ctx, "UPDATE api_tokens SET name = ?, last_used = ?, revoked = ?, expires = ? WHERE id = ? AND tenant_id = ?",
		tok.Name, microPtr(tok.LastUsed), microPtr(tok.Revoked), microPtr(tok.ExpiresAt), tok.ID, tok.TenantID)
	if err != nil {
		return mapErr(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("token %q: %w", tok.ID, pbxusers.ErrNotFound)
	}
	return nil
}

func (t *txn) ListTokens(ctx context.Context, tenant string) ([]pbxusers.APIToken, error) {
	return t.scanTokens(ctx, "tenant_id = ?", tenant)
}
