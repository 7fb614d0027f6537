package adminapi

import (
	"net/http"

	"github.com/pbxgate/pbxgate/pbxusers"
)

func (h *Handler) mountTenants() {
	h.handle("GET "+Prefix+"/tenants", h.listTenants)
	h.handle("GET "+Prefix+"/tenants/{tenant}", h.getTenant)
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
