package adminapi

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/pbxgate/pbxgate/pbxusers"
)

func (h *Handler) mountRouting() {
	h.handle("GET "+Prefix+"/tenants/{tenant}/users/{id}/routing", h.getRouting)
	h.handle("PUT "+Prefix+"/tenants/{tenant}/users/{id}/routing", h.putRouting)
	h.handle("GET "+Prefix+"/tenants/{tenant}/users/{id}/route", h.explainRoute)
}

// getRouting shows a user's routing policy; its ETag is the user's version.
func (h *Handler) getRouting(c *call) error {
	u, err := h.dir.GetUser(c.ctx, c.tenant, c.r.PathValue("id"))
	if err != nil {
		return err
	}
	return c.etag(u.Version).json(http.StatusOK, u.Routing)
}

// putRouting replaces a user's routing policy. Routing is PBX-side, so it
// is editable on users an identity provider or directory owns.
func (h *Handler) putRouting(c *call) error {
	var p pbxusers.RoutingPolicy
	if err := h.decode(c, &p); err != nil {
		return err
	}
	u, err := h.modifyUser(c, func(u *pbxusers.User) error {
		u.Routing = p
		return nil
	})
	if err != nil {
		return prefixFields(err, "routing")
	}
	return c.etag(u.Version).json(http.StatusOK, u.Routing)
}

// explainRoute answers where a call to the user goes: ?at= (RFC 3339,
// default now), ?from= (the caller's number or extension), ?internal=
// and ?state= (available, busy, offline, dnd or away).
func (h *Handler) explainRoute(c *call) error {
	q := c.r.URL.Query()
	var ps pbxusers.Problems
	call := pbxusers.Call{From: q.Get("from"), At: time.Now()}
	if s := q.Get("at"); s != "" {
		at, err := time.Parse(time.RFC3339, s)
		if err != nil {
			ps.Add("at", "must be an RFC 3339 time such as 2026-03-02T09:30:00+01:00, not %q", s)
		}
		call.At = at
	}
	if s := q.Get("internal"); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			ps.Add("internal", "must be true or false, not %q", s)
		}
		call.Internal = b
	}
	state := pbxusers.PresenceState(q.Get("state"))
	switch state {
	case "", pbxusers.PresenceAvailable, pbxusers.PresenceBusy, pbxusers.PresenceOffline, pbxusers.PresenceDND, pbxusers.PresenceAway:
	default:
		ps.Add("state", "must be available, busy, offline, dnd or away, not %q", state)
	}
	if err := ps.Err(); err != nil {
		return err
	}
	plan, err := h.dir.Route(c.ctx, c.tenant, c.r.PathValue("id"), call, state)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, routeAnswer{Plan: plan, Explanation: plan.String()})
}

// routeAnswer is a plan with its human explanation.
type routeAnswer struct {
	Plan        pbxusers.RoutePlan `json:"plan"`
	Explanation string             `json:"explanation"`
}

// prefixFields strips a prefix from the field paths of a validation
// error, so problems about a sub-resource name paths of its own body
// ("rules[0].name" rather than "routing.rules[0].name").
func prefixFields(err error, prefix string) error {
	var p *pbxusers.ValidationError
	if !errors.As(err, &p) {
		return err
	}
	out := &pbxusers.ValidationError{}
	for _, f := range p.Fields {
		name := f.Field
		switch {
		case name == prefix:
			name = ""
		case len(name) > len(prefix) && name[:len(prefix)+1] == prefix+".":
			name = name[len(prefix)+1:]
		}
		out.Fields = append(out.Fields, pbxusers.FieldError{Field: name, Reason: f.Reason})
	}
	return out
}
