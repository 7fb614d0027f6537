package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pbxgate/pbxgate/pbxusers"
	"github.com/pbxgate/pbxgate/pbxusers/internal/sqlquery"
)

func encode(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	return b, nil
}

// docs runs a query of one JSON document column and decodes each into a T.
func docs[T any](ctx context.Context, t *txn, op, sql string, args ...any) ([]T, error) {
	var out []T
	err := t.each(ctx, sql, args, func(r pgx.Rows) error {
		var doc []byte
		if err := r.Scan(&doc); err != nil {
			return err
		}
		var v T
		if err := json.Unmarshal(doc, &v); err != nil {
			return fmt.Errorf("decode: %w", err)
		}
		out = append(out, v)
		return nil
	})
	return out, mapErr(op, err)
}

// ---- tenants

func (t *txn) CreateTenant(ctx context.Context, tn *pbxusers.Tenant) error {
	doc, err := encode(tn)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, "INSERT INTO tenants (id, doc, version, created, updated) VALUES ($1,$2,$3,$4,$5)",
		tn.ID, doc, tn.Version, tn.Created, tn.Updated)
	return writeErr("create tenant", err, tn.ID)
}

func (t *txn) GetTenant(ctx context.Context, id string) (pbxusers.Tenant, error) {
	tns, err := docs[pbxusers.Tenant](ctx, t, "get tenant", "SELECT doc FROM tenants WHERE id = $1", id)
	if err != nil {
		return pbxusers.Tenant{}, err
	}
	if len(tns) == 0 {
		return pbxusers.Tenant{}, fmt.Errorf("tenant %q: %w", id, pbxusers.ErrNotFound)
	}
	return tns[0], nil
}

func (t *txn) UpdateTenant(ctx context.Context, tn *pbxusers.Tenant, expect int64) error {
	doc, err := encode(tn)
	if err != nil {
		return err
	}
	tag, err := t.exec(ctx, "UPDATE tenants SET doc = $1, version = $2, updated = $3 WHERE id = $4 AND version = $5",
		doc, tn.Version, tn.Updated, tn.ID, expect)
	if err != nil {
		return writeErr("update tenant", err, tn.ID)
	}
	if tag.RowsAffected() == 0 {
		if _, err := t.GetTenant(ctx, tn.ID); err != nil {
			return err
		}
		return &pbxusers.ConflictError{Kind: "tenant", Field: "version", Value: tn.ID, Err: pbxusers.ErrVersionMismatch}
	}
	return nil
}

func (t *txn) ListTenants(ctx context.Context) ([]pbxusers.Tenant, error) {
	return docs[pbxusers.Tenant](ctx, t, "list tenants", "SELECT doc FROM tenants ORDER BY id")
}

// ---- profiles

func (t *txn) CreateProfile(ctx context.Context, p *pbxusers.Profile) error {
	doc, err := encode(p)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, "INSERT INTO profiles (id, tenant_id, name_lc, doc, version, created, updated) VALUES ($1,$2,$3,$4,$5,$6,$7)",
		p.ID, p.TenantID, strings.ToLower(p.Name), doc, p.Version, p.Created, p.Updated)
	return writeErr("create profile", err, p.Name)
}

func (t *txn) getProfile(ctx context.Context, key, where string, args ...any) (pbxusers.Profile, error) {
	ps, err := docs[pbxusers.Profile](ctx, t, "get profile", "SELECT doc FROM profiles WHERE "+where, args...)
	if err != nil {
		return pbxusers.Profile{}, err
	}
	if len(ps) == 0 {
		return pbxusers.Profile{}, fmt.Errorf("profile %q: %w", key, pbxusers.ErrNotFound)
	}
	return ps[0], nil
}

func (t *txn) GetProfile(ctx context.Context, tenant, id string) (pbxusers.Profile, error) {
	return t.getProfile(ctx, id, "tenant_id = $1 AND id = $2", tenant, id)
}

