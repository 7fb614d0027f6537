package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// ---- mail outbox

const mailColumns = `id, tenant_id, user_id, kind, recipient, status, attempts, next_attempt, last_error,
	created, updated, sent_at, claimed_by, claimed_until`

func scanMail(sc interface{ Scan(...any) error }) (pbxusers.OutboxMessage, error) {
	var m pbxusers.OutboxMessage
	var user sql.NullString
	var kind, status string
	var next, created, updated, until int64
	var sent sql.NullInt64
	err := sc.Scan(&m.ID, &m.TenantID, &user, &kind, &m.To, &status, &m.Attempts, &next, &m.LastError,
		&created, &updated, &sent, &m.ClaimedBy, &until)
	if err != nil {
		return m, err
	}
	m.UserID, m.Kind, m.Status = user.String, pbxusers.MailKind(kind), pbxusers.MailStatus(status)
	m.NextAttempt, m.Created, m.Updated, m.SentAt = fromMicro(next), fromMicro(created), fromMicro(updated), timePtr(sent)
	if until != 0 {
		m.ClaimedUntil = fromMicro(until)
	}
	return m, nil
}

func (t *txn) EnqueueMail(ctx context.Context, m *pbxusers.OutboxMessage) error {
	res, err := t.exec(ctx, `INSERT INTO outbox (tenant_id, user_id, kind, recipient, status, attempts, next_attempt,
		last_error, created, updated, claimed_by, claimed_until) VALUES (?,?,?,?,?,?,?,?,?,?,'',0)`,
		m.TenantID, nullable(m.UserID), string(m.Kind), m.To, string(m.Status), m.Attempts, micro(m.NextAttempt),
		m.LastError, micro(m.Created), micro(m.Updated))
	if err != nil {
		return mapErr(err)
	}
	m.ID, err = res.LastInsertId()
	return err
}

