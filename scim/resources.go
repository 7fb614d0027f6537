package scim

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"
	scimfilter "github.com/elimity-com/scim/filter"
	"github.com/elimity-com/scim/schema"
	"github.com/scim2/filter-parser/v2"
)

// This file serves /Users and /Groups. elimity's server cannot express
// what these routes need, so pbxgate serves them itself and keeps elimity
// for what it does well: the resource types and schemas, their validation
// (schema.Validate, filter.NewPathValidator,
// CoreAttribute.ValidateSingular), /Schemas, /ResourceTypes and its error
// values. What its server cannot express, and why that matters:
//
//   - statuses it turns into 500 because its table does not allow them
//     for the method (304 and 412 on GET, 503 with Retry-After when the
//     store is busy) and the headers that go with them (ETag on 412 and
//     304, Retry-After);
//   - itemsPerPage: it writes the requested count, but RFC 7644 §3.4.2
//     defines it as the number of resources returned (Okta checks it);
//   - the IdPs' request forms (string booleans, Entra's manager string,
//     nulls, extension attributes without their URN) must be rewritten
//     before validation, and pbxgate's own refusals (attributes it does
//     not store) must name the attribute; its server only reads the raw
//     body;
//   - filters it rejects (emails[type eq "work"].value eq "x", its issue
//     #150) or validates without the common attributes in .search;
//   - an ETag on a 204 PATCH response.
//
// The handlers keep elimity's ResourceHandler interface, so the request
// path reads the same as with elimity's server.

// resourceMeta is the meta attribute of a resource (RFC 7643 §3.1), in
// elimity's field order.
type resourceMeta struct {
	ResourceType string `json:"resourceType"`
	Created      string `json:"created,omitempty"`
	LastModified string `json:"lastModified,omitempty"`
	Location     string `json:"location"`
	Version      string `json:"version,omitempty"`
}

// location is the URI of a resource: relative ("Users/<id>") without a
// BaseURL.
func (s *server) location(typ *scim.ResourceType, id string) string {
	rel := typ.Endpoint[1:] + "/" + url.PathEscape(id)
	if s.opts.BaseURL == "" {
		return rel
	}
	return s.opts.BaseURL + "/" + rel
}

// render turns a handler's resource into its JSON object: attributes plus
// id, externalId, schemas and meta.
func (s *server) render(typ *scim.ResourceType, res scim.Resource) map[string]any {
	out := make(map[string]any, len(res.Attributes)+4)
	for k, v := range res.Attributes {
		out[k] = v
	}
	out["id"] = res.ID
	if res.ExternalID.Present() {
		out["externalId"] = res.ExternalID.Value()
	}
	schemas := []string{typ.Schema.ID}
	for _, e := range typ.SchemaExtensions {
		schemas = append(schemas, e.Schema.ID)
	}
	out["schemas"] = schemas
	m := resourceMeta{ResourceType: typ.Name, Location: s.location(typ, res.ID), Version: res.Meta.Version}
	if res.Meta.Created != nil {
		m.Created = res.Meta.Created.Format(time.RFC3339)
	}
	if res.Meta.LastModified != nil {
		m.LastModified = res.Meta.LastModified.Format(time.RFC3339)
	}
	out["meta"] = m
	return out
}

// writeJSON writes a SCIM JSON response.
func writeJSON(w http.ResponseWriter, status int, v any) *apiError {
	raw, err := json.Marshal(v)
	if err != nil {
		return errorf(http.StatusInternalServerError, "", "internal server error")
	}
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(raw)))
	w.WriteHeader(status)
	_, _ = w.Write(raw)
	return nil
}

// writeResource writes one resource with its ETag.
func (s *server) writeResource(w http.ResponseWriter, status int, typ *scim.ResourceType, res scim.Resource) *apiError {
	if res.Meta.Version != "" {
		w.Header().Set("ETag", res.Meta.Version)
	}
	return writeJSON(w, status, s.render(typ, res))
}

