package scim

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"strings"

	"github.com/elimity-com/scim"
	"github.com/elimity-com/scim/optional"
	"github.com/scim2/filter-parser/v2"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// groupsHandler serves /Groups: the tenant's teams. Members are user ids
// and are never loaded unless the response returns them (Entra ID asks
// with excludedAttributes=members); membership changes go to the library's
// member methods, so adding one member to a 10,000-member group touches one
// row. A group's extension binds it to permission profiles, which every
// member then gets.
type groupsHandler struct {
	s *server
}

var (
	_ scim.ResourceHandler  = (*groupsHandler)(nil)
	_ scim.ResourceSearcher = (*groupsHandler)(nil)
	_ mounter               = (*groupsHandler)(nil)
)

// Mount registers the Group resource type.
func (h *groupsHandler) Mount(rt *router) {
	rt.resourceTypes = append(rt.resourceTypes, scim.ResourceType{
		ID:               optional.NewString("Group"),
		Name:             "Group",
		Description:      optional.NewString("Group"),
		Endpoint:         "/Groups",
		Schema:           groupSchema(),
		SchemaExtensions: []scim.SchemaExtension{{Schema: groupExtensionSchema()}},
		Handler:          h,
	})
}

func (h *groupsHandler) profiles(ctx context.Context, tenant string) (profileIndex, error) {
	ps, err := h.s.dir.ListProfiles(ctx, tenant)
	if err != nil {
		return profileIndex{}, err
	}
	return newProfileIndex(ps), nil
}

// groupAttrs returns a team's SCIM attributes; members is nil when they
// are not returned. With full set (the base of a PATCH) externalId and the
// extension container are always present.
func (h *groupsHandler) groupAttrs(tm pbxusers.Team, members []string, names map[string]string, profiles profileIndex, full bool) map[string]any {
	a := map[string]any{"displayName": tm.Name}
	if full {
		if tm.Owner.ExternalID != "" {
			a["externalId"] = tm.Owner.ExternalID
		}
		a[GroupExtensionSchema] = map[string]any{}
	}
	if members != nil {
		list := make([]any, len(members))
		for i, id := range members {
			m := map[string]any{"value": id, "type": "User"}
			if n := names[id]; n != "" {
				m["display"] = n
			}
			if h.s.opts.BaseURL != "" {
				m["$ref"] = h.s.opts.BaseURL + "/Users/" + id
			}
			list[i] = m
		}
		a["members"] = list
	}
	if len(tm.Profiles) > 0 {
		a[GroupExtensionSchema] = map[string]any{"profiles": profiles.names(tm.Profiles)}
	}
	return a
}

// fromAttrs sets a team's name, external id and (when the extension is
// present) profiles. As for users, an absent externalId is kept except on
// PATCH, and an absent extension is left alone.
func fromGroupAttrs(tm *pbxusers.Team, a map[string]any, profiles profileIndex, mode writeMode) error {
	var p pbxusers.Problems
	tm.Name = strAttr(a, "displayName")
	if v, ok := a["externalId"].(string); ok || mode == modePatch {
		tm.Owner.ExternalID = strings.TrimSpace(v)
	}
	if ext, ok := a[GroupExtensionSchema].(map[string]any); ok {
		tm.Profiles = profiles.ids(&p, GroupExtensionSchema+":profiles", asList(ext["profiles"]))
	}
	return p.Err()
}

// memberIDs reads the user ids of a members value.
func memberIDs(v any) ([]string, error) {
	var ids []string
	for _, e := range asList(v) {
		m := elementMap(e)
		if t, _ := m["type"].(string); t != "" && !strings.EqualFold(t, "User") {
			return nil, badRequest(typeInvalidValue, "members can only be users, not %q", t)
		}
		id, _ := m["value"].(string)
		if id = strings.TrimSpace(id); id == "" {
			return nil, badRequest(typeInvalidValue, "a member needs a value (the user's id)")
		}
		ids = append(ids, id)
	}
	return ids, nil
}

func (h *groupsHandler) resource(ctx context.Context, r *http.Request, tm pbxusers.Team, proj projection, profiles *profileIndex) (scim.Resource, error) {
	tenant := state(r).tenant
	var members []string
	if proj.returns(GroupSchema, "members") {
		ids, _, err := h.s.dir.ListTeamMembers(ctx, tenant, tm.ID, 0, 0)
		if err != nil {
			return scim.Resource{}, err
		}
		members = ids
		if members == nil {
			members = []string{}
		}
	}
	names, err := h.s.userLabels(ctx, tenant, members)
	if err != nil {
		return scim.Resource{}, err
	}
	if profiles == nil {
		ix, err := h.profiles(ctx, tenant)
		if err != nil {
			return scim.Resource{}, err
		}
		profiles = &ix
	}
	return h.render(tm, members, names, *profiles, proj), nil
}

