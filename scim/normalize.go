package scim

import (
	"bytes"
	"encoding/json"
	"errors"
	"sort"
	"strconv"
	"strings"

	"github.com/pbxgate/pbxgate/internal/strictjson"
)

// This file rewrites a decoded request body before it is validated against
// elimity's schemas (resources.go decodes it once and hands the rewritten
// value on; nothing is encoded again), per request and never through
// elimity's process-global schema.SetAllowStringValues:
//
//   - Entra ID without aadOptscim062020 sends booleans as strings ("False").
//   - Entra ID sends the enterprise manager as a plain id string (and in
//     one documented sample as a one-element list under the path
//     "manager"); the schema wants {"value": id}. It also sends extension
//     attributes (department, manager) without their URN.
//   - Entra ID's gallery validator replaces attributes with null; RFC 7644
//     has remove for that, the validator rejects the null.
//   - Attributes of extensions we do not serve (Okta's urn:okta:...) are
//     ignored; attributes of the served schemas that pbxgate does not store
//     are refused, naming them.
//
// The filter of a GET (query) or a .search (body) is read into the request
// state and parsed by filter.go: elimity rejects emails[type eq
// "work"].value eq "x" (its issue #150) and validates .search filters
// without the common attributes (id, externalId, meta).

func decodeObject(body []byte) (map[string]any, error) {
	// Strict first: invalid UTF-8, a duplicate key or data after the
	// object would otherwise be stored as something other than was sent.
	if err := strictjson.Check(body); err != nil {
		return nil, err
	}
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, errors.New("the body is not a JSON object")
	}
	return m, nil
}

func encodeObject(m map[string]any, fallback []byte) []byte {
	out, err := json.Marshal(m)
	if err != nil {
		return fallback
	}
	return out
}

// normalizeResource is prepareResourceMap on JSON text, for tests that
// state the rewrites as JSON; a body it would refuse, or that is not a
// JSON object, comes back unchanged. Requests never take this path: the
// resource routes decode the body once and rewrite the decoded value.
func normalizeResource(body []byte, rs *resourceSchema) []byte {
	m, err := decodeObject(body)
	if err != nil || prepareResourceMap(m, rs) != nil {
		return body
	}
	return encodeObject(m, body)
}

// prepareResourceMap fixes string booleans and Entra's manager string in
// a decoded POST or PUT body, moves extension attributes sent without
// their URN (Entra's "department", "manager") into their extension, and
// refuses an attribute of a served schema that pbxgate does not store,
// naming it. It changes m in place.
func prepareResourceMap(m map[string]any, rs *resourceSchema) *apiError {
	for _, k := range sortedKeys(m) {
		v := m[k]
		if urn := rs.schemaURN(k); urn != "" && urn != rs.core {
			ext, ok := v.(map[string]any)
			if !ok {
				continue
			}
			for _, ek := range sortedKeys(ext) {
				d := rs.lookup(urn, ek)
				if d == nil {
					if ext[ek] == nil {
						continue
					}
					return badRequest(typeInvalidValue, "%s:%s: %s", urn, ek, notStored)
				}
				ext[ek] = coerce(d, ext[ek])
			}
			continue
		}
		if d := rs.lookup("", k); d != nil {
			m[k] = coerce(d, v)
			continue
		}
		if isCommonAttr(k) || strings.HasPrefix(strings.ToLower(k), "urn:") || v == nil {
			continue // common attributes; other vendors' extensions; nothing to store
		}
		if urn, d := rs.inExtension(k); d != nil {
			ext, _ := m[urn].(map[string]any)
			if ext == nil {
				ext = map[string]any{}
				m[urn] = ext
			}
			if _, set := ext[d.name]; !set {
				ext[d.name] = coerce(d, v)
			}
			delete(m, k)
			continue
		}
		return badRequest(typeInvalidValue, "%s: %s", k, notStored)
	}
	return nil
}

// notStored is the reason given for an attribute pbxgate refuses.
const notStored = "pbxgate does not store this attribute (see /Schemas), so it refuses it rather than drop it"

