package console

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// maxTeamMembersShown bounds the members a team's page lists and edits;
// larger teams are edited through the admin API or their source.
const maxTeamMembersShown = 1000

// teamsData is the Teams page.
type teamsData struct {
	Teams []pbxusers.Team
	Total int
}

func (h *Handler) listTeams(w http.ResponseWriter, r *http.Request, ss *session) {
	h.renderTeams(w, r, ss, http.StatusOK, nil)
}

func (h *Handler) renderTeams(w http.ResponseWriter, r *http.Request, ss *session, status int, f *form) {
	page, err := h.dir.ListTeams(r.Context(), ss.Tenant, pbxusers.TeamQuery{SortBy: pbxusers.AttrDisplayName, Limit: pbxusers.MaxPageSize})
	if err != nil {
		h.internal(w, r, ss, err)
		return
	}
	h.renderTenant(w, r, ss, status, "tenant_teams", "teams", f, &teamsData{Teams: page.Teams, Total: page.Total})
}

func (h *Handler) createTeam(w http.ResponseWriter, r *http.Request, ss *session) {
	f := newForm(r, "name")
	var out pbxusers.Team
	p, err := h.callAPI(r.Context(), ss, http.MethodPost, "/teams", map[string]any{"name": f.V("name")}, &out)
	if err != nil {
		h.internal(w, r, ss, err)
		return
	}
	if p != nil {
		f.absorb(textsFor(ss, r), p, map[string]string{"name": "name", "displayName": "name"})
		h.renderTeams(w, r, ss, statusOf(p), f)
		return
	}
	back(w, r, "/teams/"+url.PathEscape(out.ID), "saved", "")
}

// teamData is a team's page.
type teamData struct {
	Team pbxusers.Team
	// Members are the members' labels; Refs what the form lists (one
	// userName or extension per line).
	Members []pbxusers.User
	// Owned says SCIM or LDAP manages the members.
	Owned bool
	// TooMany says the team has more members than the page lists: the
	// members are then not editable here (saving would drop the others).
	TooMany bool
	Total   int
	// Profiles are the tenant's profiles, those bound to the team checked.
	Profiles []profileBox
}

// profileBox is a profile's checkbox on a team's page.
type profileBox struct {
	ID, Name string
	Checked  bool
}

func (h *Handler) teamData(w http.ResponseWriter, r *http.Request, ss *session) (*teamData, bool) {
	ctx := r.Context()
	tm, err := h.dir.GetTeam(ctx, ss.Tenant, r.PathValue("id"))
	switch {
	case errors.Is(err, pbxusers.ErrNotFound):
		h.fail(w, r, ss, http.StatusNotFound, "tNotFound")
		return nil, false
	case err != nil:
		h.internal(w, r, ss, err)
		return nil, false
	}
	ids, total, err := h.dir.ListTeamMembers(ctx, ss.Tenant, tm.ID, 0, maxTeamMembersShown)
	if err != nil {
		h.internal(w, r, ss, err)
		return nil, false
	}
	d := &teamData{Team: tm, Owned: tm.Owner.Source == pbxusers.SourceSCIM || tm.Owner.Source == pbxusers.SourceLDAP,
		TooMany: total > len(ids), Total: total}
	profiles, err := h.dir.ListProfiles(ctx, ss.Tenant)
	if err != nil {
		h.internal(w, r, ss, err)
		return nil, false
	}
	for _, p := range profiles {
		d.Profiles = append(d.Profiles, profileBox{ID: p.ID, Name: p.Name, Checked: slices.Contains(tm.Profiles, p.ID)})
	}
	for _, id := range ids {
		u, err := h.dir.GetUser(ctx, ss.Tenant, id)
		if err != nil {
			u = pbxusers.User{ID: id, UserName: id}
		}
		d.Members = append(d.Members, u)
	}
	return d, true
}