func (h *groupsHandler) render(tm pbxusers.Team, members []string, names map[string]string, profiles profileIndex, proj projection) scim.Resource {
	attrs := h.groupAttrs(tm, members, names, profiles, false)
	proj.apply(attrs)
	created, updated := tm.Created, tm.Updated
	return scim.Resource{
		ID:         tm.ID,
		ExternalID: externalID(tm.Owner.ExternalID, proj),
		Attributes: attrs,
		Meta:       scim.Meta{Created: &created, LastModified: &updated, Version: etag(tm.Version)},
	}
}

// Create creates a group (POST /Groups), with its members.
func (h *groupsHandler) Create(r *http.Request, attrs scim.ResourceAttributes) (scim.Resource, error) {
	ctx, st := r.Context(), state(r)
	ix, err := h.profiles(ctx, st.tenant)
	if err != nil {
		return scim.Resource{}, err
	}
	var tm pbxusers.Team
	if err := fromGroupAttrs(&tm, attrs, ix, modeCreate); err != nil {
		return scim.Resource{}, err
	}
	ids, err := memberIDs(attrs["members"])
	if err != nil {
		return scim.Resource{}, err
	}
	created, err := h.s.dir.CreateTeam(ctx, st.tenant, tm, ids)
	if err != nil {
		if isNotFound(err) { // the team is new: an unknown member
			err = badRequest(typeInvalidValue, "members: %s", unknownMember(err))
		}
		return scim.Resource{}, err
	}
	return h.resource(ctx, r, created, projectionFromQuery(groupsSchema, r), &ix)
}

func unknownMember(err error) string {
	return "a member is not a user of this tenant (" + err.Error() + ")"
}

// Get returns a group (GET /Groups/{id}).
func (h *groupsHandler) Get(r *http.Request, id string) (scim.Resource, error) {
	ctx, st := r.Context(), state(r)
	tm, err := h.s.dir.GetTeam(ctx, st.tenant, id)
	if err != nil {
		return scim.Resource{}, h.notFound(err, id)
	}
	if err := checkIfMatch(r, tm.Version); err != nil {
		return scim.Resource{}, err
	}
	if err := checkIfNoneMatch(r, tm.Version); err != nil {
		return scim.Resource{}, err
	}
	return h.resource(ctx, r, tm, projectionFromQuery(groupsSchema, r), nil)
}

func (h *groupsHandler) notFound(err error, id string) error {
	if isNotFound(err) {
		return notFound("Group", id)
	}
	return err
}

// GetAll lists groups (GET /Groups).
func (h *groupsHandler) GetAll(r *http.Request, params scim.ListRequestParams) (scim.Page, error) {
	return h.list(r, getParams(groupsSchema, r, params))
}

// Search lists groups (POST /Groups/.search).
func (h *groupsHandler) Search(r *http.Request, params scim.SearchParams) (scim.Page, error) {
	return h.list(r, searchParams(groupsSchema, params))
}

func (h *groupsHandler) list(r *http.Request, lp listParams) (scim.Page, error) {
	ctx, st := r.Context(), state(r)
	lq, err := lp.query(st, groupFilters)
	if err != nil {
		return scim.Page{}, err
	}
	q := pbxusers.TeamQuery{Filter: lq.filter, SortBy: lq.sortBy, Descending: lq.desc, Offset: lq.offset, Limit: lq.limit}
	page, err := h.s.dir.ListTeams(ctx, st.tenant, q)
	if err != nil {
		return scim.Page{}, err
	}
	ix, err := h.profiles(ctx, st.tenant)
	if err != nil {
		return scim.Page{}, err
	}
	withMembers := lp.proj.returns(GroupSchema, "members")
	out := scim.Page{TotalResults: page.Total, Resources: make([]scim.Resource, 0, len(page.Teams))}
	for _, tm := range page.Teams {
		var members []string
		var names map[string]string
		if withMembers {
			if members, _, err = h.s.dir.ListTeamMembers(ctx, st.tenant, tm.ID, 0, 0); err != nil {
				return scim.Page{}, err
			}
			if members == nil {
				members = []string{}
			}
			if names, err = h.s.userLabels(ctx, st.tenant, members); err != nil {
				return scim.Page{}, err
			}
		}
		out.Resources = append(out.Resources, h.render(tm, members, names, ix, lp.proj))
	}
	return out, nil
}

