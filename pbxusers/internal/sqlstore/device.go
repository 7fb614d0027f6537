package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// CreateDevice implements pbxusers.Tx.
func (t *Tx) CreateDevice(ctx context.Context, d *pbxusers.Device) error {
	dc, err := encode(d)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, "INSERT INTO devices (id, tenant_id, user_id, sip_id, mac, version, created, updated, doc) VALUES (?,?,?,?,?,?,?,?,?)",
		d.ID, d.TenantID, nullable(d.UserID), d.SIPID, nullable(d.MAC), d.Version, t.f.Time(d.Created), t.f.Time(d.Updated), dc)
	return t.f.Err("create device", err, d.SIPID)
}

// scanDevices reads the devices a condition selects.
func (t *Tx) scanDevices(ctx context.Context, where string, args ...any) ([]pbxusers.Device, error) {
	var out []pbxusers.Device
	err := t.each(ctx, "SELECT doc, user_id FROM devices WHERE "+where+" ORDER BY sip_id", args, func(r Row) error {
		var doc []byte
		var user *string
		if err := r.Scan(&doc, &user); err != nil {
			return err
		}
		var d pbxusers.Device
		if err := json.Unmarshal(doc, &d); err != nil {
			return fmt.Errorf("decode device: %w", err)
		}
		d.UserID = ""
		if user != nil {
			d.UserID = *user
		}
		out = append(out, d)
		return nil
	})
	return out, t.f.Err("list devices", err, "")
}

// GetDevice implements pbxusers.Tx.
func (t *Tx) GetDevice(ctx context.Context, tenant, id string) (pbxusers.Device, error) {
	ds, err := t.scanDevices(ctx, "tenant_id = ? AND id = ?", tenant, id)
	if err != nil {
		return pbxusers.Device{}, err
	}
	if len(ds) == 0 {
		return pbxusers.Device{}, fmt.Errorf("device %q: %w", id, pbxusers.ErrNotFound)
	}
	return ds[0], nil
}

// UpdateDevice implements pbxusers.Tx.
func (t *Tx) UpdateDevice(ctx context.Context, d *pbxusers.Device, expect int64) error {
	dc, err := encode(d)
	if err != nil {
		return err
	}
	n, err := t.exec(ctx, "UPDATE devices SET user_id = ?, sip_id = ?, mac = ?, version = ?, updated = ?, doc = ? WHERE tenant_id = ? AND id = ? AND version = ?",
		nullable(d.UserID), d.SIPID, nullable(d.MAC), d.Version, t.f.Time(d.Updated), dc, d.TenantID, d.ID, expect)
	if err != nil {
		return t.f.Err("update device", err, d.SIPID)
	}
	return t.checkUpdated(ctx, n, "devices", "device", d.TenantID, d.ID)
}

// DeleteDevice implements pbxusers.Tx.
func (t *Tx) DeleteDevice(ctx context.Context, tenant, id string) error {
	n, err := t.exec(ctx, "DELETE FROM devices WHERE tenant_id = ? AND id = ?", tenant, id)
	if err != nil {
		return t.f.Err("delete device", err, "")
	}
	return affected(n, "device", id)
}

// ListDevices implements pbxusers.Tx.
func (t *Tx) ListDevices(ctx context.Context, tenant, userID string) ([]pbxusers.Device, error) {
	if userID == "" {
		return t.scanDevices(ctx, "tenant_id = ?", tenant)
	}
	return t.scanDevices(ctx, "tenant_id = ? AND user_id = ?", tenant, userID)
}
