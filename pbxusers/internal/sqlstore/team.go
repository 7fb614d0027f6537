package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/pbxgate/pbxgate/pbxusers"
	"github.com/pbxgate/pbxgate/pbxusers/internal/sqlquery"
)

// teamColumns are the columns read for a team; member_count is kept by
// triggers on team_members.
const teamColumns = "u.id, u.tenant_id, u.version, u.created, u.updated, u.doc, u.member_count"

// scanTeam reads a row of teamColumns.
func scanTeam(sc Row) (pbxusers.Team, error) {
	var tm pbxusers.Team
	var id, tenant string
	var d []byte
	var version int64
	var created, updated timeCol
	var members int
	if err := sc.Scan(&id, &tenant, &version, &created, &updated, &d, &members); err != nil {
		return tm, err
	}
	if err := json.Unmarshal(d, &tm); err != nil {
		return tm, fmt.Errorf("decode team %s: %w", id, err)
	}
	tm.ID, tm.TenantID, tm.Version, tm.Members = id, tenant, version, members
	tm.Created, tm.Updated = created.t, updated.t
	return tm, nil
}

func teamDoc(tm *pbxusers.Team) (string, error) {
	c := *tm
	c.ID, c.TenantID, c.Version, c.Members = "", "", 0, 0
	return encode(c)
}

// teamProfiles returns the statements that replace a team's profiles.
func teamProfiles(tm *pbxusers.Team) []Stmt {
	out := []Stmt{{SQL: "DELETE FROM team_profiles WHERE team_id = ?", Args: []any{tm.ID}}}
	for i, p := range tm.Profiles {
		out = append(out, Stmt{SQL: "INSERT INTO team_profiles (team_id, profile_id, pos) VALUES (?,?,?)",
			Args: []any{tm.ID, p, i}, Value: p})
	}
	return out
}

// CreateTeam implements pbxusers.Tx.
func (t *Tx) CreateTeam(ctx context.Context, tm *pbxusers.Team) error {
	d, err := teamDoc(tm)
	if err != nil {
		return err
	}
	return t.batch(ctx, "create team", append([]Stmt{{
		SQL: "INSERT INTO teams (id, tenant_id, name_lc, external_id, version, created, updated, doc) VALUES (?,?,?,?,?,?,?,?)",
		Args: []any{tm.ID, tm.TenantID, strings.ToLower(tm.Name), nullable(tm.Owner.ExternalID), tm.Version,
			t.f.Time(tm.Created), t.f.Time(tm.Updated), d},
		Value: tm.Name,
	}}, teamProfiles(tm)[1:]...))
}

// GetTeam implements pbxusers.Tx.
func (t *Tx) GetTeam(ctx context.Context, tenant, id string) (pbxusers.Team, error) {
	tm, err := scanTeam(t.queryRow(ctx, "SELECT "+teamColumns+" FROM teams u WHERE u.tenant_id = ? AND u.id = ?", tenant, id))
	if err != nil {
		return tm, t.f.notFound("get team", "team", id, err)
	}
	return tm, nil
}

// LookupTeam implements pbxusers.Tx.
func (t *Tx) LookupTeam(ctx context.Context, tenant string, key pbxusers.TeamKey, value string) (pbxusers.Team, error) {
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
		return tm, t.f.notFound("look team up", "team", value, err)
	}
	return tm, nil
}

// UpdateTeam implements pbxusers.Tx.
func (t *Tx) UpdateTeam(ctx context.Context, tm *pbxusers.Team, expect int64) error {
	d, err := teamDoc(tm)
	if err != nil {
		return err
	}
	n, err := t.exec(ctx, "UPDATE teams SET name_lc = ?, external_id = ?, version = ?, updated = ?, doc = ? WHERE tenant_id = ? AND id = ? AND version = ?",
		strings.ToLower(tm.Name), nullable(tm.Owner.ExternalID), tm.Version, t.f.Time(tm.Updated), d, tm.TenantID, tm.ID, expect)
	if err != nil {
		return t.f.Err("update team", err, tm.Name)
	}
	if err := t.checkUpdated(ctx, n, "teams", "team", tm.TenantID, tm.ID); err != nil {
		return err
	}
	return t.batch(ctx, "update team", teamProfiles(tm))
}

// DeleteTeam implements pbxusers.Tx.
func (t *Tx) DeleteTeam(ctx context.Context, tenant, id string) error {
	n, err := t.exec(ctx, "DELETE FROM teams WHERE tenant_id = ? AND id = ?", tenant, id)
	if err != nil {
		return t.f.Err("delete team", err, id)
	}
	return affected(n, "team", id)
}