func (t *txn) LookupProfile(ctx context.Context, tenant, name string) (pbxusers.Profile, error) {
	return t.getProfile(ctx, name, "tenant_id = $1 AND name_lc = $2", tenant, strings.ToLower(strings.TrimSpace(name)))
}

func (t *txn) UpdateProfile(ctx context.Context, p *pbxusers.Profile, expect int64) error {
	doc, err := encode(p)
	if err != nil {
		return err
	}
	tag, err := t.exec(ctx, "UPDATE profiles SET name_lc = $1, doc = $2, version = $3, updated = $4 WHERE tenant_id = $5 AND id = $6 AND version = $7",
		strings.ToLower(p.Name), doc, p.Version, p.Updated, p.TenantID, p.ID, expect)
	if err != nil {
		return writeErr("update profile", err, p.Name)
	}
	return t.checkUpdated(ctx, tag.RowsAffected(), "profiles", "profile", p.TenantID, p.ID)
}

func (t *txn) DeleteProfile(ctx context.Context, tenant, id string) error {
	var users, teams int
	if err := t.queryRow(ctx, `SELECT (SELECT count(*) FROM user_profiles WHERE profile_id = $1),
		(SELECT count(*) FROM team_profiles WHERE profile_id = $1)`, id).Scan(&users, &teams); err != nil {
		return mapErr("count profile use", err)
	}
	if users+teams > 0 {
		return &pbxusers.ConflictError{Kind: "profile", Field: "id", Value: id,
			Reason: fmt.Sprintf("is used by %d users and %d teams", users, teams), Err: pbxusers.ErrInUse}
	}
	tag, err := t.exec(ctx, "DELETE FROM profiles WHERE tenant_id = $1 AND id = $2", tenant, id)
	if err != nil {
		return writeErr("delete profile", err, id)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("profile %q: %w", id, pbxusers.ErrNotFound)
	}
	return nil
}

func (t *txn) ListProfiles(ctx context.Context, tenant string) ([]pbxusers.Profile, error) {
	return docs[pbxusers.Profile](ctx, t, "list profiles", "SELECT doc FROM profiles WHERE tenant_id = $1 ORDER BY name_lc, id", tenant)
}

// ---- teams

// teamColumns are the columns read for a team; member_count is kept by
// triggers on team_members.
const teamColumns = "u.id, u.tenant_id, u.version, u.created, u.updated, u.doc, u.member_count"

func scanTeam(sc pgx.Row) (pbxusers.Team, error) {
	var tm pbxusers.Team
	var id, tenant string
	var doc []byte
	var version int64
	var created, updated time.Time
	var members int
	if err := sc.Scan(&id, &tenant, &version, &created, &updated, &doc, &members); err != nil {
		return tm, err
	}
	if err := json.Unmarshal(doc, &tm); err != nil {
		return tm, fmt.Errorf("decode team %s: %w", id, err)
	}
	tm.ID, tm.TenantID, tm.Version, tm.Members = id, tenant, version, members
	tm.Created, tm.Updated = created, updated
	return tm, nil
}

func teamDoc(tm *pbxusers.Team) ([]byte, error) {
	c := *tm
	c.ID, c.TenantID, c.Version, c.Members = "", "", 0, 0
	return encode(c)
}

func teamProfiles(tm *pbxusers.Team) []stmt {
	out := []stmt{{sql: "DELETE FROM team_profiles WHERE team_id = $1", args: []any{tm.ID}}}
	for i, p := range tm.Profiles {
		out = append(out, stmt{sql: "INSERT INTO team_profiles (team_id, profile_id, pos) VALUES ($1,$2,$3)",
			args: []any{tm.ID, p, i}, value: p})
	}
	return out
}

