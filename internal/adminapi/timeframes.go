package adminapi

import (
	"net/http"

	"github.com/pbxgate/pbxgate/pbxusers"
)

func (h *Handler) mountTimeFrames() {
	base := Prefix + "/tenants/{tenant}/timeframes"
	h.handle("GET "+base, h.listTimeFrames)
	h.handle("POST "+base, h.createTimeFrame)
	h.handle("GET "+base+"/{tf}", h.getTimeFrame)
	h.handle("PUT "+base+"/{tf}", h.putTimeFrame)
	h.handle("DELETE "+base+"/{tf}", h.deleteTimeFrame)
}

func (h *Handler) listTimeFrames(c *call) error {
	tfs, err := h.dir.ListTimeFrames(c.ctx, c.tenant)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, list[pbxusers.StoredTimeFrame]{Items: nonNil(tfs), Total: len(tfs)})
}

func (h *Handler) createTimeFrame(c *call) error {
	var tf pbxusers.TimeFrame
	if err := h.decode(c, &tf); err != nil {
		return err
	}
	out, err := h.dir.CreateTimeFrame(c.ctx, c.tenant, tf)
	if err != nil {
		return err
	}
	c.w.Header().Set("Location", Prefix+"/tenants/"+c.tenant+"/timeframes/"+out.ID)
	return c.etag(out.Version).json(http.StatusCreated, out)
}

func (h *Handler) getTimeFrame(c *call) error {
	tf, err := h.dir.GetTimeFrame(c.ctx, c.tenant, c.r.PathValue("tf"))
	if err != nil {
		return err
	}
	return c.etag(tf.Version).json(http.StatusOK, tf)
}

// putTimeFrame replaces a time frame (its id is the path's).
func (h *Handler) putTimeFrame(c *call) error {
	want, err := c.ifMatch()
	if err != nil {
		return err
	}
	var tf pbxusers.TimeFrame
	if err := h.decode(c, &tf); err != nil {
		return err
	}
	id := c.r.PathValue("tf")
	if tf.ID != "" && tf.ID != id {
		return pbxusers.Invalid("id", "is %q in the path; a time frame's id cannot change", id)
	}
	tf.ID = id
	out, err := h.dir.UpdateTimeFrame(c.ctx, c.tenant, tf, want)
	if err != nil {
		return err
	}
	return c.etag(out.Version).json(http.StatusOK, out)
}

// deleteTimeFrame deletes a time frame; 409 while a routing rule uses it.
func (h *Handler) deleteTimeFrame(c *call) error {
	want, err := c.ifMatch()
	if err != nil {
		return err
	}
	id := c.r.PathValue("tf")
	if want != 0 {
		cur, err := h.dir.GetTimeFrame(c.ctx, c.tenant, id)
		if err != nil {
			return err
		}
		if err := checkVersion(want, cur.Version); err != nil {
			return err
		}
	}
	if err := h.dir.DeleteTimeFrame(c.ctx, c.tenant, id); err != nil {
		return err
	}
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}
