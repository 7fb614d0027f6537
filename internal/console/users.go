package console

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// pageSize is how many users a page of the list shows.
const pageSize = 50

// usersData is the Users page.
type usersData struct {
	Q, Status, Kind, Source string
	System                  bool
	Users                   []pbxusers.User
	Total, Offset           int
	Prev, Next              string // links to the neighbouring pages, "" when none
	Notice                  string
}

func (h *Handler) listUsers(w http.ResponseWriter, r *http.Request, ss *session) {
	q := r.URL.Query()
	d := usersData{Q: strings.TrimSpace(q.Get("q")), Status: q.Get("status"), Kind: q.Get("kind"), Source: q.Get("source"),
		System: q.Get("system") == "1", Notice: q.Get("notice")}
	d.Offset, _ = strconv.Atoi(q.Get("offset"))
	d.Offset = max(0, d.Offset)
	uq := pbxusers.UserQuery{Search: d.Q, IncludeSystem: d.System || (d.Kind != "" && d.Kind != string(pbxusers.KindPerson)),
		SortBy: pbxusers.AttrUserName, Offset: d.Offset, Limit: pageSize}
	var and pbxusers.And
	switch d.Status {
	case "active", "inactive":
		and = append(and, &pbxusers.Compare{Attr: pbxusers.AttrActive, Op: pbxusers.OpEq, Value: d.Status == "active"})
	}
	if d.Kind != "" {
		and = append(and, &pbxusers.Compare{Attr: pbxusers.AttrKind, Op: pbxusers.OpEq, Value: d.Kind})
	}
	if d.Source != "" {
		and = append(and, &pbxusers.Compare{Attr: pbxusers.AttrSource, Op: pbxusers.OpEq, Value: d.Source})
	}
	if len(and) > 0 {
		uq.Filter = and
	}
	res, err := h.dir.ListUsers(r.Context(), ss.Tenant, uq)
	if err != nil {
		h.internal(w, r, ss, err)
		return
	}
	d.Users, d.Total = res.Users, res.Total
	link := func(offset int) string {
		v := url.Values{}
		for k, val := range map[string]string{"q": d.Q, "status": d.Status, "kind": d.Kind, "source": d.Source} {
			if val != "" {
				v.Set(k, val)
			}
		}
		if d.System {
			v.Set("system", "1")
		}
		if offset > 0 {
			v.Set("offset", strconv.Itoa(offset))
		}
		return Prefix + "/users?" + v.Encode()
	}
	if d.Offset > 0 {
		d.Prev = link(max(0, d.Offset-pageSize))
	}
	if d.Offset+len(d.Users) < d.Total {
		d.Next = link(d.Offset + pageSize)
	}
	t := textsFor(ss, r)
	if q.Get("partial") == "1" {
		// Search as you type replaces just the results.
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err := h.pages["users"].ExecuteTemplate(w, "results", page{T: t, Session: ss, CSRF: ss.CSRF, Data: &d}); err != nil {
			h.log.ErrorContext(r.Context(), "render console results", "error", err)
		}
		return
	}
	h.render(w, r, ss, http.StatusOK, "users", t.get("users"), &d)
}

// userForm is the "+ Add User" form, and its problems by field.
type userForm struct {
	UserName, Given, Family, Email, Role, Extension, Answer, Forward, Backup, Location string
	Problems                                                                           map[string]string
	Summary                                                                            string
}

func (h *Handler) newUserForm(w http.ResponseWriter, r *http.Request, ss *session) {
	f := userForm{Role: string(pbxusers.RoleUser), Answer: string(pbxusers.AnswerApps)}
	h.render(w, r, ss, http.StatusOK, "usernew", textsFor(ss, r).get("addUser"), &f)
}

// formField maps a problem's path in the user to the form's field.
func formField(path string) string {
	for prefix, field := range map[string]string{
		"userName": "userName", "name.given": "given", "name.family": "family", "emails": "email",
		"role": "role", "extension": "extension", "routing.answerMode": "answer", "routing.forwardNumber": "forward",
		"forwardNumber": "forward", "routing": "backup",
		"location": "location",
	} {
		if path == prefix || strings.HasPrefix(path, prefix+".") || strings.HasPrefix(path, prefix+"[") {
			return field
		}
	}
	return ""
}