func (t *txn) CreateTeam(ctx context.Context, tm *pbxusers.Team) error {
	doc, err := teamDoc(tm)
	if err != nil {
		return err
	}
	return t.pipeline(ctx, "create team", append([]stmt{{
		sql: "INSERT INTO teams (id, tenant_id, name_lc, external_id, version, created, updated, doc) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
		args: []any{tm.ID, tm.TenantID, strings.ToLower(tm.Name), nullable(tm.Owner.ExternalID), tm.Version,
			tm.Created, tm.Updated, doc},
		value: tm.Name,
	}}, teamProfiles(tm)[1:]...))
}

func (t *txn) GetTeam(ctx context.Context, tenant, id string) (pbxusers.Team, error) {
	tm, err := scanTeam(t.queryRow(ctx, "SELECT "+teamColumns+" FROM teams u WHERE u.tenant_id = $1 AND u.id = $2", tenant, id))
	if err != nil {
		return tm, notFound("get team", "team", id, err)
	}
	return tm, nil
}

func (t *txn) LookupTeam(ctx context.Context, tenant string, key pbxusers.TeamKey, value string) (pbxusers.Team, error) {
	var where string
	arg := any(value)
	switch key {
	case pbxusers.TeamKeyName:
		where, arg = "u.name_lc = $2", strings.ToLower(strings.TrimSpace(value))
	case pbxusers.TeamKeyExternalID:
		where = "u.external_id = $2"
	default:
		return pbxusers.Team{}, pbxusers.Invalid("key", "cannot look teams up by %q", key)
	}
	tm, err := scanTeam(t.queryRow(ctx, "SELECT "+teamColumns+" FROM teams u WHERE u.tenant_id = $1 AND "+where, tenant, arg))
	if err != nil {
		return tm, notFound("look team up", "team", value, err)
	}
	return tm, nil
}

func (t *txn) UpdateTeam(ctx context.Context, tm *pbxusers.Team, expect int64) error {
	doc, err := teamDoc(tm)
	if err != nil {
		return err
	}
	tag, err := t.exec(ctx, "UPDATE teams SET name_lc = $1, external_id = $2, version = $3, updated = $4, doc = $5 WHERE tenant_id = $6 AND id = $7 AND version = $8",
		strings.ToLower(tm.Name), nullable(tm.Owner.ExternalID), tm.Version, tm.Updated, doc, tm.TenantID, tm.ID, expect)
	if err != nil {
		return writeErr("update team", err, tm.Name)
	}
	if err := t.checkUpdated(ctx, tag.RowsAffected(), "teams", "team", tm.TenantID, tm.ID); err != nil {
		return err
	}
	return t.pipeline(ctx, "update team", teamProfiles(tm))
}

