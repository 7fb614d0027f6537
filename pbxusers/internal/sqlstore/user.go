package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pbxgate/pbxgate/pbxusers"
	"github.com/pbxgate/pbxgate/pbxusers/internal/sqlquery"
)

// userColumnsOf returns the columns read for a user, in scanUser's order:
// the row, its document, and its memberships as JSON arrays (profiles in
// order, teams by id, queues in order as [queue, priority, default]), so
// that one query reads whole users. A Flavor with SidesApart reads the
// memberships with loadSides instead (the columns are NULL).
func userColumnsOf(f *Flavor) string {
	const row = `u.id, u.tenant_id, u.version, u.created, u.updated, u.manager_id, u.doc`
	if f.SidesApart {
		return row + `, NULL, NULL, NULL`
	}
	return row + `,
	` + f.JSONList("p.profile_id", "user_profiles p WHERE p.user_id = u.id", "p.pos") + `,
	` + f.JSONList("m.team_id", "team_members m WHERE m.user_id = u.id", "m.team_id") + `,
	` + f.JSONList(f.JSONArray+"(q.queue_id, q.priority, q.default_outbound)", "queue_members q WHERE q.user_id = u.id", "q.pos")
}

// withSides fills in the memberships of users read with userColumns where
// the Flavor reads them apart: one statement for profiles, teams and
// queues together (a UNION ALL), per sidesChunkN users. Three statements,
// as there were, made reading one user cost four statements and a third of
// a SCIM get's CPU.
func (t *Tx) withSides(ctx context.Context, users []pbxusers.User) error {
	if !t.f.SidesApart {
		return nil
	}
	for start := 0; start < len(users); start += sidesChunkN {
		if err := t.sidesOf(ctx, users[start:min(start+sidesChunkN, len(users))]); err != nil {
			return err
		}
	}
	return nil
}

// sidesChunkN bounds the users of one side statement: each id is bound
// three times, well below SQLite's 32,766 variables.
const sidesChunkN = 1000

// The kinds of side rows in sidesOf's statement.
const (
	sideProfile = iota
	sideTeam
	sideQueue
)

func (t *Tx) sidesOf(ctx context.Context, users []pbxusers.User) error {
	idx := make(map[string]int, len(users))
	args := make([]any, 0, 3*len(users))
	for i := range users {
		idx[users[i].ID] = i
		args = append(args, users[i].ID)
	}
	args = append(append(args, args...), args...)
	in := "(" + strings.TrimSuffix(strings.Repeat("?,", len(users)), ",") + ")"
	// Within a user, profiles and queues keep their position and teams are
	// in id order (pos is 0 for every team row).
	query := "SELECT user_id, " + strconv.Itoa(sideProfile) + ", profile_id, pos, 0, 0 FROM user_profiles WHERE user_id IN " + in +
		" UNION ALL SELECT user_id, " + strconv.Itoa(sideTeam) + ", team_id, 0, 0, 0 FROM team_members WHERE user_id IN " + in +
		" UNION ALL SELECT user_id, " + strconv.Itoa(sideQueue) + ", queue_id, pos, priority, default_outbound FROM queue_members WHERE user_id IN " + in +
		" ORDER BY 1, 2, 4, 3"
	err := t.each(ctx, query, args, func(r Row) error {
		var uid, id string
		var kind, pos, priority int
		var outbound bool
		if err := r.Scan(&uid, &kind, &id, &pos, &priority, &outbound); err != nil {
			return err
		}
		u := &users[idx[uid]]
		switch kind {
		case sideProfile:
			u.Profiles = append(u.Profiles, id)
		case sideTeam:
			u.Teams = append(u.Teams, id)
		case sideQueue:
			u.Queues = append(u.Queues, pbxusers.QueueMembership{QueueID: id, Priority: priority, DefaultOutbound: outbound})
		}
		return nil
	})
	return t.f.Err("read user memberships", err, "")
}