// createUser adds a user through the admin API; the library queues the
// welcome mail with its set-password link (Auto-Generate).
func (h *Handler) createUser(w http.ResponseWriter, r *http.Request, ss *session) {
	f := userForm{}
	for k, p := range map[string]*string{"userName": &f.UserName, "given": &f.Given, "family": &f.Family, "email": &f.Email,
		"role": &f.Role, "extension": &f.Extension, "answer": &f.Answer, "forward": &f.Forward, "backup": &f.Backup,
		"location": &f.Location} {
		*p = strings.TrimSpace(r.PostFormValue(k))
	}
	if f.UserName == "" {
		f.UserName = f.Email
	}
	u := pbxusers.User{UserName: f.UserName, Name: pbxusers.Name{Given: f.Given, Family: f.Family},
		Role: pbxusers.Role(f.Role), Extension: f.Extension, Location: f.Location}
	if f.Email != "" {
		u.Emails = []pbxusers.Email{{Value: f.Email, Type: "work", Primary: true}}
	}
	if f.Backup != "" {
		u.Routing = u.Routing.WithBackupNumber(f.Backup)
	}
	u.Routing.AnswerMode = pbxusers.AnswerMode(f.Answer)
	u.Routing.ForwardNumber = f.Forward
	var out pbxusers.User
	p, err := h.callAPI(r.Context(), ss, http.MethodPost, "/users", u, &out)
	if err != nil {
		h.internal(w, r, ss, err)
		return
	}
	if p != nil {
		t := textsFor(ss, r)
		f.Problems = map[string]string{}
		var other []string
		for _, e := range p.Errors {
			if field := formField(e.Path); field != "" {
				if f.Problems[field] == "" {
					f.Problems[field] = e.Reason
				}
				continue
			}
			other = append(other, e.Path+": "+e.Reason)
		}
		f.Summary = t.get("fixErrors")
		if len(p.Errors) == 0 {
			f.Summary = p.Detail
		} else if len(other) > 0 {
			f.Summary += " " + strings.Join(other, "; ")
		}
		h.render(w, r, ss, http.StatusUnprocessableEntity, "usernew", t.get("addUser"), &f)
		return
	}
	http.Redirect(w, r, Prefix+"/users/"+out.ID+"?notice=created", http.StatusSeeOther)
}

// userData is a user's page.
type userData struct {
	User       pbxusers.User
	Tab        string
	Devices    []pbxusers.Device
	Numbers    []pbxusers.Number
	Manager    string
	Notice     string
	Explain    explainData
	References []pbxusers.Reference
	// Permissions are the user's effective permissions (Permissions tab).
	Permissions []pbxusers.Effective
	// Secret is a new device's SIP secret, shown this once.
	Secret, SecretSIPID string
	Problem             string
}

// explainData is the "where does a call ring" panel.
type explainData struct {
	At, From, State string
	Plan            string
	Trace           []pbxusers.TraceEntry
	Problem         string
}

func (h *Handler) loadUser(w http.ResponseWriter, r *http.Request, ss *session) (pbxusers.User, bool) {
	u, err := h.dir.GetUser(r.Context(), ss.Tenant, r.PathValue("id"))
	switch {
	case errors.Is(err, pbxusers.ErrNotFound):
		h.fail(w, r, ss, http.StatusNotFound, "notFound")
		return u, false
	case err != nil:
		h.internal(w, r, ss, err)
		return u, false
	}
	return u, true
}

func (h *Handler) showUser(w http.ResponseWriter, r *http.Request, ss *session) {
	u, ok := h.loadUser(w, r, ss)
	if !ok {
		return
	}
	ctx := r.Context()
	q := r.URL.Query()
	d := userData{User: u, Tab: q.Get("tab"), Notice: q.Get("notice")}
	switch d.Tab {
	case "routing", "advanced", "phones", "permissions":
	default:
		d.Tab = "profile"
	}
	var err error
	if d.Devices, err = h.dir.ListDevices(ctx, ss.Tenant, u.ID); err != nil {
		h.internal(w, r, ss, err)
		return
	}
	if d.Numbers, err = h.dir.ListNumbers(ctx, ss.Tenant, u.ID); err != nil {
		h.internal(w, r, ss, err)
		return
	}
	if u.ManagerID != "" {
		if m, err := h.dir.GetUser(ctx, ss.Tenant, u.ManagerID); err == nil {
			d.Manager = m.Label()
		}
	}
	switch d.Tab {
	case "routing":
		d.Explain = h.explain(r, ss, u)
	case "permissions":
		if d.Permissions, err = h.dir.Effective(ctx, ss.Tenant, u.ID); err != nil {
			h.internal(w, r, ss, err)
			return
		}
	}
	h.render(w, r, ss, http.StatusOK, "user", u.Label(), &d)
}

