package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// webhookColumns are the columns read for a webhook, in scanWebhook's order.
const webhookColumns = `id, tenant_id, url, secret, active, created, delivered_seq, pending_seq, attempts, next_attempt,
	last_error, last_attempt, last_delivered, claimed_by, claimed_until`

func scanWebhook(r Row) (pbxusers.Webhook, error) {
	var w pbxusers.Webhook
	var created, next, lastAttempt, lastDelivered, until timeCol
	err := r.Scan(&w.ID, &w.TenantID, &w.URL, &w.Secret, &w.Active, &created, &w.DeliveredSeq, &w.PendingSeq, &w.Attempts,
		&next, &w.LastError, &lastAttempt, &lastDelivered, &w.ClaimedBy, &until)
	if err != nil {
		return w, err
	}
	w.Created, w.NextAttempt = created.t, next.t
	w.LastAttempt, w.LastDelivered = lastAttempt.ptr(), lastDelivered.ptr()
	if until.valid {
		w.ClaimedUntil = until.t
	}
	return w, nil
}

func (t *Tx) webhooks(ctx context.Context, op, where string, args ...any) ([]pbxusers.Webhook, error) {
	var out []pbxusers.Webhook
	err := t.each(ctx, "SELECT "+webhookColumns+" FROM webhooks WHERE "+where, args, func(r Row) error {
		w, err := scanWebhook(r)
		if err != nil {
			return err
		}
		out = append(out, w)
		return nil
	})
	return out, t.f.Err(op, err, "")
}

// CreateWebhook implements pbxusers.Tx.
func (t *Tx) CreateWebhook(ctx context.Context, w *pbxusers.Webhook) error {
	_, err := t.exec(ctx, `INSERT INTO webhooks (id, tenant_id, url, secret, active, created, delivered_seq, pending_seq,
		attempts, next_attempt, last_error, last_attempt, last_delivered, claimed_by, claimed_until)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,'',NULL)`,
		w.ID, w.TenantID, w.URL, w.Secret, w.Active, t.f.Time(w.Created), w.DeliveredSeq, w.PendingSeq, w.Attempts,
		t.f.Time(w.NextAttempt), w.LastError, t.f.timePtr(w.LastAttempt), t.f.timePtr(w.LastDelivered))
	return t.f.Err("create webhook", err, w.ID)
}

// GetWebhook implements pbxusers.Tx.
func (t *Tx) GetWebhook(ctx context.Context, tenant, id string) (pbxusers.Webhook, error) {
	ws, err := t.webhooks(ctx, "get webhook", "tenant_id = ? AND id = ?", tenant, id)
	if err != nil {
		return pbxusers.Webhook{}, err
	}
	if len(ws) == 0 {
		return pbxusers.Webhook{}, fmt.Errorf("webhook %q: %w", id, pbxusers.ErrNotFound)
	}
	return ws[0], nil
}

// ListWebhooks implements pbxusers.Tx.
func (t *Tx) ListWebhooks(ctx context.Context, tenant string) ([]pbxusers.Webhook, error) {
	return t.webhooks(ctx, "list webhooks", "tenant_id = ? ORDER BY created, id", tenant)
}

// DeleteWebhook implements pbxusers.Tx.
func (t *Tx) DeleteWebhook(ctx context.Context, tenant, id string) error {
	n, err := t.exec(ctx, "DELETE FROM webhooks WHERE tenant_id = ? AND id = ?", tenant, id)
	if err != nil {
		return t.f.Err("delete webhook", err, "")
	}
	return affected(n, "webhook", id)
}

// ClaimWebhooks implements pbxusers.Tx. It selects, then updates: both
// stores run one write transaction at a time (SQLite's single writer,
// PostgreSQL's write lock), so no other claim comes in between.
func (t *Tx) ClaimWebhooks(ctx context.Context, owner string, now, until time.Time, limit int) ([]pbxusers.Webhook, error) {
	if limit <= 0 {
		return nil, nil
	}
	ids, err := t.strings(ctx, "claim webhooks", `SELECT w.id FROM webhooks w
		WHERE w.active AND w.next_attempt <= ?
			AND (w.claimed_by = '' OR w.claimed_by = ? OR w.claimed_until IS NULL OR w.claimed_until <= ?)
			AND EXISTS (SELECT 1 FROM changes c WHERE c.tenant_id = w.tenant_id AND c.seq > w.delivered_seq)
		ORDER BY w.next_attempt, w.id LIMIT ?`, t.f.Time(now), owner, t.f.Time(now), limit)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	marks := strings.TrimSuffix(strings.Repeat("?,", len(ids)), ",")
	args := []any{owner, t.f.Time(until)}
	for _, id := range ids {
		args = append(args, id)
	}
	if _, err := t.exec(ctx, "UPDATE webhooks SET claimed_by = ?, claimed_until = ? WHERE id IN ("+marks+")", args...); err != nil {
		return nil, t.f.Err("claim webhooks", err, "")
	}
	return t.webhooks(ctx, "claim webhooks", "id IN ("+marks+") ORDER BY next_attempt, id", args[2:]...)
}

// FinishWebhook implements pbxusers.Tx.
func (t *Tx) FinishWebhook(ctx context.Context, w *pbxusers.Webhook) error {
	n, err := t.exec(ctx, `UPDATE webhooks SET delivered_seq = ?, pending_seq = ?, attempts = ?, next_attempt = ?,
		last_error = ?, last_attempt = ?, last_delivered = ?, claimed_by = '', claimed_until = NULL
		WHERE tenant_id = ? AND id = ? AND claimed_by = ?`,
		w.DeliveredSeq, w.PendingSeq, w.Attempts, t.f.Time(w.NextAttempt), w.LastError, t.f.timePtr(w.LastAttempt),
		t.f.timePtr(w.LastDelivered), w.TenantID, w.ID, w.ClaimedBy)
	if err != nil {
		return t.f.Err("finish webhook", err, "")
	}
	if n == 0 {
		if _, err := t.GetWebhook(ctx, w.TenantID, w.ID); err != nil {
			return err
		}
		return &pbxusers.ConflictError{Kind: "webhook", Field: "claimedBy", Value: w.ClaimedBy,
			Reason: fmt.Sprintf("webhook %s is no longer claimed by worker %q (its lease ended)", w.ID, w.ClaimedBy)}
	}
	return nil
}

// ReleaseWebhooks implements pbxusers.Tx.
func (t *Tx) ReleaseWebhooks(ctx context.Context, owner string) (int, error) {
	n, err := t.exec(ctx, "UPDATE webhooks SET claimed_by = '', claimed_until = NULL WHERE claimed_by = ?", owner)
	if err != nil {
		return 0, t.f.Err("release webhooks", err, "")
	}
	return int(n), nil
}
