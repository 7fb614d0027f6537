package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// ---- mail outbox

const mailColumns = `id, tenant_id, user_id, kind, recipient, status, attempts, next_attempt, last_error,
	created, updated, sent_at, claimed_by, claimed_until`

func scanMail(sc pgx.Row) (pbxusers.OutboxMessage, error) {
	var m pbxusers.OutboxMessage
	var user *string
	var kind, status string
	var until *time.Time
	err := sc.Scan(&m.ID, &m.TenantID, &user, &kind, &m.To, &status, &m.Attempts, &m.NextAttempt, &m.LastError,
		&m.Created, &m.Updated, &m.SentAt, &m.ClaimedBy, &until)
	if err != nil {
		return m, err
	}
	if user != nil {
		m.UserID = *user
	}
	m.Kind, m.Status = pbxusers.MailKind(kind), pbxusers.MailStatus(status)
	if until != nil {
		m.ClaimedUntil = *until
	}
	return m, nil
}

func (t *txn) mails(ctx context.Context, op, sql string, args ...any) ([]pbxusers.OutboxMessage, error) {
	var out []pbxusers.OutboxMessage
	err := t.each(ctx, sql, args, func(r pgx.Rows) error {
		m, err := scanMail(r)
		if err != nil {
			return err
		}
		out = append(out, m)
		return nil
	})
	return out, mapErr(op, err)
}

func (t *txn) EnqueueMail(ctx context.Context, m *pbxusers.OutboxMessage) error {
	err := t.queryRow(ctx, `INSERT INTO outbox (tenant_id, user_id, kind, recipient, status, attempts, next_attempt,
		last_error, created, updated) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) RETURNING id`,
		m.TenantID, nullable(m.UserID), string(m.Kind), m.To, string(m.Status), m.Attempts, m.NextAttempt,
		m.LastError, m.Created, m.Updated).Scan(&m.ID)
	return writeErr("enqueue mail", err, m.To)
}

