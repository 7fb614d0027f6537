package sqlstore

import (
	"context"
	"slices"
	"strings"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// maxBulkArgsN bounds the arguments of one multi-row statement (SQLite
// takes 32,766, PostgreSQL 65,535). 2,000 (90 users a statement) is as
// fast as 8,000 in the first LDAP sync and peaked 9 MB lower at 20,000
// users: SQLite compiles a smaller statement.
const maxBulkArgsN = 2000

// rowsSQL returns head followed by n groups of width placeholders, e.g.
// "INSERT … VALUES (?,?),(?,?)".
func rowsSQL(head string, width, n int) string {
	group := "(" + strings.TrimSuffix(strings.Repeat("?,", width), ",") + ")"
	var b strings.Builder
	b.Grow(len(head) + n*(len(group)+1))
	b.WriteString(head)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(group)
	}
	return b.String()
}

// insertRows runs head (an INSERT … VALUES without the rows) over rows of
// width arguments each, as few statements as the argument limit allows.
// value names the row a unique violation reports.
func (t *Tx) insertRows(ctx context.Context, op, head string, width int, rows [][]any, value func(i int) string) error {
	per := max(maxBulkArgsN/width, 1)
	for from := 0; from < len(rows); from += per {
		to := min(from+per, len(rows))
		args := make([]any, 0, (to-from)*width)
		for _, r := range rows[from:to] {
			args = append(args, r...)
		}
		if _, err := t.exec(ctx, rowsSQL(head, width, to-from), args...); err != nil {
			v := ""
			if value != nil && to-from == 1 {
				v = value(from)
			}
			return t.f.Err(op, err, v)
		}
	}
	return nil
}

// CreateUsers implements pbxusers.Tx: the users, their emails, memberships
// and routing references in one multi-row statement per table (per chunk).
func (t *Tx) CreateUsers(ctx context.Context, users []*pbxusers.User) error {
	if len(users) == 0 {
		return nil
	}
	rows := make([][]any, len(users))
	var emails, profiles, queues, userRefs, frameRefs, teams [][]any
	for i, u := range users {
		doc, err := userDoc(u)
		if err != nil {
			return err
		}
		rows[i] = []any{u.ID, u.TenantID, string(u.Kind), u.Active(), string(u.Owner.Source), nullable(u.Owner.ExternalID),
			pbxusers.UserNameKey(u.UserName), strings.ToLower(u.DisplayName), strings.ToLower(u.Name.Given),
			strings.ToLower(u.Name.Family), strings.ToLower(u.Location), nullable(u.Extension), nullable(u.StationNumber),
			nullable(u.ManagerID), searchText(u), u.Version, t.f.Time(u.Created), t.f.Time(u.Updated), doc,
			u.Owner.Directory, u.Owner.Hash, string(u.DeactivatedBy)}
		for j, e := range u.Emails {
			emails = append(emails, []any{u.ID, j, u.TenantID, strings.ToLower(e.Value), strings.ToLower(e.Type), e.Primary})
		}
		for j, p := range u.Profiles {
			profiles = append(profiles, []any{u.ID, p, j})
		}
		for j, q := range u.Queues {
			queues = append(queues, []any{u.ID, q.QueueID, j, q.Priority, q.DefaultOutbound})
		}
		for _, id := range u.Routing.UserRefs() {
			userRefs = append(userRefs, []any{u.ID, id})
		}
		for _, id := range u.Routing.TimeFrameRefs() {
			frameRefs = append(frameRefs, []any{u.ID, id})
		}
		for _, id := range u.Teams {
			teams = append(teams, []any{id, u.ID})
		}
	}
	if err := t.insertRows(ctx, "create users", `INSERT INTO users (id, tenant_id, kind, active, source, external_id,
		user_name_lc, display_lc, given_lc, family_lc, location_lc, extension, station, manager_id,
		search, version, created, updated, doc, directory, sync_hash, deactivated_by) VALUES `, 22, rows,
		func(i int) string { return users[i].UserName }); err != nil {
		return err
	}
	for _, s := range []struct {
		op, head string
		width    int
		rows     [][]any
	}{
		{"create user emails", "INSERT INTO user_emails (user_id, pos, tenant_id, address_lc, type, is_primary) VALUES ", 6, emails},
		{"create user profiles", "INSERT INTO user_profiles (user_id, profile_id, pos) VALUES ", 3, profiles},
		{"create queue members", "INSERT INTO queue_members (user_id, queue_id, pos, priority, default_outbound) VALUES ", 5, queues},
		{"create routing references", "INSERT INTO routing_user_refs (user_id, target_id) VALUES ", 2, userRefs},
		{"create routing references", "INSERT INTO routing_timeframe_refs (user_id, timeframe_id) VALUES ", 2, frameRefs},
		{"create team members", "INSERT INTO team_members (team_id, user_id) VALUES ", 2, teams},
	} {
		if len(s.rows) == 0 {
			continue
		}
		head := s.head
		if strings.HasPrefix(head, "INSERT INTO routing_") {
			// Routing refs are a set: a policy may name a target twice.
			if err := t.insertRowsOnConflict(ctx, s.op, head, s.width, s.rows); err != nil {
				return err
			}
			continue
		}
		if err := t.insertRows(ctx, s.op, head, s.width, s.rows, nil); err != nil {
			return err
		}
	}
	return nil
}

