package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// TenantPrefix is where the tenant pages are served: profiles, teams,
// time frames, numbers, system users, CSV import, API tokens, LDAP
// directories, the mail outbox and the change log.
const TenantPrefix = Prefix + "/tenant"

// LDAPDirectories names the LDAP directories configured for a tenant, in
// the order to show them. The console lists their run history from the
// directory and starts runs through the admin API; this function only says
// which directories exist (they live in the gateway's configuration, not
// in the store).
type LDAPDirectories func(tenant string) []string

// mountTenant registers the tenant pages.
func (h *Handler) mountTenant() {
	get := func(path string, fn func(http.ResponseWriter, *http.Request, *session)) {
		h.mux.HandleFunc("GET "+TenantPrefix+path, h.signedIn(fn))
	}
	post := func(path string, fn func(http.ResponseWriter, *http.Request, *session)) {
		h.mux.HandleFunc("POST "+TenantPrefix+path, h.signedIn(fn))
	}
	get("", h.tenantHome)
	get("/profiles", h.listProfiles)
	post("/profiles", h.createProfile)
	get("/profiles/{id}", h.showProfile)
	post("/profiles/{id}", h.saveProfile)
	post("/profiles/{id}/delete", h.deleteProfile)
	get("/teams", h.listTeams)
	post("/teams", h.createTeam)
	get("/teams/{id}", h.showTeam)
	post("/teams/{id}/members", h.saveTeamMembers)
	post("/teams/{id}/profiles", h.saveTeamProfiles)
	post("/teams/{id}/delete", h.deleteTeam)
	get("/timeframes", h.listTimeFrames)
	post("/timeframes", h.createTimeFrame)
	get("/timeframes/{id}", h.showTimeFrame)
	post("/timeframes/{id}", h.saveTimeFrame)
	post("/timeframes/{id}/delete", h.deleteTimeFrame)
	get("/numbers", h.listNumbers)
	post("/numbers", h.addNumber)
	post("/numbers/{number}/assign", h.assignNumber)
	post("/numbers/{number}/remove", h.removeNumber)
	get("/system", h.listSystem)
	post("/system", h.createSystem)
	get("/system/{id}", h.showSystem)
	post("/system/{id}", h.saveSystem)
	post("/system/{id}/delete", h.deleteSystem)
	post("/system/{id}/members", h.addQueueMember)
	post("/system/{id}/members/{user}/remove", h.removeQueueMember)
	get("/import", h.importForm)
	get("/export.csv", h.exportCSV)
	h.mux.HandleFunc("POST "+TenantPrefix+"/import", h.importTooLarge(h.signedIn(h.importCSV)))
	get("/tokens", h.listTokens)
	post("/tokens", h.createToken)
	post("/tokens/{id}/revoke", h.revokeToken)
	get("/ldap", h.listDirectories)
	get("/ldap/{name}", h.showDirectory)
	post("/ldap/{name}/runs", h.runDirectory)
	get("/outbox", h.listOutbox)
	get("/outbox/{id}", h.showOutbox)
	post("/outbox/{id}/retry", h.retryOutbox)
	get("/changes", h.listChanges)
}

// tenantSections are the tenant pages, in the order of their navigation.
var tenantSections = []string{"profiles", "teams", "timeframes", "numbers", "system", "import", "tokens", "ldap", "outbox", "changes"}

// tenantPage is what every tenant page's template gets as .Data: the
// section for the navigation, a notice and the page's own data.
type tenantPage struct {
	Section  string
	Sections []string
	Notice   string
	Form     *form
	Page     any
}

// form is a submitted form: its values and problems by field id, and a
// summary of those that belong to no field.
type form struct {
	Values   map[string]string
	Problems map[string]string
	Summary  string
}

// V returns the value of a field.
func (f *form) V(key string) string {
	if f == nil {
		return ""
	}
	return f.Values[key]
}

// P returns the problem of a field, "" when none.
func (f *form) P(key string) string {
	if f == nil {
		return ""
	}
	return f.Problems[key]
}

// newForm reads the named fields of a POST, trimmed.
func newForm(r *http.Request, keys ...string) *form {
	f := &form{Values: map[string]string{}, Problems: map[string]string{}}
	for _, k := range keys {
		f.Values[k] = strings.TrimSpace(r.PostFormValue(k))
	}
	return f
}

