package scim

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/scim2/filter-parser/v2"
)

// This file rewrites requests before elimity parses them, per request and
// never through elimity's process-global schema.SetAllowStringValues:
//
//   - Entra ID without aadOptscim062020 sends booleans as strings ("False").
//   - Entra ID sends the enterprise manager as a plain id string (and in
//     one documented sample as a one-element list under the path
//     "manager"); elimity wants {"value": id}.
//   - Entra ID's gallery validator replaces attributes with null; RFC 7644
//     has remove for that, elimity rejects the null.
//   - Attributes of extensions we do not serve (Okta's urn:okta:...) and
//     RFC 7643 User attributes we do not store (addresses, roles, ...) are
//     ignored, as elimity already does for POST and PUT bodies.
//   - The filter is taken out of the query (GET) or the search body (POST
//     .search) and parsed by this package (see filter.go): elimity rejects
//     emails[type eq "work"].value eq "x" (its issue #150) and validates
//     .search filters without the common attributes (id, externalId, meta).

// extractFilter moves the filter query parameter into the request state.
func extractFilter(r *http.Request, st *request) {
	q := r.URL.Query()
	if !q.Has("filter") {
		return
	}
	if f := strings.TrimSpace(q.Get("filter")); f != "" {
		st.filter, st.hasFilter = f, true
	}
	q.Del("filter")
	r.URL.RawQuery = q.Encode()
}

// extractSearchFilter moves the filter member of a SearchRequest body into
// the request state.
func extractSearchFilter(body []byte, st *request) ([]byte, *apiError) {
	m, ok := decodeObject(body)
	if !ok {
		return body, nil // elimity answers invalid JSON
	}
	found := false
	for k, v := range m {
		if !strings.EqualFold(k, "filter") {
			continue
		}
		delete(m, k)
		found = true
		switch f := v.(type) {
		case nil:
		case string:
			if f = strings.TrimSpace(f); f != "" {
				st.filter, st.hasFilter = f, true
			}
		default:
			return nil, badRequest(typeInvalidFilter, "filter must be a string")
		}
	}
	if !found {
		return body, nil
	}
	return encodeObject(m, body), nil
}

func decodeObject(body []byte) (map[string]any, bool) {
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil || m == nil || d.More() {
		return nil, false
	}
	return m, true
}

func encodeObject(m map[string]any, fallback []byte) []byte {
	out, err := json.Marshal(m)
	if err != nil {
		return fallback
	}
	return out
}

// normalizeResource fixes string booleans and Entra's manager string in a
// POST or PUT body.
func normalizeResource(body []byte, rs *resourceSchema) []byte {
	m, ok := decodeObject(body)
	if !ok {
		return body
	}
	for k, v := range m {
		if urn := rs.schemaURN(k); urn != "" && urn != rs.core {
			ext, ok := v.(map[string]any)
			if !ok {
				continue
			}
			for ek, ev := range ext {
				if d := rs.lookup(urn, ek); d != nil {
					ext[ek] = coerce(d, ev)
				}
			}
			continue
		}
		if d := rs.lookup("", k); d != nil {
			m[k] = coerce(d, v)
		}
	}
	return encodeObject(m, body)
}

// coerce converts an IdP's loosely typed value into the type def declares.
// Values it cannot convert are left for elimity to reject.
func coerce(def *attrDef, v any) any {
	if v == nil || !def.multi {
		return coerceOne(def, v)
	}
	switch x := v.(type) {
	case []any:
		for i := range x {
			x[i] = coerceOne(def, x[i])
		}
		return x
	case string:
		if def.typ == "complex" && def.sub("value") != nil {
			return []any{map[string]any{"value": x}}
		}
	}
	return coerceOne(def, v)
}

func coerceOne(def *attrDef, v any) any {
	switch def.typ {
	case "boolean":
		if s, ok := v.(string); ok {
			if b, err := strconv.ParseBool(strings.ToLower(strings.TrimSpace(s))); err == nil {
				return b
			}
		}
	case "complex":
		switch x := v.(type) {
		case map[string]any:
			for k, sv := range x {
				if sd := def.sub(k); sd != nil {
					x[k] = coerceOne(sd, sv)
				}
			}
		case string:
			if def.sub("value") != nil {
				return map[string]any{"value": x}
			}
		case []any:
			if !def.multi && len(x) == 1 {
				return coerceOne(def, x[0])
			}
		}
	}
	return v
}

// noOp is a PATCH operation that changes nothing; it stands in for an
// operation that only touched ignored attributes, because elimity refuses
// a request without operations.
func noOp() map[string]any { return map[string]any{"op": "add", "value": map[string]any{}} }

// normalizePatch rewrites a PatchOp body (see the file comment).
func normalizePatch(body []byte, rs *resourceSchema) []byte {
	m, ok := decodeObject(body)
	if !ok {
		return body
	}
	var opsKey string
	var ops []any
	for k, v := range m {
		if strings.EqualFold(k, "Operations") {
			list, ok := v.([]any)
			if !ok {
				return body
			}
			opsKey, ops = k, list
		}
	}
	if opsKey == "" {
		return body
	}
	out := make([]any, 0, len(ops))
	for _, o := range ops {
		om, ok := o.(map[string]any)
		if !ok {
			out = append(out, o)
			continue
		}
		out = append(out, normalizeOp(om, rs)...)
	}
	delete(m, opsKey)
	m["Operations"] = out
	return encodeObject(m, body)
}

