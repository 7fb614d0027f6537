package adminapi

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/pbxgate/pbxgate/pbxusers"
)

func (h *Handler) mountNumbers() {
	h.handle("GET "+Prefix+"/tenants/{tenant}/numbers", h.listNumbers)
	h.handle("GET "+Prefix+"/tenants/{tenant}/numbers/{number}", h.getNumber)
	h.handle("PUT "+Prefix+"/tenants/{tenant}/numbers/{number}", h.putNumber)
	h.handle("DELETE "+Prefix+"/tenants/{tenant}/numbers/{number}", h.deleteNumber)
	h.handle("GET "+Prefix+"/tenants/{tenant}/users/{id}/numbers", h.listUserNumbers)
	h.handle("POST "+Prefix+"/tenants/{tenant}/users/{id}/numbers", h.assignUserNumber)
}

// listNumbers lists the tenant's DIDs; ?assigned=true or false narrows to
// routed or free numbers.
func (h *Handler) listNumbers(c *call) error {
	var filter *bool
	if s := c.r.URL.Query().Get("assigned"); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return pbxusers.Invalid("assigned", "must be true or false, not %q", s)
		}
		filter = &b
	}
	ns, err := h.dir.ListNumbers(c.ctx, c.tenant, "")
	if err != nil {
		return err
	}
	out := make([]pbxusers.Number, 0, len(ns))
	for _, n := range ns {
		if filter == nil || *filter == (n.UserID != "") {
			out = append(out, n)
		}
	}
	return c.json(http.StatusOK, list[pbxusers.Number]{Items: out, Total: len(out)})
}

// number finds a number of the tenant by its E.164 form (or any form the
// tenant's region reads).
func (h *Handler) number(c *call, raw string) (pbxusers.Number, error) {
	tn, err := h.dir.GetTenant(c.ctx, c.tenant)
	if err != nil {
		return pbxusers.Number{}, err
	}
	e164, _, err := pbxusers.NormalizeE164(raw, tn.Region)
	if err != nil {
		return pbxusers.Number{}, problemf(http.StatusNotFound, typeNotFound, "number %q not found: %v", raw, err)
	}
	n, err := h.dir.GetNumber(c.ctx, c.tenant, e164)
	if errors.Is(err, pbxusers.ErrNotFound) {
		return pbxusers.Number{}, problemf(http.StatusNotFound, typeNotFound, "number %s not found", e164)
	}
	return n, err
}

func (h *Handler) getNumber(c *call) error {
	n, err := h.number(c, c.r.PathValue("number"))
	if err != nil {
		return err
	}
	return c.etag(n.Version).json(http.StatusOK, n)
}

// numberBody is the body of PUT .../numbers/{number} and POST
// .../users/{id}/numbers.
type numberBody struct {
	Number string `json:"number,omitempty"`
	// UserID routes the number to a user; empty leaves it free.
	UserID string `json:"userId,omitempty"`
	Label  string `json:"label,omitempty"`
}

// putNumber adds a DID to the inventory or changes its user and label.
func (h *Handler) putNumber(c *call) error {
	var b numberBody
	if err := h.decode(c, &b); err != nil {
		return err
	}
	want, err := c.ifMatch()
	if err != nil {
		return err
	}
	n, err := h.dir.AssignNumberIf(c.ctx, c.tenant, c.r.PathValue("number"), b.UserID, b.Label, want)
	if err != nil {
		return err
	}
	return c.etag(n.Version).json(http.StatusOK, n)
}

// deleteNumber removes a DID from the inventory.
func (h *Handler) deleteNumber(c *call) error {
	n, err := h.number(c, c.r.PathValue("number"))
	if err != nil {
		return err
	}
	var opts []pbxusers.DeleteOption
	switch c.r.URL.Query().Get("cascade") {
	case "true":
		opts = append(opts, pbxusers.Cascade())
	case "", "false":
	default:
		return invalid([]pbxusers.FieldError{{Field: "cascade", Reason: "must be true or false"}})
	}
	want, err := c.ifMatch()
	if err != nil {
		return err
	}
	if err := h.dir.ReleaseNumberIf(c.ctx, c.tenant, n.E164, want, opts...); err != nil {
		return err
	}
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) listUserNumbers(c *call) error {
	id := c.r.PathValue("id")
	if _, err := h.dir.GetUser(c.ctx, c.tenant, id); err != nil {
		return err
	}
	ns, err := h.dir.ListNumbers(c.ctx, c.tenant, id)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, list[pbxusers.Number]{Items: nonNil(ns), Total: len(ns)})
}

// assignUserNumber routes a DID (new or from the inventory) to the user.
func (h *Handler) assignUserNumber(c *call) error {
	id := c.r.PathValue("id")
	var b numberBody
	if err := h.decode(c, &b); err != nil {
		return err
	}
	if b.Number == "" {
		return pbxusers.Invalid("number", "is required")
	}
	if _, err := h.dir.GetUser(c.ctx, c.tenant, id); err != nil {
		return err
	}
	n, err := h.dir.AssignNumber(c.ctx, c.tenant, b.Number, id, b.Label)
	if err != nil {
		return err
	}
	return c.json(http.StatusCreated, n)
}