// serveResource serves a request of a resource route after the middleware;
// r carries the request state and the actor, body the request body (nil
// for GET and DELETE).
func (s *server) serveResource(w http.ResponseWriter, r *http.Request, st *request, rt route, sub, method string, body []byte) *apiError {
	typ := rt.typ
	fail := func(err error) *apiError { return s.toAPIError(r.Context(), err) }
	// Attributes of extensions this endpoint does not serve are ignored,
	// and reported once the write succeeded.
	var unserved []string
	reported := func(id string) {
		ws := make([]warning, len(unserved))
		for i, urn := range unserved {
			ws[i] = warning{attr: "extension", reason: "attributes of " + urn + ", an extension this endpoint does not serve, were ignored"}
		}
		s.report(r.Context(), st.tenant, id, ws)
	}
	switch rt.kind {
	case routeList:
		if method == http.MethodGet {
			lp, err := s.listParams(r)
			if err != nil {
				return err
			}
			page, herr := typ.Handler.GetAll(r, lp)
			if herr != nil {
				return fail(herr)
			}
			return s.writeList(w, typ, page, lp.StartIndex)
		}
		attrs, skipped, err := s.resourceBody(body, rt.rs, typ)
		unserved = skipped
		if err != nil {
			return err
		}
		res, herr := typ.Handler.Create(r, attrs)
		if herr != nil {
			return fail(herr)
		}
		reported(res.ID)
		w.Header().Set("Location", s.location(typ, res.ID))
		return s.writeResource(w, http.StatusCreated, typ, res)

	case routeSearch:
		sp, err := s.searchParams(body, st)
		if err != nil {
			return err
		}
		searcher, ok := typ.Handler.(scim.ResourceSearcher)
		if !ok {
			return errorf(http.StatusNotImplemented, "", "search is not supported for %s", typ.Endpoint)
		}
		page, herr := searcher.Search(r, sp)
		if herr != nil {
			return fail(herr)
		}
		return s.writeList(w, typ, page, sp.StartIndex)
	}

	id, uerr := url.PathUnescape(strings.TrimPrefix(sub, typ.Endpoint+"/"))
	if uerr != nil {
		return errorf(http.StatusNotFound, "", "no such endpoint %q", sub)
	}
	switch method {
	case http.MethodGet:
		res, herr := typ.Handler.Get(r, id)
		if herr != nil {
			return fail(herr)
		}
		return s.writeResource(w, http.StatusOK, typ, res)
	case http.MethodPut:
		attrs, skipped, err := s.resourceBody(body, rt.rs, typ)
		unserved = skipped
		if err != nil {
			return err
		}
		res, herr := typ.Handler.Replace(r, id, attrs)
		if herr != nil {
			return fail(herr)
		}
		reported(id)
		return s.writeResource(w, http.StatusOK, typ, res)
	case http.MethodPatch:
		ops, skipped, err := s.patchBody(body, rt.rs, typ)
		unserved = skipped
		if err != nil {
			return err
		}
		res, herr := typ.Handler.Patch(r, id, ops)
		if herr != nil {
			return fail(herr)
		}
		reported(id)
		if len(res.Attributes) == 0 {
			// 204: a group's full member list is not worth sending
			// back; the new version still is.
			if res.Meta.Version != "" {
				w.Header().Set("ETag", res.Meta.Version)
			}
			w.WriteHeader(http.StatusNoContent)
			return nil
		}
		return s.writeResource(w, http.StatusOK, typ, res)
	default: // DELETE
		if herr := typ.Handler.Delete(r, id); herr != nil {
			return fail(herr)
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

// writeList writes a ListResponse; itemsPerPage is the number of resources
// returned (RFC 7644 §3.4.2).
func (s *server) writeList(w http.ResponseWriter, typ *scim.ResourceType, page scim.Page, startIndex int) *apiError {
	resources := make([]any, 0, len(page.Resources))
	for _, res := range page.Resources {
		resources = append(resources, s.render(typ, res))
	}
	return writeJSON(w, http.StatusOK, map[string]any{
		"schemas":      []string{listMessage},
		"totalResults": page.TotalResults,
		"itemsPerPage": len(resources),
		"startIndex":   startIndex,
		"Resources":    resources,
	})
}

// listParams reads count and startIndex of a GET list (RFC 7644 §3.4.2.4):
// count is clamped to 0…MaxPageSize (default MaxPageSize), startIndex
// below 1 means 1, and values that are not integers are a 400.
func (s *server) listParams(r *http.Request) (scim.ListRequestParams, *apiError) {
	q := r.URL.Query()
	var invalid []string
	num := func(key string, def int) int {
		v := q.Get(key)
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			invalid = append(invalid, key)
		}
		return n
	}
	count := min(max(num("count", maxResults), 0), maxResults)
	start := max(num("startIndex", 1), 1)
	if len(invalid) > 0 {
		return scim.ListRequestParams{}, scimError(scimerrors.ScimErrorBadParams(invalid))
	}
	return scim.ListRequestParams{Count: count, StartIndex: start}, nil
}

// searchParams reads a SearchRequest body (RFC 7644 §3.4.3). The filter
// goes to the request state, where the filter translator reads it.
func (s *server) searchParams(body []byte, st *request) (scim.SearchParams, *apiError) {
	m, err := decodeObject(body)
	if err != nil {
		return scim.SearchParams{}, badRequest(typeInvalidSyntax, "invalid search request body: %s", err)
	}
	for k, v := range m {
		if !strings.EqualFold(k, "filter") {
			continue
		}
		switch f := v.(type) {
		case nil:
		case string:
			if f = strings.TrimSpace(f); f != "" {
				st.filter, st.hasFilter = f, true
			}
		default:
			return scim.SearchParams{}, badRequest(typeInvalidFilter, "filter must be a string")
		}
		delete(m, k) // read above; the struct below cannot hold a non-string
	}
	var sr struct {
		Schemas            []string `json:"schemas"`
		Attributes         []string `json:"attributes"`
		ExcludedAttributes []string `json:"excludedAttributes"`
		SortBy             string   `json:"sortBy"`
		SortOrder          string   `json:"sortOrder"`
		StartIndex         *int     `json:"startIndex"`
		Count              *int     `json:"count"`
	}
	if err := remarshalInto(m, &sr); err != nil {
		return scim.SearchParams{}, errorf(http.StatusBadRequest, "", "Invalid search request body.")
	}
	if len(sr.Schemas) != 1 || sr.Schemas[0] != searchMessage {
		return scim.SearchParams{}, scimError(scimerrors.ScimErrorInvalidValue)
	}
	if sr.SortOrder != "" && sr.SortOrder != "ascending" && sr.SortOrder != "descending" {
		return scim.SearchParams{}, scimError(scimerrors.ScimErrorInvalidValue)
	}
	count, start := maxResults, 1
	if sr.Count != nil {
		count = min(max(*sr.Count, 0), maxResults)
	}
	if sr.StartIndex != nil {
		start = max(*sr.StartIndex, 1)
	}
	return scim.SearchParams{
		Attributes: sr.Attributes, ExcludedAttributes: sr.ExcludedAttributes,
		Count: count, StartIndex: start, Filter: st.filter, SortBy: sr.SortBy, SortOrder: sr.SortOrder,
	}, nil
}

// remarshalInto copies a decoded JSON object into a struct through its
// JSON form (the object came from decodeObject, which keeps numbers as
// json.Number).
func remarshalInto(m map[string]any, v any) error {
	raw, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, v)
}

// maxResults is the largest page, the default count.
const maxResults = 1000

// scimError turns one of elimity's error values into the response.
func scimError(e scimerrors.ScimError) *apiError {
	return &apiError{status: e.Status, scimType: string(e.ScimType), detail: e.Detail}
}

// resourceBody decodes, normalises (see normalize.go) and validates a POST
// or PUT body against the resource type's schemas, as elimity's server
// does: readOnly attributes are dropped, values are type-checked. It also
// returns the URNs of extensions this endpoint does not serve, whose
// attributes are ignored.
func (s *server) resourceBody(body []byte, rs *resourceSchema, typ *scim.ResourceType) (scim.ResourceAttributes, []string, *apiError) {
	m, err := decodeObject(body)
	if err != nil {
		return nil, nil, badRequest(typeInvalidSyntax, "the request body is not valid SCIM JSON: %s", err)
	}
	unserved := unservedExtensions(m, rs)
	if err := prepareResourceMap(m, rs); err != nil {
		return nil, nil, err
	}
	core := withExternalID(typ.Schema)
	attrs, serr := core.Validate(m)
	if serr != nil {
		return nil, nil, scimError(*serr)
	}
	for _, ext := range typ.SchemaExtensions {
		v := m[ext.Schema.ID]
		if v == nil {
			if ext.Required {
				return nil, nil, scimError(scimerrors.ScimErrorInvalidValue)
			}
			continue
		}
		ea, serr := ext.Schema.ValidateExtension(v)
		if serr != nil {
			return nil, nil, scimError(*serr)
		}
		attrs[ext.Schema.ID] = ea
	}
	return attrs, unserved, nil
}

// withExternalID adds the common attribute externalId (RFC 7643 §3.1) to a
// core schema for validation.
func withExternalID(s schema.Schema) schema.Schema {
	attrs := make([]schema.CoreAttribute, len(s.Attributes), len(s.Attributes)+1)
	copy(attrs, s.Attributes)
	s.Attributes = append(attrs, externalIDAttr)
	return s
}

// externalIDAttr is built once: elimity checks the name with a regular
// expression it compiles on every call, which was 2% of a create's CPU.
var externalIDAttr = schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{
	Name: "externalId", CaseExact: true, Mutability: schema.AttributeMutabilityReadWrite(), Uniqueness: schema.AttributeUniquenessNone(),
}))

