package sqlstore

import (
	"context"
	"slices"
	"strings"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// referrerQueries are the SELECTs of (entity, id, name, field) rows that
// refer to an object, by the object's entity; each ? pair takes the tenant
// and the object's id, in that order. userName and name are read with
// the Flavor's DocText, given as {userName} and {teamName}.
var referrerQueries = map[pbxusers.Entity]string{
	pbxusers.EntityUser: `
		SELECT 'user', u.id, {userName}, 'manager' FROM users u
			WHERE u.tenant_id = ? AND u.manager_id = ?
		UNION ALL SELECT 'user', u.id, {userName}, 'queues' FROM queue_members q
			JOIN users u ON u.id = q.user_id WHERE u.tenant_id = ? AND q.queue_id = ?
		UNION ALL SELECT 'user', u.id, {userName}, 'routing' FROM routing_user_refs r
			JOIN users u ON u.id = r.user_id WHERE u.tenant_id = ? AND r.target_id = ?
		UNION ALL SELECT 'number', n.e164, n.e164, 'userId' FROM numbers n WHERE n.tenant_id = ? AND n.user_id = ?`,
	pbxusers.EntityProfile: `
		SELECT 'team', t.id, {teamName}, 'profiles' FROM team_profiles p
			JOIN teams t ON t.id = p.team_id WHERE t.tenant_id = ? AND p.profile_id = ?
		UNION ALL SELECT 'user', u.id, {userName}, 'profiles' FROM user_profiles p
			JOIN users u ON u.id = p.user_id WHERE u.tenant_id = ? AND p.profile_id = ?`,
	pbxusers.EntityNumber: `
		SELECT 'user', u.id, {userName}, 'callerId.number' FROM users u
			WHERE u.tenant_id = ? AND {callerNumber} = ?
		UNION ALL SELECT 'user', u.id, {userName}, 'callerId.allowed' FROM users u
			WHERE u.tenant_id = ? AND {callerAllowed}`,
	pbxusers.EntityTimeFrame: `
		SELECT 'user', u.id, {userName}, 'routing' FROM routing_timeframe_refs r
			JOIN users u ON u.id = r.user_id WHERE u.tenant_id = ? AND r.timeframe_id = ?`,
}

// referrerQuery returns the statement listing the referrers of an entity.
func (f *Flavor) referrerQuery(entity pbxusers.Entity) (string, bool) {
	q, ok := referrerQueries[entity]
	if !ok {
		return "", false
	}
	q = strings.NewReplacer("{userName}", f.DocText("u.doc", "userName"), "{teamName}", f.DocText("t.doc", "name"),
		"{callerNumber}", f.DocPathText("u.doc", "callerId", "number"),
		"{callerAllowed}", f.DocArrayHas("u.doc", "callerId", "allowed")).Replace(q)
	return "SELECT * FROM (" + q + ") refs ORDER BY 1, 4, 2", true
}

// Referrers implements pbxusers.Tx.
func (t *Tx) Referrers(ctx context.Context, tenant string, entity pbxusers.Entity, id string) ([]pbxusers.Reference, error) {
	q, ok := t.f.referrerQuery(entity)
	if !ok {
		return nil, nil
	}
	args := make([]any, 0, 8)
	for range strings.Count(q, "?") / 2 {
		args = append(args, tenant, id)
	}
	var out []pbxusers.Reference
	err := t.each(ctx, q, args, func(r Row) error {
		var ref pbxusers.Reference
		var entity string
		var name *string
		if err := r.Scan(&entity, &ref.ID, &name, &ref.Field); err != nil {
			return err
		}
		ref.Entity = pbxusers.Entity(entity)
		if name != nil {
			ref.Name = *name
		}
		out = append(out, ref)
		return nil
	})
	return out, t.f.Err("list referrers", err, "")
}

// AwaitingManager implements pbxusers.Tx. The expression is the one the
// users_manager_ref index is built on. The ids are sorted here, not with
// ORDER BY id: with it, SQLite walks the tenant's users in id order and
// reads every document instead of using the index, which made each user
// creation cost a scan of the tenant (quadratic in bulk loads).
func (t *Tx) AwaitingManager(ctx context.Context, tenant, ref string) ([]string, error) {
	var out []string
	err := t.each(ctx, "SELECT id FROM users WHERE tenant_id = ? AND "+t.f.DocText("doc", "managerRef")+" = ?",
		[]any{tenant, ref}, func(r Row) error {
			var id string
			if err := r.Scan(&id); err != nil {
				return err
			}
			out = append(out, id)
			return nil
		})
	slices.Sort(out)
	return out, t.f.Err("list users awaiting a manager", err, "")
}
