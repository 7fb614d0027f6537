package adminapi

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/pbxgate/pbxgate/internal/strictjson"
	"github.com/pbxgate/pbxgate/pbxusers"
)

func (h *Handler) mountUsers() {
	h.handle("GET "+Prefix+"/tenants/{tenant}/users", h.listUsers)
	h.handle("POST "+Prefix+"/tenants/{tenant}/users", h.createUser)
	h.handle("GET "+Prefix+"/tenants/{tenant}/users/{id}", h.getUser)
	h.handle("PATCH "+Prefix+"/tenants/{tenant}/users/{id}", h.patchUser)
	h.handle("DELETE "+Prefix+"/tenants/{tenant}/users/{id}", h.deleteUser)
	h.handle("POST "+Prefix+"/tenants/{tenant}/users/{id}/welcome", h.sendWelcome)
	h.handle("POST "+Prefix+"/tenants/{tenant}/users/{id}/password-reset", h.passwordReset)
}

// sortAttrs are the attributes ?sort= accepts, by their API names.
var sortAttrs = map[string]pbxusers.Attr{
	"id": pbxusers.AttrID, "userName": pbxusers.AttrUserName, "displayName": pbxusers.AttrDisplayName,
	"extension": pbxusers.AttrExtension, "location": pbxusers.AttrLocation,
	"created": pbxusers.AttrCreated, "updated": pbxusers.AttrLastModified,
	"name.given": pbxusers.AttrGivenName, "name.family": pbxusers.AttrFamilyName,
}

// userQuery reads the listing parameters: search, the equality filters
// (kind, status, source, extension, location, team, externalId), sort,
// order, offset or cursor, limit and includeSystem.
func userQuery(r *http.Request) (pbxusers.UserQuery, error) {
	q := r.URL.Query()
	var ps pbxusers.Problems
	uq := pbxusers.UserQuery{Search: q.Get("search")}
	var and pbxusers.And
	eq := map[string]pbxusers.Attr{"kind": pbxusers.AttrKind, "source": pbxusers.AttrSource, "extension": pbxusers.AttrExtension,
		"location": pbxusers.AttrLocation, "team": pbxusers.AttrMember, "externalId": pbxusers.AttrExternalID, "userName": pbxusers.AttrUserName}
	for _, k := range []string{"kind", "source", "extension", "location", "team", "externalId", "userName"} {
		if v := q.Get(k); v != "" {
			and = append(and, pbxusers.Eq(eq[k], v))
		}
	}
	switch s := q.Get("status"); s {
	case "":
	case string(pbxusers.StatusActive), string(pbxusers.StatusInactive):
		and = append(and, pbxusers.Eq(pbxusers.AttrActive, s == string(pbxusers.StatusActive)))
	default:
		ps.Add("status", "must be active or inactive, not %q", s)
	}
	if q.Get("kind") != "" && q.Get("kind") != string(pbxusers.KindPerson) {
		uq.IncludeSystem = true
	}
	switch len(and) {
	case 0:
	case 1:
		uq.Filter = and[0]
	default:
		uq.Filter = and
	}
	if s := q.Get("includeSystem"); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			ps.Add("includeSystem", "must be true or false, not %q", s)
		}
		uq.IncludeSystem = uq.IncludeSystem || b
	}
	if s := q.Get("sort"); s != "" {
		a, ok := sortAttrs[s]
		if !ok {
			ps.Add("sort", "cannot sort by %q; use id, userName, displayName, name.given, name.family, extension, location, created or updated", s)
		}
		uq.SortBy = a
	}
	switch o := q.Get("order"); o {
	case "", "asc":
	case "desc":
		uq.Descending = true
	default:
		ps.Add("order", "must be asc or desc, not %q", o)
	}
	uq.Offset, uq.Limit = paging(r, &ps)
	if err := ps.Err(); err != nil {
		return uq, err
	}
	return uq, nil
}

