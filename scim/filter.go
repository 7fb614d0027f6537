package scim

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/scim2/filter-parser/v2"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// Limits of filters.
const (
	// maxFilterBytes bounds a filter's length; a longer one is 400 tooMany.
	maxFilterBytes = 64 << 10
	// maxFilterDepth bounds nesting of and/or/not and parentheses.
	maxFilterDepth = 32
)

// attrKey names a (sub-)attribute independent of spelling: the lower-cased
// schema URN, attribute and sub-attribute.
func attrKey(urn, name, sub string) string {
	k := strings.ToLower(urn) + ":" + strings.ToLower(name)
	if sub != "" {
		k += "." + strings.ToLower(sub)
	}
	return k
}

// filterable maps the attributes a filter may use to the library's. Multi-
// valued complex attributes compare their value sub-attribute when none is
// named (emails eq "x" is emails.value eq "x").
var (
	userFilterAttrs = map[string]pbxusers.Attr{
		attrKey(UserSchema, "id", ""):                 pbxusers.AttrID,
		attrKey(UserSchema, "externalId", ""):         pbxusers.AttrExternalID,
		attrKey(UserSchema, "meta", "created"):        pbxusers.AttrCreated,
		attrKey(UserSchema, "meta", "lastModified"):   pbxusers.AttrLastModified,
		attrKey(UserSchema, "userName", ""):           pbxusers.AttrUserName,
		attrKey(UserSchema, "displayName", ""):        pbxusers.AttrDisplayName,
		attrKey(UserSchema, "name", "givenName"):      pbxusers.AttrGivenName,
		attrKey(UserSchema, "name", "familyName"):     pbxusers.AttrFamilyName,
		attrKey(UserSchema, "emails", ""):             pbxusers.AttrEmail,
		attrKey(UserSchema, "emails", "value"):        pbxusers.AttrEmail,
		attrKey(UserSchema, "emails", "type"):         pbxusers.AttrEmailType,
		attrKey(UserSchema, "emails", "primary"):      pbxusers.AttrEmailPrimary,
		attrKey(UserSchema, "active", ""):             pbxusers.AttrActive,
		attrKey(UserSchema, "groups", ""):             pbxusers.AttrMember,
		attrKey(UserSchema, "groups", "value"):        pbxusers.AttrMember,
		attrKey(UserExtensionSchema, "extension", ""): pbxusers.AttrExtension,
		attrKey(UserExtensionSchema, "location", ""):  pbxusers.AttrLocation,
		attrKey(UserExtensionSchema, "kind", ""):      pbxusers.AttrKind,
		attrKey(UserExtensionSchema, "source", ""):    pbxusers.AttrSource,
	}
	groupFilterAttrs = map[string]pbxusers.Attr{
		attrKey(GroupSchema, "id", ""):               pbxusers.AttrID,
		attrKey(GroupSchema, "externalId", ""):       pbxusers.AttrExternalID,
		attrKey(GroupSchema, "meta", "created"):      pbxusers.AttrCreated,
		attrKey(GroupSchema, "meta", "lastModified"): pbxusers.AttrLastModified,
		attrKey(GroupSchema, "displayName", ""):      pbxusers.AttrDisplayName,
		attrKey(GroupSchema, "members", ""):          pbxusers.AttrMember,
		attrKey(GroupSchema, "members", "value"):     pbxusers.AttrMember,
	}
)

// sortable maps sortBy attributes to the library's.
var (
	userSortAttrs = map[string]pbxusers.Attr{
		attrKey(UserSchema, "id", ""):                 pbxusers.AttrID,
		attrKey(UserSchema, "externalId", ""):         pbxusers.AttrExternalID,
		attrKey(UserSchema, "meta", "created"):        pbxusers.AttrCreated,
		attrKey(UserSchema, "meta", "lastModified"):   pbxusers.AttrLastModified,
		attrKey(UserSchema, "userName", ""):           pbxusers.AttrUserName,
		attrKey(UserSchema, "displayName", ""):        pbxusers.AttrDisplayName,
		attrKey(UserSchema, "name", "givenName"):      pbxusers.AttrGivenName,
		attrKey(UserSchema, "name", "familyName"):     pbxusers.AttrFamilyName,
		attrKey(UserExtensionSchema, "extension", ""): pbxusers.AttrExtension,
		attrKey(UserExtensionSchema, "location", ""):  pbxusers.AttrLocation,
	}
	groupSortAttrs = map[string]pbxusers.Attr{
		attrKey(GroupSchema, "id", ""):               pbxusers.AttrID,
		attrKey(GroupSchema, "externalId", ""):       pbxusers.AttrExternalID,
		attrKey(GroupSchema, "meta", "created"):      pbxusers.AttrCreated,
		attrKey(GroupSchema, "meta", "lastModified"): pbxusers.AttrLastModified,
		attrKey(GroupSchema, "displayName", ""):      pbxusers.AttrDisplayName,
	}
)

