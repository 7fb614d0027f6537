package console

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// systemKinds are the kinds of system user the console creates, in the
// order of the page's filter.
var systemKinds = []string{string(pbxusers.KindCallQueue), string(pbxusers.KindAutoAttendant), string(pbxusers.KindConferenceBridge)}

// systemData is the page of call queues, auto attendants and conference
// bridges.
type systemData struct {
	Kind  string
	Kinds []string
	Users []pbxusers.User
	Total int
}

func (h *Handler) listSystem(w http.ResponseWriter, r *http.Request, ss *session) {
	f := &form{Values: map[string]string{"kind": r.URL.Query().Get("kind"), "dispatch": "ring_all"}}
	if f.V("kind") == "" {
		f.Values["kind"] = string(pbxusers.KindCallQueue)
	}
	h.renderSystem(w, r, ss, http.StatusOK, f)
}

func (h *Handler) renderSystem(w http.ResponseWriter, r *http.Request, ss *session, status int, f *form) {
	d := &systemData{Kind: r.URL.Query().Get("kind"), Kinds: systemKinds}
	var filter pbxusers.Filter = pbxusers.Or{
		pbxusers.Eq(pbxusers.AttrKind, string(pbxusers.KindCallQueue)),
		pbxusers.Eq(pbxusers.AttrKind, string(pbxusers.KindAutoAttendant)),
		pbxusers.Eq(pbxusers.AttrKind, string(pbxusers.KindConferenceBridge)),
	}
	for _, k := range systemKinds {
		if d.Kind == k {
			filter = pbxusers.Eq(pbxusers.AttrKind, k)
		}
	}
	res, err := h.dir.ListUsers(r.Context(), ss.Tenant, pbxusers.UserQuery{Filter: filter, IncludeSystem: true,
		SortBy: pbxusers.AttrExtension, Limit: pbxusers.MaxPageSize})
	if err != nil {
		h.internal(w, r, ss, err)
		return
	}
	d.Users, d.Total = res.Users, res.Total
	h.renderTenant(w, r, ss, status, "tenant_system", "system", f, d)
}

// systemFields maps the admin API's problem paths to the create form's
// fields.
var systemFields = map[string]string{"userName": "userName", "displayName": "displayName", "extension": "extension",
	"kind": "kind", "queue.dispatch": "dispatch", "queue.maxWaitSeconds": "maxWait", "queue": "dispatch"}

// createSystem creates a call queue (POST .../queues), an auto attendant
// or a conference bridge (POST .../users with its kind).
func (h *Handler) createSystem(w http.ResponseWriter, r *http.Request, ss *session) {
	t := textsFor(ss, r)
	f := newForm(r, "kind", "userName", "displayName", "extension", "dispatch", "maxWait")
	u := pbxusers.User{Kind: pbxusers.UserKind(f.V("kind")), UserName: f.V("userName"), DisplayName: f.V("displayName"),
		Extension: f.V("extension")}
	path := "/users"
	if u.Kind == pbxusers.KindCallQueue {
		path = "/queues"
		u.Queue = &pbxusers.QueueSettings{Dispatch: f.V("dispatch")}
		if s := f.V("maxWait"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 {
				f.fail("maxWait", t.get("wholeSeconds"))
			}
			u.Queue.MaxWaitSeconds = n
		}
	}
	if u.UserName == "" {
		f.fail("userName", t.get("required"))
	}
	if len(f.Problems) > 0 {
		f.Summary = t.get("fixErrors")
		h.renderSystem(w, r, ss, http.StatusUnprocessableEntity, f)
		return
	}
	var out pbxusers.User
	p, err := h.callAPI(r.Context(), ss, http.MethodPost, path, u, &out)
	if err != nil {
		h.internal(w, r, ss, err)
		return
	}
	if p != nil {
		f.absorb(t, p, systemFields)
		h.renderSystem(w, r, ss, statusOf(p), f)
		return
	}
	back(w, r, "/system/"+url.PathEscape(out.ID), "savedNamed", out.UserName)
}