func (t *txn) DeleteTeam(ctx context.Context, tenant, id string) error {
	tag, err := t.exec(ctx, "DELETE FROM teams WHERE tenant_id = $1 AND id = $2", tenant, id)
	if err != nil {
		return writeErr("delete team", err, id)
	}
	if tag.RowsAffected() == 0 {
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
	where := b.SQL()
	var page pbxusers.TeamPage
	if err := t.queryRow(ctx, "SELECT count(*) FROM teams u WHERE "+where, oneShot(b.Args)...).Scan(&page.Total); err != nil {
		return page, mapErr("count teams", err)
	}
	if q.Limit < 0 || page.Total == 0 || q.Offset >= page.Total {
		return page, nil
	}
	limit := q.Limit
	if limit == 0 {
		limit = pbxusers.DefaultPageSize
	}
	pageSQL := "SELECT " + teamColumns + " FROM teams u WHERE " + where + " ORDER BY " + orderBy(order, q.Descending) +
		" LIMIT " + b.Arg(limit) + " OFFSET " + b.Arg(max(q.Offset, 0))
	err = t.each(ctx, pageSQL, oneShot(b.Args), func(rows pgx.Rows) error {
		tm, err := scanTeam(rows)
		if err != nil {
			return err
		}
		page.Teams = append(page.Teams, tm)
		return nil
	})
	return page, mapErr("list teams", err)
}

func (t *txn) teamExists(ctx context.Context, tenant, team string) error {
	var ok bool
	if err := t.queryRow(ctx, "SELECT EXISTS (SELECT 1 FROM teams WHERE tenant_id = $1 AND id = $2)", tenant, team).Scan(&ok); err != nil {
		return mapErr("find team", err)
	}
	if !ok {
		return fmt.Errorf("team %q: %w", team, pbxusers.ErrNotFound)
	}
	return nil
}

func (t *txn) AddTeamMembers(ctx context.Context, tenant, team string, users []string) ([]string, error) {
	if err := t.teamExists(ctx, tenant, team); err != nil {
		return nil, err
	}
	if len(users) == 0 {
		return nil, nil
	}
	// Unknown ids (or another tenant's) fail the whole call, before any
	// insert; the first one in the given order is named.
	var unknown string
	err := t.each(ctx, `SELECT x.id FROM unnest($2::text[]) WITH ORDINALITY AS x(id, n)
		WHERE NOT EXISTS (SELECT 1 FROM users WHERE tenant_id = $1 AND id = x.id) ORDER BY x.n LIMIT 1`,
		[]any{tenant, users}, func(r pgx.Rows) error { return r.Scan(&unknown) })
	if err != nil {
		return nil, mapErr("check members", err)
	}
	if unknown != "" {
		return nil, fmt.Errorf("member %q: user %w", unknown, pbxusers.ErrNotFound)
	}
	added, err := t.strings(ctx, "add team members", `INSERT INTO team_members (team_id, user_id)
		SELECT $1, x.id FROM unnest($2::text[]) AS x(id) ON CONFLICT DO NOTHING RETURNING user_id`, team, users)
	if err != nil {
		return nil, err
	}
	return inOrder(users, added), nil
}

// inOrder returns the ids of got in the order of want (RETURNING does not
// promise an order).
func inOrder(want, got []string) []string {
	if len(got) == 0 {
		return nil
	}
	set := make(map[string]bool, len(got))
	for _, id := range got {
		set[id] = true
	}
	out := make([]string, 0, len(got))
	for _, id := range want {
		if set[id] {
			out = append(out, id)
			delete(set, id)
		}
	}
	return out
}

func (t *txn) RemoveTeamMembers(ctx context.Context, tenant, team string, users []string) ([]string, error) {
	if err := t.teamExists(ctx, tenant, team); err != nil {
		return nil, err
	}
	if len(users) == 0 {
		return nil, nil
	}
	removed, err := t.strings(ctx, "remove team members",
		"DELETE FROM team_members WHERE team_id = $1 AND user_id = ANY($2::text[]) RETURNING user_id", team, users)
	if err != nil {
		return nil, err
	}
	return inOrder(users, removed), nil
}

func (t *txn) ListTeamMembers(ctx context.Context, tenant, team string, offset, limit int) ([]string, int, error) {
	if err := t.teamExists(ctx, tenant, team); err != nil {
		return nil, 0, err
	}
	var total int
	if err := t.queryRow(ctx, "SELECT count(*) FROM team_members WHERE team_id = $1", team).Scan(&total); err != nil {
		return nil, 0, mapErr("count team members", err)
	}
	if limit <= 0 {
		limit = -1
	}
	ids, err := t.strings(ctx, "list team members", "SELECT user_id FROM team_members WHERE team_id = $1 ORDER BY user_id LIMIT $2 OFFSET $3",
		team, limitArg(limit), max(offset, 0))
	return ids, total, err
}

// ---- devices

func (t *txn) CreateDevice(ctx context.Context, d *pbxusers.Device) error {
	doc, err := encode(d)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, "INSERT INTO devices (id, tenant_id, user_id, sip_id, mac, version, created, updated, doc) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)",
		d.ID, d.TenantID, nullable(d.UserID), d.SIPID, nullable(d.MAC), d.Version, d.Created, d.Updated, doc)
	return writeErr("create device", err, d.SIPID)
}