// explain runs Route for the panel's inputs: now, from no number, while
// available unless the form says otherwise.
func (h *Handler) explain(r *http.Request, ss *session, u pbxusers.User) explainData {
	q := r.URL.Query()
	e := explainData{At: q.Get("at"), From: strings.TrimSpace(q.Get("from")), State: q.Get("state")}
	tn, err := h.dir.GetTenant(r.Context(), ss.Tenant)
	if err != nil {
		e.Problem = err.Error()
		return e
	}
	loc := time.UTC
	for _, z := range []string{u.TimeZone, tn.TimeZone} {
		if l, err := time.LoadLocation(z); z != "" && err == nil {
			loc = l
			break
		}
	}
	at := h.opts.Now().In(loc)
	if e.At != "" {
		t, err := time.ParseInLocation("2006-01-02T15:04", e.At, loc)
		if err != nil {
			e.Problem = "at: " + err.Error()
			return e
		}
		at = t
	}
	e.At = at.Format("2006-01-02T15:04")
	if e.State == "" {
		e.State = string(pbxusers.PresenceAvailable)
	}
	plan, err := h.dir.Route(r.Context(), ss.Tenant, u.ID, pbxusers.Call{From: e.From, At: at}, pbxusers.PresenceState(e.State))
	if err != nil {
		e.Problem = err.Error()
		return e
	}
	e.Plan, e.Trace = plan.String(), plan.Trace
	return e
}

func (h *Handler) deleteForm(w http.ResponseWriter, r *http.Request, ss *session) {
	u, ok := h.loadUser(w, r, ss)
	if !ok {
		return
	}
	refs, err := h.dir.References(r.Context(), ss.Tenant, pbxusers.EntityUser, u.ID)
	if err != nil {
		h.internal(w, r, ss, err)
		return
	}
	devices, _ := h.dir.ListDevices(r.Context(), ss.Tenant, u.ID)
	d := userData{User: u, Tab: "advanced", References: refs, Devices: devices}
	h.render(w, r, ss, http.StatusOK, "userdelete", textsFor(ss, r).get("delete"), &d)
}

// deleteUser deletes through the admin API, rewriting what refers to the
// user (the confirmation page listed it).
func (h *Handler) deleteUser(w http.ResponseWriter, r *http.Request, ss *session) {
	u, ok := h.loadUser(w, r, ss)
	if !ok {
		return
	}
	p, err := h.callAPI(r.Context(), ss, http.MethodDelete, "/users/"+url.PathEscape(u.ID)+"?cascade=true", nil, nil)
	if err != nil {
		h.internal(w, r, ss, err)
		return
	}
	if p != nil {
		d := userData{User: u, Tab: "advanced", Notice: p.Detail}
		h.render(w, r, ss, p.Status, "userdelete", textsFor(ss, r).get("delete"), &d)
		return
	}
	http.Redirect(w, r, Prefix+"/users?notice="+url.QueryEscape(u.UserName), http.StatusSeeOther)
}

func (h *Handler) internal(w http.ResponseWriter, r *http.Request, ss *session, err error) {
	h.log.ErrorContext(r.Context(), "console request failed", "path", r.URL.Path, "error", err)
	http.Error(w, "internal error; see the gateway log", http.StatusInternalServerError)
}

// addDevice is "add phone extension": a device for the user through the
// admin API; its SIP secret is shown on the page this once and never
// again.
func (h *Handler) addDevice(w http.ResponseWriter, r *http.Request, ss *session) {
	u, ok := h.loadUser(w, r, ss)
	if !ok {
		return
	}
	dev := pbxusers.Device{Kind: pbxusers.DeviceKind(r.PostFormValue("kind")), MAC: strings.TrimSpace(r.PostFormValue("mac")),
		Label: strings.TrimSpace(r.PostFormValue("label"))}
	var out pbxusers.Device
	p, err := h.callAPI(r.Context(), ss, http.MethodPost, "/users/"+url.PathEscape(u.ID)+"/devices", dev, &out)
	if err != nil {
		h.internal(w, r, ss, err)
		return
	}
	d := userData{User: u, Tab: "phones"}
	status := http.StatusOK
	if p != nil {
		status, d.Problem = p.Status, p.Detail
		for _, e := range p.Errors {
			d.Problem += " " + e.Path + ": " + e.Reason
		}
	} else {
		d.Secret, d.SecretSIPID = out.Secret, out.SIPID
		w.Header().Set("Cache-Control", "no-store")
	}
	if d.Devices, err = h.dir.ListDevices(r.Context(), ss.Tenant, u.ID); err != nil {
		h.internal(w, r, ss, err)
		return
	}
	h.render(w, r, ss, status, "user", u.Label(), &d)
}