// systemUserData is a system user's page; a call queue's lists its agents.
type systemUserData struct {
	User    pbxusers.User
	Members []queueMemberRow
}

// queueMemberRow is an agent of a queue.
type queueMemberRow struct {
	UserID, Label, UserName string
	Priority                int
	DefaultOutbound         bool
}

func (h *Handler) showSystem(w http.ResponseWriter, r *http.Request, ss *session) {
	h.renderSystemUser(w, r, ss, http.StatusOK, nil)
}

func (h *Handler) renderSystemUser(w http.ResponseWriter, r *http.Request, ss *session, status int, f *form) {
	ctx := r.Context()
	u, err := h.dir.GetUser(ctx, ss.Tenant, r.PathValue("id"))
	if errors.Is(err, pbxusers.ErrNotFound) || err == nil && !u.Kind.System() {
		h.fail(w, r, ss, http.StatusNotFound, "tNotFound")
		return
	}
	if err != nil {
		h.internal(w, r, ss, err)
		return
	}
	d := &systemUserData{User: u}
	// The settings form shows the stored values, or what was sent.
	v := map[string]string{"displayName": u.DisplayName, "extension": u.Extension}
	if u.Queue != nil {
		v["dispatch"] = u.Queue.Dispatch
		if u.Queue.MaxWaitSeconds > 0 {
			v["maxWait"] = strconv.Itoa(u.Queue.MaxWaitSeconds)
		}
	}
	if f == nil {
		f = &form{}
	}
	for k, val := range f.Values {
		v[k] = val
	}
	f.Values = v
	if u.Kind == pbxusers.KindCallQueue {
		var members struct {
			Items []struct {
				UserID          string `json:"userId"`
				Priority        int    `json:"priority"`
				DefaultOutbound bool   `json:"defaultOutbound"`
			} `json:"items"`
		}
		p, err := h.callAPI(ctx, ss, http.MethodGet, "/queues/"+url.PathEscape(u.ID)+"/members", nil, &members)
		if err != nil {
			h.internal(w, r, ss, err)
			return
		}
		if p != nil {
			h.internal(w, r, ss, errors.New(problemText(p)))
			return
		}
		for _, m := range members.Items {
			row := queueMemberRow{UserID: m.UserID, Label: m.UserID, Priority: m.Priority, DefaultOutbound: m.DefaultOutbound}
			if mu, err := h.dir.GetUser(ctx, ss.Tenant, m.UserID); err == nil {
				row.Label, row.UserName = mu.Label(), mu.UserName
			}
			d.Members = append(d.Members, row)
		}
	}
	h.renderTenant(w, r, ss, status, "tenant_systemuser", "system", f, d)
}

// addQueueMember adds an agent to a call queue (or changes its priority).
func (h *Handler) addQueueMember(w http.ResponseWriter, r *http.Request, ss *session) {
	t := textsFor(ss, r)
	f := newForm(r, "user", "priority")
	userID, ok, err := h.userRef(r, ss, f, "user")
	if err != nil {
		h.internal(w, r, ss, err)
		return
	}
	if f.V("user") == "" {
		f.fail("user", t.get("required"))
		ok = false
	}
	prio := 0
	if s := f.V("priority"); s != "" {
		if prio, err = strconv.Atoi(s); err != nil {
			f.fail("priority", t.get("wholeNumber"))
			ok = false
		}
	}
	if !ok {
		f.Summary = t.get("fixErrors")
		h.renderSystemUser(w, r, ss, http.StatusUnprocessableEntity, f)
		return
	}
	id := r.PathValue("id")
	p, err := h.callAPI(r.Context(), ss, http.MethodPut, "/queues/"+url.PathEscape(id)+"/members/"+url.PathEscape(userID),
		map[string]any{"priority": prio}, nil)
	if err != nil {
		h.internal(w, r, ss, err)
		return
	}
	if p != nil {
		f.absorb(t, p, map[string]string{"priority": "priority", "queues": "user"})
		h.renderSystemUser(w, r, ss, statusOf(p), f)
		return
	}
	back(w, r, "/system/"+url.PathEscape(id), "savedNamed", f.V("user"))
}

