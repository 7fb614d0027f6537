package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// CreateSyncRun implements pbxusers.Tx.
func (t *Tx) CreateSyncRun(ctx context.Context, r *pbxusers.SyncRun) error {
	d, err := encode(r)
	if err != nil {
		return err
	}
	r.ID, err = t.insert(ctx, "INSERT INTO sync_runs (tenant_id, directory, started, doc) VALUES (?,?,?,?) RETURNING id",
		r.TenantID, r.Directory, t.f.Time(r.Started), d)
	return t.f.Err("create sync run", err, r.Directory)
}

// UpdateSyncRun implements pbxusers.Tx.
func (t *Tx) UpdateSyncRun(ctx context.Context, r *pbxusers.SyncRun) error {
	d, err := encode(r)
	if err != nil {
		return err
	}
	n, err := t.exec(ctx, "UPDATE sync_runs SET doc = ? WHERE id = ? AND tenant_id = ?", d, r.ID, r.TenantID)
	if err != nil {
		return t.f.Err("update sync run", err, "")
	}
	if n == 0 {
		return fmt.Errorf("sync run %d: %w", r.ID, pbxusers.ErrNotFound)
	}
	return nil
}

// ListSyncRuns implements pbxusers.Tx.
func (t *Tx) ListSyncRuns(ctx context.Context, tenant, directory string, limit int) ([]pbxusers.SyncRun, error) {
	b := t.f.builder()
	if tenant != "" {
		b.Where("tenant_id = ?", tenant)
	}
	if directory != "" {
		b.Where("directory = ?", directory)
	}
	var out []pbxusers.SyncRun
	err := t.each(ctx, "SELECT id, doc FROM sync_runs WHERE "+b.SQL()+" ORDER BY id DESC LIMIT "+b.Arg(t.f.limitArg(limit)), b.Args, func(rows Row) error {
		var id int64
		var d []byte
		if err := rows.Scan(&id, &d); err != nil {
			return err
		}
		var r pbxusers.SyncRun
		if err := json.Unmarshal(d, &r); err != nil {
			return fmt.Errorf("decode sync run %d: %w", id, err)
		}
		r.ID = id
		out = append(out, r)
		return nil
	})
	return out, t.f.Err("list sync runs", err, "")
}

// GetSyncState implements pbxusers.Tx.
func (t *Tx) GetSyncState(ctx context.Context, tenant, directory string) (pbxusers.SyncState, error) {
	sts, err := docs[pbxusers.SyncState](ctx, t, "get sync state", "SELECT doc FROM sync_state WHERE tenant_id = ? AND directory = ?", tenant, directory)
	if err != nil {
		return pbxusers.SyncState{}, err
	}
	if len(sts) == 0 {
		return pbxusers.SyncState{}, fmt.Errorf("sync state of %q: %w", directory, pbxusers.ErrNotFound)
	}
	return sts[0], nil
}

// PutSyncState implements pbxusers.Tx.
func (t *Tx) PutSyncState(ctx context.Context, st *pbxusers.SyncState) error {
	d, err := encode(st)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, `INSERT INTO sync_state (tenant_id, directory, doc) VALUES (?,?,?)
		ON CONFLICT (tenant_id, directory) DO UPDATE SET doc = excluded.doc`, st.TenantID, st.Directory, d)
	return t.f.Err("put sync state", err, st.Directory)
}
