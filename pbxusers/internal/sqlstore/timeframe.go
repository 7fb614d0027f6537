package sqlstore

import (
	"context"
	"strings"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// CreateTimeFrame implements pbxusers.Tx.
func (t *Tx) CreateTimeFrame(ctx context.Context, tf *pbxusers.StoredTimeFrame) error {
	d, err := encode(tf)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, "INSERT INTO timeframes (id, tenant_id, doc, version, created, updated) VALUES (?,?,?,?,?,?)",
		tf.ID, tf.TenantID, d, tf.Version, t.f.Time(tf.Created), t.f.Time(tf.Updated))
	return t.f.Err("create time frame", err, tf.ID)
}

// GetTimeFrame implements pbxusers.Tx.
func (t *Tx) GetTimeFrame(ctx context.Context, tenant, id string) (pbxusers.StoredTimeFrame, error) {
	return doc[pbxusers.StoredTimeFrame](ctx, t, "get time frame", "time frame", id,
		"SELECT doc FROM timeframes WHERE tenant_id = ? AND id = ?", tenant, id)
}

// UpdateTimeFrame implements pbxusers.Tx.
func (t *Tx) UpdateTimeFrame(ctx context.Context, tf *pbxusers.StoredTimeFrame, expect int64) error {
	d, err := encode(tf)
	if err != nil {
		return err
	}
	n, err := t.exec(ctx, "UPDATE timeframes SET doc = ?, version = ?, updated = ? WHERE tenant_id = ? AND id = ? AND version = ?",
		d, tf.Version, t.f.Time(tf.Updated), tf.TenantID, tf.ID, expect)
	if err != nil {
		return t.f.Err("update time frame", err, tf.ID)
	}
	return t.checkUpdated(ctx, n, "timeframes", "time frame", tf.TenantID, tf.ID)
}

// DeleteTimeFrame implements pbxusers.Tx.
func (t *Tx) DeleteTimeFrame(ctx context.Context, tenant, id string) error {
	users, err := t.strings(ctx, "find time frame use", "SELECT user_id FROM routing_timeframe_refs WHERE timeframe_id = ? ORDER BY user_id LIMIT 5", id)
	if err != nil {
		return err
	}
	if len(users) > 0 {
		return &pbxusers.ConflictError{Kind: "time frame", Field: "id", Value: id,
			Reason: "is used by the answering rules of users " + strings.Join(users, ", "), Err: pbxusers.ErrInUse}
	}
	n, err := t.exec(ctx, "DELETE FROM timeframes WHERE tenant_id = ? AND id = ?", tenant, id)
	if err != nil {
		return t.f.Err("delete time frame", err, id)
	}
	return affected(n, "time frame", id)
}

// ListTimeFrames implements pbxusers.Tx.
func (t *Tx) ListTimeFrames(ctx context.Context, tenant string) ([]pbxusers.StoredTimeFrame, error) {
	return docs[pbxusers.StoredTimeFrame](ctx, t, "list time frames", "SELECT doc FROM timeframes WHERE tenant_id = ? ORDER BY id", tenant)
}