// removeQueueMember takes an agent out of a call queue.
func (h *Handler) removeQueueMember(w http.ResponseWriter, r *http.Request, ss *session) {
	id := r.PathValue("id")
	p, err := h.callAPI(r.Context(), ss, http.MethodDelete, "/queues/"+url.PathEscape(id)+"/members/"+url.PathEscape(r.PathValue("user")), nil, nil)
	if err != nil {
		h.internal(w, r, ss, err)
		return
	}
	if p != nil {
		h.renderSystemUser(w, r, ss, p.Status, &form{Summary: problemText(p)})
		return
	}
	back(w, r, "/system/"+url.PathEscape(id), "saved", "")
}

// saveSystem changes a system user's display name and extension, and a
// call queue's dispatch and wait, with a merge patch through the admin API
// (PATCH .../queues/{id} for a queue, .../users/{id} otherwise).
func (h *Handler) saveSystem(w http.ResponseWriter, r *http.Request, ss *session) {
	t := textsFor(ss, r)
	u, err := h.dir.GetUser(r.Context(), ss.Tenant, r.PathValue("id"))
	if errors.Is(err, pbxusers.ErrNotFound) || err == nil && !u.Kind.System() {
		h.fail(w, r, ss, http.StatusNotFound, "tNotFound")
		return
	}
	if err != nil {
		h.internal(w, r, ss, err)
		return
	}
	f := newForm(r, "displayName", "extension", "dispatch", "maxWait")
	patch := map[string]any{"displayName": f.V("displayName"), "extension": f.V("extension")}
	path := "/users/" + url.PathEscape(u.ID)
	if u.Kind == pbxusers.KindCallQueue {
		path = "/queues/" + url.PathEscape(u.ID)
		wait := 0
		if s := f.V("maxWait"); s != "" {
			if wait, err = strconv.Atoi(s); err != nil || wait < 0 {
				f.fail("maxWait", t.get("wholeSeconds"))
			}
		}
		patch["queue"] = map[string]any{"dispatch": f.V("dispatch"), "maxWaitSeconds": wait}
	}
	if len(f.Problems) == 0 {
		p, err := h.callAPI(r.Context(), ss, http.MethodPatch, path, patch, nil)
		if err != nil {
			h.internal(w, r, ss, err)
			return
		}
		if p == nil {
			back(w, r, "/system/"+url.PathEscape(u.ID), "saved", "")
			return
		}
		f.absorb(t, p, systemFields)
		h.renderSystemUser(w, r, ss, statusOf(p), f)
		return
	}
	f.Summary = t.get("fixErrors")
	h.renderSystemUser(w, r, ss, http.StatusUnprocessableEntity, f)
}

// deleteSystem deletes a call queue, auto attendant or conference bridge
// through the admin API, rewriting what refers to it (agents' queue
// memberships, numbers routed to it, forwards to it).
func (h *Handler) deleteSystem(w http.ResponseWriter, r *http.Request, ss *session) {
	u, err := h.dir.GetUser(r.Context(), ss.Tenant, r.PathValue("id"))
	if errors.Is(err, pbxusers.ErrNotFound) || err == nil && !u.Kind.System() {
		h.fail(w, r, ss, http.StatusNotFound, "tNotFound")
		return
	}
	if err != nil {
		h.internal(w, r, ss, err)
		return
	}
	p, err := h.callAPI(r.Context(), ss, http.MethodDelete, "/users/"+url.PathEscape(u.ID)+"?cascade=true", nil, nil)
	if err != nil {
		h.internal(w, r, ss, err)
		return
	}
	if p != nil {
		h.renderSystemUser(w, r, ss, p.Status, &form{Summary: problemText(p)})
		return
	}
	back(w, r, "/system", "deletedNamed", u.UserName)
}
