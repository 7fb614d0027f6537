package console

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// pageSize is how many users a page of the list shows.
const pageSize = 50

// usersData is the Users page.
type usersData struct {
	Q, Status, Kind, Source, Team, Profile string
	System                                 bool
	Users                                  []pbxusers.User
	Total, Offset                          int
	Prev, Next                             string // links to the neighbouring pages, "" when none
	Notice                                 string
	// Deactivated is how many users the last bulk deactivation set
	// inactive.
	Deactivated int
	// Teams and Profiles fill the filters' choices.
	Teams    []pbxusers.Team
	Profiles []pbxusers.Profile
	// PageFrom and PageTo number the users shown, from 1.
	PageFrom, PageTo int
}

// usersQuery turns the Users page's filters into a query of one page.
func (d *usersData) query() pbxusers.UserQuery {
	uq := pbxusers.UserQuery{Search: d.Q, IncludeSystem: d.System || (d.Kind != "" && d.Kind != string(pbxusers.KindPerson)),
		SortBy: pbxusers.AttrUserName, Offset: d.Offset, Limit: pageSize}
	var and pbxusers.And
	switch d.Status {
	case "active", "inactive":
		and = append(and, pbxusers.Eq(pbxusers.AttrActive, d.Status == "active"))
	}
	for _, f := range []struct {
		attr  pbxusers.Attr
		value string
	}{{pbxusers.AttrKind, d.Kind}, {pbxusers.AttrSource, d.Source}, {pbxusers.AttrMember, d.Team}, {pbxusers.AttrProfile, d.Profile}} {
		if f.value != "" {
			and = append(and, pbxusers.Eq(f.attr, f.value))
		}
	}
	switch len(and) {
	case 0:
	case 1:
		uq.Filter = and[0]
	default:
		uq.Filter = and
	}
	return uq
}

