package sqlstore

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// MailColumns are the columns read for an outbox message, in scanMail's
// order; a Flavor's ClaimMail returns them.
const MailColumns = `id, tenant_id, user_id, kind, recipient, status, attempts, next_attempt, last_error,
	created, updated, sent_at, claimed_by, claimed_until`

// scanMail reads a row of MailColumns.
func scanMail(sc Row) (pbxusers.OutboxMessage, error) {
	var m pbxusers.OutboxMessage
	var user *string
	var kind, status string
	var next, created, updated, sent, until timeCol
	err := sc.Scan(&m.ID, &m.TenantID, &user, &kind, &m.To, &status, &m.Attempts, &next, &m.LastError,
		&created, &updated, &sent, &m.ClaimedBy, &until)
	if err != nil {
		return m, err
	}
	if user != nil {
		m.UserID = *user
	}
	m.Kind, m.Status = pbxusers.MailKind(kind), pbxusers.MailStatus(status)
	m.NextAttempt, m.Created, m.Updated, m.SentAt = next.t, created.t, updated.t, sent.ptr()
	// Nobody's claim is NULL (PostgreSQL) or 0 (SQLite).
	if until.valid && until.t.UnixMicro() != 0 {
		m.ClaimedUntil = until.t
	}
	return m, nil
}

func (t *Tx) mails(ctx context.Context, op, text string, args ...any) ([]pbxusers.OutboxMessage, error) {
	var out []pbxusers.OutboxMessage
	err := t.each(ctx, text, args, func(r Row) error {
		m, err := scanMail(r)
		if err != nil {
			return err
		}
		out = append(out, m)
		return nil
	})
	return out, t.f.Err(op, err, "")
}

// EnqueueMail implements pbxusers.Tx.
func (t *Tx) EnqueueMail(ctx context.Context, m *pbxusers.OutboxMessage) error {
	var err error
	m.ID, err = t.insert(ctx, `INSERT INTO outbox (tenant_id, user_id, kind, recipient, status, attempts, next_attempt,
		last_error, created, updated, claimed_by, claimed_until) VALUES (?,?,?,?,?,?,?,?,?,?,'',?) RETURNING id`,
		m.TenantID, nullable(m.UserID), string(m.Kind), m.To, string(m.Status), m.Attempts, t.f.Time(m.NextAttempt),
		m.LastError, t.f.Time(m.Created), t.f.Time(m.Updated), t.f.Unclaimed)
	return t.f.Err("enqueue mail", err, m.To)
}