// Replace replaces a group (PUT /Groups/{id}): name, external id, the
// extension's profiles (when sent) and the member list, in one
// transaction: a member that is not a user of the tenant saves nothing.
func (h *groupsHandler) Replace(r *http.Request, id string, attrs scim.ResourceAttributes) (scim.Resource, error) {
	ctx, st := r.Context(), state(r)
	ix, err := h.profiles(ctx, st.tenant)
	if err != nil {
		return scim.Resource{}, err
	}
	ids, err := memberIDs(attrs["members"])
	if err != nil {
		return scim.Resource{}, err
	}
	tm, err := h.s.dir.ModifyTeamAndMembers(ctx, st.tenant, id, func(tm *pbxusers.Team, _ func() ([]string, error)) (pbxusers.MemberChange, error) {
		if err := checkIfMatch(r, tm.Version); err != nil {
			return pbxusers.MemberChange{}, err
		}
		if err := fromGroupAttrs(tm, attrs, ix, modeReplace); err != nil {
			return pbxusers.MemberChange{}, err
		}
		return pbxusers.MemberChange{Add: ids, Replace: true}, nil
	})
	if err != nil {
		return scim.Resource{}, h.memberError(ctx, st.tenant, err, id)
	}
	return h.resource(ctx, r, tm, projectionFromQuery(groupsSchema, r), &ix)
}

// Patch applies PATCH operations (PATCH /Groups/{id}) and answers 204 (a
// group's full member list is not worth sending back). Everything happens
// in one transaction with one new version (RFC 7644 §3.5.2): If-Match is
// checked on the version read, member operations become one member change
// of the library (adding one member to a 10,000-member group touches one
// row), the others are applied to the group's attribute map; when any
// operation fails nothing is written.
func (h *groupsHandler) Patch(r *http.Request, id string, ops []scim.PatchOperation) (scim.Resource, error) {
	ctx, st := r.Context(), state(r)
	ix, err := h.profiles(ctx, st.tenant)
	if err != nil {
		return scim.Resource{}, err
	}
	tm, err := h.s.dir.ModifyTeamAndMembers(ctx, st.tenant, id, func(cur *pbxusers.Team, members func() ([]string, error)) (pbxusers.MemberChange, error) {
		if err := checkIfMatch(r, cur.Version); err != nil {
			return pbxusers.MemberChange{}, err
		}
		mc := memberChange{load: members}
		var attrOps []scim.PatchOperation
		for _, op := range ops {
			rest, err := mc.take(op)
			if err != nil {
				return pbxusers.MemberChange{}, err
			}
			if rest != nil {
				attrOps = append(attrOps, *rest)
			}
		}
		if len(attrOps) > 0 {
			attrs := h.groupAttrs(*cur, nil, nil, ix, true)
			p := newPatcher(groupsSchema, attrs)
			for _, op := range attrOps {
				if err := p.apply(op); err != nil {
					return pbxusers.MemberChange{}, err
				}
			}
			if err := fromGroupAttrs(cur, attrs, ix, modePatch); err != nil {
				return pbxusers.MemberChange{}, err
			}
		}
		return mc.result(), nil
	})
	if err != nil {
		return scim.Resource{}, h.memberError(ctx, st.tenant, err, id)
	}
	// No attributes: 204 No Content, with the new version as ETag.
	return scim.Resource{Meta: scim.Meta{Version: etag(tm.Version)}}, nil
}

// result is the library's member change for the operations taken.
func (mc *memberChange) result() pbxusers.MemberChange {
	switch {
	case !mc.touched:
		return pbxusers.MemberChange{}
	case mc.replace:
		return pbxusers.MemberChange{Add: sortedIDs(mc.set), Replace: true}
	}
	return pbxusers.MemberChange{Add: sortedIDs(mc.add), Remove: sortedIDs(mc.remove)}
}

// memberError tells an unknown member (400) from a missing group (404).
func (h *groupsHandler) memberError(ctx context.Context, tenant string, err error, id string) error {
	var ae *apiError
	if !isNotFound(err) || errors.As(err, &ae) {
		return err
	}
	if _, gerr := h.s.dir.GetTeam(ctx, tenant, id); gerr == nil {
		return badRequest(typeInvalidValue, "members: %s", unknownMember(err))
	}
	return notFound("Group", id)
}

// Delete deletes a group (DELETE /Groups/{id}); its members stay.
func (h *groupsHandler) Delete(r *http.Request, id string) error {
	ctx, st := r.Context(), state(r)
	err := h.s.dir.DeleteTeamIf(ctx, st.tenant, id, func(t pbxusers.Team) error { return checkIfMatch(r, t.Version) })
	if err != nil {
		return h.notFound(err, id)
	}
	return nil
}

// memberChange accumulates the member operations of one PATCH, in order:
// either a delta (add, remove) or, after a replace or a removal filter
// that needs the current members, the whole new member set.
type memberChange struct {
	touched bool
	replace bool
	set     map[string]bool
	add     map[string]bool
	remove  map[string]bool
	// load reads the current member ids; only a removal filter other than
	// value eq ... calls it.
	load func() ([]string, error)
}