// link returns the Users page with the same filters at offset.
func (d *usersData) link(offset int) string {
	v := url.Values{}
	for k, val := range map[string]string{"q": d.Q, "status": d.Status, "kind": d.Kind, "source": d.Source, "team": d.Team, "profile": d.Profile} {
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

func (h *Handler) listUsers(w http.ResponseWriter, r *http.Request, ss *session) {
	q := r.URL.Query()
	d := usersData{Q: strings.TrimSpace(q.Get("q")), Status: q.Get("status"), Kind: q.Get("kind"), Source: q.Get("source"),
		Team: q.Get("team"), Profile: q.Get("profile"), System: q.Get("system") == "1", Notice: q.Get("notice")}
	d.Deactivated, _ = strconv.Atoi(q.Get("deactivated"))
	d.Offset, _ = strconv.Atoi(q.Get("offset"))
	d.Offset = max(0, d.Offset)
	res, err := h.dir.ListUsers(r.Context(), ss.Tenant, d.query())
	if err != nil {
		h.internal(w, r, ss, err)
		return
	}
	d.Users, d.Total = res.Users, res.Total
	if len(d.Users) > 0 {
		d.PageFrom, d.PageTo = d.Offset+1, d.Offset+len(d.Users)
	}
	if d.Offset > 0 {
		d.Prev = d.link(max(0, d.Offset-pageSize))
	}
	if d.Offset+len(d.Users) < d.Total {
		d.Next = d.link(d.Offset + pageSize)
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
	if d.Teams, d.Profiles, err = h.choices(r, ss); err != nil {
		h.internal(w, r, ss, err)
		return
	}
	h.render(w, r, ss, http.StatusOK, "users", t.get("users"), &d)
}

// choices returns the tenant's teams and profiles, for filters and forms.
func (h *Handler) choices(r *http.Request, ss *session) ([]pbxusers.Team, []pbxusers.Profile, error) {
	teams, err := h.dir.ListTeams(r.Context(), ss.Tenant, pbxusers.TeamQuery{SortBy: pbxusers.AttrDisplayName, Limit: pbxusers.MaxPageSize})
	if err != nil {
		return nil, nil, err
	}
	profiles, err := h.dir.ListProfiles(r.Context(), ss.Tenant)
	if err != nil {
		return nil, nil, err
	}
	return teams.Teams, profiles, nil
}

// bulkData is the confirmation of a bulk deactivation.
type bulkData struct {
	Users []pbxusers.User
	// Failed names the users the API refused, with its reason.
	Failed []string
}

// deactivateUsers is the Users page's bulk deactivation: the first POST
// (the selected rows) asks for confirmation naming every user; the
// confirmed POST sets each inactive through the admin API.
func (h *Handler) deactivateUsers(w http.ResponseWriter, r *http.Request, ss *session) {
	if err := r.ParseForm(); err != nil {
		h.fail(w, r, ss, http.StatusBadRequest, "formExpired")
		return
	}
	t := textsFor(ss, r)
	var d bulkData
	for _, id := range r.PostForm["id"] {
		u, err := h.dir.GetUser(r.Context(), ss.Tenant, id)
		if errors.Is(err, pbxusers.ErrNotFound) {
			continue
		}
		if err != nil {
			h.internal(w, r, ss, err)
			return
		}
		d.Users = append(d.Users, u)
	}
	if len(d.Users) == 0 {
		http.Redirect(w, r, Prefix+"/users", http.StatusSeeOther)
		return
	}
	if r.PostFormValue("confirm") != "1" {
		h.render(w, r, ss, http.StatusOK, "usersdeactivate", t.get("bulkDeactivate"), &d)
		return
	}
	n := 0
	for _, u := range d.Users {
		p, err := h.callAPI(r.Context(), ss, http.MethodPatch, "/users/"+url.PathEscape(u.ID), map[string]any{"status": pbxusers.StatusInactive}, nil)
		if err != nil {
			h.internal(w, r, ss, err)
			return
		}
		if p != nil {
			d.Failed = append(d.Failed, u.UserName+": "+p.Detail)
			continue
		}
		n++
	}
	if len(d.Failed) > 0 {
		h.render(w, r, ss, http.StatusConflict, "usersdeactivate", t.get("bulkDeactivate"), &d)
		return
	}
	http.Redirect(w, r, Prefix+"/users?deactivated="+strconv.Itoa(n), http.StatusSeeOther)
}

// userForm is the "+ Add User" form, and its problems by field.
type userForm struct {
	UserName, Given, Family, Email, Role, Extension, Answer, Forward, Backup, Location string
	// PasswordMode is invite (Auto-Generate: the welcome mail's link) or
	// manual (the admin types the first password, never shown again).
	PasswordMode string
	// Profiles and Teams are the ids chosen.
	Profiles, Teams []string
	// SuggestedExtension is the lowest free extension of the tenant's
	// range, "" when the tenant has none.
	SuggestedExtension string
	// AllTeams and AllProfiles are the choices.
	AllTeams    []pbxusers.Team
	AllProfiles []pbxusers.Profile
	Problems    map[string]string
	Summary     string
}

// Has reports whether id is among the chosen ids.
func (f *userForm) Has(ids []string, id string) bool { return slices.Contains(ids, id) }

// fill adds the form's choices and the suggested extension.
func (h *Handler) fill(r *http.Request, ss *session, f *userForm) error {
	var err error
	if f.AllTeams, f.AllProfiles, err = h.choices(r, ss); err != nil {
		return err
	}
	// No range, or a full one, leaves the field empty: the library then
	// picks or the admin types one.
	f.SuggestedExtension, _ = h.dir.NextExtension(r.Context(), ss.Tenant, pbxusers.KindPerson)
	return nil
}

func (h *Handler) newUserForm(w http.ResponseWriter, r *http.Request, ss *session) {
	f := userForm{Role: string(pbxusers.RoleUser), Answer: string(pbxusers.AnswerApps)}
	if err := h.fill(r, ss, &f); err != nil {
		h.internal(w, r, ss, err)
		return
	}
	f.Extension = f.SuggestedExtension
	h.render(w, r, ss, http.StatusOK, "usernew", textsFor(ss, r).get("addUser"), &f)
}

// formField maps a problem's path in the user to the form's field.
func formField(path string) string {
	for prefix, field := range map[string]string{
		"userName": "userName", "name.given": "given", "name.family": "family", "emails": "email",
		"role": "role", "extension": "extension", "routing.answerMode": "answer", "routing.forwardNumber": "forward",
		"forwardNumber": "forward", "routing": "backup",
		"location": "location", "profiles": "profiles", "teams": "teams", "password": "password",
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
	f.Profiles, f.Teams = r.PostForm["profiles"], r.PostForm["teams"]
	f.PasswordMode = r.PostFormValue("passwordMode")
	if f.UserName == "" {
		f.UserName = f.Email
	}
	u := pbxusers.User{UserName: f.UserName, Name: pbxusers.Name{Given: f.Given, Family: f.Family},
		Role: pbxusers.Role(f.Role), Extension: f.Extension, Location: f.Location, Profiles: f.Profiles, Teams: f.Teams}
	if f.Email != "" {
		u.Emails = []pbxusers.Email{{Value: f.Email, Type: "work", Primary: true}}
	}
	if f.Backup != "" {
		u.Routing = u.Routing.WithBackupNumber(f.Backup)
	}
	u.Routing.AnswerMode = pbxusers.AnswerMode(f.Answer)
	u.Routing.ForwardNumber = f.Forward
	var body any = u
	if f.PasswordMode == string(pbxusers.PasswordManual) && r.PostFormValue("password") == "" {
		t := textsFor(ss, r)
		f.Problems = map[string]string{"password": t.get("passwordRequired")}
		f.Summary = t.get("fixErrors")
		if err := h.fill(r, ss, &f); err != nil {
			h.internal(w, r, ss, err)
			return
		}
		h.render(w, r, ss, http.StatusUnprocessableEntity, "usernew", t.get("addUser"), &f)
		return
	}
	if f.PasswordMode == string(pbxusers.PasswordManual) {
		// The admin API takes the first password as password.new, which
		// pbxusers.User never writes to JSON.
		raw, err := json.Marshal(u)
		if err != nil {
			h.internal(w, r, ss, err)
			return
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			h.internal(w, r, ss, err)
			return
		}
		m["password"] = map[string]any{"mode": pbxusers.PasswordManual, "new": r.PostFormValue("password")}
		body = m
	}
	var out pbxusers.User
	p, err := h.callAPI(r.Context(), ss, http.MethodPost, "/users", body, &out)
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
		if err := h.fill(r, ss, &f); err != nil {
			h.internal(w, r, ss, err)
			return
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
	for i := range e.Trace {
		e.Trace[i].Why = plan.Labelled(e.Trace[i].Why) // people's names, as in the plan
	}
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