// paging reads offset (or cursor) and limit.
func paging(r *http.Request, ps *pbxusers.Problems) (offset, limit int) {
	offset = queryInt(r, "offset", 0, ps)
	limit = queryInt(r, "limit", pbxusers.DefaultPageSize, ps)
	if offset < 0 {
		ps.Add("offset", "must not be negative")
	}
	if limit < 1 || limit > pbxusers.MaxPageSize {
		ps.Add("limit", "must be between 1 and %d", pbxusers.MaxPageSize)
	}
	if c := r.URL.Query().Get("cursor"); c != "" {
		n, ok := decodeCursor(c)
		if !ok {
			ps.Add("cursor", "is not a cursor this API returned")
		}
		offset = n
	}
	return offset, limit
}

// A cursor is the offset of the next page, opaque to clients so the
// encoding can change to keyset paging without breaking them.
func encodeCursor(offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("o" + strconv.Itoa(offset)))
}

func decodeCursor(s string) (int, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 2 || b[0] != 'o' {
		return 0, false
	}
	n, err := strconv.Atoi(string(b[1:]))
	return n, err == nil && n >= 0
}

func nextCursor(offset, n, total int) string {
	if offset+n < total && n > 0 {
		return encodeCursor(offset + n)
	}
	return ""
}

func (h *Handler) listUsers(c *call) error {
	q, err := userQuery(c.r)
	if err != nil {
		return err
	}
	page, err := h.dir.ListUsers(c.ctx, c.tenant, q)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, list[pbxusers.User]{Items: nonNil(page.Users), Total: page.Total,
		NextCursor: nextCursor(q.Offset, len(page.Users), page.Total)})
}

func (h *Handler) getUser(c *call) error {
	u, err := h.dir.GetUser(c.ctx, c.tenant, c.r.PathValue("id"))
	if err != nil {
		return err
	}
	return c.etag(u.Version).json(http.StatusOK, u)
}

// initialPassword takes password.new out of a create body: the first
// password an admin sets (Aloware's "Manual"). pbxusers.Password never
// reads or writes it as JSON, so it is write-only.
func initialPassword(data []byte) ([]byte, string, error) {
	if err := strictjson.Check(data); err != nil {
		return nil, "", problemf(http.StatusBadRequest, typeMalformed, "%s", err.Error())
	}
	var body map[string]json.RawMessage
	if err := json.Unmarshal(data, &body); err != nil || body == nil {
		return data, "", nil // decodeStrict names the problem
	}
	var pw map[string]json.RawMessage
	if err := json.Unmarshal(body["password"], &pw); err != nil || pw["new"] == nil {
		return data, "", nil
	}
	var s string
	if err := json.Unmarshal(pw["new"], &s); err != nil {
		return nil, "", pbxusers.Invalid("password.new", "must be a string")
	}
	delete(pw, "new")
	body["password"], _ = json.Marshal(pw)
	out, err := json.Marshal(body)
	return out, s, err
}

func (h *Handler) createUser(c *call) error {
	data, err := h.body(c)
	if err != nil {
		return err
	}
	data, pw, err := initialPassword(data)
	if err != nil {
		return err
	}
	var u pbxusers.User
	if err := decodeStrict(data, &u); err != nil {
		return err
	}
	u.Password.New = pw
	u.ID, u.TenantID, u.Version = "", c.tenant, 0
	u.Owner = pbxusers.Owner{Source: pbxusers.SourceManual, ExternalID: u.Owner.ExternalID}
	out, err := h.dir.CreateUser(c.ctx, c.tenant, u)
	if err != nil {
		return err
	}
	c.w.Header().Set("Location", Prefix+"/tenants/"+c.tenant+"/users/"+out.ID)
	return c.etag(out.Version).json(http.StatusCreated, out)
}