// fail marks a field's problem (the first one for the field wins).
func (f *form) fail(field, reason string) {
	if f.Problems[field] == "" {
		f.Problems[field] = reason
	}
}

// absorb puts an admin API problem on the form: each field problem at the
// form field its path maps to (fields maps a path or a path prefix to a
// field id), the others, named by path, in the summary.
func (f *form) absorb(t texts, p *apiProblem, fields map[string]string) {
	errs := p.Errors
	if len(errs) == 0 && p.Field != "" {
		// A uniqueness conflict names its field.
		errs = append(errs, struct {
			Path   string `json:"path"`
			Reason string `json:"reason"`
		}{p.Field, p.Detail})
	}
	var other []string
	for _, e := range errs {
		field := ""
		for prefix, id := range fields {
			if e.Path == prefix || strings.HasPrefix(e.Path, prefix+".") || strings.HasPrefix(e.Path, prefix+"[") {
				field = id
				break
			}
		}
		if field != "" {
			f.fail(field, e.Reason)
			continue
		}
		other = append(other, e.Path+": "+e.Reason)
	}
	sort.Strings(other)
	switch {
	case len(errs) == 0:
		f.Summary = p.Detail
	case len(other) > 0:
		f.Summary = t.get("fixErrors") + " " + strings.Join(other, "; ")
	default:
		f.Summary = t.get("fixErrors")
	}
}

// problemText is an admin API problem as one line, naming each field.
func problemText(p *apiProblem) string {
	s := p.Detail
	for _, e := range p.Errors {
		if e.Path != "" {
			s += " " + e.Path + ": " + e.Reason + "."
		} else {
			s += " " + e.Reason + "."
		}
	}
	return strings.TrimSpace(s)
}

// renderTenant renders a tenant page with status.
func (h *Handler) renderTenant(w http.ResponseWriter, r *http.Request, ss *session, status int, name, section string, f *form, data any) {
	t := textsFor(ss, r)
	d := &tenantPage{Section: section, Sections: tenantSections, Notice: noticeText(t, r.URL.Query()), Form: f, Page: data}
	h.render(w, r, ss, status, name, t.get("t_"+section), d)
}

// back redirects to a tenant page after a write, with the key of a
// notice and what it is about (a name, an id).
func back(w http.ResponseWriter, r *http.Request, path, notice, about string) {
	v := url.Values{"notice": {notice}}
	if about != "" {
		v.Set("about", about)
	}
	http.Redirect(w, r, TenantPrefix+path+"?"+v.Encode(), http.StatusSeeOther)
}

// noticeKeys are the notices a page shows after a write. A link names
// one of these, never a text of its own, so a crafted link cannot make
// the console say something it never says.
var noticeKeys = map[string]bool{"saved": true, "savedNamed": true, "deletedNamed": true, "numberAssigned": true,
	"numberReleased": true, "mailRetried": true, "tokenRevoked": true, "runDone": true, "dryRunDone": true}

// noticeText is the notice of a page's ?notice= and ?about=.
func noticeText(t texts, q url.Values) string {
	key := q.Get("notice")
	if !noticeKeys[key] {
		return ""
	}
	s := t.get(key)
	if strings.Contains(s, "%s") {
		s = fmt.Sprintf(s, q.Get("about"))
	}
	return s
}

func (h *Handler) tenantHome(w http.ResponseWriter, r *http.Request, ss *session) {
	h.renderTenant(w, r, ss, http.StatusOK, "tenant", "", nil, nil)
}

// findUser finds a user by id, userName, email or extension, as an admin
// would type them; ok is false when there is none.
func (h *Handler) findUser(ctx context.Context, tenant, ref string) (pbxusers.User, bool, error) {
	if u, err := h.dir.GetUser(ctx, tenant, ref); err == nil {
		return u, true, nil
	} else if !errors.Is(err, pbxusers.ErrNotFound) {
		return u, false, err
	}
	for _, k := range []pbxusers.UserKey{pbxusers.KeyUserName, pbxusers.KeyEmail, pbxusers.KeyExtension} {
		u, err := h.dir.LookupUser(ctx, tenant, k, ref)
		if err == nil {
			return u, true, nil
		}
		if !errors.Is(err, pbxusers.ErrNotFound) {
			return u, false, err
		}
	}
	return pbxusers.User{}, false, nil
}
