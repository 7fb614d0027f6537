package scim

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/elimity-com/scim"
	"github.com/elimity-com/scim/optional"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// usersHandler serves /Users: the tenant's people (system users such as
// call queues are not provisioned by identity providers and do not show).
// Every write goes through pbxusers.Directory with the token's actor, so
// the library enforces which source owns a user.
type usersHandler struct {
	s *server
}

var (
	_ scim.ResourceHandler  = (*usersHandler)(nil)
	_ scim.ResourceSearcher = (*usersHandler)(nil)
	_ mounter               = (*usersHandler)(nil)
)

// Mount registers the User resource type.
func (h *usersHandler) Mount(rt *router) {
	rt.resourceTypes = append(rt.resourceTypes, scim.ResourceType{
		ID:          optional.NewString("User"),
		Name:        "User",
		Description: optional.NewString("User Account"),
		Endpoint:    "/Users",
		Schema:      userSchema(),
		SchemaExtensions: []scim.SchemaExtension{
			{Schema: enterpriseSchema()},
			{Schema: userExtensionSchema()},
		},
		Handler: h,
	})
}

// mapper loads what converting users for a write needs: profile names and
// the tenant's phone region.
func (h *usersHandler) mapper(ctx context.Context, tenant string) (*userMapper, error) {
	m := &userMapper{baseURL: h.s.opts.BaseURL}
	ps, err := h.s.dir.ListProfiles(ctx, tenant)
	if err != nil {
		return nil, err
	}
	m.profiles = newProfileIndex(ps)
	tn, err := h.s.dir.GetTenant(ctx, tenant)
	if err != nil {
		return nil, err
	}
	m.region = tn.Region
	return m, nil
}

// readMapper prepares m (nil for a new one) to render users: it loads
// profile and team names only when the users have some and the response
// returns them.
func (h *usersHandler) readMapper(ctx context.Context, tenant string, m *userMapper, users []pbxusers.User, proj projection) (*userMapper, error) {
	if m == nil {
		m = &userMapper{baseURL: h.s.opts.BaseURL}
	}
	var teams []string
	profiles := false
	for _, u := range users {
		teams = append(teams, u.Teams...)
		profiles = profiles || len(u.Profiles) > 0
	}
	if profiles && m.profiles.byID == nil && proj.returns(UserExtensionSchema, "profiles") {
		ps, err := h.s.dir.ListProfiles(ctx, tenant)
		if err != nil {
			return nil, err
		}
		m.profiles = newProfileIndex(ps)
	}
	m.teams = nil
	if len(teams) > 0 && proj.returns(UserSchema, "groups") {
		names, err := h.s.teamNames(ctx, tenant, teams)
		if err != nil {
			return nil, err
		}
		m.teams = names
	}
	return m, nil
}

// resource renders a user for a response; m is the write's mapper, or nil.
func (h *usersHandler) resource(ctx context.Context, r *http.Request, m *userMapper, u pbxusers.User, proj projection) (scim.Resource, error) {
	m, err := h.readMapper(ctx, state(r).tenant, m, []pbxusers.User{u}, proj)
	if err != nil {
		return scim.Resource{}, err
	}
	return userResource(m, u, proj), nil
}

func userResource(m *userMapper, u pbxusers.User, proj projection) scim.Resource {
	attrs := m.toAttrs(u, false)
	proj.apply(attrs)
	created, updated := u.Created, u.Updated
	return scim.Resource{
		ID:         u.ID,
		ExternalID: externalID(u.Owner.ExternalID, proj),
		Attributes: attrs,
		Meta:       scim.Meta{Created: &created, LastModified: &updated, Version: etag(u.Version)},
	}
}