// patchBody decodes, normalises (see normalize.go) and validates a PatchOp
// body (RFC 7644 §3.5.2): schemas must be exactly PatchOp, there must be
// at least one operation, op is lower-cased, paths are parsed and checked
// against the schemas, values are type-checked, an id key in a path-less
// value is dropped (Okta sends it), remove needs a path. Like resourceBody
// it also returns the URNs of extensions it ignored.
func (s *server) patchBody(body []byte, rs *resourceSchema, typ *scim.ResourceType) ([]scim.PatchOperation, []string, *apiError) {
	m, err := decodeObject(body)
	if err != nil {
		return nil, nil, badRequest(typeInvalidSyntax, "the request body is not valid SCIM JSON: %s", err)
	}
	unserved := unservedExtensions(m, rs)
	if err := preparePatchMap(m, rs); err != nil {
		return nil, nil, err
	}
	var schemas, list []any
	for k, v := range m {
		switch strings.ToLower(k) {
		case "schemas":
			schemas, _ = v.([]any)
		case "operations":
			var ok bool
			if list, ok = v.([]any); !ok {
				return nil, nil, scimError(scimerrors.ScimErrorInvalidSyntax)
			}
		}
	}
	if len(schemas) != 1 || schemas[0] != patchMessage || len(list) == 0 {
		return nil, nil, scimError(scimerrors.ScimErrorInvalidValue)
	}
	if len(list) > MaxPatchOperations {
		return nil, nil, badRequest(typeTooMany, "a PATCH may have at most %d operations; this one has %d", MaxPatchOperations, len(list))
	}
	if n := patchValueCount(list); n > MaxPatchValues {
		return nil, nil, badRequest(typeTooMany, "a PATCH may carry at most %d values (members, emails, ...); this one has %d", MaxPatchValues, n)
	}
	v := patchValidator{core: withExternalID(typ.Schema), schemas: map[string]schema.Schema{}, valid: &s.validPaths, endpoint: typ.Endpoint}
	for _, e := range typ.SchemaExtensions {
		v.exts = append(v.exts, e.Schema)
		v.schemas[e.Schema.ID] = e.Schema
	}
	v.schemas[v.core.ID] = v.core
	ops := make([]scim.PatchOperation, 0, len(list))
	for _, e := range list {
		op, err := v.operation(e)
		if err != nil {
			return nil, nil, err
		}
		ops = append(ops, op)
	}
	return ops, unserved, nil
}

