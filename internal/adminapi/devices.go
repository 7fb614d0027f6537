package adminapi

import (
	"net/http"

	"github.com/pbxgate/pbxgate/pbxusers"
)

func (h *Handler) mountDevices() {
	base := Prefix + "/tenants/{tenant}/users/{id}/devices"
	h.handle("GET "+base, h.listDevices)
	h.handle("POST "+base, h.createDevice)
	h.handle("GET "+base+"/{device}", h.getDevice)
	h.handle("PATCH "+base+"/{device}", h.patchDevice)
	h.handle("DELETE "+base+"/{device}", h.deleteDevice)
	h.handle("POST "+base+"/{device}/rotate", h.rotateDevice)
}

// readOnlyDeviceFields are set by the library.
var readOnlyDeviceFields = []string{"id", "tenantId", "secret", "version", "created", "updated"}

// hideSecret blanks the SIP secret: it is shown on create and rotate only.
func hideSecret(d pbxusers.Device) pbxusers.Device {
	d.Secret = ""
	return d
}

func (h *Handler) listDevices(c *call) error {
	id := c.r.PathValue("id")
	if _, err := h.dir.GetUser(c.ctx, c.tenant, id); err != nil {
		return err
	}
	ds, err := h.dir.ListDevices(c.ctx, c.tenant, id)
	if err != nil {
		return err
	}
	out := make([]pbxusers.Device, 0, len(ds))
	for _, d := range ds {
		out = append(out, hideSecret(d))
	}
	return c.json(http.StatusOK, list[pbxusers.Device]{Items: out, Total: len(out)})
}

// createDevice adds a device to the user ("add phone extension"). The
// answer carries the generated SIP secret, the only time it is shown.
func (h *Handler) createDevice(c *call) error {
	id := c.r.PathValue("id")
	var d pbxusers.Device
	if err := h.decode(c, &d); err != nil {
		return err
	}
	if _, err := h.dir.GetUser(c.ctx, c.tenant, id); err != nil {
		return err
	}
	d.ID, d.Secret, d.Version, d.UserID = "", "", 0, id
	out, err := h.dir.AddDevice(c.ctx, c.tenant, d)
	if err != nil {
		return err
	}
	c.w.Header().Set("Location", Prefix+"/tenants/"+c.tenant+"/users/"+id+"/devices/"+out.ID)
	c.w.Header().Set("Cache-Control", "no-store")
	return c.etag(out.Version).json(http.StatusCreated, out)
}

// device reads the path's device, which must belong to the path's user.
func (h *Handler) device(c *call) (pbxusers.Device, error) {
	id, did := c.r.PathValue("id"), c.r.PathValue("device")
	d, err := h.dir.GetDevice(c.ctx, c.tenant, did)
	if err != nil {
		return d, err
	}
	if d.UserID != id {
		return d, problemf(http.StatusNotFound, typeNotFound, "user %q has no device %q", id, did)
	}
	return d, nil
}

func (h *Handler) getDevice(c *call) error {
	d, err := h.device(c)
	if err != nil {
		return err
	}
	return c.etag(d.Version).json(http.StatusOK, hideSecret(d))
}

// patchDevice changes a device with a JSON merge patch; setting userId
// moves it to another user (or, with null, to the hot-desk pool).
func (h *Handler) patchDevice(c *call) error {
	want, err := c.ifMatch()
	if err != nil {
		return err
	}
	patch, err := h.readPatch(c)
	if err != nil {
		return err
	}
	cur, err := h.device(c)
	if err != nil {
		return err
	}
	if err := checkVersion(want, cur.Version); err != nil {
		return err
	}
	var next pbxusers.Device
	if err := applyPatch(hideSecret(cur), patch, &next, readOnlyDeviceFields, pbxusers.Owner{}); err != nil {
		return err
	}
	next.ID, next.Version = cur.ID, cur.Version
	out, err := h.dir.UpdateDevice(c.ctx, c.tenant, next, false)
	if err != nil {
		return err
	}
	return c.etag(out.Version).json(http.StatusOK, hideSecret(out))
}

func (h *Handler) deleteDevice(c *call) error {
	want, err := c.ifMatch()
	if err != nil {
		return err
	}
	d, err := h.device(c)
	if err != nil {
		return err
	}
	if err := checkVersion(want, d.Version); err != nil {
		return err
	}
	if err := h.dir.RemoveDevice(c.ctx, c.tenant, d.ID); err != nil {
		return err
	}
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

// rotateDevice generates a new SIP secret and shows it, once.
func (h *Handler) rotateDevice(c *call) error {
	want, err := c.ifMatch()
	if err != nil {
		return err
	}
	d, err := h.device(c)
	if err != nil {
		return err
	}
	if err := checkVersion(want, d.Version); err != nil {
		return err
	}
	out, err := h.dir.UpdateDevice(c.ctx, c.tenant, d, true)
	if err != nil {
		return err
	}
	c.w.Header().Set("Cache-Control", "no-store")
	return c.etag(out.Version).json(http.StatusOK, out)
}