// Create creates a user (POST /Users). A userName, email, extension,
// station number or externalId that is taken is a 409 uniqueness error.
func (h *usersHandler) Create(r *http.Request, attrs scim.ResourceAttributes) (scim.Resource, error) {
	ctx, st := r.Context(), state(r)
	m, err := h.mapper(ctx, st.tenant)
	if err != nil {
		return scim.Resource{}, err
	}
	if err := h.resolveManagers(ctx, st.tenant, m, attrs); err != nil {
		return scim.Resource{}, err
	}
	var u pbxusers.User
	if err := m.fromAttrs(&u, attrs, pbxusers.User{}, modeCreate); err != nil {
		return scim.Resource{}, err
	}
	created, err := h.s.dir.CreateUser(pbxusers.WithWarnings(ctx, m.libraryWarnings), st.tenant, u)
	if err != nil {
		return scim.Resource{}, err
	}
	h.s.report(ctx, st.tenant, created.ID, m.warnings)
	return h.resource(ctx, r, m, created, projectionFromQuery(usersSchema, r))
}

// getPerson returns a person of the tenant; system users are not found.
func (h *usersHandler) getPerson(ctx context.Context, tenant, id string) (pbxusers.User, error) {
	u, err := h.s.dir.GetUser(ctx, tenant, id)
	if err != nil {
		return pbxusers.User{}, err
	}
	if u.Kind.System() {
		return pbxusers.User{}, notFound("User", id)
	}
	return u, nil
}

// Get returns a user (GET /Users/{id}); inactive users are returned too.
// If-None-Match with the current version answers 304.
func (h *usersHandler) Get(r *http.Request, id string) (scim.Resource, error) {
	ctx, st := r.Context(), state(r)
	u, err := h.getPerson(ctx, st.tenant, id)
	if err != nil {
		return scim.Resource{}, h.notFound(err, id)
	}
	if err := checkIfMatch(r, u.Version); err != nil {
		return scim.Resource{}, err
	}
	if err := checkIfNoneMatch(r, u.Version); err != nil {
		return scim.Resource{}, err
	}
	return h.resource(ctx, r, nil, u, projectionFromQuery(usersSchema, r))
}

// notFound names the user in a not-found error.
func (h *usersHandler) notFound(err error, id string) error {
	if isNotFound(err) {
		return notFound("User", id)
	}
	return err
}

// GetAll lists users (GET /Users) with filter, sort and paging.
func (h *usersHandler) GetAll(r *http.Request, params scim.ListRequestParams) (scim.Page, error) {
	return h.list(r, getParams(usersSchema, r, params))
}

// Search lists users (POST /Users/.search).
func (h *usersHandler) Search(r *http.Request, params scim.SearchParams) (scim.Page, error) {
	return h.list(r, searchParams(usersSchema, params))
}

func (h *usersHandler) list(r *http.Request, lp listParams) (scim.Page, error) {
	ctx, st := r.Context(), state(r)
	lq, err := lp.query(st, userFilters)
	if err != nil {
		return scim.Page{}, err
	}
	q := pbxusers.UserQuery{Filter: lq.filter, SortBy: lq.sortBy, Descending: lq.desc, Offset: lq.offset, Limit: lq.limit}
	page, err := h.s.dir.ListUsers(ctx, st.tenant, q)
	if err != nil {
		return scim.Page{}, err
	}
	m, err := h.readMapper(ctx, st.tenant, nil, page.Users, lp.proj)
	if err != nil {
		return scim.Page{}, err
	}
	out := scim.Page{TotalResults: page.Total, Resources: make([]scim.Resource, 0, len(page.Users))}
	for _, u := range page.Users {
		out.Resources = append(out.Resources, userResource(m, u, lp.proj))
	}
	return out, nil
}

// Replace replaces a user's attributes (PUT /Users/{id}). Core attributes
// left out are cleared; an extension left out is kept (see fromAttrs).
// If-Match is checked in the same transaction as the write.
func (h *usersHandler) Replace(r *http.Request, id string, attrs scim.ResourceAttributes) (scim.Resource, error) {
	ctx, st := r.Context(), state(r)
	m, err := h.mapper(ctx, st.tenant)
	if err != nil {
		return scim.Resource{}, err
	}
	if err := h.resolveManagers(ctx, st.tenant, m, attrs); err != nil {
		return scim.Resource{}, err
	}
	u, err := h.s.dir.ModifyUser(pbxusers.WithWarnings(ctx, m.libraryWarnings), st.tenant, id, func(u *pbxusers.User) error {
		if u.Kind.System() {
			return notFound("User", id)
		}
		if err := checkIfMatch(r, u.Version); err != nil {
			return err
		}
		m.warnings = nil // the function may run more than once
		return m.fromAttrs(u, attrs, u.Clone(), modeReplace)
	})
	if err != nil {
		return scim.Resource{}, h.notFound(err, id)
	}
	h.s.report(ctx, st.tenant, u.ID, m.warnings)
	return h.resource(ctx, r, m, u, projectionFromQuery(usersSchema, r))
}