// patchValidator checks PATCH operations against a resource type's
// schemas the way elimity's server does (its validator is internal).
type patchValidator struct {
	core    schema.Schema
	exts    []schema.Schema
	schemas map[string]schema.Schema
	// valid caches the paths that passed validation, by endpoint and text
	// (the schemas of an endpoint do not change).
	valid    *pathCache
	endpoint string
}

func (v patchValidator) operation(e any) (scim.PatchOperation, *apiError) {
	om, ok := e.(map[string]any)
	if !ok {
		return scim.PatchOperation{}, scimError(scimerrors.ScimErrorInvalidPath)
	}
	var op, path string
	var value any
	for k, x := range om {
		switch strings.ToLower(k) {
		case "op":
			s, ok := x.(string)
			if !ok {
				return scim.PatchOperation{}, scimError(scimerrors.ScimErrorInvalidPath)
			}
			op = strings.ToLower(s)
		case "path":
			s, ok := x.(string)
			if !ok {
				return scim.PatchOperation{}, scimError(scimerrors.ScimErrorInvalidPath)
			}
			path = s
		case "value":
			value = x
		}
	}
	if vm, ok := value.(map[string]any); ok {
		for k := range vm {
			if strings.EqualFold(k, "id") {
				delete(vm, k)
			}
		}
	}
	var p *filter.Path
	if path != "" {
		pp, ok := v.valid.get(v.endpoint + "\x00" + path)
		if !ok {
			pv, err := scimfilter.NewPathValidator(path, v.core, v.exts...)
			if err != nil {
				return scim.PatchOperation{}, scimError(scimerrors.ScimErrorInvalidPath)
			}
			if err := pv.Validate(); err != nil {
				return scim.PatchOperation{}, scimError(scimerrors.ScimErrorInvalidPath)
			}
			pp = pv.Path()
			v.valid.put(v.endpoint+"\x00"+path, pp)
		}
		p = &pp
	}
	var out any
	var err error
	switch op {
	case "add", "replace":
		out, err = v.update(v.core, p, value)
	case "remove":
		out, err = v.remove(p, value)
	default:
		err = errInvalidOp
	}
	if err != nil {
		return scim.PatchOperation{}, asScimError(err, scimerrors.ScimErrorInvalidValue)
	}
	return scim.PatchOperation{Op: op, Path: p, Value: out}, nil
}