// scanUser reads a row of userColumns.
func scanUser(sc Row) (pbxusers.User, error) {
	var (
		u                        pbxusers.User
		id, tenant               string
		version                  int64
		created, updated         timeCol
		manager                  *string
		doc, profiles, teams, qs []byte
	)
	if err := sc.Scan(&id, &tenant, &version, &created, &updated, &manager, &doc, &profiles, &teams, &qs); err != nil {
		return u, err
	}
	if err := json.Unmarshal(doc, &u); err != nil {
		return u, fmt.Errorf("decode user %s: %w", id, err)
	}
	u.ID, u.TenantID, u.Version = id, tenant, version
	u.Created, u.Updated = created.t, updated.t
	u.ManagerID = ""
	if manager != nil {
		u.ManagerID = *manager
	}
	u.Profiles, u.Teams, u.Queues = nil, nil, nil
	if err := decodeIDs(profiles, &u.Profiles); err != nil {
		return u, fmt.Errorf("decode profiles of user %s: %w", id, err)
	}
	if err := decodeIDs(teams, &u.Teams); err != nil {
		return u, fmt.Errorf("decode teams of user %s: %w", id, err)
	}
	if err := decodeQueues(qs, &u.Queues); err != nil {
		return u, fmt.Errorf("decode queues of user %s: %w", id, err)
	}
	return u, nil
}

// decodeIDs decodes a JSON array of ids; an empty array (or NULL) leaves
// ids nil.
func decodeIDs(b []byte, ids *[]string) error {
	if len(b) == 0 || string(b) == "[]" {
		return nil
	}
	if err := json.Unmarshal(b, ids); err != nil {
		return err
	}
	if len(*ids) == 0 {
		*ids = nil
	}
	return nil
}