func (t *txn) scanDevices(ctx context.Context, where string, args ...any) ([]pbxusers.Device, error) {
	var out []pbxusers.Device
	err := t.each(ctx, "SELECT doc, user_id FROM devices WHERE "+where+" ORDER BY sip_id", args, func(r pgx.Rows) error {
		var doc []byte
		var user *string
		if err := r.Scan(&doc, &user); err != nil {
			return err
		}
		var d pbxusers.Device
		if err := json.Unmarshal(doc, &d); err != nil {
			return fmt.Errorf("decode device: %w", err)
		}
		d.UserID = ""
		if user != nil {
			d.UserID = *user
		}
		out = append(out, d)
		return nil
	})
	return out, mapErr("list devices", err)
}

func (t *txn) GetDevice(ctx context.Context, tenant, id string) (pbxusers.Device, error) {
	ds, err := t.scanDevices(ctx, "tenant_id = $1 AND id = $2", tenant, id)
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
	tag, err := t.exec(ctx, "UPDATE devices SET user_id = $1, sip_id = $2, mac = $3, version = $4, updated = $5, doc = $6 WHERE tenant_id = $7 AND id = $8 AND version = $9",
		nullable(d.UserID), d.SIPID, nullable(d.MAC), d.Version, d.Updated, doc, d.TenantID, d.ID, expect)
	if err != nil {
		return writeErr("update device", err, d.SIPID)
	}
	return t.checkUpdated(ctx, tag.RowsAffected(), "devices", "device", d.TenantID, d.ID)
}