// errInvalidOp stands for the plain errors of elimity's validator, which
// its server answers as invalidValue.
var errInvalidOp = errors.New("invalid operation")

// asScimError is the response for a validation error: elimity's own error
// when it is one, else def.
func asScimError(err error, def scimerrors.ScimError) *apiError {
	var se *scimerrors.ScimError
	if errors.As(err, &se) {
		return scimError(*se)
	}
	var sv scimerrors.ScimError
	if errors.As(err, &sv) {
		return scimError(sv)
	}
	return scimError(def)
}

// attribute finds the attribute a path names (with its sub-attribute).
func (v patchValidator) attribute(s schema.Schema, ap filter.AttributePath) (*schema.CoreAttribute, error) {
	if uri := ap.URI(); uri != "" {
		var ok bool
		if s, ok = v.schemas[uri]; !ok {
			return nil, errInvalidOp
		}
	}
	var ref *schema.CoreAttribute
	for _, a := range s.Attributes {
		if strings.EqualFold(a.Name(), ap.AttributeName) {
			ref = &a
			break
		}
	}
	if ref == nil {
		return nil, errInvalidOp
	}
	if sub := ap.SubAttributeName(); sub != "" {
		return subAttribute(ref, sub)
	}
	return ref, nil
}

func subAttribute(ref *schema.CoreAttribute, name string) (*schema.CoreAttribute, error) {
	if !ref.HasSubAttributes() {
		return nil, errInvalidOp
	}
	for _, a := range ref.SubAttributes() {
		if strings.EqualFold(a.Name(), name) {
			return &a, nil
		}
	}
	return nil, errInvalidOp
}

