package scim

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/elimity-com/scim"
	"github.com/elimity-com/scim/optional"
	"github.com/scim2/filter-parser/v2"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// projection is what the attributes and excludedAttributes parameters ask
// for (RFC 7644 §3.4.2.5, §3.9). id, schemas and meta are always returned.
type projection struct {
	rs *resourceSchema
	// include, when not nil, lists what to return instead of the default.
	include map[string]map[string]bool // attrKey(urn, name, "") → sub-attributes ("" = the whole attribute)
	exclude map[string]map[string]bool
	// externalID says whether externalId is returned.
	externalID bool
}

// newProjection reads attribute names; names of unknown attributes are
// ignored.
func newProjection(rs *resourceSchema, attributes, excluded []string) projection {
	p := projection{rs: rs, externalID: true}
	parse := func(names []string) (map[string]map[string]bool, bool) {
		out := map[string]map[string]bool{}
		extID := false
		add := func(urn, name, sub string) {
			k := attrKey(urn, name, "")
			if out[k] == nil {
				out[k] = map[string]bool{}
			}
			out[k][strings.ToLower(sub)] = true
		}
		for _, n := range names {
			n = strings.TrimSpace(n)
			if n == "" {
				continue
			}
			if urn := rs.schemaURN(n); urn != "" {
				for _, d := range rs.order[strings.ToLower(urn)] {
					add(urn, d.name, "")
				}
				continue
			}
			urn, rest := rs.splitURNKey(n)
			ap, err := filter.ParseAttrPath([]byte(rest))
			if err != nil || ap.URIPrefix != nil {
				continue
			}
			if urn == "" {
				urn = rs.core
			}
			if strings.EqualFold(ap.AttributeName, "externalId") && urn == rs.core {
				extID = true
				continue
			}
			d := rs.lookup(urn, ap.AttributeName)
			if d == nil {
				continue
			}
			sub := ap.SubAttributeName()
			if sub != "" && d.sub(sub) == nil {
				continue
			}
			add(urn, d.name, sub)
		}
		return out, extID
	}
	if len(attributes) > 0 {
		p.include, p.externalID = parse(attributes)
		return p
	}
	if len(excluded) > 0 {
		var extID bool
		p.exclude, extID = parse(excluded)
		p.externalID = !extID
	}
	return p
}

// projectionFromQuery reads the parameters of a GET, POST, PUT or PATCH.
func projectionFromQuery(rs *resourceSchema, r *http.Request) projection {
	q := r.URL.Query()
	return newProjection(rs, splitList(q.Get("attributes")), splitList(q.Get("excludedAttributes")))
}

func splitList(s string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// returns reports whether any part of the attribute is returned, so
// handlers can skip loading it (a group's members, a user's groups).
func (p projection) returns(urn, name string) bool {
	k := attrKey(urn, name, "")
	if p.include != nil {
		return p.include[k] != nil
	}
	if subs := p.exclude[k]; subs != nil && subs[""] {
		return false
	}
	return true
}

// apply trims a resource's attribute map in place.
func (p projection) apply(m map[string]any) {
	if p.include == nil && len(p.exclude) == 0 {
		return
	}
	for _, urn := range append([]string{p.rs.core}, p.rs.exts...) {
		c := m
		if urn != p.rs.core {
			c, _ = m[urn].(map[string]any)
			if c == nil {
				continue
			}
		}
		for _, d := range p.rs.order[strings.ToLower(urn)] {
			v, ok := c[d.name]
			if !ok {
				continue
			}
			k := attrKey(urn, d.name, "")
			var subs map[string]bool
			keep := true
			if p.include != nil {
				subs = p.include[k]
				keep = subs != nil
				if keep && subs[""] {
					subs = nil // the whole attribute
				}
			} else if subs = p.exclude[k]; subs != nil {
				keep = !subs[""]
			}
			switch {
			case !keep:
				delete(c, d.name)
			case subs != nil:
				c[d.name] = trimSubs(v, subs, p.include != nil)
				if isEmpty(c[d.name]) {
					delete(c, d.name)
				}
			}
		}
		if urn != p.rs.core && len(c) == 0 {
			delete(m, urn)
		}
	}
}

// trimSubs keeps (include) or drops (!include) the listed sub-attributes of
// a complex value or of every element of a multi-valued one.
func trimSubs(v any, subs map[string]bool, include bool) any {
	trim := func(m map[string]any) map[string]any {
		out := map[string]any{}
		for k, x := range m {
			if subs[strings.ToLower(k)] == include {
				out[k] = x
			}
		}
		return out
	}
	switch x := v.(type) {
	case map[string]any:
		return trim(x)
	case []any:
		out := make([]any, 0, len(x))
		for _, e := range x {
			if em, ok := e.(map[string]any); ok {
				if t := trim(em); len(t) > 0 {
					out = append(out, t)
				}
			}
		}
		return out
	}
	return v
}

// etag is the weak entity tag of a library version (RFC 7644 §3.14).
func etag(version int64) string { return `W/"` + strconv.FormatInt(version, 10) + `"` }

// etagMatches reports whether an If-Match or If-None-Match header value
// names the version. Tags compare weakly (W/ ignored), as RFC 7644 §3.14's
// examples send weak tags in If-Match.
func etagMatches(header string, version int64) bool {
	want := strconv.FormatInt(version, 10)
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" {
			return true
		}
		t = strings.TrimPrefix(t, "W/")
		t = strings.TrimPrefix(t, "w/")
		if strings.Trim(t, `"`) == want {
			return true
		}
	}
	return false
}

