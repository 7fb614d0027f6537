package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/pbxgate/pbxgate/pbxusers"
	"github.com/pbxgate/pbxgate/pbxusers/internal/sqlquery"
)

// txn implements pbxusers.Tx over one database/sql transaction.
type txn struct {
	q     *sql.Tx
	cache *stmtCache
	write bool
}

var _ pbxusers.Tx = (*txn)(nil)

func micro(t time.Time) int64 { return t.UnixMicro() }

func fromMicro(v int64) time.Time { return time.UnixMicro(v).UTC() }

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// uniqueFields maps unique index columns to the field names callers know.
var uniqueFields = map[string][2]string{
	"users.user_name_lc":       {"user", "userName"},
	"users.extension":          {"user", "extension"},
	"users.station":            {"user", "stationNumber"},
	"users.external_id":        {"user", "externalId"},
	"user_emails.address_lc":   {"user", "email"},
	"profiles.name_lc":         {"profile", "name"},
	"teams.name_lc":            {"team", "name"},
	"teams.external_id":        {"team", "externalId"},
	"devices.sip_id":           {"device", "sipId"},
	"devices.mac":              {"device", "mac"},
	"tenants.id":               {"tenant", "id"},
	"users.id":                 {"user", "id"},
	"api_tokens.id":            {"token", "id"},
	"timeframes.id":            {"time frame", "id"},
	"team_members.user_id":     {"team", "members"},
	"numbers.e164":             {"number", "e164"},
	"routing_user_refs.target": {"user", "routing"},
}

// writeErr maps a write's driver error to a ConflictError for unique
// violations and ErrInUse for foreign keys still in use.
func writeErr(err error, value string) error {
	if err == nil {
		return nil
	}
	var se sqlite3.Error
	if errors.As(err, &se) && se.Code == sqlite3.ErrConstraint {
		msg := se.Error()
		switch se.ExtendedCode {
		case sqlite3.ErrConstraintUnique, sqlite3.ErrConstraintPrimaryKey:
			// "UNIQUE constraint failed: users.tenant_id, users.user_name_lc"
			cols := msg[strings.LastIndex(msg, ":")+1:]
			parts := strings.Split(cols, ",")
			last := strings.TrimSpace(parts[len(parts)-1])
			kf, ok := uniqueFields[last]
			if !ok {
				kf = [2]string{strings.SplitN(last, ".", 2)[0], last}
			}
			return &pbxusers.ConflictError{Kind: kf[0], Field: kf[1], Value: value}
		case sqlite3.ErrConstraintForeignKey:
			return &pbxusers.ConflictError{Kind: "object", Reason: "it is still referred to, or refers to something that does not exist", Err: pbxusers.ErrInUse}
		}
	}
	return mapErr(err)
}

// userColumns are the columns read for a user, in scan order.
const userColumns = `u.id, u.tenant_id, u.version, u.created, u.updated, u.manager_id, u.doc`

func scanUser(sc interface{ Scan(...any) error }) (pbxusers.User, error) {
	var (
		u                pbxusers.User
		id, tenant, doc  string
		version          int64
		created, updated int64
		manager          sql.NullString
	)
	if err := sc.Scan(&id, &tenant, &version, &created, &updated, &manager, &doc); err != nil {
		return u, err
	}
	if err := json.Unmarshal([]byte(doc), &u); err != nil {
		return u, fmt.Errorf("decode user %s: %w", id, err)
	}
	u.ID, u.TenantID, u.Version = id, tenant, version
	u.Created, u.Updated = fromMicro(created), fromMicro(updated)
	u.ManagerID = manager.String
	return u, nil
}

// userDoc is the JSON stored for a user: everything but what lives in
// columns or membership tables.
func userDoc(u *pbxusers.User) (string, error) {
	c := *u
	c.ID, c.TenantID, c.Version, c.ManagerID = "", "", 0, ""
	c.Created, c.Updated = time.Time{}, time.Time{}
	c.Teams, c.Profiles, c.Queues = nil, nil, nil
	c.Password.New = ""
	b, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("encode user: %w", err)
	}
	return string(b), nil
}

func searchText(u *pbxusers.User) string {
	parts := []string{u.UserName, u.DisplayName, u.Name.Given, u.Name.Family, u.Nickname, u.Extension}
	for _, e := range u.Emails {
		parts = append(parts, e.Value)
	}
	return strings.ToLower(strings.Join(parts, "\x1f"))
}