func (mc *memberChange) init() {
	if mc.add == nil {
		mc.set, mc.add, mc.remove = map[string]bool{}, map[string]bool{}, map[string]bool{}
	}
	mc.touched = true
}

func (mc *memberChange) addIDs(ids []string) {
	mc.init()
	for _, id := range ids {
		if mc.replace {
			mc.set[id] = true
		} else {
			mc.add[id] = true
			delete(mc.remove, id)
		}
	}
}

func (mc *memberChange) removeIDs(ids []string) {
	mc.init()
	for _, id := range ids {
		if mc.replace {
			delete(mc.set, id)
		} else {
			mc.remove[id] = true
			delete(mc.add, id)
		}
	}
}

func (mc *memberChange) replaceIDs(ids []string) {
	mc.init()
	mc.replace = true
	mc.set, mc.add, mc.remove = map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, id := range ids {
		mc.set[id] = true
	}
}

// removeMatching removes the members a value filter selects, evaluated on
// the membership as the earlier operations left it.
func (mc *memberChange) removeMatching(expr filter.Expression) error {
	if !mc.replace {
		cur, err := mc.load()
		if err != nil {
			return err
		}
		var ids []string
		for _, id := range cur {
			if !mc.remove[id] {
				ids = append(ids, id)
			}
		}
		for id := range mc.add {
			ids = append(ids, id)
		}
		mc.replaceIDs(ids)
	}
	d := groupsSchema.lookup(GroupSchema, "members")
	for id := range mc.set {
		ok, err := matchElement(expr, map[string]any{"value": id, "type": "User"}, d)
		if err != nil {
			return badRequest(typeInvalidFilter, "members filter: %v", err)
		}
		if ok {
			delete(mc.set, id)
		}
	}
	return nil
}

func sortedIDs(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for id := range m {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// take consumes the member part of an operation and returns the rest (nil
// when nothing is left).
func (mc *memberChange) take(op scim.PatchOperation) (*scim.PatchOperation, error) {
	if op.Path == nil {
		vm, ok := op.Value.(map[string]any)
		if !ok {
			return &op, nil
		}
		rest := map[string]any{}
		for k, v := range vm {
			_, plain := groupsSchema.splitURNKey(k)
			if !strings.EqualFold(plain, "members") {
				rest[k] = v
				continue
			}
			ids, err := memberIDs(v)
			if err != nil {
				return nil, err
			}
			if op.Op == "add" {
				mc.addIDs(ids)
			} else {
				mc.replaceIDs(ids)
			}
		}
		if len(rest) == 0 {
			return nil, nil
		}
		op.Value = rest
		return &op, nil
	}
	if !strings.EqualFold(op.Path.AttributePath.AttributeName, "members") || (op.Path.AttributePath.URI() != "" && op.Path.AttributePath.URI() != GroupSchema) {
		return &op, nil
	}
	if op.Path.AttributePath.SubAttribute != nil || op.Path.SubAttribute != nil {
		return nil, badRequest(typeInvalidPath, "member sub-attributes cannot be changed; add or remove members by value")
	}
	if expr := op.Path.ValueExpression; expr != nil {
		if op.Op != "remove" {
			return nil, badRequest(typeInvalidPath, "members[...] selects members to remove; add or replace members by value")
		}
		if ids, ok := eqValues(expr); ok {
			mc.removeIDs(ids)
			return nil, nil
		}
		return nil, mc.removeMatching(expr)
	}
	ids, err := memberIDs(op.Value)
	if err != nil {
		return nil, err
	}
	switch op.Op {
	case "add":
		mc.addIDs(ids)
	case "remove":
		if op.Value == nil {
			mc.replaceIDs(nil)
		} else {
			mc.removeIDs(ids)
		}
	default: // replace; [] arrives as nil and empties the group
		mc.replaceIDs(ids)
	}
	return nil, nil
}

// eqValues reads value eq "a" or value eq "b" ...
func eqValues(e filter.Expression) ([]string, bool) {
	switch e := e.(type) {
	case *filter.AttributeExpression:
		s, ok := e.CompareValue.(string)
		if !ok || !strings.EqualFold(string(e.Operator), "eq") || !strings.EqualFold(e.AttributePath.AttributeName, "value") ||
			e.AttributePath.SubAttribute != nil || e.AttributePath.URIPrefix != nil {
			return nil, false
		}
		s, err := unescape(s)
		if err != nil {
			return nil, false
		}
		return []string{s}, true
	case *filter.LogicalExpression:
		if !strings.EqualFold(string(e.Operator), "or") {
			return nil, false
		}
		l, ok := eqValues(e.Left)
		if !ok {
			return nil, false
		}
		r, ok := eqValues(e.Right)
		if !ok {
			return nil, false
		}
		return append(l, r...), true
	}
	return nil, false
}