// Patch applies PATCH operations (PATCH /Users/{id}) in one transaction:
// the user is read, converted to its attribute map, patched, converted
// back and written, with If-Match checked on the version read.
func (h *usersHandler) Patch(r *http.Request, id string, ops []scim.PatchOperation) (scim.Resource, error) {
	ctx, st := r.Context(), state(r)
	m, err := h.mapper(ctx, st.tenant)
	if err != nil {
		return scim.Resource{}, err
	}
	// The manager the user ends up with is resolved before the transaction
	// (the library cannot be called inside it): apply the operations to the
	// user as it is now and look at the result. That costs a read and a
	// second run of the patch, so it is done only when the operations name
	// a manager, or when the user has a manager that is not a user yet
	// (ManagerRef, which needs resolving again): the transaction finds that
	// out and the PATCH starts over with it.
	resolve := opsNameManager(ops)
	for {
		if resolve {
			if cur, err := h.getPerson(ctx, st.tenant, id); err == nil {
				attrs := m.toAttrs(cur, true)
				p := newPatcher(usersSchema, attrs)
				for _, op := range ops {
					if p.apply(op) != nil {
						break // the transaction reports it
					}
				}
				if err := h.resolveManagers(ctx, st.tenant, m, attrs); err != nil {
					return scim.Resource{}, err
				}
			}
		}
		u, err := h.s.dir.ModifyUser(pbxusers.WithWarnings(ctx, m.libraryWarnings), st.tenant, id, func(u *pbxusers.User) error {
			if u.Kind.System() {
				return notFound("User", id)
			}
			if !resolve && u.ManagerRef != "" {
				return errResolveManager
			}
			if err := checkIfMatch(r, u.Version); err != nil {
				return err
			}
			m.warnings = nil // the function may run more than once
			attrs := m.toAttrs(*u, true)
			p := newPatcher(usersSchema, attrs)
			for _, op := range ops {
				if err := p.apply(op); err != nil {
					return err
				}
			}
			return m.fromAttrs(u, attrs, u.Clone(), modePatch)
		})
		if errors.Is(err, errResolveManager) && !resolve {
			resolve = true
			continue
		}
		if err != nil {
			return scim.Resource{}, h.notFound(err, id)
		}
		h.s.report(ctx, st.tenant, u.ID, m.warnings)
		return h.resource(ctx, r, m, u, projectionFromQuery(usersSchema, r))
	}
}

// errResolveManager makes a PATCH start over with its manager resolved
// (see Patch); it never reaches the client.
var errResolveManager = errors.New("scim: the user's manager needs resolving")

// opsNameManager reports whether PATCH operations may set a manager: a
// path or a key of a value (at any depth) that mentions "manager". It errs
// on the side of yes.
func opsNameManager(ops []scim.PatchOperation) bool {
	for _, op := range ops {
		if op.Path != nil && strings.Contains(strings.ToLower(op.Path.String()), "manager") {
			return true
		}
		if mentionsManager(op.Value) {
			return true
		}
	}
	return false
}

func mentionsManager(v any) bool {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if strings.Contains(strings.ToLower(k), "manager") || mentionsManager(x) {
				return true
			}
		}
	case []any:
		for _, x := range v {
			if mentionsManager(x) {
				return true
			}
		}
	}
	return false
}