// decodeQueues decodes a JSON array of [queue, priority, default] triples.
// The default is a JSON boolean (PostgreSQL) or 0/1 (SQLite).
func decodeQueues(b []byte, qs *[]pbxusers.QueueMembership) error {
	if len(b) == 0 || string(b) == "[]" {
		return nil
	}
	var rows [][3]json.RawMessage
	if err := json.Unmarshal(b, &rows); err != nil {
		return err
	}
	for _, r := range rows {
		var m pbxusers.QueueMembership
		if err := json.Unmarshal(r[0], &m.QueueID); err != nil {
			return err
		}
		if err := json.Unmarshal(r[1], &m.Priority); err != nil {
			return err
		}
		switch string(r[2]) {
		case "true", "1":
			m.DefaultOutbound = true
		case "false", "0":
		default:
			return fmt.Errorf("defaultOutbound %s is not a boolean", r[2])
		}
		*qs = append(*qs, m)
	}
	return nil
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

// CreateUser implements pbxusers.Tx.
func (t *Tx) CreateUser(ctx context.Context, u *pbxusers.User) error {
	doc, err := userDoc(u)
	if err != nil {
		return err
	}
	stmts := []Stmt{{SQL: `INSERT INTO users (id, tenant_id, kind, active, source, external_id,
		user_name_lc, display_lc, given_lc, family_lc, location_lc, extension, station, manager_id,
		search, version, created, updated, doc, directory, sync_hash, deactivated_by)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		Args: []any{u.ID, u.TenantID, string(u.Kind), u.Active(), string(u.Owner.Source), nullable(u.Owner.ExternalID),
			pbxusers.UserNameKey(u.UserName), strings.ToLower(u.DisplayName), strings.ToLower(u.Name.Given),
			strings.ToLower(u.Name.Family), strings.ToLower(u.Location), nullable(u.Extension), nullable(u.StationNumber),
			nullable(u.ManagerID), searchText(u), u.Version, t.f.Time(u.Created), t.f.Time(u.Updated), doc,
			u.Owner.Directory, u.Owner.Hash, string(u.DeactivatedBy)},
		Value: u.UserName}}
	return t.batch(ctx, "create user", append(stmts, t.userSide(u, false)...))
}

// userSide returns the statements that (re)write the rows indexing a user:
// emails, memberships and routing references.
func (t *Tx) userSide(u *pbxusers.User, replace bool) []Stmt {
	var out []Stmt
	if replace {
		for _, q := range []string{
			"DELETE FROM user_emails WHERE user_id = ?",
			"DELETE FROM user_profiles WHERE user_id = ?",
			"DELETE FROM queue_members WHERE user_id = ?",
			"DELETE FROM routing_user_refs WHERE user_id = ?",
			"DELETE FROM routing_timeframe_refs WHERE user_id = ?",
		} {
			out = append(out, Stmt{SQL: q, Args: []any{u.ID}})
		}
		// Team memberships are kept where they stay, so a membership row
		// (and the team's member count) is only written when it changes.
		out = append(out, Stmt{SQL: "DELETE FROM team_members WHERE user_id = ? AND team_id NOT IN (SELECT id FROM " + t.f.IDs + " x)",
			Args: []any{u.ID, t.f.IDList(u.Teams)}})
	}
	for i, e := range u.Emails {
		out = append(out, Stmt{SQL: `INSERT INTO user_emails (user_id, pos, tenant_id, address_lc, type, is_primary)
			VALUES (?,?,?,?,?,?)`, Args: []any{u.ID, i, u.TenantID, strings.ToLower(e.Value), strings.ToLower(e.Type), e.Primary},
			Value: e.Value})
	}
	for i, p := range u.Profiles {
		out = append(out, Stmt{SQL: "INSERT INTO user_profiles (user_id, profile_id, pos) VALUES (?,?,?)",
			Args: []any{u.ID, p, i}, Value: p})
	}
	for i, q := range u.Queues {
		out = append(out, Stmt{SQL: `INSERT INTO queue_members (user_id, queue_id, pos, priority, default_outbound)
			VALUES (?,?,?,?,?)`, Args: []any{u.ID, q.QueueID, i, q.Priority, q.DefaultOutbound}, Value: q.QueueID})
	}
	for _, id := range u.Routing.UserRefs() {
		out = append(out, Stmt{SQL: "INSERT INTO routing_user_refs (user_id, target_id) VALUES (?,?) ON CONFLICT DO NOTHING",
			Args: []any{u.ID, id}, Value: id})
	}
	for _, id := range u.Routing.TimeFrameRefs() {
		out = append(out, Stmt{SQL: "INSERT INTO routing_timeframe_refs (user_id, timeframe_id) VALUES (?,?) ON CONFLICT DO NOTHING",
			Args: []any{u.ID, id}, Value: id})
	}
	insertTeam := "INSERT INTO team_members (team_id, user_id) VALUES (?,?)"
	if replace {
		insertTeam += " ON CONFLICT DO NOTHING"
	}
	for _, id := range u.Teams {
		out = append(out, Stmt{SQL: insertTeam, Args: []any{id, u.ID}, Value: id})
	}
	return out
}

// GetUser implements pbxusers.Tx.
func (t *Tx) GetUser(ctx context.Context, tenant, id string) (pbxusers.User, error) {
	u, err := scanUser(t.queryRow(ctx, "SELECT "+t.f.parts().userColumns+" FROM users u WHERE u.tenant_id = ? AND u.id = ?", tenant, id))
	if err != nil {
		return u, t.f.notFound("get user", "user", id, err)
	}
	return t.oneWithSides(ctx, u)
}

// oneWithSides is withSides for one user.
func (t *Tx) oneWithSides(ctx context.Context, u pbxusers.User) (pbxusers.User, error) {
	users := []pbxusers.User{u}
	err := t.withSides(ctx, users)
	return users[0], err
}

// LookupUser implements pbxusers.Tx.
func (t *Tx) LookupUser(ctx context.Context, tenant string, key pbxusers.UserKey, value string) (pbxusers.User, error) {
	var where string
	args := []any{tenant, value}
	switch key {
	case pbxusers.KeyUserName:
		where, args[1] = "u.user_name_lc = ?", pbxusers.UserNameKey(value)
	case pbxusers.KeyEmail:
		where = "u.id = (SELECT e.user_id FROM user_emails e WHERE e.tenant_id = ? AND e.address_lc = ? ORDER BY e.user_id LIMIT 1)"
		args = []any{tenant, tenant, strings.ToLower(strings.TrimSpace(value))}
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
	// Unindexed keeps SQLite from walking the (tenant_id, id) index to
	// satisfy ORDER BY instead of using the key's index: with it, a miss on
	// a non-unique key (external id) cost a scan of the tenant.
	u, err := scanUser(t.queryRow(ctx, "SELECT "+t.f.parts().userColumns+" FROM users u WHERE u.tenant_id = ? AND "+where+
		" ORDER BY "+t.f.Unindexed("u.id")+" LIMIT 1", args...))
	if t.f.isNoRows(err) {
		return u, fmt.Errorf("user with %s %q: %w", key, value, pbxusers.ErrNotFound)
	}
	if err != nil {
		return u, t.f.Err("look user up", err, "")
	}
	return t.oneWithSides(ctx, u)
}

// UpdateUser implements pbxusers.Tx.
func (t *Tx) UpdateUser(ctx context.Context, u *pbxusers.User, expect int64) error {
	if err := t.UpdateUserRow(ctx, u, expect); err != nil {
		return err
	}
	return t.batch(ctx, "update user", t.userSide(u, true))
}

// UpdateUserRow implements pbxusers.Tx. Rewriting the side rows is most of
// an update's statements (six deletes and the inserts of each email and
// membership), which a change of active or a title does not need.
func (t *Tx) UpdateUserRow(ctx context.Context, u *pbxusers.User, expect int64) error {
	doc, err := userDoc(u)
	if err != nil {
		return err
	}
	n, err := t.exec(ctx, `UPDATE users SET kind=?, active=?, source=?, external_id=?, user_name_lc=?,
		display_lc=?, given_lc=?, family_lc=?, location_lc=?, extension=?, station=?, manager_id=?, search=?,
		version=?, updated=?, doc=?, directory=?, sync_hash=?, deactivated_by=?
		WHERE tenant_id = ? AND id = ? AND version = ?`,
		string(u.Kind), u.Active(), string(u.Owner.Source), nullable(u.Owner.ExternalID),
		pbxusers.UserNameKey(u.UserName), strings.ToLower(u.DisplayName), strings.ToLower(u.Name.Given),
		strings.ToLower(u.Name.Family), strings.ToLower(u.Location), nullable(u.Extension), nullable(u.StationNumber),
		nullable(u.ManagerID), searchText(u), u.Version, t.f.Time(u.Updated), doc,
		u.Owner.Directory, u.Owner.Hash, string(u.DeactivatedBy), u.TenantID, u.ID, expect)
	if err != nil {
		return t.f.Err("update user", err, u.UserName)
	}
	return t.checkUpdated(ctx, n, "users", "user", u.TenantID, u.ID)
}

// DeleteUser implements pbxusers.Tx.
func (t *Tx) DeleteUser(ctx context.Context, tenant, id string) error {
	// Numbers and managers are released by ON DELETE SET NULL, devices,
	// emails and memberships by ON DELETE CASCADE; routing references to the
	// user are rows of routing_user_refs keyed by target, removed here.
	if _, err := t.exec(ctx, `DELETE FROM routing_user_refs
		WHERE target_id = ? AND user_id IN (SELECT id FROM users WHERE tenant_id = ?)`, id, tenant); err != nil {
		return t.f.Err("delete routing references", err, "")
	}
	n, err := t.exec(ctx, "DELETE FROM users WHERE tenant_id = ? AND id = ?", tenant, id)
	if err != nil {
		return t.f.Err("delete user", err, id)
	}
	return affected(n, "user", id)
}

// ListUsers implements pbxusers.Tx.
func (t *Tx) ListUsers(ctx context.Context, tenant string, q pbxusers.UserQuery) (pbxusers.UserPage, error) {
	b := t.f.builder()
	b.Where("u.tenant_id = ?", tenant)
	if !q.IncludeSystem {
		b.Where("u.kind = 'person'")
	}
	search := strings.TrimSpace(q.Search)
	if search != "" {
		b.Where(t.f.Query.Contains(b, "u.search", strings.ToLower(search)))
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
	where := b.SQL()
	countSQL, countArgs := "SELECT count(*) FROM users u WHERE "+where, t.f.planned(b.Args)
	if q.Filter == nil && search == "" {
		// The total of an unfiltered listing is the count kept by triggers.
		countSQL, countArgs = "SELECT CAST(coalesce(sum(n), 0) AS bigint) FROM user_counts WHERE tenant_id = ?", b.Args
		if !q.IncludeSystem {
			countSQL += " AND kind = 'person'"
		}
	}
	var page pbxusers.UserPage
	if err := t.queryRow(ctx, countSQL, countArgs...).Scan(&page.Total); err != nil {
		return page, t.f.Err("count users", err, "")
	}
	if q.Limit < 0 || page.Total == 0 || q.Offset >= page.Total {
		return page, nil
	}
	limit := q.Limit
	if limit == 0 {
		limit = pbxusers.DefaultPageSize
	}
	ob := t.f.orderBy(order, q.Descending)
	// Page the ids first, so OFFSET walks an index instead of decoding
	// every skipped row, then read the page's rows.
	pageSQL := "SELECT " + t.f.parts().userColumns + " FROM users u WHERE u.id IN (SELECT u.id FROM users u WHERE " + where +
		" ORDER BY " + ob + " LIMIT " + b.Arg(limit) + " OFFSET " + b.Arg(max(q.Offset, 0)) + ") ORDER BY " + ob
	err = t.each(ctx, pageSQL, t.f.planned(b.Args), func(r Row) error {
		u, err := scanUser(r)
		if err != nil {
			return err
		}
		page.Users = append(page.Users, u)
		return nil
	})
	if err != nil {
		return page, t.f.Err("list users", err, "")
	}
	return page, t.withSides(ctx, page.Users)
}

// ListOwned implements pbxusers.Tx.
func (t *Tx) ListOwned(ctx context.Context, tenant string, source pbxusers.Source, directory, after string, limit int) ([]pbxusers.OwnedUser, error) {
	b := t.f.builder()
	b.Where("tenant_id = ?", tenant)
	b.Where("source = ?", string(source))
	if directory != "" {
		b.Where("directory = ?", directory)
	}
	b.Where("external_id > ?", after)
	var out []pbxusers.OwnedUser
	err := t.each(ctx, `SELECT id, external_id, user_name_lc, active, deactivated_by, sync_hash, version
		FROM users WHERE `+b.SQL()+` ORDER BY external_id LIMIT `+b.Arg(t.f.limitArg(limit)), t.f.planned(b.Args), func(r Row) error {
		var o pbxusers.OwnedUser
		var active bool
		var by string
		if err := r.Scan(&o.ID, &o.ExternalID, &o.UserName, &active, &by, &o.Hash, &o.Version); err != nil {
			return err
		}
		o.Status, o.DeactivatedBy = pbxusers.StatusInactive, pbxusers.Source(by)
		if active {
			o.Status = pbxusers.StatusActive
		}
		out = append(out, o)
		return nil
	})
	return out, t.f.Err("list owned users", err, "")
}

// RoutingReferences implements pbxusers.Tx.
func (t *Tx) RoutingReferences(ctx context.Context, tenant, id string) ([]string, error) {
	return t.strings(ctx, "list routing references", `SELECT r.user_id FROM routing_user_refs r JOIN users u ON u.id = r.user_id
		WHERE r.target_id = ? AND u.tenant_id = ? ORDER BY r.user_id`, id, tenant)
}

// NextFreeExtension implements pbxusers.Tx.
func (t *Tx) NextFreeExtension(ctx context.Context, tenant string, r pbxusers.Range) (string, error) {
	if r.Empty() || len(r.From) != len(r.To) {
		return "", nil
	}
	var used bool
	if err := t.queryRow(ctx, "SELECT EXISTS (SELECT 1 FROM users WHERE tenant_id = ? AND extension = ?)", tenant, r.From).Scan(&used); err != nil {
		return "", t.f.Err("find free extension", err, "")
	}
	if !used {
		return r.From, nil
	}
	// The first used extension in the range whose successor is free; all
	// extensions in the range have the same width, so text order is number
	// order. The walk can stop at the first gap; a range packed full is a
	// walk of all of it. The order matches the extension index.
	width := len(r.From)
	next := t.f.Successor("a.extension", width)
	var ext *string
	err := t.queryRow(ctx, `SELECT `+next+` FROM users a
		WHERE a.tenant_id = ? AND a.extension >= ? AND a.extension < ? AND length(a.extension) = `+strconv.Itoa(width)+`
		AND `+t.f.Digits("a.extension")+`
		AND NOT EXISTS (SELECT 1 FROM users b WHERE b.tenant_id = ? AND b.extension = `+next+`)
		ORDER BY a.extension`+t.f.NullsFirst+` LIMIT 1`, tenant, r.From, r.To, tenant).Scan(&ext)
	if t.f.isNoRows(err) {
		return "", nil
	}
	if err != nil {
		return "", t.f.Err("find free extension", err, "")
	}
	if ext == nil {
		return "", nil
	}
	return *ext, nil
}

// SetPasswordHash implements pbxusers.Tx.
func (t *Tx) SetPasswordHash(ctx context.Context, tenant, userID string, hash []byte) error {
	n, err := t.exec(ctx, "UPDATE users SET password_hash = ? WHERE tenant_id = ? AND id = ?", hash, tenant, userID)
	if err != nil {
		return t.f.Err("set password hash", err, "")
	}
	return affected(n, "user", userID)
}

// GetPasswordHash implements pbxusers.Tx.
func (t *Tx) GetPasswordHash(ctx context.Context, tenant, userID string) ([]byte, error) {
	var h []byte
	err := t.queryRow(ctx, "SELECT password_hash FROM users WHERE tenant_id = ? AND id = ?", tenant, userID).Scan(&h)
	if err != nil {
		return nil, t.f.notFound("get password hash", "user", userID, err)
	}
	return h, nil
}