// values type-checks a value for attribute a: a list for a multi-valued
// attribute (a single value becomes a one-element list unless a value
// filter selects one element).
func values(a *schema.CoreAttribute, value any, filtered bool) (any, error) {
	if !a.MultiValued() {
		out, serr := a.ValidateSingular(value)
		if serr != nil {
			return nil, serr
		}
		return out, nil
	}
	if list, ok := value.([]any); ok {
		var out []any
		for _, e := range list {
			x, serr := a.ValidateSingular(e)
			if serr != nil {
				return nil, serr
			}
			out = append(out, x)
		}
		return out, nil
	}
	x, serr := a.ValidateSingular(value)
	if serr != nil {
		return nil, serr
	}
	if filtered {
		return x, nil
	}
	return []any{x}, nil
}

func (v patchValidator) update(s schema.Schema, p *filter.Path, value any) (any, error) {
	if value == nil {
		return nil, errInvalidOp
	}
	if p == nil {
		attrs, ok := value.(map[string]any)
		if !ok {
			return nil, errInvalidOp
		}
		out := map[string]any{}
		for k, x := range attrs {
			if ext, ok := v.schemas[k]; ok && ext.ID != v.core.ID {
				inner, ok := x.(map[string]any)
				if !ok {
					return nil, errInvalidOp
				}
				ev, err := v.update(ext, nil, inner)
				if err != nil {
					return nil, err
				}
				out[k] = ev
				continue
			}
			kp, err := parsePath(k)
			if err != nil {
				return nil, errInvalidOp
			}
			kv, err := v.update(s, &kp, x)
			if err != nil {
				return nil, err
			}
			out[k] = kv
		}
		return out, nil
	}
	ref, err := v.attribute(s, p.AttributePath)
	if err != nil {
		return nil, err
	}
	if p.ValueExpression != nil {
		if err := scimfilter.NewFilterValidator(p.ValueExpression, schema.Schema{Attributes: ref.SubAttributes()}).Validate(); err != nil {
			return nil, err
		}
	}
	if sub := p.SubAttributeName(); sub != "" {
		if ref, err = subAttribute(ref, sub); err != nil {
			return nil, err
		}
	}
	return values(ref, value, p.ValueExpression != nil)
}

func (v patchValidator) remove(p *filter.Path, value any) (any, error) {
	if p == nil {
		return nil, scimerrors.ScimErrorNoTarget
	}
	ref, err := v.attribute(v.core, p.AttributePath)
	if err != nil {
		return nil, err
	}
	if p.ValueExpression != nil {
		if err := scimfilter.NewFilterValidator(p.ValueExpression, schema.Schema{Attributes: scimfilter.MultiValuedFilterAttributes(*ref)}).Validate(); err != nil {
			return nil, err
		}
	}
	if sub := p.SubAttributeName(); sub != "" {
		if ref, err = subAttribute(ref, sub); err != nil {
			return nil, err
		}
	}
	if value == nil {
		return nil, nil
	}
	return values(ref, value, false)
}

// patchValueCount counts the values a PATCH's operations carry: each
// element of an array value, and each array inside a value object (a
// replace of the whole resource), else 1.
func patchValueCount(ops []any) int {
	n := 0
	for _, e := range ops {
		op, _ := e.(map[string]any)
		for k, v := range op {
			if !strings.EqualFold(k, "value") {
				continue
			}
			switch v := v.(type) {
			case []any:
				n += len(v)
			case map[string]any:
				n++
				for _, inner := range v {
					if list, ok := inner.([]any); ok {
						n += len(list)
					}
				}
			default:
				n++
			}
		}
	}
	return n
}
