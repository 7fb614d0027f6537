package adminapi

import (
	"encoding/json"
	"net/http"

	"github.com/pbxgate/pbxgate/pbxusers"
)

func (h *Handler) mountPermissions() {
	h.handle("GET "+Prefix+"/tenants/{tenant}/users/{id}/permissions", h.getPermissions)
	h.handle("PUT "+Prefix+"/tenants/{tenant}/users/{id}/permissions/{permission}", h.putOverride)
	h.handle("DELETE "+Prefix+"/tenants/{tenant}/users/{id}/permissions/{permission}", h.deleteOverride)
}

// permissionList is every permission of a user with its value and where
// it came from (override, profile, team or default).
type permissionList struct {
	Items []pbxusers.Effective `json:"items"`
}

func (h *Handler) writePermissions(c *call, status int) error {
	id := c.r.PathValue("id")
	u, err := h.dir.GetUser(c.ctx, c.tenant, id)
	if err != nil {
		return err
	}
	eff, err := h.dir.Effective(c.ctx, c.tenant, id)
	if err != nil {
		return err
	}
	return c.etag(u.Version).json(status, permissionList{Items: nonNil(eff)})
}

func (h *Handler) getPermissions(c *call) error { return h.writePermissions(c, http.StatusOK) }

// overrideBody is the body of PUT .../permissions/{permission}.
type overrideBody struct {
	// Value is a boolean, a number or an array of locations, by the
	// permission's kind.
	Value json.RawMessage `json:"value"`
}

// putOverride sets a per-user override of one permission; it beats every
// profile. Overrides are PBX-side, editable on owned users too.
func (h *Handler) putOverride(c *call) error {
	name := pbxusers.Permission(c.r.PathValue("permission"))
	if _, ok := pbxusers.LookupPermission(name); !ok {
		return problemf(http.StatusNotFound, typeNotFound, "no permission %q; GET the user's permissions for the list", name)
	}
	var b overrideBody
	if err := h.decode(c, &b); err != nil {
		return err
	}
	if len(b.Value) == 0 {
		return pbxusers.Invalid("value", "is required")
	}
	v, err := pbxusers.ParseValue(name, b.Value)
	if err != nil {
		return pbxusers.Invalid("value", "%s", err.Error())
	}
	if _, err := h.modifyUser(c, func(u *pbxusers.User) error {
		if u.Overrides == nil {
			u.Overrides = pbxusers.PermissionSet{}
		}
		u.Overrides[name] = v
		return nil
	}); err != nil {
		return err
	}
	return h.writePermissions(c, http.StatusOK)
}

// deleteOverride removes a user's override; the profiles' value applies
// again. Removing an override that is not set is not an error.
func (h *Handler) deleteOverride(c *call) error {
	name := pbxusers.Permission(c.r.PathValue("permission"))
	if _, ok := pbxusers.LookupPermission(name); !ok {
		return problemf(http.StatusNotFound, typeNotFound, "no permission %q", name)
	}
	if _, err := h.modifyUser(c, func(u *pbxusers.User) error {
		delete(u.Overrides, name)
		return nil
	}); err != nil {
		return err
	}
	return h.writePermissions(c, http.StatusOK)
}