func (t *txn) CreateUser(ctx context.Context, u *pbxusers.User) error {
	doc, err := userDoc(u)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, `INSERT INTO users (id, tenant_id, kind, active, source, external_id,
		user_name_lc, display_lc, given_lc, family_lc, location_lc, extension, station, manager_id,
		search, version, created, updated, doc, directory, sync_hash, deactivated_by) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		u.ID, u.TenantID, string(u.Kind), boolInt(u.Active()), string(u.Owner.Source), nullable(u.Owner.ExternalID),
		strings.ToLower(u.UserName), strings.ToLower(u.DisplayName), strings.ToLower(u.Name.Given),
		strings.ToLower(u.Name.Family), strings.ToLower(u.Location), nullable(u.Extension), nullable(u.StationNumber),
		nullable(u.ManagerID), searchText(u), u.Version, micro(u.Created), micro(u.Updated), doc,
		u.Owner.Directory, u.Owner.Hash, string(u.DeactivatedBy))
	if err != nil {
		return writeErr(err, u.UserName)
	}
	return t.writeUserSide(ctx, u, false)
}

// writeUserSide (re)writes the rows that index a user: emails, memberships
// and routing references.
func (t *txn) writeUserSide(ctx context.Context, u *pbxusers.User, replace bool) error {
	if replace {
		for _, q := range []string{
			"DELETE FROM user_emails WHERE user_id = ?",
			"DELETE FROM user_profiles WHERE user_id = ?",
			"DELETE FROM queue_members WHERE user_id = ?",
			"DELETE FROM routing_user_refs WHERE user_id = ?",
			"DELETE FROM routing_timeframe_refs WHERE user_id = ?",
		} {
			if _, err := t.exec(ctx, q, u.ID); err != nil {
				return mapErr(err)
			}
		}
	}
	for i, e := range u.Emails {
		if _, err := t.exec(ctx, `INSERT INTO user_emails (user_id, pos, tenant_id, address_lc, type, is_primary)
			VALUES (?,?,?,?,?,?)`, u.ID, i, u.TenantID, strings.ToLower(e.Value), strings.ToLower(e.Type), boolInt(e.Primary)); err != nil {
			return writeErr(err, e.Value)
		}
	}
	for i, p := range u.Profiles {
		if _, err := t.exec(ctx, `INSERT INTO user_profiles (user_id, profile_id, pos) VALUES (?,?,?)`, u.ID, p, i); err != nil {
			return writeErr(err, p)
		}
	}
	for i, q := range u.Queues {
		if _, err := t.exec(ctx, `INSERT INTO queue_members (user_id, queue_id, pos, priority, default_outbound)
			VALUES (?,?,?,?,?)`, u.ID, q.QueueID, i, q.Priority, boolInt(q.DefaultOutbound)); err != nil {
			return writeErr(err, q.QueueID)
		}
	}
	for _, id := range u.Routing.UserRefs() {
		if _, err := t.exec(ctx, `INSERT OR IGNORE INTO routing_user_refs (user_id, target_id) VALUES (?,?)`, u.ID, id); err != nil {
			return mapErr(err)
		}
	}
	for _, id := range u.Routing.TimeFrameRefs() {
		if _, err := t.exec(ctx, `INSERT OR IGNORE INTO routing_timeframe_refs (user_id, timeframe_id) VALUES (?,?)`, u.ID, id); err != nil {
			return writeErr(err, id)
		}
	}
	return t.setTeams(ctx, u, replace)
}

// setTeams makes the user's team memberships exactly u.Teams.
func (t *txn) setTeams(ctx context.Context, u *pbxusers.User, replace bool) error {
	if replace {
		rows, err := t.query(ctx, "SELECT team_id FROM team_members WHERE user_id = ?", u.ID)
		if err != nil {
			return mapErr(err)
		}
		have := map[string]bool{}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			have[id] = true
		}
		rows.Close()
		want := map[string]bool{}
		for _, id := range u.Teams {
			want[id] = true
		}
		for id := range have {
			if !want[id] {
				if _, err := t.exec(ctx, "DELETE FROM team_members WHERE team_id = ? AND user_id = ?", id, u.ID); err != nil {
					return mapErr(err)
				}
			}
		}
		for _, id := range u.Teams {
			if have[id] {
				continue
			}
			if _, err := t.exec(ctx, "INSERT INTO team_members (team_id, user_id) VALUES (?,?)", id, u.ID); err != nil {
				return writeErr(err, id)
			}
		}
		return nil
	}
	for _, id := range u.Teams {
		if _, err := t.exec(ctx, "INSERT INTO team_members (team_id, user_id) VALUES (?,?)", id, u.ID); err != nil {
			return writeErr(err, id)
		}
	}
	return nil
}

func (t *txn) GetUser(ctx context.Context, tenant, id string) (pbxusers.User, error) {
	row := t.queryRow(ctx, "SELECT "+userColumns+" FROM users u WHERE u.tenant_id = ? AND u.id = ?", tenant, id)
	u, err := scanUser(row)
	if errors.Is(err, sql.ErrNoRows) {
		return u, fmt.Errorf("user %q: %w", id, pbxusers.ErrNotFound)
	}
	if err != nil {
		return u, mapErr(err)
	}
	users := []pbxusers.User{u}
	if err := t.loadSides(ctx, users); err != nil {
		return u, err
	}
	return users[0], nil
}

func (t *txn) LookupUser(ctx context.Context, tenant string, key pbxusers.UserKey, value string) (pbxusers.User, error) {
	var where string
	arg := any(value)
	switch key {
	case pbxusers.KeyUserName:
		where, arg = "u.user_name_lc = ?", strings.ToLower(value)
	case pbxusers.KeyEmail:
		where, arg = "u.id = (SELECT e.user_id FROM user_emails e WHERE e.tenant_id = u.tenant_id AND e.address_lc = ?)", strings.ToLower(strings.TrimSpace(value))
	case pbxusers.KeyExtension:
		where = "u.extension = ?"
	case pbxusers.KeyStationNumber:
		where = "u.station = ?"
	case pbxusers.KeyExternalID:
		where = "u.external_id = ?"
	default:
		return pbxusers.User{}, pbxusers.Invalid("key", "cannot look users up by %q", key)
	}
	if value == "" {
		return pbxusers.User{}, fmt.Errorf("user with empty %s: %w", key, pbxusers.ErrNotFound)
	}
	// "+u.id" keeps SQLite from walking the (tenant_id, id) index to
	// satisfy ORDER BY instead of using the key's index: with it, a miss on
	// a non-unique key (external id) cost a scan of the tenant.
	row := t.queryRow(ctx, "SELECT "+userColumns+" FROM users u WHERE u.tenant_id = ? AND "+where+" ORDER BY +u.id LIMIT 1", tenant, arg)
	u, err := scanUser(row)
	if errors.Is(err, sql.ErrNoRows) {
		return u, fmt.Errorf("user with %s %q: %w", key, value, pbxusers.ErrNotFound)
	}
	if err != nil {
		return u, mapErr(err)
	}
	users := []pbxusers.User{u}
	if err := t.loadSides(ctx, users); err != nil {
		return u, err
	}
	return users[0], nil
}

// loadSides fills Teams, Profiles and Queues of users from the membership
// tables, with one query per table for the whole slice.
func (t *txn) loadSides(ctx context.Context, users []pbxusers.User) error {
	if len(users) == 0 {
		return nil
	}
	idx := make(map[string]int, len(users))
	args := make([]any, len(users))
	for i := range users {
		idx[users[i].ID] = i
		args[i] = users[i].ID
		users[i].Teams, users[i].Profiles, users[i].Queues = nil, nil, nil
	}
	in := "(" + strings.TrimSuffix(strings.Repeat("?,", len(users)), ",") + ")"
	rows, err := t.query(ctx, "SELECT user_id, profile_id FROM user_profiles WHERE user_id IN "+in+" ORDER BY user_id, pos", args...)
	if err != nil {
		return mapErr(err)
	}
	for rows.Next() {
		var uid, pid string
		if err := rows.Scan(&uid, &pid); err != nil {
			rows.Close()
			return err
		}
		users[idx[uid]].Profiles = append(users[idx[uid]].Profiles, pid)
	}
	rows.Close()
	rows, err = t.query(ctx, "SELECT user_id, team_id FROM team_members WHERE user_id IN "+in+" ORDER BY user_id, team_id", args...)
	if err != nil {
		return mapErr(err)
	}
	for rows.Next() {
		var uid, tid string
		if err := rows.Scan(&uid, &tid); err != nil {
			rows.Close()
			return err
		}
		users[idx[uid]].Teams = append(users[idx[uid]].Teams, tid)
	}
	rows.Close()
	rows, err = t.query(ctx, "SELECT user_id, queue_id, priority, default_outbound FROM queue_members WHERE user_id IN "+in+" ORDER BY user_id, pos", args...)
	if err != nil {
		return mapErr(err)
	}
	defer rows.Close()
	for rows.Next() {
		var uid string
		var m pbxusers.QueueMembership
		var def int
		if err := rows.Scan(&uid, &m.QueueID, &m.Priority, &def); err != nil {
			return err
		}
		m.DefaultOutbound = def == 1
		users[idx[uid]].Queues = append(users[idx[uid]].Queues, m)
	}
	return rows.Err()
}

func (t *txn) UpdateUser(ctx context.Context, u *pbxusers.User, expect int64) error {
	doc, err := userDoc(u)
	if err != nil {
		return err
	}
	res, err := t.exec(ctx, `UPDATE users SET kind=?, active=?, source=?, external_id=?, user_name_lc=?,
		display_lc=?, given_lc=?, family_lc=?, location_lc=?, extension=?, station=?, manager_id=?, search=?,
		version=?, updated=?, doc=?, directory=?, sync_hash=?, deactivated_by=? WHERE tenant_id = ? AND id = ? AND version = ?`,
		string(u.Kind), boolInt(u.Active()), string(u.Owner.Source), nullable(u.Owner.ExternalID),
		strings.ToLower(u.UserName), strings.ToLower(u.DisplayName), strings.ToLower(u.Name.Given),
		strings.ToLower(u.Name.Family), strings.ToLower(u.Location), nullable(u.Extension), nullable(u.StationNumber),
		nullable(u.ManagerID), searchText(u), u.Version, micro(u.Updated), doc,
		u.Owner.Directory, u.Owner.Hash, string(u.DeactivatedBy), u.TenantID, u.ID, expect)
	if err != nil {
		return writeErr(err, u.UserName)
	}
	if err := t.checkUpdated(ctx, res, "users", "user", u.TenantID, u.ID); err != nil {
		return err
	}
	return t.writeUserSide(ctx, u, true)
}

// checkUpdated turns "no row updated" into ErrNotFound or ErrVersionMismatch.
func (t *txn) checkUpdated(ctx context.Context, res sql.Result, table, kind, tenant, id string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return mapErr(err)
	}
	if n == 1 {
		return nil
	}
	var exists int
	if err := t.queryRow(ctx, "SELECT count(*) FROM "+table+" WHERE tenant_id = ? AND id = ?", tenant, id).Scan(&exists); err != nil {
		return mapErr(err)
	}
	if exists == 0 {
		return fmt.Errorf("%s %q: %w", kind, id, pbxusers.ErrNotFound)
	}
	return &pbxusers.ConflictError{Kind: kind, Field: "version", Value: id, Reason: "was changed by someone else; read it again", Err: pbxusers.ErrVersionMismatch}
}

func (t *txn) DeleteUser(ctx context.Context, tenant, id string) error {
	// Numbers and managers are released by ON DELETE SET NULL, devices,
	// emails and memberships by ON DELETE CASCADE; routing references to the
	// user are rows of routing_user_refs keyed by target, removed here.
	if _, err := t.exec(ctx, "DELETE FROM routing_user_refs WHERE target_id = ?", id); err != nil {
		return mapErr(err)
	}
	res, err := t.exec(ctx, "DELETE FROM users WHERE tenant_id = ? AND id = ?", tenant, id)
	if err != nil {
		return writeErr(err, id)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("user %q: %w", id, pbxusers.ErrNotFound)
	}
	return nil
}

func (t *txn) ListUsers(ctx context.Context, tenant string, q pbxusers.UserQuery) (pbxusers.UserPage, error) {
	b := newBuilder()
	b.Where("u.tenant_id = ?", tenant)
	if !q.IncludeSystem {
		b.Where("u.kind = 'person'")
	}
	if s := strings.TrimSpace(q.Search); s != "" {
		b.Where("instr(u.search, ?) > 0", strings.ToLower(s))
	}
	if q.Filter != nil {
		if err := b.Filter(q.Filter, sqlquery.UserAttrs); err != nil {
			return pbxusers.UserPage{}, err
		}
	}
	order, err := sqlquery.SortColumn(q.SortBy, sqlquery.UserSorts)
	if err != nil {
		return pbxusers.UserPage{}, err
	}
	var page pbxusers.UserPage
	where := b.SQL()
	if q.Filter == nil && strings.TrimSpace(q.Search) == "" {
		// The unfiltered total is kept by triggers (user_counts).
		kinds := ""
		if !q.IncludeSystem {
			kinds = " AND kind = 'person'"
		}
		err = t.queryRow(ctx, "SELECT coalesce(sum(n), 0) FROM user_counts WHERE tenant_id = ?"+kinds, tenant).Scan(&page.Total)
	} else {
		err = t.queryRow(ctx, "SELECT count(*) FROM users u WHERE "+where, b.Args...).Scan(&page.Total)
	}
	if err != nil {
		return page, mapErr(err)
	}
	if q.Limit < 0 || page.Total == 0 || q.Offset >= page.Total {
		return page, nil
	}
	limit := q.Limit
	if limit == 0 {
		limit = pbxusers.DefaultPageSize
	}
	args := append(b.Args, limit, q.Offset)
	sorted := orderBy(order, q.Descending)
	// Page the ids first, so OFFSET walks the index instead of decoding
	// every skipped row, then read the page's rows.
	rows, err := t.query(ctx, "SELECT "+userColumns+" FROM users u WHERE u.id IN (SELECT u.id FROM users u WHERE "+where+
		" ORDER BY "+sorted+" LIMIT ? OFFSET ?) ORDER BY "+sorted, args...)
	if err != nil {
		return page, mapErr(err)
	}
	defer rows.Close()
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return page, err
		}
		page.Users = append(page.Users, u)
	}
	if err := rows.Err(); err != nil {
		return page, mapErr(err)
	}
	rows.Close()
	return page, t.loadSides(ctx, page.Users)
}

func (t *txn) ListOwned(ctx context.Context, tenant string, source pbxusers.Source, directory, after string, limit int) ([]pbxusers.OwnedUser, error) {
	b := newBuilder()
	b.Where("tenant_id = ?", tenant)
	b.Where("source = ?", string(source))
	if directory != "" {
		b.Where("directory = ?", directory)
	}
	b.Where("external_id > ?", after)
	rows, err := t.query(ctx, `SELECT id, external_id, user_name_lc, active, deactivated_by, sync_hash, version
		FROM users WHERE `+b.SQL()+` ORDER BY external_id LIMIT ?`, append(b.Args, limit)...)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []pbxusers.OwnedUser
	for rows.Next() {
		var o pbxusers.OwnedUser
		var active int
		var by string
		if err := rows.Scan(&o.ID, &o.ExternalID, &o.UserName, &active, &by, &o.Hash, &o.Version); err != nil {
			return nil, err
		}
		o.Status, o.DeactivatedBy = pbxusers.StatusInactive, pbxusers.Source(by)
		if active == 1 {
			o.Status = pbxusers.StatusActive
		}
		out = append(out, o)
	}
	return out, mapErr(rows.Err())
}

func (t *txn) RoutingReferences(ctx context.Context, tenant, id string) ([]string, error) {
	return t.strings(ctx, `SELECT r.user_id FROM routing_user_refs r JOIN users u ON u.id = r.user_id
		WHERE r.target_id = ? AND u.tenant_id = ? ORDER BY r.user_id`, id, tenant)
}

func (t *txn) strings(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := t.query(ctx, query, args...)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, mapErr(rows.Err())
}

func (t *txn) NextFreeExtension(ctx context.Context, tenant string, r pbxusers.Range) (string, error) {
	if r.Empty() || len(r.From) != len(r.To) {
		return "", nil
	}
	taken := func(ext string) (bool, error) {
		var n int
		err := t.queryRow(ctx, "SELECT count(*) FROM users WHERE tenant_id = ? AND extension = ?", tenant, ext).Scan(&n)
		return n > 0, mapErr(err)
	}
	if used, err := taken(r.From); err != nil {
		return "", err
	} else if !used {
		return r.From, nil
	}
	// The first used extension in the range whose successor is free; all
	// extensions in the range have the same width, so text order is number
	// order.
	width := len(r.From)
	var ext sql.NullString
	err := t.queryRow(ctx, `SELECT printf('%0`+fmt.Sprint(width)+`d', CAST(a.extension AS INTEGER) + 1)
		FROM users a WHERE a.tenant_id = ?1 AND a.extension >= ?2 AND a.extension < ?3 AND length(a.extension) = ?4
		AND NOT EXISTS (SELECT 1 FROM users b WHERE b.tenant_id = ?1
			AND b.extension = printf('%0`+fmt.Sprint(width)+`d', CAST(a.extension AS INTEGER) + 1))
		ORDER BY a.extension LIMIT 1`, tenant, r.From, r.To, width).Scan(&ext)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", mapErr(err)
	}
	return ext.String, nil
}

func (t *txn) SetPasswordHash(ctx context.Context, tenant, userID string, hash []byte) error {
	res, err := t.exec(ctx, "UPDATE users SET password_hash = ? WHERE tenant_id = ? AND id = ?", hash, tenant, userID)
	if err != nil {
		return mapErr(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("user %q: %w", userID, pbxusers.ErrNotFound)
	}
	return nil
}

func (t *txn) GetPasswordHash(ctx context.Context, tenant, userID string) ([]byte, error) {
	var h []byte
	err := t.queryRow(ctx, "SELECT password_hash FROM users WHERE tenant_id = ? AND id = ?", tenant, userID).Scan(&h)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("user %q: %w", userID, pbxusers.ErrNotFound)
	}
	return h, mapErr(err)
}

// referrerQueries are the SELECTs of (entity, id, name, field) rows that
// refer to an object, by the object's entity; each takes the tenant and
// the object's id as ?1 and ?2.
var referrerQueries = map[pbxusers.Entity]string{
	pbxusers.EntityUser: `
		SELECT 'user', u.id, json_extract(u.doc, '$.userName'), 'manager' FROM users u
			WHERE u.tenant_id = ?1 AND u.manager_id = ?2
		UNION ALL SELECT 'user', u.id, json_extract(u.doc, '$.userName'), 'queues' FROM queue_members q
			JOIN users u ON u.id = q.user_id WHERE u.tenant_id = ?1 AND q.queue_id = ?2
		UNION ALL SELECT 'user', u.id, json_extract(u.doc, '$.userName'), 'routing' FROM routing_user_refs r
			JOIN users u ON u.id = r.user_id WHERE u.tenant_id = ?1 AND r.target_id = ?2
		UNION ALL SELECT 'number', n.e164, n.e164, 'userId' FROM numbers n WHERE n.tenant_id = ?1 AND n.user_id = ?2`,
	pbxusers.EntityProfile: `
		SELECT 'team', t.id, json_extract(t.doc, '$.name'), 'profiles' FROM team_profiles p
			JOIN teams t ON t.id = p.team_id WHERE t.tenant_id = ?1 AND p.profile_id = ?2
		UNION ALL SELECT 'user', u.id, json_extract(u.doc, '$.userName'), 'profiles' FROM user_profiles p
			JOIN users u ON u.id = p.user_id WHERE u.tenant_id = ?1 AND p.profile_id = ?2`,
	pbxusers.EntityTimeFrame: `
		SELECT 'user', u.id, json_extract(u.doc, '$.userName'), 'routing' FROM routing_timeframe_refs r
			JOIN users u ON u.id = r.user_id WHERE u.tenant_id = ?1 AND r.timeframe_id = ?2`,
}

func (t *txn) Referrers(ctx context.Context, tenant string, entity pbxusers.Entity, id string) ([]pbxusers.Reference, error) {
	q, ok := referrerQueries[entity]
	if !ok {
		return nil, nil
	}
	rows, err := t.query(ctx, "SELECT * FROM ("+q+") ORDER BY 1, 4, 2", tenant, id)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []pbxusers.Reference
	for rows.Next() {
		var r pbxusers.Reference
		var name sql.NullString
		if err := rows.Scan(&r.Entity, &r.ID, &name, &r.Field); err != nil {
			return nil, mapErr(err)
		}
		r.Name = name.String
		out = append(out, r)
	}
	return out, mapErr(rows.Err())
}