// ClaimMail leases due messages to owner with the Flavor's claim statement,
// and returns them oldest due first.
func (t *Tx) ClaimMail(ctx context.Context, owner string, now, until time.Time, limit int) ([]pbxusers.OutboxMessage, error) {
	if limit <= 0 {
		return nil, nil
	}
	out, err := t.mails(ctx, "claim mail", t.f.ClaimMail, owner, t.f.Time(until), t.f.Time(now), limit)
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].NextAttempt.Equal(out[j].NextAttempt) {
			return out[i].NextAttempt.Before(out[j].NextAttempt)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// ReleaseMail implements pbxusers.Tx.
func (t *Tx) ReleaseMail(ctx context.Context, owner string) (int, error) {
	n, err := t.exec(ctx, `UPDATE outbox SET claimed_by = '', claimed_until = ?
		WHERE claimed_by = ? AND status = 'pending'`, t.f.Unclaimed, owner)
	if err != nil {
		return 0, t.f.Err("release mail", err, "")
	}
	return int(n), nil
}

// FinishMail implements pbxusers.Tx.
func (t *Tx) FinishMail(ctx context.Context, m *pbxusers.OutboxMessage, a pbxusers.MailAttempt) error {
	n, err := t.exec(ctx, `UPDATE outbox SET status = ?, attempts = ?, next_attempt = ?, last_error = ?,
		updated = ?, sent_at = ?, claimed_by = '', claimed_until = ?
		WHERE id = ? AND tenant_id = ? AND (? = '' OR claimed_by = ?)`,
		string(m.Status), m.Attempts, t.f.Time(m.NextAttempt), m.LastError, t.f.Time(m.Updated), t.f.timePtr(m.SentAt),
		t.f.Unclaimed, m.ID, m.TenantID, m.ClaimedBy, m.ClaimedBy)
	if err != nil {
		return t.f.Err("finish mail", err, "")
	}
	if n == 0 {
		if _, err := t.GetMail(ctx, m.TenantID, m.ID); err != nil {
			return err
		}
		return &pbxusers.ConflictError{Kind: "mail", Field: "claimedBy", Value: m.ClaimedBy,
			Reason: fmt.Sprintf("message %d is no longer claimed by worker %q (its lease ended)", m.ID, m.ClaimedBy)}
	}
	_, err = t.exec(ctx, "INSERT INTO outbox_attempts (message_id, at, ok, temporary, code, error) VALUES (?,?,?,?,?,?)",
		m.ID, t.f.Time(a.At), a.OK, a.Temporary, a.Code, a.Error)
	return t.f.Err("record mail attempt", err, "")
}

// GetMail implements pbxusers.Tx.
func (t *Tx) GetMail(ctx context.Context, tenant string, id int64) (pbxusers.OutboxMessage, error) {
	ms, err := t.mails(ctx, "get mail", "SELECT "+MailColumns+" FROM outbox WHERE tenant_id = ? AND id = ?", tenant, id)
	if err != nil {
		return pbxusers.OutboxMessage{}, err
	}
	if len(ms) == 0 {
		return pbxusers.OutboxMessage{}, fmt.Errorf("mail %d: %w", id, pbxusers.ErrNotFound)
	}
	return ms[0], nil
}

// ListMail implements pbxusers.Tx.
func (t *Tx) ListMail(ctx context.Context, tenant string, q pbxusers.MailQuery) ([]pbxusers.OutboxMessage, error) {
	b := t.f.builder()
	b.Where("tenant_id = ?", tenant)
	if q.Status != "" {
		b.Where("status = ?", string(q.Status))
	}
	if q.UserID != "" {
		b.Where("user_id = ?", q.UserID)
	}
	return t.mails(ctx, "list mail", "SELECT "+MailColumns+" FROM outbox WHERE "+b.SQL()+" ORDER BY id DESC LIMIT "+b.Arg(t.f.limitArg(q.Limit)), b.Args...)
}

// ListMailAttempts implements pbxusers.Tx.
func (t *Tx) ListMailAttempts(ctx context.Context, id int64) ([]pbxusers.MailAttempt, error) {
	var out []pbxusers.MailAttempt
	err := t.each(ctx, "SELECT message_id, at, ok, temporary, code, error FROM outbox_attempts WHERE message_id = ? ORDER BY at, "+t.f.InsertOrder,
		[]any{id}, func(r Row) error {
			var a pbxusers.MailAttempt
			var at timeCol
			if err := r.Scan(&a.MessageID, &at, &a.OK, &a.Temporary, &a.Code, &a.Error); err != nil {
				return err
			}
			a.At = at.t
			out = append(out, a)
			return nil
		})
	return out, t.f.Err("list mail attempts", err, "")
}

// CountMail implements pbxusers.Tx.
func (t *Tx) CountMail(ctx context.Context) (map[pbxusers.MailStatus]int, error) {
	out := map[pbxusers.MailStatus]int{}
	err := t.each(ctx, "SELECT status, count(*) FROM outbox GROUP BY status", nil, func(r Row) error {
		var s string
		var n int
		if err := r.Scan(&s, &n); err != nil {
			return err
		}
		out[pbxusers.MailStatus(s)] = n
		return nil
	})
	return out, t.f.Err("count mail", err, "")
}
