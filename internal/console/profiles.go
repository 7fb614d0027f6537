package console

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// profilesData is the Profiles page.
type profilesData struct {
	Profiles []pbxusers.Profile
}

func (h *Handler) listProfiles(w http.ResponseWriter, r *http.Request, ss *session) {
	h.renderProfiles(w, r, ss, http.StatusOK, nil)
}

func (h *Handler) renderProfiles(w http.ResponseWriter, r *http.Request, ss *session, status int, f *form) {
	ps, err := h.dir.ListProfiles(r.Context(), ss.Tenant)
	if err != nil {
		h.internal(w, r, ss, err)
		return
	}
	h.renderTenant(w, r, ss, status, "tenant_profiles", "profiles", f, &profilesData{Profiles: ps})
}

// createProfile adds a profile without grants; its page then edits them.
func (h *Handler) createProfile(w http.ResponseWriter, r *http.Request, ss *session) {
	f := newForm(r, "name", "description")
	var out pbxusers.Profile
	p, err := h.callAPI(r.Context(), ss, http.MethodPost, "/profiles",
		pbxusers.Profile{Name: f.V("name"), Description: f.V("description")}, &out)
	if err != nil {
		h.internal(w, r, ss, err)
		return
	}
	if p != nil {
		f.absorb(textsFor(ss, r), p, map[string]string{"name": "name", "description": "description"})
		h.renderProfiles(w, r, ss, statusOf(p), f)
		return
	}
	back(w, r, "/profiles/"+url.PathEscape(out.ID), "saved", "")
}

// grantRow is one permission of the catalogue on a profile's page.
type grantRow struct {
	Def pbxusers.PermissionDef
	// Field is the form field's id.
	Field string
	// Value is the profile's grant as typed ("" when it sets none).
	Value string
	Kind  string
}

// profileData is a profile's page: its details and the whole permission
// catalogue with the profile's grants.
type profileData struct {
	Profile pbxusers.Profile
	Grants  []grantRow
}

func (h *Handler) loadProfile(w http.ResponseWriter, r *http.Request, ss *session) (pbxusers.Profile, bool) {
	p, err := h.dir.GetProfile(r.Context(), ss.Tenant, r.PathValue("id"))
	switch {
	case errors.Is(err, pbxusers.ErrNotFound):
		h.fail(w, r, ss, http.StatusNotFound, "tNotFound")
		return p, false
	case err != nil:
		h.internal(w, r, ss, err)
		return p, false
	}
	return p, true
}

// grantField is the form field of a permission ("calls.max_active" →
// "g-calls-max_active"): ids stay valid CSS selectors.
func grantField(p pbxusers.Permission) string {
	return "g-" + strings.ReplaceAll(string(p), ".", "-")
}

// valueText is a grant as typed in the form.
func valueText(v pbxusers.Value) string {
	switch v.Kind() {
	case pbxusers.KindBool:
		return strconv.FormatBool(v.Bool())
	case pbxusers.KindLimit:
		return strconv.FormatInt(v.Limit(), 10)
	default:
		return strings.Join(v.Scope(), ", ")
	}
}

func catalogueRows(pr pbxusers.Profile, f *form) []grantRow {
	var rows []grantRow
	for _, def := range pbxusers.Catalogue() {
		g := grantRow{Def: def, Field: grantField(def.Name), Kind: def.Kind.String()}
		if v, ok := pr.Grants[def.Name]; ok {
			g.Value = valueText(v)
		}
		if f != nil {
			g.Value = f.V(g.Field)
		}
		rows = append(rows, g)
	}
	return rows
}

func (h *Handler) showProfile(w http.ResponseWriter, r *http.Request, ss *session) {
	pr, ok := h.loadProfile(w, r, ss)
	if !ok {
		return
	}
	h.renderTenant(w, r, ss, http.StatusOK, "tenant_profile", "profiles", nil, &profileData{Profile: pr, Grants: catalogueRows(pr, nil)})
}

// saveProfile changes a profile's name, description and grants with a
// merge patch through the admin API: an empty field removes the grant.
func (h *Handler) saveProfile(w http.ResponseWriter, r *http.Request, ss *session) {
	pr, ok := h.loadProfile(w, r, ss)
	if !ok {
		return
	}
	keys := []string{"name", "description"}
	for _, def := range pbxusers.Catalogue() {
		keys = append(keys, grantField(def.Name))
	}
	f := newForm(r, keys...)
	t := textsFor(ss, r)
	grants := map[string]any{}
	fields := map[string]string{"name": "name", "description": "description"}
	for _, def := range pbxusers.Catalogue() {
		id := grantField(def.Name)
		fields["grants."+string(def.Name)] = id
		fields["grants["+string(def.Name)+"]"] = id
		s := f.V(id)
		if s == "" {
			grants[string(def.Name)] = nil
			continue
		}
		var raw string
		switch def.Kind {
		case pbxusers.KindBool, pbxusers.KindLimit:
			raw = s
		default:
			var parts []string
			for _, p := range strings.Split(s, ",") {
				if p = strings.TrimSpace(p); p != "" {
					parts = append(parts, p)
				}
			}
			b, _ := json.Marshal(parts)
			raw = string(b)
		}
		if _, err := pbxusers.ParseValue(def.Name, []byte(raw)); err != nil {
			f.fail(id, string(def.Name)+": "+err.Error())
			continue
		}
		grants[string(def.Name)] = json.RawMessage(raw)
	}
	if len(f.Problems) == 0 {
		var out pbxusers.Profile
		p, err := h.callAPI(r.Context(), ss, http.MethodPatch, "/profiles/"+url.PathEscape(pr.ID),
			map[string]any{"name": f.V("name"), "description": f.V("description"), "grants": grants}, &out)
		if err != nil {
			h.internal(w, r, ss, err)
			return
		}
		if p == nil {
			back(w, r, "/profiles/"+url.PathEscape(pr.ID), "saved", "")
			return
		}
		f.absorb(t, p, fields)
	} else {
		f.Summary = t.get("fixErrors")
	}
	pr.Name, pr.Description = f.V("name"), f.V("description")
	h.renderTenant(w, r, ss, http.StatusUnprocessableEntity, "tenant_profile", "profiles", f,
		&profileData{Profile: pr, Grants: catalogueRows(pr, f)})
}

// statusOf is the status a page answers with for an admin API problem:
// 422 for invalid input, else the API's.
func statusOf(p *apiProblem) int {
	if p.Status == http.StatusBadRequest {
		return http.StatusUnprocessableEntity
	}
	return p.Status
}

// deleteProfile deletes a profile through the admin API; while users or
// teams have it the API refuses (409) and the page says so.
func (h *Handler) deleteProfile(w http.ResponseWriter, r *http.Request, ss *session) {
	pr, ok := h.loadProfile(w, r, ss)
	if !ok {
		return
	}
	p, err := h.callAPI(r.Context(), ss, http.MethodDelete, "/profiles/"+url.PathEscape(pr.ID), nil, nil)
	if err != nil {
		h.internal(w, r, ss, err)
		return
	}
	if p != nil {
		h.renderTenant(w, r, ss, p.Status, "tenant_profile", "profiles", &form{Summary: problemText(p)},
			&profileData{Profile: pr, Grants: catalogueRows(pr, nil)})
		return
	}
	back(w, r, "/profiles", "deletedNamed", pr.Name)
}