// insertRowsOnConflict is insertRows with ON CONFLICT DO NOTHING.
func (t *Tx) insertRowsOnConflict(ctx context.Context, op, head string, width int, rows [][]any) error {
	per := max(maxBulkArgsN/width, 1)
	for from := 0; from < len(rows); from += per {
		to := min(from+per, len(rows))
		args := make([]any, 0, (to-from)*width)
		for _, r := range rows[from:to] {
			args = append(args, r...)
		}
		if _, err := t.exec(ctx, rowsSQL(head, width, to-from)+" ON CONFLICT DO NOTHING", args...); err != nil {
			return t.f.Err(op, err, "")
		}
	}
	return nil
}

// UserKeyHolders implements pbxusers.Tx: one statement for all the values,
// each answered with the user LookupUser would return.
func (t *Tx) UserKeyHolders(ctx context.Context, tenant string, key pbxusers.UserKey, values []string) (map[string]pbxusers.UserKeyHolder, error) {
	out := map[string]pbxusers.UserKeyHolder{}
	if len(values) == 0 {
		return out, nil
	}
	norm := func(v string) string { return v }
	var q string
	userName := t.f.DocText("u.doc", "userName")
	switch key {
	case pbxusers.KeyUserName:
		norm = pbxusers.UserNameKey
		q = "SELECT u.user_name_lc, u.id, " + userName + ", u.source FROM users u WHERE u.tenant_id = ? AND u.user_name_lc IN (SELECT id FROM " + t.f.IDs + " x)"
	case pbxusers.KeyEmail:
		norm = func(v string) string { return strings.ToLower(strings.TrimSpace(v)) }
		q = "SELECT e.address_lc, u.id, " + userName + ", u.source FROM user_emails e JOIN users u ON u.id = e.user_id WHERE e.tenant_id = ? AND e.address_lc IN (SELECT id FROM " + t.f.IDs + " x)"
	case pbxusers.KeyExtension:
		q = "SELECT u.extension, u.id, " + userName + ", u.source FROM users u WHERE u.tenant_id = ? AND u.extension IN (SELECT id FROM " + t.f.IDs + " x)"
	case pbxusers.KeyStationNumber:
		q = "SELECT u.station, u.id, " + userName + ", u.source FROM users u WHERE u.tenant_id = ? AND u.station IN (SELECT id FROM " + t.f.IDs + " x)"
	case pbxusers.KeyExternalID:
		q = "SELECT u.external_id, u.id, " + userName + ", u.source FROM users u WHERE u.tenant_id = ? AND u.external_id IN (SELECT id FROM " + t.f.IDs + " x)"
	default:
		return nil, pbxusers.Invalid("key", "cannot look users up by %q", key)
	}
	keys := make([]string, 0, len(values))
	seen := make(map[string]bool, len(values))
	for _, v := range values {
		if k := norm(v); k != "" && !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return out, nil
	}
	// The holder LookupUser returns is the one with the lowest id.
	found := make(map[string]pbxusers.UserKeyHolder, len(keys))
	err := t.each(ctx, q, []any{tenant, t.f.IDList(keys)}, func(r Row) error {
		var k, src string
		var h pbxusers.UserKeyHolder
		var name *string
		if err := r.Scan(&k, &h.ID, &name, &src); err != nil {
			return err
		}
		if name != nil {
			h.UserName = *name
		}
		h.Source = pbxusers.Source(src)
		if cur, ok := found[k]; !ok || h.ID < cur.ID {
			found[k] = h
		}
		return nil
	})
	if err != nil {
		return nil, t.f.Err("look users up", err, "")
	}
	for _, v := range values {
		if h, ok := found[norm(v)]; ok {
			out[v] = h
		}
	}
	return out, nil
}

