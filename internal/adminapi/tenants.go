package adminapi

import (
	"net/http"

	"github.com/pbxgate/pbxgate/pbxusers"
)

func (h *Handler) mountTenants() {
	h.handle("GET "+Prefix+"/tenants", h.listTenants)
	h.handle("POST "+Prefix+"/tenants", h.createTenant)
	h.handle("GET "+Prefix+"/tenants/{tenant}", h.getTenant)
	h.handle("PATCH "+Prefix+"/tenants/{tenant}", h.patchTenant)
}

var readOnlyTenantFields = []string{"id", "version", "created", "updated"}

// createTenant creates a tenant; operator scope only.
func (h *Handler) createTenant(c *call) error {
	if err := c.operatorOnly(); err != nil {
		return err
	}
	var t pbxusers.Tenant
	if err := h.decode(c, &t); err != nil {
		return err
	}
	t.Version = 0
	out, err := h.dir.CreateTenant(c.ctx, t)
	if err != nil {
		return err
	}
	c.w.Header().Set("Location", Prefix+"/tenants/"+out.ID)
	return c.etag(out.Version).json(http.StatusCreated, out)
}

// patchTenant changes a tenant's settings with a JSON merge patch;
// operator scope only.
func (h *Handler) patchTenant(c *call) error {
	if err := c.operatorOnly(); err != nil {
		return err
	}
	want, err := c.ifMatch()
	if err != nil {
		return err
	}
	patch, err := h.readPatch(c)
	if err != nil {
		return err
	}
	cur, err := h.dir.GetTenant(c.ctx, c.tenant)
	if err != nil {
		return err
	}
	if err := checkVersion(want, cur.Version); err != nil {
		return err
	}
	var next pbxusers.Tenant
	if err := applyPatch(cur, patch, &next, readOnlyTenantFields, pbxusers.Owner{}); err != nil {
		return err
	}
	next.ID, next.Version = cur.ID, cur.Version
	out, err := h.dir.UpdateTenant(c.ctx, next)
	if err != nil {
		return err
	}
	return c.etag(out.Version).json(http.StatusOK, out)
}

// listTenants lists every tenant; operator scope only.
func (h *Handler) listTenants(c *call) error {
	if err := c.operatorOnly(); err != nil {
		return err
	}
	ts, err := h.dir.ListTenants(c.ctx)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, list[pbxusers.Tenant]{Items: nonNil(ts), Total: len(ts)})
}

// getTenant shows one tenant; operator scope only.
func (h *Handler) getTenant(c *call) error {
	if err := c.operatorOnly(); err != nil {
		return err
	}
	t, err := h.dir.GetTenant(c.ctx, c.tenant)
	if err != nil {
		return err
	}
	return c.etag(t.Version).json(http.StatusOK, t)
}
