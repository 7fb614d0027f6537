package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// AppendChange inserts the entry and sets c.Seq. Seqs come from one
// sequence (an identity column, SQLite's AUTOINCREMENT) and writers commit
// one at a time (SQLite's single writer, PostgreSQL's write lock), so seq
// order is commit order.
func (t *Tx) AppendChange(ctx context.Context, c *pbxusers.Change) error {
	var fields any
	if len(c.Fields) > 0 {
		f, err := encode(c.Fields)
		if err != nil {
			return err
		}
		fields = f
	}
	var err error
	c.Seq, err = t.insert(ctx, `INSERT INTO changes (tenant_id, at, actor_source, actor_name, entity, entity_id, action, summary, fields, version)
		VALUES (?,?,?,?,?,?,?,?,?,?) RETURNING seq`, c.TenantID, t.f.Time(c.At), string(c.Actor.Source), c.Actor.Name,
		string(c.Entity), c.EntityID, string(c.Action), c.Summary, fields, c.Version)
	return t.f.Err("append change", err, c.EntityID)
}

// ListChanges implements pbxusers.Tx.
func (t *Tx) ListChanges(ctx context.Context, tenant string, q pbxusers.ChangeQuery) ([]pbxusers.Change, error) {
	b := t.f.builder()
	b.Where("tenant_id = ?", tenant)
	b.Where("seq > ?", q.AfterSeq)
	if q.BeforeSeq > 0 {
		b.Where("seq < ?", q.BeforeSeq)
	}
	order := "seq"
	if q.Newest {
		order = "seq DESC"
	}
	if q.Entity != "" {
		b.Where("entity = ?", string(q.Entity))
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
		FROM changes WHERE `+b.SQL()+` ORDER BY `+order+` LIMIT `+b.Arg(limit), b.Args, func(r Row) error {
		var c pbxusers.Change
		var at timeCol
		var src, entity, action string
		var fields []byte
		if err := r.Scan(&c.Seq, &c.TenantID, &at, &src, &c.Actor.Name, &entity, &c.EntityID, &action, &c.Summary, &fields, &c.Version); err != nil {
			return err
		}
		c.At, c.Actor.Source, c.Entity, c.Action = at.t, pbxusers.Source(src), pbxusers.Entity(entity), pbxusers.Action(action)
		if fields != nil {
			if err := json.Unmarshal(fields, &c.Fields); err != nil {
				return fmt.Errorf("decode change %d: %w", c.Seq, err)
			}
		}
		out = append(out, c)
		return nil
	})
	return out, t.f.Err("list changes", err, "")
}