func normalizeOp(om map[string]any, rs *resourceSchema) []any {
	var op, path string
	var value any
	hasValue, hasPath := false, false
	for k, v := range om {
		switch strings.ToLower(k) {
		case "op":
			s, ok := v.(string)
			if !ok {
				return []any{om}
			}
			op = strings.ToLower(s)
		case "path":
			s, ok := v.(string)
			if !ok {
				return []any{om}
			}
			path, hasPath = strings.TrimSpace(s), true
		case "value":
			value, hasValue = v, true
		}
	}
	build := func(op, path string, value any, withValue bool) map[string]any {
		o := map[string]any{"op": op}
		if path != "" {
			o["path"] = path
		}
		if withValue {
			o["value"] = value
		}
		return o
	}
	if op != "add" && op != "replace" && op != "remove" {
		return []any{om}
	}

	if hasPath && path != "" {
		// A path naming a whole extension: treat its value as the
		// extension's container.
		if urn := rs.schemaURN(path); urn != "" && urn != rs.core {
			if op == "remove" {
				var removes []any
				for _, d := range rs.order[strings.ToLower(urn)] {
					if d.mut != "readOnly" && d.mut != "immutable" {
						removes = append(removes, build("remove", urn+":"+d.name, nil, false))
					}
				}
				if len(removes) == 0 {
					return []any{noOp()}
				}
				return removes
			}
			return normalizeOp(map[string]any{"op": op, "value": map[string]any{urn: value}}, rs)
		}
		newPath, def, drop := resolvePatchPath(rs, path)
		if drop {
			return []any{noOp()}
		}
		if op == "replace" && hasValue && value == nil {
			return []any{build("remove", newPath, nil, false)}
		}
		if l, ok := value.([]any); ok && op == "remove" && len(l) == 0 {
			// Removing no values: elimity would turn the empty list into
			// "no value", which removes the whole attribute.
			return []any{noOp()}
		}
		if hasValue && def != nil {
			value = coerce(def, value)
		}
		return []any{build(op, newPath, value, hasValue)}
	}

	vm, ok := value.(map[string]any)
	if !ok {
		return []any{build(op, "", value, hasValue)}
	}
	// A path-less value: flatten extension containers into URN-prefixed
	// keys, then fix each key like a path.
	flat := map[string]any{}
	for k, v := range vm {
		if urn := rs.schemaURN(k); urn != "" && urn != rs.core {
			inner, ok := v.(map[string]any)
			if !ok {
				flat[k] = v // elimity rejects it
				continue
			}
			for ik, iv := range inner {
				flat[urn+":"+ik] = iv
			}
			continue
		}
		flat[k] = v
	}
	var extra []any
	clean := map[string]any{}
	for k, v := range flat {
		newKey, def, drop := resolvePatchPath(rs, k)
		if drop {
			continue
		}
		if v == nil {
			if op == "replace" {
				extra = append(extra, build("remove", newKey, nil, false))
			}
			continue
		}
		if def != nil {
			v = coerce(def, v)
		}
		clean[newKey] = v
	}
	var outOps []any
	if len(clean) > 0 || len(extra) == 0 {
		outOps = append(outOps, build(op, "", clean, true))
	}
	return append(outOps, extra...)
}

// resolvePatchPath resolves a PATCH path (or a key of a path-less value)
// for normalisation. drop reports a path to ignore: an unknown extension
// or an unsupported core attribute. def is the attribute the value is for,
// shaped as the value must be (an element for a value-filtered path, the
// sub-attribute for a sub-attribute path). Paths that do not parse are
// returned unchanged for elimity to reject.
func resolvePatchPath(rs *resourceSchema, path string) (newPath string, def *attrDef, drop bool) {
	urn, rest := rs.splitURNKey(path)
	if urn == "" && strings.HasPrefix(strings.ToLower(path), "urn:") {
		return path, nil, true // an extension we do not serve
	}
	p, err := filter.ParsePath([]byte(rest))
	if err != nil {
		return path, nil, false
	}
	name := p.AttributePath.AttributeName
	if p.AttributePath.URIPrefix != nil {
		return path, nil, false // a URN we did not recognise; elimity decides
	}
	if urn == "" || urn == rs.core {
		if rs.ignored("", name) {
			return path, nil, true
		}
		if rs.lookup(rs.core, name) == nil {
			// Entra sends "manager" without the enterprise URN.
			for _, ext := range rs.exts {
				if rs.lookup(ext, name) != nil {
					urn = ext
					path = ext + ":" + rest
					break
				}
			}
		}
	}
	d := rs.lookup(urn, name)
	if d == nil {
		return path, nil, false
	}
	if sub := p.AttributePath.SubAttributeName(); sub != "" {
		if sd := d.sub(sub); sd != nil {
			return path, sd, false
		}
		return path, nil, false
	}
	if p.ValueExpression != nil {
		if sub := p.SubAttributeName(); sub != "" {
			return path, d.sub(sub), false
		}
		one := *d
		one.multi = false
		return path, &one, false
	}
	return path, d, false
}