// filterSet is what a resource type can filter on.
type filterSet struct {
	rs    *resourceSchema
	attrs map[string]pbxusers.Attr
	// member is the multi-valued attribute whose value is a membership
	// (groups for users, members for groups).
	member string
}

var (
	userFilters  = filterSet{rs: usersSchema, attrs: userFilterAttrs, member: "groups"}
	groupFilters = filterSet{rs: groupsSchema, attrs: groupFilterAttrs, member: "members"}
)

// parseFilter parses a SCIM filter (RFC 7644 §3.4.2.2) and translates it to
// a library filter that the store runs in SQL. Any problem is a 400
// invalidFilter (or tooMany for a filter too long to consider).
func parseFilter(raw string, fs filterSet) (pbxusers.Filter, *apiError) {
	if len(raw) > maxFilterBytes {
		return nil, badRequest(typeTooMany, "the filter is longer than %d bytes", maxFilterBytes)
	}
	expr, err := parseFilterExpr(raw)
	if err != nil {
		return nil, badRequest(typeInvalidFilter, "cannot parse the filter %q: %v", raw, err)
	}
	t := translator{fs: fs}
	f, err := t.expr(expr, 0)
	if err != nil {
		return nil, badRequest(typeInvalidFilter, "%v", err)
	}
	if fs.rs == usersSchema {
		err = pbxusers.ValidateUserFilter(f)
	} else {
		err = pbxusers.ValidateTeamFilter(f)
	}
	if err != nil {
		var ve *pbxusers.ValidationError
		if errors.As(err, &ve) {
			return nil, badRequest(typeInvalidFilter, "%s", describeValidation(ve))
		}
		return nil, badRequest(typeInvalidFilter, "%v", err)
	}
	return f, nil
}

type translator struct {
	fs filterSet
}

func (t *translator) expr(e filter.Expression, depth int) (pbxusers.Filter, error) {
	if depth > maxFilterDepth {
		return nil, fmt.Errorf("the filter is nested more than %d levels deep", maxFilterDepth)
	}
	switch e := e.(type) {
	case *filter.AttributeExpression:
		return t.compare(e, "")
	case *filter.LogicalExpression:
		l, err := t.expr(e.Left, depth+1)
		if err != nil {
			return nil, err
		}
		r, err := t.expr(e.Right, depth+1)
		if err != nil {
			return nil, err
		}
		if strings.EqualFold(string(e.Operator), "or") {
			return flattenOr(l, r), nil
		}
		return flattenAnd(l, r), nil
	case *filter.NotExpression:
		inner, err := t.expr(e.Expression, depth+1)
		if err != nil {
			return nil, err
		}
		return pbxusers.Not{Filter: inner}, nil
	case *filter.ValuePath:
		return t.valuePath(e, depth+1)
	}
	return nil, fmt.Errorf("unsupported filter expression %T", e)
}

func flattenAnd(l, r pbxusers.Filter) pbxusers.Filter {
	var out pbxusers.And
	for _, f := range []pbxusers.Filter{l, r} {
		if a, ok := f.(pbxusers.And); ok {
			out = append(out, a...)
		} else {
			out = append(out, f)
		}
	}
	return out
}

func flattenOr(l, r pbxusers.Filter) pbxusers.Filter {
	var out pbxusers.Or
	for _, f := range []pbxusers.Filter{l, r} {
		if o, ok := f.(pbxusers.Or); ok {
			out = append(out, o...)
		} else {
			out = append(out, f)
		}
	}
	return out
}

