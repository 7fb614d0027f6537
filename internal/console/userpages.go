package console

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/pbxgate/pbxgate/internal/adminapi"
	"github.com/pbxgate/pbxgate/pbxusers"
)

// mountUserPages registers the Users list's bulk action and the user
// page's forms beyond "add phone extension" and delete: profile, numbers,
// answering rules, permission overrides and the Advanced actions. Each
// writes through the admin API and answers with the tab again.
func (h *Handler) mountUserPages() {
	h.mux.HandleFunc("POST "+Prefix+"/users/deactivate", h.signedIn(h.deactivateUsers))
	h.mux.HandleFunc("POST "+Prefix+"/users/{id}/profile", h.signedIn(h.saveUserProfile))
	h.mux.HandleFunc("POST "+Prefix+"/users/{id}/numbers", h.signedIn(h.assignUserNumber))
	h.mux.HandleFunc("POST "+Prefix+"/users/{id}/numbers/release", h.signedIn(h.releaseNumber))
	h.mux.HandleFunc("POST "+Prefix+"/users/{id}/routing", h.signedIn(h.saveRouting))
	h.mux.HandleFunc("POST "+Prefix+"/users/{id}/permissions", h.signedIn(h.saveOverride))
	h.mux.HandleFunc("POST "+Prefix+"/users/{id}/actions", h.signedIn(h.userAction))
}

// userTabs are the tabs of a user's page, in order.
var userTabs = []string{"profile", "phones", "numbers", "routing", "permissions", "advanced"}

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
	// Owned are the user's fields its source controls (read-only here).
	Owned map[string]bool
	// AllTeams and AllProfiles are the tenant's, for the profile form.
	AllTeams    []pbxusers.Team
	AllProfiles []pbxusers.Profile
	// FreeNumbers are the tenant's unassigned numbers (Numbers tab).
	FreeNumbers []pbxusers.Number
	// Routing is the answering-rules form (Answering rules tab).
	Routing routingForm
	// Permissions are the user's effective permissions (Permissions tab).
	Permissions []permissionRow
	// Warnings are the values the user's last change took in but could
	// not use as sent (a phone number kept undialable, an attribute
	// skipped), as "field: why"; WarnedBy is who made that change.
	Warnings []string
	WarnedBy string
	// Secret is a new device's SIP secret, shown this once.
	Secret, SecretSIPID string
	Problem             string
	// Problems are the problems of the tab's form by field.
	Problems map[string]string
}

// permissionRow is one permission on the Permissions tab.
type permissionRow struct {
	pbxusers.Effective
	Kind        string // bool, limit or scope
	Description string
	// Input is the value as the override form shows it.
	Input string
}

// Tabs returns the page's tabs.
func (d *userData) Tabs() []string { return userTabs }

// ReadOnly reports whether the field (a JSON path of the user) is owned
// by the user's source.
func (d *userData) ReadOnly(field string) bool { return d.Owned[field] }

// Has reports whether id is among ids.
func (d *userData) Has(ids []string, id string) bool { return slices.Contains(ids, id) }

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
	q := r.URL.Query()
	d := &userData{User: u, Tab: q.Get("tab"), Notice: q.Get("notice")}
	h.userPage(w, r, ss, d, http.StatusOK)
}