// ClaimMail leases due messages to owner: unclaimed ones, expired claims
// and owner's own unfinished ones. FOR UPDATE SKIP LOCKED makes concurrent
// claims (of any process) pass over each other's rows instead of waiting
// for them or taking them twice.
func (t *txn) ClaimMail(ctx context.Context, owner string, now, until time.Time, limit int) ([]pbxusers.OutboxMessage, error) {
	if limit <= 0 {
		return nil, nil
	}
	out, err := t.mails(ctx, "claim mail", `UPDATE outbox o SET claimed_by = $1, claimed_until = $2
		FROM (SELECT id FROM outbox WHERE status = 'pending' AND next_attempt <= $3
			AND (claimed_by = '' OR claimed_by = $1 OR claimed_until IS NULL OR claimed_until <= $3)
			ORDER BY next_attempt, id LIMIT $4 FOR UPDATE SKIP LOCKED) c
		WHERE o.id = c.id
		RETURNING `+prefixed("o.", mailColumns), owner, until, now, limit)
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

func (t *txn) ReleaseMail(ctx context.Context, owner string) (int, error) {
	tag, err := t.exec(ctx, `UPDATE outbox SET claimed_by = '', claimed_until = NULL
		WHERE claimed_by = $1 AND status = 'pending'`, owner)
	if err != nil {
		return 0, mapErr("release mail", err)
	}
	return int(tag.RowsAffected()), nil
}

func (t *txn) FinishMail(ctx context.Context, m *pbxusers.OutboxMessage, a pbxusers.MailAttempt) error {
	tag, err := t.exec(ctx, `UPDATE outbox SET status = $1, attempts = $2, next_attempt = $3, last_error = $4,
		updated = $5, sent_at = $6, claimed_by = '', claimed_until = NULL
		WHERE id = $7 AND tenant_id = $8 AND ($9 = '' OR claimed_by = $9)`,
		string(m.Status), m.Attempts, m.NextAttempt, m.LastError, m.Updated, m.SentAt, m.ID, m.TenantID, m.ClaimedBy)
	if err != nil {
		return mapErr("finish mail", err)
	}
	if tag.RowsAffected() == 0 {
		if _, err := t.GetMail(ctx, m.TenantID, m.ID); err != nil {
			return err
		}
		return &pbxusers.ConflictError{Kind: "mail", Field: "claimedBy", Value: m.ClaimedBy,
			Reason: fmt.Sprintf("message %d is no longer claimed by worker %q (its lease ended)", m.ID, m.ClaimedBy)}
	}
	_, err = t.exec(ctx, "INSERT INTO outbox_attempts (message_id, at, ok, temporary, code, error) VALUES ($1,$2,$3,$4,$5,$6)",
		m.ID, a.At, a.OK, a.Temporary, a.Code, a.Error)
	return mapErr("record mail attempt", err)
}

func (t *txn) GetMail(ctx context.Context, tenant string, id int64) (pbxusers.OutboxMessage, error) {
	ms, err := t.mails(ctx, "get mail", "SELECT "+mailColumns+" FROM outbox WHERE tenant_id = $1 AND id = $2", tenant, id)
	if err != nil {
		return pbxusers.OutboxMessage{}, err
	}
	if len(ms) == 0 {
		return pbxusers.OutboxMessage{}, fmt.Errorf("mail %d: %w", id, pbxusers.ErrNotFound)
	}
	return ms[0], nil
}

func (t *txn) ListMail(ctx context.Context, tenant string, q pbxusers.MailQuery) ([]pbxusers.OutboxMessage, error) {
	b := newBuilder()
	b.Where("tenant_id = ?", tenant)
	if q.Status != "" {
		b.Where("status = ?", string(q.Status))
	}
	if q.UserID != "" {
		b.Where("user_id = ?", q.UserID)
	}
	return t.mails(ctx, "list mail", "SELECT "+mailColumns+" FROM outbox WHERE "+b.SQL()+" ORDER BY id DESC LIMIT "+b.Arg(limitArg(q.Limit)), b.Args...)
}

func (t *txn) ListMailAttempts(ctx context.Context, id int64) ([]pbxusers.MailAttempt, error) {
	var out []pbxusers.MailAttempt
	err := t.each(ctx, "SELECT message_id, at, ok, temporary, code, error FROM outbox_attempts WHERE message_id = $1 ORDER BY at, id",
		[]any{id}, func(r pgx.Rows) error {
			var a pbxusers.MailAttempt
			if err := r.Scan(&a.MessageID, &a.At, &a.OK, &a.Temporary, &a.Code, &a.Error); err != nil {
				return err
			}
			out = append(out, a)
			return nil
		})
	return out, mapErr("list mail attempts", err)
}

func (t *txn) CountMail(ctx context.Context) (map[pbxusers.MailStatus]int, error) {
	out := map[pbxusers.MailStatus]int{}
	err := t.each(ctx, "SELECT status, count(*) FROM outbox GROUP BY status", nil, func(r pgx.Rows) error {
		var s string
		var n int
		if err := r.Scan(&s, &n); err != nil {
			return err
		}
		out[pbxusers.MailStatus(s)] = n
		return nil
	})
	return out, mapErr("count mail", err)
}

// ---- set-password tokens

func (t *txn) CreateSetupToken(ctx context.Context, st *pbxusers.SetupToken) error {
	_, err := t.exec(ctx, `INSERT INTO setup_tokens (id, tenant_id, user_id, purpose, hash, created, expires, used, revoked, failures)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)`, st.ID, st.TenantID, st.UserID, string(st.Purpose), st.Hash, st.Created, st.Expires,
		st.Used, st.Revoked, st.Failures)
	return writeErr("create set-password token", err, st.ID)
}

func (t *txn) GetSetupToken(ctx context.Context, id string) (pbxusers.SetupToken, error) {
	var st pbxusers.SetupToken
	var purpose string
	err := t.queryRow(ctx, `SELECT id, tenant_id, user_id, purpose, hash, created, expires, used, revoked, failures
		FROM setup_tokens WHERE id = $1`, id).Scan(&st.ID, &st.TenantID, &st.UserID, &purpose, &st.Hash, &st.Created, &st.Expires,
		&st.Used, &st.Revoked, &st.Failures)
	if err != nil {
		return st, notFound("get set-password token", "set-password token", id, err)
	}
	st.Purpose = pbxusers.SetupPurpose(purpose)
	return st, nil
}

func (t *txn) UpdateSetupToken(ctx context.Context, st *pbxusers.SetupToken) error {
	tag, err := t.exec(ctx, "UPDATE setup_tokens SET used = $1, revoked = $2, failures = $3 WHERE id = $4",
		st.Used, st.Revoked, st.Failures, st.ID)
	if err != nil {
		return mapErr("update set-password token", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("set-password token %q: %w", st.ID, pbxusers.ErrNotFound)
	}
	return nil
}

func (t *txn) RevokeSetupTokens(ctx context.Context, tenant, userID string, at time.Time) (int, error) {
	tag, err := t.exec(ctx, "UPDATE setup_tokens SET revoked = $1 WHERE tenant_id = $2 AND user_id = $3 AND used IS NULL AND revoked IS NULL",
		at, tenant, userID)
	if err != nil {
		return 0, mapErr("revoke set-password tokens", err)
	}
	return int(tag.RowsAffected()), nil
}

// ---- sync runs, state and leases

func (t *txn) CreateSyncRun(ctx context.Context, r *pbxusers.SyncRun) error {
	doc, err := encode(r)
	if err != nil {
		return err
	}
	err = t.queryRow(ctx, "INSERT INTO sync_runs (tenant_id, directory, started, doc) VALUES ($1,$2,$3,$4) RETURNING id",
		r.TenantID, r.Directory, r.Started, doc).Scan(&r.ID)
	return writeErr("create sync run", err, r.Directory)
}

func (t *txn) UpdateSyncRun(ctx context.Context, r *pbxusers.SyncRun) error {
	doc, err := encode(r)
	if err != nil {
		return err
	}
	tag, err := t.exec(ctx, "UPDATE sync_runs SET doc = $1 WHERE id = $2 AND tenant_id = $3", doc, r.ID, r.TenantID)
	if err != nil {
		return mapErr("update sync run", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("sync run %d: %w", r.ID, pbxusers.ErrNotFound)
	}
	return nil
}

func (t *txn) ListSyncRuns(ctx context.Context, tenant, directory string, limit int) ([]pbxusers.SyncRun, error) {
	b := newBuilder()
	if tenant != "" {
		b.Where("tenant_id = ?", tenant)
	}
	if directory != "" {
		b.Where("directory = ?", directory)
	}
	var out []pbxusers.SyncRun
	err := t.each(ctx, "SELECT id, doc FROM sync_runs WHERE "+b.SQL()+" ORDER BY id DESC LIMIT "+b.Arg(limitArg(limit)), b.Args, func(rows pgx.Rows) error {
		var id int64
		var doc []byte
		if err := rows.Scan(&id, &doc); err != nil {
			return err
		}
		var r pbxusers.SyncRun
		if err := json.Unmarshal(doc, &r); err != nil {
			return fmt.Errorf("decode sync run %d: %w", id, err)
		}
		r.ID = id
		out = append(out, r)
		return nil
	})
	return out, mapErr("list sync runs", err)
}

func (t *txn) GetSyncState(ctx context.Context, tenant, directory string) (pbxusers.SyncState, error) {
	sts, err := docs[pbxusers.SyncState](ctx, t, "get sync state", "SELECT doc FROM sync_state WHERE tenant_id = $1 AND directory = $2", tenant, directory)
	if err != nil {
		return pbxusers.SyncState{}, err
	}
	if len(sts) == 0 {
		return pbxusers.SyncState{}, fmt.Errorf("sync state of %q: %w", directory, pbxusers.ErrNotFound)
	}
	return sts[0], nil
}

func (t *txn) PutSyncState(ctx context.Context, st *pbxusers.SyncState) error {
	doc, err := encode(st)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, `INSERT INTO sync_state (tenant_id, directory, doc) VALUES ($1,$2,$3)
		ON CONFLICT (tenant_id, directory) DO UPDATE SET doc = excluded.doc`, st.TenantID, st.Directory, doc)
	return writeErr("put sync state", err, st.Directory)
}

// AcquireLease inserts the lease, or takes it over when it is the owner's
// or has expired. The upsert locks the row, so of two processes racing for
// an expired lease the second sees the first's new row and gets false.
func (t *txn) AcquireLease(ctx context.Context, name, owner string, now, until time.Time) (bool, error) {
	tag, err := t.exec(ctx, `INSERT INTO leases (name, owner, until) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, until = excluded.until
		WHERE leases.owner = excluded.owner OR leases.until <= $4`, name, owner, until, now)
	if err != nil {
		return false, mapErr("acquire lease", err)
	}
	return tag.RowsAffected() == 1, nil
}

func (t *txn) ReleaseLease(ctx context.Context, name, owner string) error {
	_, err := t.exec(ctx, "DELETE FROM leases WHERE name = $1 AND owner = $2", name, owner)
	return mapErr("release lease", err)
}