// resolve finds the attribute a path names: its canonical schema URN, name
// and sub-attribute, checking them against the resource's schemas. parent
// is set inside a value path (emails[type eq "work"]).
func (t *translator) resolve(p filter.AttributePath, parent string) (urn, name, sub string, err error) {
	rs := t.fs.rs
	name, sub = p.AttributeName, p.SubAttributeName()
	if u := p.URI(); u != "" {
		if urn = rs.schemaURN(u); urn == "" {
			return "", "", "", fmt.Errorf("unknown schema %q in attribute %q", u, p.String())
		}
	} else {
		urn = rs.core
	}
	if parent != "" {
		// Inside parent[...], names are parent's sub-attributes.
		if sub != "" || p.URI() != "" {
			return "", "", "", fmt.Errorf("%q cannot be used inside %s[...]", p.String(), parent)
		}
		return rs.core, parent, name, nil
	}
	switch strings.ToLower(name) {
	case "id", "externalid":
		if urn != rs.core || sub != "" {
			return "", "", "", fmt.Errorf("unknown attribute %q", p.String())
		}
		return urn, name, "", nil
	case "meta":
		if urn != rs.core {
			return "", "", "", fmt.Errorf("unknown attribute %q", p.String())
		}
		return urn, name, sub, nil
	}
	d := rs.lookup(urn, name)
	if d == nil {
		return "", "", "", fmt.Errorf("unknown attribute %q", p.String())
	}
	if sub != "" && d.sub(sub) == nil {
		return "", "", "", fmt.Errorf("unknown attribute %q", p.String())
	}
	return urn, d.name, sub, nil
}

func (t *translator) attr(p filter.AttributePath, parent string) (pbxusers.Attr, error) {
	urn, name, sub, err := t.resolve(p, parent)
	if err != nil {
		return "", err
	}
	a, ok := t.fs.attrs[attrKey(urn, name, sub)]
	if !ok {
		n := name
		if sub != "" {
			n += "." + sub
		}
		return "", fmt.Errorf("filtering on %q is not supported", n)
	}
	return a, nil
}

func (t *translator) compare(e *filter.AttributeExpression, parent string) (pbxusers.Filter, error) {
	a, err := t.attr(e.AttributePath, parent)
	if err != nil {
		return nil, err
	}
	op := pbxusers.Op(strings.ToLower(string(e.Operator)))
	c := &pbxusers.Compare{Attr: a, Op: op}
	if op == pbxusers.OpPresent {
		return c, nil
	}
	v, err := compareValue(a, e.CompareValue)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", e.AttributePath.String(), op, err)
	}
	c.Value = v
	return c, nil
}

// compareValue converts a parsed comparison value to the type the library
// compares the attribute with.
func compareValue(a pbxusers.Attr, v any) (any, error) {
	switch pbxusers.TypeOf(a) {
	case pbxusers.TypeBool:
		b, ok := v.(bool)
		if !ok {
			return nil, fmt.Errorf("compares with true or false, not %s", describeValue(v))
		}
		return b, nil
	case pbxusers.TypeTime:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("compares with a date-time string, not %s", describeValue(v))
		}
		s, err := unescape(s)
		if err != nil {
			return nil, err
		}
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nil, fmt.Errorf("%q is not an RFC 3339 date-time", s)
		}
		return tm.UTC(), nil
	}
	s, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("compares with a string, not %s", describeValue(v))
	}
	return unescape(s)
}

// unescape decodes the JSON escapes the parser leaves in string values.
func unescape(s string) (string, error) {
	if !strings.ContainsRune(s, '\\') {
		return s, nil
	}
	var out string
	if err := json.Unmarshal([]byte(`"`+s+`"`), &out); err != nil {
		return "", fmt.Errorf("bad escape in string %q", s)
	}
	return out, nil
}

func describeValue(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case string:
		return "a string"
	}
	return "a number"
}