// readOnlyUserFields are the JSON paths of a user that a PATCH may not
// change: the library sets them.
var readOnlyUserFields = []string{"id", "tenantId", "kind", "version", "created", "updated", "deactivatedBy",
	"owner.source", "owner.directory", "owner.synced", "owner.hash", "password.isSet", "password.setAt"}

// scimOwnedFields are the fields an identity provider sends over SCIM: on
// a user it owns they are read-only for admins. PBX-side fields (devices,
// routing, overrides, features, queues) stay editable.
var scimOwnedFields = []string{"userName", "name", "displayName", "nickname", "title", "emails", "phoneNumbers",
	"addresses", "photos", "roles", "entitlements", "enterprise", "managerId", "status", "language", "timeZone",
	"owner.externalId"}

// ldapOwnedFields are what an LDAP sync sets when it recorded no field
// list of its own (Owner.Synced).
var ldapOwnedFields = []string{"userName", "name", "displayName", "emails", "extension", "phoneNumbers", "title",
	"enterprise", "location", "language", "managerId", "status", "owner.externalId"}

// ownedFields returns the JSON paths of the user its owning source
// controls; none for a manual user.
func ownedFields(o pbxusers.Owner) []string {
	switch o.Source {
	case pbxusers.SourceSCIM:
		return scimOwnedFields
	case pbxusers.SourceLDAP:
		if len(o.Synced) == 0 {
			return ldapOwnedFields
		}
		seen := map[string]bool{"owner.externalId": true}
		out := []string{"owner.externalId"}
		for k := range o.Synced {
			f := k
			switch {
			case k == "manager":
				f = "managerId"
			case strings.HasPrefix(k, "name."):
				f = "name"
			case strings.HasPrefix(k, "phoneNumbers."):
				f = "phoneNumbers"
			}
			if !seen[f] {
				seen[f] = true
				out = append(out, f)
			}
		}
		return out
	}
	return nil
}

// OwnedFields returns the JSON paths of a user's fields that its owning
// source (an identity provider over SCIM, an LDAP sync) controls: a PATCH
// changing one of them is refused. None for a manual user. The console
// shows these fields read-only.
func OwnedFields(o pbxusers.Owner) []string { return ownedFields(o) }

// pathValue reads a dotted path of a decoded JSON object.
func pathValue(m map[string]any, path string) any {
	var cur any = m
	for _, part := range strings.Split(path, ".") {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = obj[part]
	}
	return cur
}

// changedPaths returns the paths whose values differ between two objects.
func changedPaths(before, after map[string]any, paths []string) []string {
	var out []string
	for _, p := range paths {
		if !reflect.DeepEqual(pathValue(before, p), pathValue(after, p)) {
			out = append(out, p)
		}
	}
	return out
}

// mergePatch applies an RFC 7396 JSON merge patch.
func mergePatch(target, patch any) any {
	pm, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	tm, ok := target.(map[string]any)
	if !ok {
		tm = map[string]any{}
	}
	for k, v := range pm {
		if v == nil {
			delete(tm, k)
		} else {
			tm[k] = mergePatch(tm[k], v)
		}
	}
	return tm
}