func (h *Handler) showTeam(w http.ResponseWriter, r *http.Request, ss *session) {
	d, ok := h.teamData(w, r, ss)
	if !ok {
		return
	}
	var lines []string
	for _, u := range d.Members {
		lines = append(lines, u.UserName)
	}
	f := &form{Values: map[string]string{"members": strings.Join(lines, "\n")}}
	h.renderTenant(w, r, ss, http.StatusOK, "tenant_team", "teams", f, d)
}

// saveTeamMembers makes the users listed (one userName, email or extension
// per line) exactly the team's members, through the admin API.
func (h *Handler) saveTeamMembers(w http.ResponseWriter, r *http.Request, ss *session) {
	d, ok := h.teamData(w, r, ss)
	if !ok {
		return
	}
	t := textsFor(ss, r)
	if d.TooMany {
		h.renderTenant(w, r, ss, http.StatusConflict, "tenant_team", "teams", &form{Summary: fmt.Sprintf(t.get("tooManyMembers"), d.Total)}, d)
		return
	}
	f := &form{Values: map[string]string{"members": r.PostFormValue("members")}, Problems: map[string]string{}}
	ids := []string{}
	var unknown []string
	for _, line := range strings.Split(f.V("members"), "\n") {
		ref := strings.TrimSpace(line)
		if ref == "" {
			continue
		}
		u, found, err := h.findUser(r.Context(), ss.Tenant, ref)
		if err != nil {
			h.internal(w, r, ss, err)
			return
		}
		if !found {
			unknown = append(unknown, ref)
			continue
		}
		ids = append(ids, u.ID)
	}
	if len(unknown) > 0 {
		f.fail("members", t.get("unknownUsers")+" "+strings.Join(unknown, ", "))
		f.Summary = t.get("fixErrors")
		h.renderTenant(w, r, ss, http.StatusUnprocessableEntity, "tenant_team", "teams", f, d)
		return
	}
	p, err := h.callAPI(r.Context(), ss, http.MethodPut, "/teams/"+url.PathEscape(d.Team.ID)+"/members", map[string]any{"items": ids}, nil)
	if err != nil {
		h.internal(w, r, ss, err)
		return
	}
	if p != nil {
		f.absorb(t, p, map[string]string{"items": "members"})
		h.renderTenant(w, r, ss, statusOf(p), "tenant_team", "teams", f, d)
		return
	}
	back(w, r, "/teams/"+url.PathEscape(d.Team.ID), "saved", "")
}

// saveTeamProfiles binds the checked profiles to the team (every member
// gets their permissions) with a merge patch through the admin API.
func (h *Handler) saveTeamProfiles(w http.ResponseWriter, r *http.Request, ss *session) {
	d, ok := h.teamData(w, r, ss)
	if !ok {
		return
	}
	ids := nonNilStrings(r.PostForm["profile"])
	p, err := h.callAPI(r.Context(), ss, http.MethodPatch, "/teams/"+url.PathEscape(d.Team.ID), map[string]any{"profiles": ids}, nil)
	if err != nil {
		h.internal(w, r, ss, err)
		return
	}
	if p != nil {
		h.renderTenant(w, r, ss, statusOf(p), "tenant_team", "teams", &form{Summary: problemText(p)}, d)
		return
	}
	back(w, r, "/teams/"+url.PathEscape(d.Team.ID), "saved", "")
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// deleteTeam deletes a team through the admin API (its members stay);
// a team SCIM or LDAP owns is refused (409) and the page says so.
func (h *Handler) deleteTeam(w http.ResponseWriter, r *http.Request, ss *session) {
	d, ok := h.teamData(w, r, ss)
	if !ok {
		return
	}
	p, err := h.callAPI(r.Context(), ss, http.MethodDelete, "/teams/"+url.PathEscape(d.Team.ID), nil, nil)
	if err != nil {
		h.internal(w, r, ss, err)
		return
	}
	if p != nil {
		h.renderTenant(w, r, ss, p.Status, "tenant_team", "teams", &form{Summary: problemText(p)}, d)
		return
	}
	back(w, r, "/teams", "deletedNamed", d.Team.Name)
}