// resolveManagers resolves the manager value in attrs, which Entra may
// send as the manager's id or externalId, into m.managers: the id of the
// person it names, or "" when there is none (yet).
func (h *usersHandler) resolveManagers(ctx context.Context, tenant string, m *userMapper, attrs map[string]any) error {
	ent, _ := attrs[EnterpriseUserSchema].(map[string]any)
	v := strAttr(mapAttr(ent, "manager"), "value")
	if v == "" {
		return nil
	}
	if m.managers == nil {
		m.managers = map[string]string{}
	}
	if u, err := h.getPerson(ctx, tenant, v); err == nil {
		m.managers[v] = u.ID
		return nil
	} else if !isNotFound(err) {
		var ae *apiError
		if !errors.As(err, &ae) {
			return err
		}
	}
	u, err := h.s.dir.LookupUser(ctx, tenant, pbxusers.KeyExternalID, v)
	switch {
	case err == nil && !u.Kind.System():
		m.managers[v] = u.ID
	case err == nil || isNotFound(err):
		m.managers[v] = ""
	default:
		return err
	}
	return nil
}

// report logs and counts what a write skipped (see the package's
// principle in doc.go).
func (s *server) report(ctx context.Context, tenant, userID string, ws []warning) {
	for _, w := range ws {
		s.log.WarnContext(ctx, "attribute value skipped", "tenant", tenant, "user_id", userID, "attribute", w.attr, "reason", w.reason)
		if s.skipped != nil {
			s.skipped.WithLabelValues(w.attr).Inc()
		}
	}
}

// Delete deletes a user (DELETE /Users/{id}); a missing user is 404.
func (h *usersHandler) Delete(r *http.Request, id string) error {
	ctx, st := r.Context(), state(r)
	if _, err := h.getPerson(ctx, st.tenant, id); err != nil {
		return h.notFound(err, id)
	}
	// If-Match is checked in the transaction that deletes.
	// The IdP's delete is authoritative: what refers to the user (forwards,
	// managers, queue members, numbers) is rewritten, not a reason to refuse.
	err := h.s.dir.DeleteUserIf(ctx, st.tenant, id, func(u pbxusers.User) error { return checkIfMatch(r, u.Version) }, pbxusers.Cascade())
	if err != nil {
		return h.notFound(err, id)
	}
	return nil
}

// userLabels returns the display names (pbxusers.User.Label) of the given
// users (missing ones are left out), reading them in chunks of
// labelChunkN with one query each.
func (s *server) userLabels(ctx context.Context, tenant string, ids []string) (map[string]string, error) {
	out := make(map[string]string, len(ids))
	for start := 0; start < len(ids); start += labelChunkN {
		chunk := ids[start:min(start+labelChunkN, len(ids))]
		f := make(pbxusers.Or, len(chunk))
		for i, id := range chunk {
			f[i] = pbxusers.Eq(pbxusers.AttrID, id)
		}
		page, err := s.dir.ListUsers(ctx, tenant, pbxusers.UserQuery{Filter: f, Limit: pbxusers.MaxPageSize})
		if err != nil {
			return nil, err
		}
		for _, u := range page.Users {
			out[u.ID] = u.Label()
		}
	}
	return out, nil
}

// labelChunkN is how many user ids one query of userLabels looks up: an
// or of 500 comparisons is deeper than SQLite's expression limit (1000).
const labelChunkN = 200

// teamNames returns the names of the given teams (missing ones are left
// out), reading them in chunks with one query each.
func (s *server) teamNames(ctx context.Context, tenant string, ids []string) (map[string]string, error) {
	out := map[string]string{}
	seen := map[string]bool{}
	var pending pbxusers.Or
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		page, err := s.dir.ListTeams(ctx, tenant, pbxusers.TeamQuery{Filter: pending, Limit: pbxusers.MaxPageSize})
		if err != nil {
			return err
		}
		for _, t := range page.Teams {
			out[t.ID] = t.Name
		}
		pending = nil
		return nil
	}
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		pending = append(pending, pbxusers.Eq(pbxusers.AttrID, id))
		if len(pending) == labelChunkN {
			if err := flush(); err != nil {
				return nil, err
			}
		}
	}
	return out, flush()
}