func (t *txn) ClaimMail(ctx context.Context, owner string, now, until time.Time, limit int) ([]pbxusers.OutboxMessage, error) {
	rows, err := t.query(ctx, `UPDATE outbox SET claimed_by = ?1, claimed_until = ?2
		WHERE id IN (SELECT id FROM outbox WHERE status = 'pending' AND next_attempt <= ?3
			AND (claimed_by = '' OR claimed_by = ?1 OR claimed_until <= ?3) ORDER BY next_attempt, id LIMIT ?4)
		RETURNING `+mailColumns, owner, micro(until), micro(now), limit)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []pbxusers.OutboxMessage
	for rows.Next() {
		m, err := scanMail(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, mapErr(rows.Err())
}

func (t *txn) ReleaseMail(ctx context.Context, owner string) (int, error) {
	res, err := t.exec(ctx, `UPDATE outbox SET claimed_by = '', claimed_until = 0
		WHERE claimed_by = ? AND status = 'pending'`, owner)
	if err != nil {
		return 0, mapErr(err)
	}
	n, err := res.RowsAffected()
	return int(n), mapErr(err)
}

func (t *txn) FinishMail(ctx context.Context, m *pbxusers.OutboxMessage, a pbxusers.MailAttempt) error {
	res, err := t.exec(ctx, `UPDATE outbox SET status = ?, attempts = ?, next_attempt = ?, last_error = ?,
		updated = ?, sent_at = ?, claimed_by = '', claimed_until = 0 WHERE id = ? AND tenant_id = ? AND (? = '' OR claimed_by = ?)`,
		string(m.Status), m.Attempts, micro(m.NextAttempt), m.LastError, micro(m.Updated), microPtr(m.SentAt), m.ID, m.TenantID,
		m.ClaimedBy, m.ClaimedBy)
	if err != nil {
		return mapErr(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if _, err := t.GetMail(ctx, m.TenantID, m.ID); err != nil {
			return err
		}
		return &pbxusers.ConflictError{Kind: "mail", Field: "claimedBy", Value: m.ClaimedBy,
			Reason: fmt.Sprintf("message %d is no longer claimed by worker %q (its lease ended)", m.ID, m.ClaimedBy)}
	}
	_, err = t.exec(ctx, "INSERT INTO outbox_attempts (message_id, at, ok, temporary, code, error) VALUES (?,?,?,?,?,?)",
		m.ID, micro(a.At), boolInt(a.OK), boolInt(a.Temporary), a.Code, a.Error)
	return mapErr(err)
}

func (t *txn) GetMail(ctx context.Context, tenant string, id int64) (pbxusers.OutboxMessage, error) {
	m, err := scanMail(t.queryRow(ctx, "SELECT "+mailColumns+" FROM outbox WHERE tenant_id = ? AND id = ?", tenant, id))
	if errors.Is(err, sql.ErrNoRows) {
		return m, fmt.Errorf("mail %d: %w", id, pbxusers.ErrNotFound)
	}
	return m, mapErr(err)
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
	rows, err := t.query(ctx, "SELECT "+mailColumns+" FROM outbox WHERE "+b.SQL()+" ORDER BY id DESC LIMIT ?", append(b.Args, q.Limit)...)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []pbxusers.OutboxMessage
	for rows.Next() {
		m, err := scanMail(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, mapErr(rows.Err())
}

func (t *txn) ListMailAttempts(ctx context.Context, id int64) ([]pbxusers.MailAttempt, error) {
	rows, err := t.query(ctx, "SELECT message_id, at, ok, temporary, code, error FROM outbox_attempts WHERE message_id = ? ORDER BY at, rowid", id)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []pbxusers.MailAttempt
	for rows.Next() {
		var a pbxusers.MailAttempt
		var at int64
		var ok, temp int
		if err := rows.Scan(&a.MessageID, &at, &ok, &temp, &a.Code, &a.Error); err != nil {
			return nil, err
		}
		a.At, a.OK, a.Temporary = fromMicro(at), ok == 1, temp == 1
		out = append(out, a)
	}
	return out, mapErr(rows.Err())
}

func (t *txn) CountMail(ctx context.Context) (map[pbxusers.MailStatus]int, error) {
	rows, err := t.query(ctx, "SELECT status, count(*) FROM outbox GROUP BY status")
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	out := map[pbxusers.MailStatus]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return nil, err
		}
		out[pbxusers.MailStatus(s)] = n
	}
	return out, mapErr(rows.Err())
}

// ---- set-password tokens

func (t *txn) CreateSetupToken(ctx context.Context, st *pbxusers.SetupToken) error {
	_, err := t.exec(ctx, `INSERT INTO setup_tokens (id, tenant_id, user_id, purpose, hash, created, expires, used, revoked, failures)
		VALUES (?,?,?,?,?,?,?,?,?,?)`, st.ID, st.TenantID, st.UserID, string(st.Purpose), st.Hash, micro(st.Created), micro(st.Expires),
		microPtr(st.Used), microPtr(st.Revoked), st.Failures)
	return writeErr(err, st.ID)
}

func (t *txn) GetSetupToken(ctx context.Context, id string) (pbxusers.SetupToken, error) {
	var st pbxusers.SetupToken
	var purpose string
	var created, expires int64
	var used, revoked sql.NullInt64
	err := t.queryRow(ctx, `SELECT id, tenant_id, user_id, purpose, hash, created, expires, used, revoked, failures
		FROM setup_tokens WHERE id = ?`, id).Scan(&st.ID, &st.TenantID, &st.UserID, &purpose, &st.Hash, &created, &expires, &used, &revoked, &st.Failures)
	if errors.Is(err, sql.ErrNoRows) {
		return st, fmt.Errorf("set-password token %q: %w", id, pbxusers.ErrNotFound)
	}
	if err != nil {
		return st, mapErr(err)
	}
	st.Purpose, st.Created, st.Expires = pbxusers.SetupPurpose(purpose), fromMicro(created), fromMicro(expires)
	st.Used, st.Revoked = timePtr(used), timePtr(revoked)
	return st, nil
}

func (t *txn) UpdateSetupToken(ctx context.Context, st *pbxusers.SetupToken) error {
	res, err := t.exec(ctx, "UPDATE setup_tokens SET used = ?, revoked = ?, failures = ? WHERE id = ?",
		microPtr(st.Used), microPtr(st.Revoked), st.Failures, st.ID)
	if err != nil {
		return mapErr(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("set-password token %q: %w", st.ID, pbxusers.ErrNotFound)
	}
	return nil
}

func (t *txn) RevokeSetupTokens(ctx context.Context, tenant, userID string, at time.Time) (int, error) {
	res, err := t.exec(ctx, "UPDATE setup_tokens SET revoked = ? WHERE tenant_id = ? AND user_id = ? AND used IS NULL AND revoked IS NULL",
		micro(at), tenant, userID)
	if err != nil {
		return 0, mapErr(err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// ---- sync runs, state and leases

func (t *txn) CreateSyncRun(ctx context.Context, r *pbxusers.SyncRun) error {
	doc, err := encode(r)
	if err != nil {
		return err
	}
	res, err := t.exec(ctx, "INSERT INTO sync_runs (tenant_id, directory, started, doc) VALUES (?,?,?,?)",
		r.TenantID, r.Directory, micro(r.Started), doc)
	if err != nil {
		return writeErr(err, r.Directory)
	}
	r.ID, err = res.LastInsertId()
	return err
}

func (t *txn) UpdateSyncRun(ctx context.Context, r *pbxusers.SyncRun) error {
	doc, err := encode(r)
	if err != nil {
		return err
	}
	res, err := t.exec(ctx, "UPDATE sync_runs SET doc = ? WHERE id = ? AND tenant_id = ?", doc, r.ID, r.TenantID)
	if err != nil {
		return mapErr(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
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
	rows, err := t.query(ctx, "SELECT id, doc FROM sync_runs WHERE "+b.SQL()+" ORDER BY id DESC LIMIT ?", append(b.Args, limit)...)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []pbxusers.SyncRun
	for rows.Next() {
		var id int64
		var doc string
		if err := rows.Scan(&id, &doc); err != nil {
			return nil, err
		}
		var r pbxusers.SyncRun
		if err := json.Unmarshal([]byte(doc), &r); err != nil {
			return nil, err
		}
		r.ID = id
		out = append(out, r)
	}
	return out, mapErr(rows.Err())
}

func (t *txn) GetSyncState(ctx context.Context, tenant, directory string) (pbxusers.SyncState, error) {
	var doc string
	var st pbxusers.SyncState
	err := t.queryRow(ctx, "SELECT doc FROM sync_state WHERE tenant_id = ? AND directory = ?", tenant, directory).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return st, fmt.Errorf("sync state of %q: %w", directory, pbxusers.ErrNotFound)
	}
	if err != nil {
		return st, mapErr(err)
	}
	err = json.Unmarshal([]byte(doc), &st)
	return st, err
}

func (t *txn) PutSyncState(ctx context.Context, st *pbxusers.SyncState) error {
	doc, err := encode(st)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, `INSERT INTO sync_state (tenant_id, directory, doc) VALUES (?,?,?)
		ON CONFLICT (tenant_id, directory) DO UPDATE SET doc = excluded.doc`, st.TenantID, st.Directory, doc)
	return writeErr(err, st.Directory)
}

func (t *txn) AcquireLease(ctx context.Context, name, owner string, now, until time.Time) (bool, error) {
	res, err := t.exec(ctx, `INSERT INTO leases (name, owner, until) VALUES (?1, ?2, ?3)
		ON CONFLICT (name) DO UPDATE SET owner = ?2, until = ?3 WHERE leases.owner = ?2 OR leases.until <= ?4`,
		name, owner, micro(until), micro(now))
	if err != nil {
		return false, mapErr(err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func (t *txn) ReleaseLease(ctx context.Context, name, owner string) error {
	_, err := t.exec(ctx, "DELETE FROM leases WHERE name = ? AND owner = ?", name, owner)
	return mapErr(err)
}
