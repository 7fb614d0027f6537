package adminapi

import (
	"net/http"

	"github.com/pbxgate/pbxgate/pbxusers"
)

func (h *Handler) mountProfiles() {
	base := Prefix + "/tenants/{tenant}/profiles"
	h.handle("GET "+base, h.listProfiles)
	h.handle("POST "+base, h.createProfile)
	h.handle("GET "+base+"/{profile}", h.getProfile)
	h.handle("PATCH "+base+"/{profile}", h.patchProfile)
	h.handle("DELETE "+base+"/{profile}", h.deleteProfile)
}

var readOnlyProfileFields = []string{"id", "tenantId", "version", "created", "updated"}

func (h *Handler) listProfiles(c *call) error {
	ps, err := h.dir.ListProfiles(c.ctx, c.tenant)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, list[pbxusers.Profile]{Items: nonNil(ps), Total: len(ps)})
}

func (h *Handler) createProfile(c *call) error {
	var p pbxusers.Profile
	if err := h.decode(c, &p); err != nil {
		return err
	}
	p.ID, p.Version = "", 0
	out, err := h.dir.CreateProfile(c.ctx, c.tenant, p)
	if err != nil {
		return err
	}
	c.w.Header().Set("Location", Prefix+"/tenants/"+c.tenant+"/profiles/"+out.ID)
	return c.etag(out.Version).json(http.StatusCreated, out)
}

func (h *Handler) getProfile(c *call) error {
	p, err := h.dir.GetProfile(c.ctx, c.tenant, c.r.PathValue("profile"))
	if err != nil {
		return err
	}
	return c.etag(p.Version).json(http.StatusOK, p)
}

// patchProfile changes a profile with a JSON merge patch; grants are a
// map, so {"grants": {"calls.max_active": null}} removes one grant.
func (h *Handler) patchProfile(c *call) error {
	want, err := c.ifMatch()
	if err != nil {
		return err
	}
	patch, err := h.readPatch(c)
	if err != nil {
		return err
	}
	cur, err := h.dir.GetProfile(c.ctx, c.tenant, c.r.PathValue("profile"))
	if err != nil {
		return err
	}
	if err := checkVersion(want, cur.Version); err != nil {
		return err
	}
	var next pbxusers.Profile
	if err := applyPatch(cur, patch, &next, readOnlyProfileFields, pbxusers.Owner{}); err != nil {
		return err
	}
	next.ID, next.Version = cur.ID, cur.Version
	out, err := h.dir.UpdateProfile(c.ctx, c.tenant, next)
	if err != nil {
		return err
	}
	return c.etag(out.Version).json(http.StatusOK, out)
}

// deleteProfile deletes a profile; 409 while users or teams use it.
func (h *Handler) deleteProfile(c *call) error {
	want, err := c.ifMatch()
	if err != nil {
		return err
	}
	id := c.r.PathValue("profile")
	if want != 0 {
		cur, err := h.dir.GetProfile(c.ctx, c.tenant, id)
		if err != nil {
			return err
		}
		if err := checkVersion(want, cur.Version); err != nil {
			return err
		}
	}
	if err := h.dir.DeleteProfile(c.ctx, c.tenant, id); err != nil {
		return err
	}
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}