// AwaitingManagers implements pbxusers.Tx.
func (t *Tx) AwaitingManagers(ctx context.Context, tenant string, refs []string) (map[string][]string, error) {
	out := map[string][]string{}
	if len(refs) == 0 {
		return out, nil
	}
	ref := t.f.DocText("doc", "managerRef")
	err := t.each(ctx, "SELECT "+ref+", id FROM users WHERE tenant_id = ? AND "+ref+" IN (SELECT id FROM "+t.f.IDs+" x)",
		[]any{tenant, t.f.IDList(refs)}, func(r Row) error {
			var ref, id string
			if err := r.Scan(&ref, &id); err != nil {
				return err
			}
			out[ref] = append(out[ref], id)
			return nil
		})
	// Sorted here, not with ORDER BY id, as in AwaitingManager.
	for _, ids := range out {
		slices.Sort(ids)
	}
	return out, t.f.Err("list users awaiting a manager", err, "")
}

// AppendChanges implements pbxusers.Tx: one multi-row statement per chunk.
// Seqs are read back with RETURNING, or, where the Flavor says the
// database numbers the rows of one INSERT consecutively, from the last one.
func (t *Tx) AppendChanges(ctx context.Context, cs []*pbxusers.Change) error {
	const width = 10
	per := maxBulkArgsN / width
	for from := 0; from < len(cs); from += per {
		chunk := cs[from:min(from+per, len(cs))]
		args := make([]any, 0, len(chunk)*width)
		for _, c := range chunk {
			var fields any
			if len(c.Fields) > 0 {
				f, err := encode(c.Fields)
				if err != nil {
					return err
				}
				fields = f
			}
			args = append(args, c.TenantID, t.f.Time(c.At), string(c.Actor.Source), c.Actor.Name,
				string(c.Entity), c.EntityID, string(c.Action), c.Summary, fields, c.Version)
		}
		text := rowsSQL(`INSERT INTO changes (tenant_id, at, actor_source, actor_name, entity, entity_id, action, summary, fields, version) VALUES `, width, len(chunk))
		if err := t.insertMany(ctx, text, "seq", args, func(i int, id int64) { chunk[i].Seq = id }, len(chunk)); err != nil {
			return t.f.Err("append changes", err, "")
		}
	}
	return nil
}

// EnqueueMails implements pbxusers.Tx.
func (t *Tx) EnqueueMails(ctx context.Context, ms []*pbxusers.OutboxMessage) error {
	const width = 12
	per := maxBulkArgsN / width
	for from := 0; from < len(ms); from += per {
		chunk := ms[from:min(from+per, len(ms))]
		args := make([]any, 0, len(chunk)*width)
		for _, m := range chunk {
			args = append(args, m.TenantID, nullable(m.UserID), string(m.Kind), m.To, string(m.Status), m.Attempts,
				t.f.Time(m.NextAttempt), m.LastError, t.f.Time(m.Created), t.f.Time(m.Updated), "", t.f.Unclaimed)
		}
		text := rowsSQL(`INSERT INTO outbox (tenant_id, user_id, kind, recipient, status, attempts, next_attempt,
		last_error, created, updated, claimed_by, claimed_until) VALUES `, width, len(chunk))
		if err := t.insertMany(ctx, text, "id", args, func(i int, id int64) { chunk[i].ID = id }, len(chunk)); err != nil {
			return t.f.Err("enqueue mail", err, "")
		}
	}
	return nil
}

// insertMany runs a multi-row INSERT of n rows into a table whose integer
// key col the database generates, and hands each row's key to set. Keys
// are generated in the order of the VALUES rows.
func (t *Tx) insertMany(ctx context.Context, text, col string, args []any, set func(i int, id int64), n int) error {
	if t.f.ConsecutiveIDs {
		last, err := t.insert(ctx, text, args...)
		if err != nil {
			return err
		}
		for i := range n {
			set(i, last-int64(n-1-i))
		}
		return nil
	}
	ids := make([]int64, 0, n)
	err := t.each(ctx, text+" RETURNING "+col, args, func(r Row) error {
		var id int64
		if err := r.Scan(&id); err != nil {
			return err
		}
		ids = append(ids, id)
		return nil
	})
	if err != nil {
		return err
	}
	slices.Sort(ids)
	for i := range min(n, len(ids)) {
		set(i, ids[i])
	}
	return nil
}