// checkIfMatch fails with 412 when If-Match names another version.
func checkIfMatch(r *http.Request, version int64) error {
	h := r.Header.Get("If-Match")
	if h == "" || etagMatches(h, version) {
		return nil
	}
	return &apiError{status: http.StatusPreconditionFailed, detail: "If-Match " + h + " does not match the current version " + etag(version), etag: etag(version)}
}

// checkIfNoneMatch answers 304 when If-None-Match names the version.
func checkIfNoneMatch(r *http.Request, version int64) error {
	h := r.Header.Get("If-None-Match")
	if h == "" || !etagMatches(h, version) {
		return nil
	}
	return &apiError{status: http.StatusNotModified, noBody: true, etag: etag(version)}
}

// listParams are the parameters of a list or search request.
type listParams struct {
	startIndex, count int
	sortBy, sortOrder string
	proj              projection
}

func getParams(rs *resourceSchema, r *http.Request, p scim.ListRequestParams) listParams {
	q := r.URL.Query()
	return listParams{
		startIndex: p.StartIndex, count: p.Count,
		sortBy: q.Get("sortBy"), sortOrder: q.Get("sortOrder"),
		proj: projectionFromQuery(rs, r),
	}
}

func searchParams(rs *resourceSchema, p scim.SearchParams) listParams {
	return listParams{
		startIndex: p.StartIndex, count: p.Count, sortBy: p.SortBy, sortOrder: p.SortOrder,
		proj: newProjection(rs, p.Attributes, p.ExcludedAttributes),
	}
}

// descending reads sortOrder (RFC 7644 §3.4.2.3: ascending by default).
func (lp listParams) descending() (bool, error) {
	switch strings.ToLower(strings.TrimSpace(lp.sortOrder)) {
	case "", "ascending":
		return false, nil
	case "descending":
		return true, nil
	}
	return false, badRequest(typeInvalidValue, "sortOrder must be ascending or descending, not %q", lp.sortOrder)
}

// offsetLimit turns startIndex and count into the library's paging: a
// count of 0 asks for the total only.
func (lp listParams) offsetLimit() (offset, limit int) {
	offset = max(lp.startIndex, 1) - 1
	limit = min(lp.count, pbxusers.MaxPageSize)
	if limit <= 0 {
		limit = -1
	}
	return offset, limit
}

func externalID(id string, p projection) optional.String {
	if id == "" || !p.externalID {
		return optional.String{}
	}
	return optional.NewString(id)
}

// listQuery is what a listing of users or groups asks of the library.
type listQuery struct {
	filter        pbxusers.Filter
	sortBy        pbxusers.Attr
	desc          bool
	offset, limit int
}

// query turns a request's filter (taken out of the request by the
// middleware), sortBy, sortOrder, startIndex and count into a listQuery
// against the attributes of fs.
func (lp listParams) query(st *request, fs filterSet) (listQuery, error) {
	var q listQuery
	if st.hasFilter {
		f, err := parseFilter(st.filter, fs)
		if err != nil {
			return q, err
		}
		q.filter = f
	}
	sortBy, aerr := sortAttr(lp.sortBy, fs)
	if aerr != nil {
		return q, aerr
	}
	desc, err := lp.descending()
	if err != nil {
		return q, err
	}
	q.sortBy, q.desc = sortBy, desc
	q.offset, q.limit = lp.offsetLimit()
	return q, nil
}