func toMap(v any) map[string]any {
	b, _ := json.Marshal(v)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

// applyPatch merges a patch into a copy of cur and decodes the result into
// out, checking read-only and owned fields: changing a read-only field is
// 400, an owned one 409 naming the owner and the fields.
func applyPatch(cur any, patch map[string]any, out any, readOnly []string, owner pbxusers.Owner) error {
	before := toMap(cur)
	merged := mergePatch(toMap(cur), patch).(map[string]any)
	data, _ := json.Marshal(merged)
	if err := decodeStrict(data, out); err != nil {
		return err
	}
	after := toMap(out)
	var ps pbxusers.Problems
	for _, f := range changedPaths(before, after, readOnly) {
		ps.Add(f, "is read-only")
	}
	if err := ps.Err(); err != nil {
		return err
	}
	if owned := changedPaths(before, after, ownedFields(owner)); len(owned) > 0 {
		p := problemf(http.StatusConflict, typeOwned, "%s owned by source %s: %s; change it at the source, or transfer ownership first",
			plural(len(owned), "this field is", "these fields are"), owner.Source, strings.Join(owned, ", "))
		p.Owner = owner.Source
		for _, f := range owned {
			p.Errors = append(p.Errors, FieldProblem{Path: f, Reason: "owned by source " + string(owner.Source)})
		}
		return p
	}
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// readPatch reads a merge-patch body: a JSON object.
func (h *Handler) readPatch(c *call) (map[string]any, error) {
	data, err := h.body(c)
	if err != nil {
		return nil, err
	}
	var patch map[string]any
	if err := json.Unmarshal(data, &patch); err != nil || patch == nil {
		return nil, problemf(http.StatusBadRequest, typeMalformed, "the body must be a JSON merge patch (an object)")
	}
	return patch, nil
}

func (h *Handler) patchUser(c *call) error {
	want, err := c.ifMatch()
	if err != nil {
		return err
	}
	patch, err := h.readPatch(c)
	if err != nil {
		return err
	}
	out, err := h.dir.ModifyUser(c.ctx, c.tenant, c.r.PathValue("id"), func(u *pbxusers.User) error {
		if err := checkVersion(want, u.Version); err != nil {
			return err
		}
		var next pbxusers.User
		if err := applyPatch(*u, patch, &next, readOnlyUserFields, u.Owner); err != nil {
			return err
		}
		next.Owner.Synced, next.Owner.Hash = u.Owner.Synced, u.Owner.Hash
		*u = next
		return nil
	})
	if err != nil {
		return err
	}
	return c.etag(out.Version).json(http.StatusOK, out)
}

// modifyUser changes the PBX-side part of a user (routing, overrides,
// queue settings) under If-Match; these stay editable on owned users.
func (h *Handler) modifyUser(c *call, fn func(u *pbxusers.User) error) (pbxusers.User, error) {
	want, err := c.ifMatch()
	if err != nil {
		return pbxusers.User{}, err
	}
	return h.dir.ModifyUser(c.ctx, c.tenant, c.r.PathValue("id"), func(u *pbxusers.User) error {
		if err := checkVersion(want, u.Version); err != nil {
			return err
		}
		return fn(u)
	})
}

func (h *Handler) deleteUser(c *call) error {
	want, err := c.ifMatch()
	if err != nil {
		return err
	}
	var opts []pbxusers.DeleteOption
	switch c.r.URL.Query().Get("cascade") {
	case "true":
		opts = append(opts, pbxusers.Cascade())
	case "", "false":
	default:
		return invalid([]pbxusers.FieldError{{Field: "cascade", Reason: "must be true or false"}})
	}
	err = h.dir.DeleteUserIf(c.ctx, c.tenant, c.r.PathValue("id"), func(u pbxusers.User) error {
		if err := checkVersion(want, u.Version); err != nil {
			return err
		}
		if s := u.Owner.Source; s == pbxusers.SourceSCIM || s == pbxusers.SourceLDAP {
			p := problemf(http.StatusConflict, typeOwned, "user %q is owned by source %s; delete it there, or transfer ownership first", u.UserName, s)
			p.Owner = s
			return p
		}
		return nil
	}, opts...)
	if err != nil {
		return err
	}
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) sendWelcome(c *call) error {
	m, err := h.dir.SendWelcome(c.ctx, c.tenant, c.r.PathValue("id"))
	if err != nil {
		return err
	}
	return c.json(http.StatusAccepted, m)
}

func (h *Handler) passwordReset(c *call) error {
	m, err := h.dir.ForcePasswordReset(c.ctx, c.tenant, c.r.PathValue("id"))
	if err != nil {
		return err
	}
	return c.json(http.StatusAccepted, m)
}