// valuePath translates attr[filter]: one element of attr satisfies filter.
func (t *translator) valuePath(e *filter.ValuePath, depth int) (pbxusers.Filter, error) {
	urn, name, sub, err := t.resolve(e.AttributePath, "")
	if err != nil {
		return nil, err
	}
	if sub != "" {
		return nil, fmt.Errorf("%q cannot have a value filter", e.AttributePath.String())
	}
	key := strings.ToLower(name)
	switch {
	case urn == UserSchema && key == "emails" && t.fs.rs == usersSchema:
		inner, err := t.inner(e.ValueFilter, "emails", depth)
		if err != nil {
			return nil, err
		}
		return &pbxusers.EmailMatch{Filter: inner}, nil
	case strings.EqualFold(name, t.fs.member) && urn == t.fs.rs.core:
		// One membership row has only a value, so an element satisfies
		// value op x or value op y exactly when the resource has a
		// member satisfying either; and/not have no such reading.
		return t.members(e.ValueFilter, name, depth)
	case urn == UserSchema && key == "name":
		return t.inner(e.ValueFilter, "", depth)
	}
	return nil, fmt.Errorf("value filters on %q are not supported", name)
}

// inner translates the filter inside parent[...]. With parent "", the
// names are read as sub-attributes of name (name[givenName eq "x"]).
func (t *translator) inner(e filter.Expression, parent string, depth int) (pbxusers.Filter, error) {
	if depth > maxFilterDepth {
		return nil, fmt.Errorf("the filter is nested more than %d levels deep", maxFilterDepth)
	}
	switch e := e.(type) {
	case *filter.AttributeExpression:
		if parent == "" {
			p := e.AttributePath
			n := p.AttributeName
			p.AttributeName, p.SubAttribute = "name", &n
			if e.AttributePath.SubAttribute != nil || e.AttributePath.URIPrefix != nil {
				return nil, fmt.Errorf("%q cannot be used inside name[...]", e.AttributePath.String())
			}
			return t.compare(&filter.AttributeExpression{AttributePath: p, Operator: e.Operator, CompareValue: e.CompareValue}, "")
		}
		return t.compare(e, parent)
	case *filter.LogicalExpression:
		l, err := t.inner(e.Left, parent, depth+1)
		if err != nil {
			return nil, err
		}
		r, err := t.inner(e.Right, parent, depth+1)
		if err != nil {
			return nil, err
		}
		if strings.EqualFold(string(e.Operator), "or") {
			return flattenOr(l, r), nil
		}
		return flattenAnd(l, r), nil
	case *filter.NotExpression:
		f, err := t.inner(e.Expression, parent, depth+1)
		if err != nil {
			return nil, err
		}
		return pbxusers.Not{Filter: f}, nil
	}
	return nil, fmt.Errorf("nested value filters are not supported")
}

func (t *translator) members(e filter.Expression, parent string, depth int) (pbxusers.Filter, error) {
	if depth > maxFilterDepth {
		return nil, fmt.Errorf("the filter is nested more than %d levels deep", maxFilterDepth)
	}
	switch e := e.(type) {
	case *filter.AttributeExpression:
		if !strings.EqualFold(e.AttributePath.AttributeName, "value") || e.AttributePath.SubAttribute != nil || e.AttributePath.URIPrefix != nil {
			return nil, fmt.Errorf("only value can be compared inside %s[...]", parent)
		}
		return t.compare(e, parent)
	case *filter.LogicalExpression:
		if !strings.EqualFold(string(e.Operator), "or") {
			return nil, fmt.Errorf("inside %s[...] comparisons can only be combined with or", parent)
		}
		l, err := t.members(e.Left, parent, depth+1)
		if err != nil {
			return nil, err
		}
		r, err := t.members(e.Right, parent, depth+1)
		if err != nil {
			return nil, err
		}
		return flattenOr(l, r), nil
	}
	return nil, fmt.Errorf("inside %s[...] only comparisons of value combined with or are supported", parent)
}

// sortAttr translates sortBy for the resource; "" sorts by id.
func sortAttr(raw string, fs filterSet) (pbxusers.Attr, *apiError) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", nil
	}
	p, err := filter.ParseAttrPath([]byte(raw))
	if err != nil {
		return "", badRequest(typeInvalidValue, "sortBy %q is not an attribute path", raw)
	}
	t := translator{fs: fs}
	urn, name, sub, err := t.resolve(p, "")
	if err != nil {
		return "", badRequest(typeInvalidValue, "sortBy: %v", err)
	}
	m := userSortAttrs
	if fs.rs == groupsSchema {
		m = groupSortAttrs
	}
	a, ok := m[attrKey(urn, name, sub)]
	if !ok {
		return "", badRequest(typeInvalidValue, "cannot sort by %q", raw)
	}
	return a, nil
}