// ListTeams implements pbxusers.Tx.
func (t *Tx) ListTeams(ctx context.Context, tenant string, q pbxusers.TeamQuery) (pbxusers.TeamPage, error) {
	b := t.f.builder()
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
	if err := t.queryRow(ctx, "SELECT count(*) FROM teams u WHERE "+where, t.f.planned(b.Args)...).Scan(&page.Total); err != nil {
		return page, t.f.Err("count teams", err, "")
	}
	if q.Limit < 0 || page.Total == 0 || q.Offset >= page.Total {
		return page, nil
	}
	limit := q.Limit
	if limit == 0 {
		limit = pbxusers.DefaultPageSize
	}
	pageSQL := "SELECT " + teamColumns + " FROM teams u WHERE " + where + " ORDER BY " + t.f.orderBy(order, q.Descending) +
		" LIMIT " + b.Arg(limit) + " OFFSET " + b.Arg(max(q.Offset, 0))
	err = t.each(ctx, pageSQL, t.f.planned(b.Args), func(r Row) error {
		tm, err := scanTeam(r)
		if err != nil {
			return err
		}
		page.Teams = append(page.Teams, tm)
		return nil
	})
	return page, t.f.Err("list teams", err, "")
}

func (t *Tx) teamExists(ctx context.Context, tenant, team string) error {
	var ok bool
	if err := t.queryRow(ctx, "SELECT EXISTS (SELECT 1 FROM teams WHERE tenant_id = ? AND id = ?)", tenant, team).Scan(&ok); err != nil {
		return t.f.Err("find team", err, "")
	}
	if !ok {
		return fmt.Errorf("team %q: %w", team, pbxusers.ErrNotFound)
	}
	return nil
}

// AddTeamMembers implements pbxusers.Tx.
func (t *Tx) AddTeamMembers(ctx context.Context, tenant, team string, users []string) ([]string, error) {
	if err := t.teamExists(ctx, tenant, team); err != nil {
		return nil, err
	}
	if len(users) == 0 {
		return nil, nil
	}
	// Unknown ids (or another tenant's) fail the whole call, before any
	// insert; the first one in the given order is named.
	unknown, err := t.strings(ctx, "check members", `SELECT x.id FROM `+t.f.IDs+` x
		WHERE NOT EXISTS (SELECT 1 FROM users WHERE tenant_id = ? AND id = x.id) ORDER BY x.n LIMIT 1`,
		t.f.IDList(users), tenant)
	if err != nil {
		return nil, err
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("member %q: user %w", unknown[0], pbxusers.ErrNotFound)
	}
	// "WHERE true" tells SQLite's parser that ON CONFLICT is the upsert,
	// not a join constraint.
	added, err := t.strings(ctx, "add team members", `INSERT INTO team_members (team_id, user_id)
		SELECT ?, x.id FROM `+t.f.IDs+` x WHERE true ON CONFLICT DO NOTHING RETURNING user_id`, team, t.f.IDList(users))
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

// RemoveTeamMembers implements pbxusers.Tx.
func (t *Tx) RemoveTeamMembers(ctx context.Context, tenant, team string, users []string) ([]string, error) {
	if err := t.teamExists(ctx, tenant, team); err != nil {
		return nil, err
	}
	if len(users) == 0 {
		return nil, nil
	}
	removed, err := t.strings(ctx, "remove team members",
		"DELETE FROM team_members WHERE team_id = ? AND user_id IN (SELECT id FROM "+t.f.IDs+" x) RETURNING user_id", team, t.f.IDList(users))
	if err != nil {
		return nil, err
	}
	return inOrder(users, removed), nil
}

// ListTeamMembers implements pbxusers.Tx.
func (t *Tx) ListTeamMembers(ctx context.Context, tenant, team string, offset, limit int) ([]string, int, error) {
	if err := t.teamExists(ctx, tenant, team); err != nil {
		return nil, 0, err
	}
	var total int
	if err := t.queryRow(ctx, "SELECT count(*) FROM team_members WHERE team_id = ?", team).Scan(&total); err != nil {
		return nil, 0, t.f.Err("count team members", err, "")
	}
	if limit <= 0 {
		limit = -1
	}
	ids, err := t.strings(ctx, "list team members", "SELECT user_id FROM team_members WHERE team_id = ? ORDER BY user_id LIMIT ? OFFSET ?",
		team, t.f.limitArg(limit), max(offset, 0))
	return ids, total, err
}