func (t *txn) DeleteDevice(ctx context.Context, tenant, id string) error {
	tag, err := t.exec(ctx, "DELETE FROM devices WHERE tenant_id = $1 AND id = $2", tenant, id)
	if err != nil {
		return mapErr("delete device", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("device %q: %w", id, pbxusers.ErrNotFound)
	}
	return nil
}

func (t *txn) ListDevices(ctx context.Context, tenant, userID string) ([]pbxusers.Device, error) {
	if userID == "" {
		return t.scanDevices(ctx, "tenant_id = $1", tenant)
	}
	return t.scanDevices(ctx, "tenant_id = $1 AND user_id = $2", tenant, userID)
}

// ---- numbers

func (t *txn) PutNumber(ctx context.Context, n *pbxusers.Number) error {
	_, err := t.exec(ctx, `INSERT INTO numbers (tenant_id, e164, user_id, label, created, updated) VALUES ($1,$2,$3,$4,$5,$6)
		ON CONFLICT (tenant_id, e164) DO UPDATE SET user_id = excluded.user_id, label = excluded.label, updated = excluded.updated`,
		n.TenantID, n.E164, nullable(n.UserID), n.Label, n.Created, n.Updated)
	return writeErr("put number", err, n.E164)
}

func (t *txn) listNumbers(ctx context.Context, where string, args ...any) ([]pbxusers.Number, error) {
	var out []pbxusers.Number
	err := t.each(ctx, "SELECT tenant_id, e164, user_id, label, created, updated FROM numbers WHERE "+where+" ORDER BY e164", args, func(r pgx.Rows) error {
		var n pbxusers.Number
		var user *string
		if err := r.Scan(&n.TenantID, &n.E164, &user, &n.Label, &n.Created, &n.Updated); err != nil {
			return err
		}
		if user != nil {
			n.UserID = *user
		}
		out = append(out, n)
		return nil
	})
	return out, mapErr("list numbers", err)
}

func (t *txn) GetNumber(ctx context.Context, tenant, e164 string) (pbxusers.Number, error) {
	ns, err := t.listNumbers(ctx, "tenant_id = $1 AND e164 = $2", tenant, e164)
	if err != nil {
		return pbxusers.Number{}, err
	}
	if len(ns) == 0 {
		return pbxusers.Number{}, fmt.Errorf("number %q: %w", e164, pbxusers.ErrNotFound)
	}
	return ns[0], nil
}

func (t *txn) DeleteNumber(ctx context.Context, tenant, e164 string) error {
	tag, err := t.exec(ctx, "DELETE FROM numbers WHERE tenant_id = $1 AND e164 = $2", tenant, e164)
	if err != nil {
		return mapErr("delete number", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("number %q: %w", e164, pbxusers.ErrNotFound)
	}
	return nil
}

func (t *txn) ListNumbers(ctx context.Context, tenant, userID string) ([]pbxusers.Number, error) {
	if userID == "" {
		return t.listNumbers(ctx, "tenant_id = $1", tenant)
	}
	return t.listNumbers(ctx, "tenant_id = $1 AND user_id = $2", tenant, userID)
}

// ---- time frames

func (t *txn) CreateTimeFrame(ctx context.Context, tf *pbxusers.StoredTimeFrame) error {
	doc, err := encode(tf)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, "INSERT INTO timeframes (id, tenant_id, doc, version, created, updated) VALUES ($1,$2,$3,$4,$5,$6)",
		tf.ID, tf.TenantID, doc, tf.Version, tf.Created, tf.Updated)
	return writeErr("create time frame", err, tf.ID)
}

func (t *txn) GetTimeFrame(ctx context.Context, tenant, id string) (pbxusers.StoredTimeFrame, error) {
	tfs, err := docs[pbxusers.StoredTimeFrame](ctx, t, "get time frame", "SELECT doc FROM timeframes WHERE tenant_id = $1 AND id = $2", tenant, id)
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
	tag, err := t.exec(ctx, "UPDATE timeframes SET doc = $1, version = $2, updated = $3 WHERE tenant_id = $4 AND id = $5 AND version = $6",
		doc, tf.Version, tf.Updated, tf.TenantID, tf.ID, expect)
	if err != nil {
		return writeErr("update time frame", err, tf.ID)
	}
	return t.checkUpdated(ctx, tag.RowsAffected(), "timeframes", "time frame", tf.TenantID, tf.ID)
}

func (t *txn) DeleteTimeFrame(ctx context.Context, tenant, id string) error {
	users, err := t.strings(ctx, "find time frame use", "SELECT user_id FROM routing_timeframe_refs WHERE timeframe_id = $1 ORDER BY user_id LIMIT 5", id)
	if err != nil {
		return err
	}
	if len(users) > 0 {
		return &pbxusers.ConflictError{Kind: "time frame", Field: "id", Value: id,
			Reason: "is used by the answering rules of users " + strings.Join(users, ", "), Err: pbxusers.ErrInUse}
	}
	tag, err := t.exec(ctx, "DELETE FROM timeframes WHERE tenant_id = $1 AND id = $2", tenant, id)
	if err != nil {
		return writeErr("delete time frame", err, id)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("time frame %q: %w", id, pbxusers.ErrNotFound)
	}
	return nil
}

func (t *txn) ListTimeFrames(ctx context.Context, tenant string) ([]pbxusers.StoredTimeFrame, error) {
	return docs[pbxusers.StoredTimeFrame](ctx, t, "list time frames", "SELECT doc FROM timeframes WHERE tenant_id = $1 ORDER BY id", tenant)
}

// ---- change log

// AppendChange inserts the entry and sets c.Seq from the change sequence.
// The write lock every write transaction holds until it commits makes seq
// order commit order (see Store).
func (t *txn) AppendChange(ctx context.Context, c *pbxusers.Change) error {
	var fields []byte
	if len(c.Fields) > 0 {
		f, err := encode(c.Fields)
		if err != nil {
			return err
		}
		fields = f
	}
	err := t.queryRow(ctx, `INSERT INTO changes (tenant_id, at, actor_source, actor_name, entity, entity_id, action, summary, fields, version)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) RETURNING seq`, c.TenantID, c.At, string(c.Actor.Source), c.Actor.Name,
		string(c.Entity), c.EntityID, string(c.Action), c.Summary, fields, c.Version).Scan(&c.Seq)
	return writeErr("append change", err, c.EntityID)
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
	var out []pbxusers.Change
	err := t.each(ctx, `SELECT seq, tenant_id, at, actor_source, actor_name, entity, entity_id, action, summary, fields, version
		FROM changes WHERE `+b.SQL()+` ORDER BY seq LIMIT `+b.Arg(limit), b.Args, func(r pgx.Rows) error {
		var c pbxusers.Change
		var src, entity, action string
		var fields []byte
		if err := r.Scan(&c.Seq, &c.TenantID, &c.At, &src, &c.Actor.Name, &entity, &c.EntityID, &action, &c.Summary, &fields, &c.Version); err != nil {
			return err
		}
		c.Actor.Source, c.Entity, c.Action = pbxusers.Source(src), pbxusers.Entity(entity), pbxusers.Action(action)
		if fields != nil {
			if err := json.Unmarshal(fields, &c.Fields); err != nil {
				return fmt.Errorf("decode change %d: %w", c.Seq, err)
			}
		}
		out = append(out, c)
		return nil
	})
	return out, mapErr("list changes", err)
}

// ---- API tokens

func (t *txn) CreateToken(ctx context.Context, tok *pbxusers.APIToken) error {
	_, err := t.exec(ctx, "INSERT INTO api_tokens (id, tenant_id, name, hash, created, last_used, revoked, expires, scope) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)",
		tok.ID, tok.TenantID, tok.Name, tok.Hash, tok.Created, tok.LastUsed, tok.Revoked, tok.ExpiresAt, string(tok.Scope.OrDefault()))
	return writeErr("create token", err, tok.ID)
}

func (t *txn) scanTokens(ctx context.Context, where string, args ...any) ([]pbxusers.APIToken, error) {
	var out []pbxusers.APIToken
	err := t.each(ctx, "SELECT id, tenant_id, name, hash, created, last_used, revoked, expires, scope FROM api_tokens WHERE "+where+" ORDER BY created, id", args, func(r pgx.Rows) error {
		var tok pbxusers.APIToken
		if err := r.Scan(&tok.ID, &tok.TenantID, &tok.Name, &tok.Hash, &tok.Created, &tok.LastUsed, &tok.Revoked, &tok.ExpiresAt, &tok.Scope); err != nil {
			return err
		}
		out = append(out, tok)
		return nil
	})
	return out, mapErr("list tokens", err)
}

func (t *txn) GetToken(ctx context.Context, id string) (pbxusers.APIToken, error) {
	toks, err := t.scanTokens(ctx, "id = $1", id)
	if err != nil {
		return pbxusers.APIToken{}, err
	}
	if len(toks) == 0 {
		return pbxusers.APIToken{}, fmt.Errorf("token %q: %w", id, pbxusers.ErrNotFound)
	}
	return toks[0], nil
}

func (t *txn) UpdateToken(ctx context.Context, tok *pbxusers.APIToken) error {
	tag, err := t.exec(ctx, "UPDATE api_tokens SET name = $1, last_used = $2, revoked = $3, expires = $4 WHERE id = $5 AND tenant_id = $6",
		tok.Name, tok.LastUsed, tok.Revoked, tok.ExpiresAt, tok.ID, tok.TenantID)
	if err != nil {
		return mapErr("update token", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("token %q: %w", tok.ID, pbxusers.ErrNotFound)
	}
	return nil
}

func (t *txn) ListTokens(ctx context.Context, tenant string) ([]pbxusers.APIToken, error) {
	return t.scanTokens(ctx, "tenant_id = $1", tenant)
}
