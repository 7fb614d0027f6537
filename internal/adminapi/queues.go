package adminapi

import (
	"net/http"

	"github.com/pbxgate/pbxgate/pbxusers"
)

func (h *Handler) mountQueues() {
	base := Prefix + "/tenants/{tenant}/queues"
	h.handle("GET "+base, h.listQueues)
	h.handle("POST "+base, h.createQueue)
	h.handle("GET "+base+"/{id}", h.queueOnly(h.getQueue))
	h.handle("PATCH "+base+"/{id}", h.queueOnly(h.patchUser))
	h.handle("DELETE "+base+"/{id}", h.queueOnly(h.deleteUser))
	h.handle("GET "+base+"/{id}/members", h.queueOnly(h.listQueueMembers))
	h.handle("PUT "+base+"/{id}/members/{user}", h.queueOnly(h.putQueueMember))
	h.handle("DELETE "+base+"/{id}/members/{user}", h.queueOnly(h.deleteQueueMember))
}

// queueOnly answers 404 unless the path's {id} is a call queue.
func (h *Handler) queueOnly(fn func(c *call) error) func(c *call) error {
	return func(c *call) error {
		u, err := h.dir.GetUser(c.ctx, c.tenant, c.r.PathValue("id"))
		if err != nil {
			return err
		}
		if u.Kind != pbxusers.KindCallQueue {
			return problemf(http.StatusNotFound, typeNotFound, "%q is a %s, not a call queue", u.ID, u.Kind)
		}
		return fn(c)
	}
}

func (h *Handler) listQueues(c *call) error {
	var ps pbxusers.Problems
	offset, limit := paging(c.r, &ps)
	if err := ps.Err(); err != nil {
		return err
	}
	q := pbxusers.UserQuery{Filter: pbxusers.Eq(pbxusers.AttrKind, string(pbxusers.KindCallQueue)), IncludeSystem: true,
		SortBy: pbxusers.AttrExtension, Offset: offset, Limit: limit}
	page, err := h.dir.ListUsers(c.ctx, c.tenant, q)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, list[pbxusers.User]{Items: nonNil(page.Users), Total: page.Total,
		NextCursor: nextCursor(offset, len(page.Users), page.Total)})
}

// createQueue creates a call queue: a system user of kind call_queue with
// its settings in "queue".
func (h *Handler) createQueue(c *call) error {
	var u pbxusers.User
	if err := h.decode(c, &u); err != nil {
		return err
	}
	if u.Kind != "" && u.Kind != pbxusers.KindCallQueue {
		return pbxusers.Invalid("kind", "must be call_queue here, not %q", u.Kind)
	}
	u.Kind, u.ID, u.Version = pbxusers.KindCallQueue, "", 0
	u.Owner = pbxusers.Owner{Source: pbxusers.SourceManual}
	out, err := h.dir.CreateUser(c.ctx, c.tenant, u)
	if err != nil {
		return err
	}
	c.w.Header().Set("Location", Prefix+"/tenants/"+c.tenant+"/queues/"+out.ID)
	return c.etag(out.Version).json(http.StatusCreated, out)
}

func (h *Handler) getQueue(c *call) error { return h.getUser(c) }

// queueMember is one agent of a queue.
type queueMember struct {
	UserID          string `json:"userId"`
	Priority        int    `json:"priority,omitempty"`
	DefaultOutbound bool   `json:"defaultOutbound,omitempty"`
}

// queueMembers scans the tenant's people for memberships of the queue.
// The store has no index by queue, so this reads every user once, a page
// at a time.
func (h *Handler) queueMembers(c *call, queue string) ([]queueMember, error) {
	out := []queueMember{}
	for offset := 0; ; {
		page, err := h.dir.ListUsers(c.ctx, c.tenant, pbxusers.UserQuery{Offset: offset, Limit: pbxusers.MaxPageSize})
		if err != nil {
			return nil, err
		}
		for _, u := range page.Users {
			for _, m := range u.Queues {
				if m.QueueID == queue {
					out = append(out, queueMember{UserID: u.ID, Priority: m.Priority, DefaultOutbound: m.DefaultOutbound})
				}
			}
		}
		offset += len(page.Users)
		if len(page.Users) == 0 || offset >= page.Total {
			return out, nil
		}
	}
}

func (h *Handler) listQueueMembers(c *call) error {
	ms, err := h.queueMembers(c, c.r.PathValue("id"))
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, list[queueMember]{Items: ms, Total: len(ms)})
}

// memberBody is the body of PUT .../queues/{id}/members/{user}.
type memberBody struct {
	Priority int `json:"priority,omitempty"`
	// DefaultOutbound makes this the agent's queue for outbound calls made
	// with no queue selected; the agent's other memberships lose the mark.
	DefaultOutbound bool `json:"defaultOutbound,omitempty"`
}

// putQueueMember adds the user to the queue or changes the membership.
// If-Match, when sent, is the agent's version.
func (h *Handler) putQueueMember(c *call) error {
	var b memberBody
	if err := h.decode(c, &b); err != nil {
		return err
	}
	queue := c.r.PathValue("id")
	want, err := c.ifMatch()
	if err != nil {
		return err
	}
	u, err := h.dir.ModifyUser(c.ctx, c.tenant, c.r.PathValue("user"), func(u *pbxusers.User) error {
		if err := checkVersion(want, u.Version); err != nil {
			return err
		}
		m := pbxusers.QueueMembership{QueueID: queue, Priority: b.Priority, DefaultOutbound: b.DefaultOutbound}
		found := false
		for i := range u.Queues {
			if b.DefaultOutbound {
				u.Queues[i].DefaultOutbound = false
			}
			if u.Queues[i].QueueID == queue {
				u.Queues[i], found = m, true
			}
		}
		if !found {
			u.Queues = append(u.Queues, m)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return c.etag(u.Version).json(http.StatusOK, queueMember{UserID: u.ID, Priority: b.Priority, DefaultOutbound: b.DefaultOutbound})
}

func (h *Handler) deleteQueueMember(c *call) error {
	queue := c.r.PathValue("id")
	want, err := c.ifMatch()
	if err != nil {
		return err
	}
	_, err = h.dir.ModifyUser(c.ctx, c.tenant, c.r.PathValue("user"), func(u *pbxusers.User) error {
		if err := checkVersion(want, u.Version); err != nil {
			return err
		}
		kept := u.Queues[:0]
		for _, m := range u.Queues {
			if m.QueueID != queue {
				kept = append(kept, m)
			}
		}
		u.Queues = kept
		return nil
	})
	if err != nil {
		return err
	}
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}