// userPage fills the rest of d for its tab and renders it.
func (h *Handler) userPage(w http.ResponseWriter, r *http.Request, ss *session, d *userData, status int) {
	ctx := r.Context()
	u := d.User
	if !slices.Contains(userTabs, d.Tab) {
		d.Tab = "profile"
	}
	d.Owned = map[string]bool{}
	for _, f := range adminapi.OwnedFields(u.Owner) {
		d.Owned[f] = true
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
	if err := h.lastWriteWarnings(ctx, ss.Tenant, d); err != nil {
		h.internal(w, r, ss, err)
		return
	}
	switch d.Tab {
	case "profile":
		if d.AllTeams, d.AllProfiles, err = h.choices(r, ss); err != nil {
			h.internal(w, r, ss, err)
			return
		}
	case "numbers":
		all, err := h.dir.ListNumbers(ctx, ss.Tenant, "")
		if err != nil {
			h.internal(w, r, ss, err)
			return
		}
		for _, n := range all {
			if n.UserID == "" {
				d.FreeNumbers = append(d.FreeNumbers, n)
			}
		}
	case "routing":
		d.Explain = h.explain(r, ss, u)
		if d.Routing.Rules == nil { // not a form sent back with problems
			d.Routing = routingFormOf(u.Routing, h.userRefs(ctx, ss.Tenant))
		}
		tfs, err := h.dir.ListTimeFrames(ctx, ss.Tenant)
		if err != nil {
			h.internal(w, r, ss, err)
			return
		}
		d.Routing.TimeFrames = tfs
	case "permissions":
		eff, err := h.dir.Effective(ctx, ss.Tenant, u.ID)
		if err != nil {
			h.internal(w, r, ss, err)
			return
		}
		for _, e := range eff {
			row := permissionRow{Effective: e, Input: e.Value.String()}
			if def, ok := pbxusers.LookupPermission(e.Permission); ok {
				row.Description = def.Description
				switch def.Kind {
				case pbxusers.KindBool:
					row.Kind = "bool"
				case pbxusers.KindLimit:
					row.Kind = "limit"
				default:
					row.Kind = "scope"
				}
			}
			if raw, err := json.Marshal(e.Value); err == nil {
				var v any
				if json.Unmarshal(raw, &v) == nil {
					switch v := v.(type) {
					case []any:
						parts := make([]string, 0, len(v))
						for _, p := range v {
							parts = append(parts, strings.TrimSpace(strings.Trim(strings.TrimSpace(toString(p)), `"`)))
						}
						row.Input = strings.Join(parts, ", ")
					default:
						row.Input = toString(v)
					}
				}
			}
			d.Permissions = append(d.Permissions, row)
		}
	}
	h.render(w, r, ss, status, "user", u.Label(), d)
}

func toString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// afterWrite answers a tab's form: back to the tab with a notice, or the
// tab again with the API's problem.
func (h *Handler) afterWrite(w http.ResponseWriter, r *http.Request, ss *session, u pbxusers.User, tab, notice string, p *apiProblem, d *userData) {
	if p == nil {
		http.Redirect(w, r, Prefix+"/users/"+url.PathEscape(u.ID)+"?tab="+tab+"&notice="+url.QueryEscape(notice), http.StatusSeeOther)
		return
	}
	if d == nil {
		d = &userData{}
	}
	// The page shows the user as stored now.
	if fresh, err := h.dir.GetUser(r.Context(), ss.Tenant, u.ID); err == nil {
		u = fresh
	}
	d.User, d.Tab, d.Problem = u, tab, problemText(p)
	h.userPage(w, r, ss, d, p.Status)
}

// ifMatch is the If-Match header naming the version the form was read at,
// so a change made meanwhile is not overwritten.
func ifMatch(r *http.Request) map[string]string {
	if v := r.PostFormValue("version"); v != "" {
		return map[string]string{"If-Match": `"` + v + `"`}
	}
	return nil
}

// saveUserProfile changes the user's details through a merge patch; fields
// the user's source owns are left out (the form shows them read-only).
func (h *Handler) saveUserProfile(w http.ResponseWriter, r *http.Request, ss *session) {
	u, ok := h.loadUser(w, r, ss)
	if !ok {
		return
	}
	owned := map[string]bool{}
	for _, f := range adminapi.OwnedFields(u.Owner) {
		owned[f] = true
	}
	v := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	patch := map[string]any{}
	set := func(field string, value any) {
		if !owned[field] {
			patch[field] = value
		}
	}
	set("name", map[string]any{"given": v("given"), "family": v("family")})
	if e := v("email"); e != u.PrimaryEmail() {
		if e == "" {
			set("emails", nil)
		} else {
			set("emails", []pbxusers.Email{{Value: e, Type: "work", Primary: true}})
		}
	}
	set("title", v("title"))
	set("extension", v("extension"))
	set("location", v("location"))
	set("role", v("role"))
	patch["recording"] = v("recording")
	features := map[string]bool{}
	for _, name := range featureNames {
		features[name] = slices.Contains(r.PostForm["features"], name)
	}
	patch["features"] = features
	patch["profiles"] = r.PostForm["profiles"]
	patch["teams"] = r.PostForm["teams"]
	for k, val := range patch {
		if s, ok := val.(string); ok && s == "" {
			patch[k] = nil // a merge patch removes an emptied field
		}
	}
	p, err := h.callAPIWith(r, ss, http.MethodPatch, "/users/"+url.PathEscape(u.ID), ifMatch(r), patch, nil)
	if err != nil {
		h.internal(w, r, ss, err)
		return
	}
	h.afterWrite(w, r, ss, u, "profile", "saved", p, nil)
}

// assignUserNumber routes a DID to the user: one from the inventory or a new
// one typed in.
func (h *Handler) assignUserNumber(w http.ResponseWriter, r *http.Request, ss *session) {
	u, ok := h.loadUser(w, r, ss)
	if !ok {
		return
	}
	number := strings.TrimSpace(r.PostFormValue("number"))
	if number == "" {
		number = strings.TrimSpace(r.PostFormValue("free"))
	}
	body := map[string]string{"number": number, "label": strings.TrimSpace(r.PostFormValue("label"))}
	p, err := h.callAPI(r.Context(), ss, http.MethodPost, "/users/"+url.PathEscape(u.ID)+"/numbers", body, nil)
	if err != nil {
		h.internal(w, r, ss, err)
		return
	}
	h.afterWrite(w, r, ss, u, "numbers", "numberAssigned", p, nil)
}

// releaseNumber takes a DID from the user, keeping it in the tenant's
// inventory (unassigned) with its label.
func (h *Handler) releaseNumber(w http.ResponseWriter, r *http.Request, ss *session) {
	u, ok := h.loadUser(w, r, ss)
	if !ok {
		return
	}
	number := r.PostFormValue("number")
	ns, err := h.dir.ListNumbers(r.Context(), ss.Tenant, u.ID)
	if err != nil {
		h.internal(w, r, ss, err)
		return
	}
	i := slices.IndexFunc(ns, func(n pbxusers.Number) bool { return n.E164 == number })
	if i < 0 {
		h.afterWrite(w, r, ss, u, "numbers", "", &apiProblem{Status: http.StatusNotFound, Detail: number + " is not this user's number"}, nil)
		return
	}
	hdr := map[string]string{"If-Match": `"` + strconv.FormatInt(ns[i].Version, 10) + `"`}
	p, err := h.callAPIWith(r, ss, http.MethodPut, "/numbers/"+url.PathEscape(number), hdr, map[string]string{"label": ns[i].Label}, nil)
	if err != nil {
		h.internal(w, r, ss, err)
		return
	}
	h.afterWrite(w, r, ss, u, "numbers", "numberReleased", p, nil)
}

// saveOverride sets or clears a per-user override of one permission.
func (h *Handler) saveOverride(w http.ResponseWriter, r *http.Request, ss *session) {
	u, ok := h.loadUser(w, r, ss)
	if !ok {
		return
	}
	name := r.PostFormValue("permission")
	def, known := pbxusers.LookupPermission(pbxusers.Permission(name))
	path := "/users/" + url.PathEscape(u.ID) + "/permissions/" + url.PathEscape(name)
	if r.PostFormValue("clear") == "1" {
		p, err := h.callAPI(r.Context(), ss, http.MethodDelete, path, nil, nil)
		if err != nil {
			h.internal(w, r, ss, err)
			return
		}
		h.afterWrite(w, r, ss, u, "permissions", "overrideCleared", p, nil)
		return
	}
	raw := strings.TrimSpace(r.PostFormValue("value"))
	var value any = raw
	if known {
		switch def.Kind {
		case pbxusers.KindBool:
			value = raw == "true"
		case pbxusers.KindLimit:
			n, err := strconv.ParseInt(raw, 10, 64)
			if err != nil {
				h.afterWrite(w, r, ss, u, "permissions", "", &apiProblem{Status: http.StatusUnprocessableEntity,
					Detail: name + ": the value must be a whole number (0 for unlimited), not \"" + raw + "\""}, nil)
				return
			}
			value = n
		default:
			scope := []string{}
			for _, s := range strings.Split(raw, ",") {
				if s = strings.TrimSpace(s); s != "" && s != "all locations" {
					scope = append(scope, s)
				}
			}
			value = scope
		}
	}
	p, err := h.callAPI(r.Context(), ss, http.MethodPut, path, map[string]any{"value": value}, nil)
	if err != nil {
		h.internal(w, r, ss, err)
		return
	}
	h.afterWrite(w, r, ss, u, "permissions", "overrideSet", p, nil)
}

// userAction runs one of the Advanced tab's actions: resend the welcome
// mail, force a password reset, deactivate or activate.
func (h *Handler) userAction(w http.ResponseWriter, r *http.Request, ss *session) {
	u, ok := h.loadUser(w, r, ss)
	if !ok {
		return
	}
	base := "/users/" + url.PathEscape(u.ID)
	var p *apiProblem
	var err error
	action := r.PostFormValue("action")
	switch action {
	case "welcome":
		p, err = h.callAPI(r.Context(), ss, http.MethodPost, base+"/welcome", nil, nil)
	case "reset":
		p, err = h.callAPI(r.Context(), ss, http.MethodPost, base+"/password-reset", nil, nil)
	case "deactivate", "activate":
		status := pbxusers.StatusActive
		if action == "deactivate" {
			status = pbxusers.StatusInactive
		}
		p, err = h.callAPIWith(r, ss, http.MethodPatch, base, ifMatch(r), map[string]any{"status": status}, nil)
	default:
		p = &apiProblem{Status: http.StatusBadRequest, Detail: "unknown action " + strconv.Quote(action)}
	}
	if err != nil {
		h.internal(w, r, ss, err)
		return
	}
	h.afterWrite(w, r, ss, u, "advanced", "done_"+action, p, nil)
}

// profileField is one field of the Profile tab's form.
type profileField struct {
	ID, Value, Label string
	// ReadOnly says the user's source owns the field; Source names it.
	ReadOnly bool
	Source   pbxusers.Source
}

// Field returns the page for one field of the Profile tab: id is the
// input's, path the user's JSON path (what the source may own), label the
// text key.
func (p page) Field(id, value, path, label string) page {
	d, _ := p.Data.(*userData)
	f := profileField{ID: id, Value: value, Label: label}
	if d != nil {
		f.ReadOnly, f.Source = d.ReadOnly(path), d.User.Owner.Source
	}
	p.Data = f
	return p
}

// ruleView is one rule of the Answering rules form with the tenant's
// time frames.
type ruleView struct {
	Rule       ruleForm
	TimeFrames []pbxusers.StoredTimeFrame
}

// Rule returns the page for one rule of the Answering rules form.
func (p page) Rule(r ruleForm) page {
	v := ruleView{Rule: r}
	if d, ok := p.Data.(*userData); ok {
		v.TimeFrames = d.Routing.TimeFrames
	}
	p.Data = v
	return p
}

// featureNames are the user's feature toggles, by JSON name.
var featureNames = []string{"mobileApp", "webCalls", "operatorConsole", "voicemail", "fixedMobileSim", "hotDesking",
	"multipleCallerId", "busyReject"}

// feature is one feature toggle on the Profile tab.
type feature struct {
	Name string
	On   bool
}

// FeatureList returns the user's feature toggles.
func (d *userData) FeatureList() []feature {
	f := d.User.Features
	on := []bool{f.MobileApp, f.WebCalls, f.OperatorConsole, f.Voicemail, f.FixedMobileSIM, f.HotDesking, f.MultipleCallerID, f.BusyReject}
	out := make([]feature, len(featureNames))
	for i, n := range featureNames {
		out[i] = feature{n, on[i]}
	}
	return out
}

// lastWriteWarnings fills d.Warnings from the user's latest change-log
// entry: what an identity provider sent that the user does not hold as
// sent stays flagged on the user's page until the next change.
func (h *Handler) lastWriteWarnings(ctx context.Context, tenant string, d *userData) error {
	cs, err := h.dir.Changes(ctx, tenant, pbxusers.ChangeQuery{Entity: string(pbxusers.EntityUser), EntityID: d.User.ID,
		Newest: true, Limit: 1})
	if err != nil || len(cs) == 0 {
		return err
	}
	for _, f := range cs[0].Fields {
		if f.Warning != "" {
			d.Warnings = append(d.Warnings, fieldText(f))
		}
	}
	if len(d.Warnings) > 0 {
		d.WarnedBy = strings.TrimSpace(string(cs[0].Actor.Source) + " " + cs[0].Actor.Name)
	}
	return nil
}