// unservedExtensions returns the schema URNs of a decoded POST, PUT or
// PATCH body that this endpoint does not serve (Okta's urn:okta:...):
// their attributes are ignored, and reported (see server.report).
func unservedExtensions(m map[string]any, rs *resourceSchema) []string {
	seen := map[string]bool{}
	var out []string
	note := func(key string) {
		if !strings.HasPrefix(strings.ToLower(key), "urn:") || rs.schemaURN(key) != "" {
			return
		}
		if urn, _ := rs.splitURNKey(key); urn != "" {
			return
		}
		if !seen[key] {
			seen[key] = true
			out = append(out, key)
		}
	}
	for k, v := range m {
		if !strings.EqualFold(k, "Operations") {
			note(k)
			continue
		}
		ops, _ := v.([]any)
		for _, o := range ops {
			om, _ := o.(map[string]any)
			for ok, ov := range om {
				switch strings.ToLower(ok) {
				case "path":
					if p, _ := ov.(string); p != "" {
						note(strings.TrimSpace(p))
					}
				case "value":
					if vm, ok := ov.(map[string]any); ok {
						for vk := range vm {
							note(vk)
						}
					}
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// isCommonAttr reports the attributes of every resource (RFC 7643 §3.1)
// and the schemas list.
func isCommonAttr(k string) bool {
	switch strings.ToLower(k) {
	case "schemas", "id", "externalid", "meta":
		return true
	}
	return false
}

// coerce converts an IdP's loosely typed value into the type def declares.
// Values it cannot convert are left for the schema validation to reject
// (resources.go).
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

// normalizePatch is preparePatchMap on JSON text, for tests (see
// normalizeResource).
func normalizePatch(body []byte, rs *resourceSchema) []byte {
	m, err := decodeObject(body)
	if err != nil || preparePatchMap(m, rs) != nil {
		return body
	}
	return encodeObject(m, body)
}

// preparePatchMap rewrites a decoded PatchOp body in place (see the file
// comment); a path or key naming an attribute of a served schema that
// pbxgate does not store is an invalidPath error naming it. A body that is
// not a PatchOp is left for the validator.
func preparePatchMap(m map[string]any, rs *resourceSchema) *apiError {
	var opsKey string
	var ops []any
	for k, v := range m {
		if strings.EqualFold(k, "Operations") {
			list, ok := v.([]any)
			if !ok {
				return nil
			}
			opsKey, ops = k, list
		}
	}
	if opsKey == "" {
		return nil
	}
	out := make([]any, 0, len(ops))
	for _, o := range ops {
		om, ok := o.(map[string]any)
		if !ok {
			out = append(out, o)
			continue
		}
		n, err := normalizeOp(om, rs)
		if err != nil {
			return err
		}
		out = append(out, n...)
	}
	delete(m, opsKey)
	m["Operations"] = out
	return nil
}

func normalizeOp(om map[string]any, rs *resourceSchema) ([]any, *apiError) {
	var op, path string
	var value any
	hasValue, hasPath := false, false
	for k, v := range om {
		switch strings.ToLower(k) {
		case "op":
			s, ok := v.(string)
			if !ok {
				return []any{om}, nil
			}
			op = strings.ToLower(s)
		case "path":
			s, ok := v.(string)
			if !ok {
				return []any{om}, nil
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
		return []any{om}, nil
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
					return []any{noOp()}, nil
				}
				return removes, nil
			}
			return normalizeOp(map[string]any{"op": op, "value": map[string]any{urn: value}}, rs)
		}
		newPath, def, drop, err := resolvePatchPath(rs, path)
		if err != nil {
			return nil, err
		}
		if drop {
			return []any{noOp()}, nil
		}
		if op == "replace" && hasValue && value == nil {
			return []any{build("remove", newPath, nil, false)}, nil
		}
		if l, ok := value.([]any); ok && op == "remove" && len(l) == 0 {
			// Removing no values: the validator turns the empty list
			// into "no value", which removes the whole attribute.
			return []any{noOp()}, nil
		}
		if hasValue && def != nil {
			value = coerce(def, value)
		}
		return []any{build(op, newPath, value, hasValue)}, nil
	}

	vm, ok := value.(map[string]any)
	if !ok {
		return []any{build(op, "", value, hasValue)}, nil
	}
	// A path-less value: flatten extension containers into URN-prefixed
	// keys, then fix each key like a path.
	flat := map[string]any{}
	for k, v := range vm {
		if urn := rs.schemaURN(k); urn != "" && urn != rs.core {
			inner, ok := v.(map[string]any)
			if !ok {
				flat[k] = v // the validator rejects it
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
		newKey, def, drop, err := resolvePatchPath(rs, k)
		if err != nil {
			if v == nil {
				continue // nothing to store
			}
			return nil, err
		}
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
	return append(outOps, extra...), nil
}

// resolvePatchPath resolves a PATCH path (or a key of a path-less value)
// for normalisation. drop reports a path to ignore: an extension the
// endpoint does not serve. An attribute of a served schema that pbxgate
// does not store is an invalidPath error naming it. def is the attribute
// the value is for, shaped as the value must be (an element for a
// value-filtered path, the sub-attribute for a sub-attribute path). Paths
// that do not parse are returned unchanged for the validator to reject.
func resolvePatchPath(rs *resourceSchema, path string) (newPath string, def *attrDef, drop bool, err *apiError) {
	urn, rest := rs.splitURNKey(path)
	if urn == "" && strings.HasPrefix(strings.ToLower(path), "urn:") {
		return path, nil, true, nil // an extension we do not serve
	}
	p, perr := parsePath(rest)
	if perr != nil {
		return path, nil, false, nil
	}
	name := p.AttributePath.AttributeName
	if p.AttributePath.URIPrefix != nil {
		return path, nil, false, nil // a URN we did not recognise; the validator decides
	}
	if urn == "" || urn == rs.core {
		if rs.lookup(rs.core, name) == nil && !isCommonAttr(name) {
			// Entra sends "manager" without the enterprise URN.
			if ext, d := rs.inExtension(name); d != nil {
				urn = ext
				path = ext + ":" + rest
			}
		}
	}
	d := rs.lookup(urn, name)
	if d == nil {
		if isCommonAttr(name) && (urn == "" || urn == rs.core) {
			return path, nil, false, nil
		}
		return "", nil, false, badRequest(typeInvalidPath, "%q: %s", path, notStored)
	}
	if sub := p.AttributePath.SubAttributeName(); sub != "" {
		if sd := d.sub(sub); sd != nil {
			return path, sd, false, nil
		}
		return "", nil, false, badRequest(typeInvalidPath, "%q: %s", path, notStored)
	}
	if p.ValueExpression != nil {
		if sub := p.SubAttributeName(); sub != "" {
			return path, d.sub(sub), false, nil
		}
		one := *d
		one.multi = false
		return path, &one, false, nil
	}
	return path, d, false, nil
}
