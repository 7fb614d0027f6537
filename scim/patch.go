package scim

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/elimity-com/scim"
	"github.com/scim2/filter-parser/v2"
)

// This file is the PATCH engine (RFC 7644 §3.5.2) over 700 lines on
// purpose: path parsing, value filters, and add/replace/remove on simple,
// complex and multi-valued attributes are one algorithm whose cases refer to
// each other; split, each part would need the others to be read. The request
// forms Okta and Entra send are normalised before it, in normalize.go.

// patcher applies PATCH operations (RFC 7644 §3.5.2) to a resource in its
// attribute-map form: core attributes at the top level, extension
// attributes in a map under the extension's URN, canonical attribute
// names, multi-valued attributes as []any (of map[string]any when
// complex). The handlers convert a stored object to this form, apply the
// operations and convert it back, the same path a PUT takes.
//
// The operations have been validated (resources.go, patchValidator, with
// elimity's schema and path validators): ops are lower-case, paths are
// parsed and valid for the schema, values are type-checked (complex values
// carry canonical sub-attribute names), remove has a path. Keys of a
// path-less value are raw attribute paths ("name.givenName",
// "urn:...:enterprise:2.0:User:employeeNumber").
//
// Deliberate choices where RFC 7644 leaves room or IdPs need it:
//   - add or replace with a value filter that matches nothing creates the
//     element when the filter is type eq "...", optionally and primary eq
//     true/false (emails[type eq "work"].value: Entra ID and Okta send
//     that to set a work address that does not exist yet; see upsertForm);
//     every other filter, value eq "..." included, fails with noTarget as
//     RFC 7644 §3.5.2.3 says.
//   - remove with a value filter that matches nothing succeeds (IdPs retry
//     removals).
//   - add of a value already present (same value sub-attribute) merges
//     into it instead of duplicating it.
//   - setting primary on an element clears it on the others (RFC 7644
//     §3.5.2).
type patcher struct {
	rs *resourceSchema
	m  map[string]any
	// touched collects elements changed by the current operation, for
	// primary uniqueness.
	touched []map[string]any
}

func newPatcher(rs *resourceSchema, m map[string]any) *patcher {
	return &patcher{rs: rs, m: m}
}

// apply applies one operation. Errors are *apiError values (400).
func (p *patcher) apply(op scim.PatchOperation) error {
	switch op.Op {
	case "add", "replace", "remove":
	default:
		return badRequest(typeInvalidSyntax, "unknown operation %q", op.Op)
	}
	if op.Path != nil {
		return p.applyPath(op.Op, *op.Path, op.Value)
	}
	if op.Op == "remove" {
		return badRequest(typeNoTarget, "remove needs a path")
	}
	vm, ok := op.Value.(map[string]any)
	if !ok {
		return badRequest(typeInvalidValue, "without a path the value must be an object of attributes")
	}
	for _, k := range sortedKeys(vm) {
		v := vm[k]
		if urn := p.rs.schemaURN(k); urn != "" && urn != p.rs.core {
			inner, ok := v.(map[string]any)
			if !ok {
				return badRequest(typeInvalidValue, "the value of %s must be an object", urn)
			}
			for _, ik := range sortedKeys(inner) {
				if err := p.applyKey(op.Op, urn+":"+ik, inner[ik]); err != nil {
					return err
				}
			}
			continue
		}
		if err := p.applyKey(op.Op, k, v); err != nil {
			return err
		}
	}
	return nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// applyKey applies an operation to one key of a path-less value.
func (p *patcher) applyKey(op, key string, v any) error {
	urn, rest := p.rs.splitURNKey(key)
	path, err := parsePath(rest)
	if err != nil {
		return badRequest(typeInvalidPath, "%q is not an attribute path", key)
	}
	if urn != "" {
		if path.AttributePath.URIPrefix != nil {
			return badRequest(typeInvalidPath, "%q is not an attribute path", key)
		}
		path.AttributePath.URIPrefix = &urn
	}
	return p.applyPath(op, path, v)
}

// target is what a path resolves to.
type target struct {
	urn  string
	def  *attrDef
	sub  *attrDef          // sub-attribute, when the path names one
	expr filter.Expression // value filter, when the path has one
	name string            // the path as written, for messages
}

func (p *patcher) resolve(path filter.Path) (target, error) {
	t := target{name: path.String(), expr: path.ValueExpression}
	urn := p.rs.core
	if u := path.AttributePath.URI(); u != "" {
		if urn = p.rs.schemaURN(u); urn == "" {
			return t, badRequest(typeInvalidPath, "unknown schema %q in path %q", u, t.name)
		}
	}
	t.urn = urn
	if t.def = p.rs.lookup(urn, path.AttributePath.AttributeName); t.def == nil {
		return t, badRequest(typeInvalidPath, "unknown attribute in path %q", t.name)
	}
	sub := path.AttributePath.SubAttributeName()
	if s := path.SubAttributeName(); s != "" {
		if sub != "" {
			return t, badRequest(typeInvalidPath, "path %q names two sub-attributes", t.name)
		}
		sub = s
	}
	if sub != "" {
		if t.sub = t.def.sub(sub); t.sub == nil {
			return t, badRequest(typeInvalidPath, "unknown sub-attribute in path %q", t.name)
		}
	}
	if t.expr != nil && !t.def.multi {
		return t, badRequest(typeInvalidPath, "value filters apply to multi-valued attributes; %q is not", t.def.name)
	}
	return t, nil
}

// container returns the map holding the target's attribute.
func (p *patcher) container(urn string) map[string]any {
	if urn == p.rs.core {
		return p.m
	}
	c, ok := p.m[urn].(map[string]any)
	if !ok {
		c = map[string]any{}
		p.m[urn] = c
	}
	return c
}

func (p *patcher) applyPath(op string, path filter.Path, value any) error {
	t, err := p.resolve(path)
	if err != nil {
		return err
	}
	if value == nil && op != "remove" {
		// The validator hands an empty list over as nil (nulls were
		// made removes by the normaliser): replace with [] clears the
		// attribute, add of [] adds nothing.
		if op == "add" {
			return nil
		}
		op = "remove"
	}
	if err := p.checkMutability(op, t, value); err != nil {
		return err
	}
	p.touched = p.touched[:0]
	c := p.container(t.urn)
	switch {
	case t.expr != nil:
		err = p.filtered(op, c, t, value)
	case t.sub != nil && !t.def.multi:
		err = p.subAttr(op, c, t, value)
	case t.sub != nil:
		err = p.subOfAll(op, c, t, value)
	default:
		err = p.whole(op, c, t, value)
	}
	if err != nil {
		return err
	}
	p.keepPrimaryUnique(c, t.def)
	return nil
}

func (p *patcher) checkMutability(op string, t target, value any) error {
	for _, d := range []*attrDef{t.def, t.sub} {
		if d == nil {
			continue
		}
		switch d.mut {
		case "readOnly":
			return badRequest(typeMutability, "%q is read-only", t.name)
		case "writeOnly":
			if op == "remove" {
				return badRequest(typeMutability, "%q cannot be removed", t.name)
			}
		case "immutable":
			if t.sub != nil || t.expr != nil {
				return badRequest(typeMutability, "%q is immutable", t.name)
			}
			cur := p.container(t.urn)[t.def.name]
			if isEmpty(cur) {
				continue // setting it for the first time, or removing nothing
			}
			if op == "remove" || !reflect.DeepEqual(normalizeValue(cur), normalizeValue(value)) {
				return badRequest(typeMutability, "%q is immutable and cannot be changed", t.name)
			}
		}
	}
	return nil
}

// whole applies an operation to a whole attribute.
func (p *patcher) whole(op string, c map[string]any, t target, value any) error {
	d := t.def
	switch op {
	case "remove":
		if value != nil && d.multi {
			// Remove the listed values (Entra ID removes members this
			// way without the aadOptscim062020 flag).
			list := asList(c[d.name])
			var keep []any
			for _, e := range list {
				if !containsValue(d, asList(value), e) {
					keep = append(keep, e)
				}
			}
			setList(c, d.name, keep)
			return nil
		}
		delete(c, d.name)
		return nil
	case "add":
		if d.multi {
			list := asList(c[d.name])
			for _, v := range asList(value) {
				list = p.addElement(d, list, v)
			}
			setList(c, d.name, list)
			return nil
		}
		if d.typ == "complex" {
			return p.mergeComplex(c, d, value)
		}
		c[d.name] = value
		return nil
	default: // replace
		if d.multi {
			var list []any
			for _, v := range asList(value) {
				list = p.addElement(d, list, v)
			}
			setList(c, d.name, list)
			return nil
		}
		if d.typ == "complex" {
			return p.mergeComplex(c, d, value)
		}
		c[d.name] = value
		return nil
	}
}

// mergeComplex sets the given sub-attributes of a singular complex
// attribute and leaves the others alone (RFC 7644 §3.5.2.1 and .3).
func (p *patcher) mergeComplex(c map[string]any, d *attrDef, value any) error {
	vm, ok := value.(map[string]any)
	if !ok {
		return badRequest(typeInvalidValue, "%q needs an object value", d.name)
	}
	obj, _ := c[d.name].(map[string]any)
	if obj == nil {
		obj = map[string]any{}
	}
	for k, v := range vm {
		if sd := d.sub(k); sd != nil && sd.mut != "readOnly" {
			obj[sd.name] = v
		}
	}
	c[d.name] = obj
	return nil
}

// subAttr applies an operation to a sub-attribute of a singular complex
// attribute (name.givenName).
func (p *patcher) subAttr(op string, c map[string]any, t target, value any) error {
	obj, _ := c[t.def.name].(map[string]any)
	if op == "remove" {
		if obj != nil {
			delete(obj, t.sub.name)
			if len(obj) == 0 {
				delete(c, t.def.name)
			}
		}
		return nil
	}
	if obj == nil {
		obj = map[string]any{}
		c[t.def.name] = obj
	}
	if t.sub.multi && op == "add" {
		// Add to a multi-valued sub-attribute (ipRestriction.allowed)
		// appends the values it does not hold yet (RFC 7644 §3.5.2.1).
		list := asList(obj[t.sub.name])
		for _, v := range asList(value) {
			if !containsValue(t.sub, list, v) {
				list = append(list, v)
			}
		}
		obj[t.sub.name] = list
		return nil
	}
	obj[t.sub.name] = value
	return nil
}

// subOfAll applies an operation to a sub-attribute of every element of a
// multi-valued attribute (emails.type without a filter).
func (p *patcher) subOfAll(op string, c map[string]any, t target, value any) error {
	list := asList(c[t.def.name])
	if op == "remove" {
		var keep []any
		for _, e := range list {
			em, ok := e.(map[string]any)
			if !ok {
				continue
			}
			delete(em, t.sub.name)
			if t.sub.name != "value" && len(em) > 0 {
				keep = append(keep, em)
			}
		}
		setList(c, t.def.name, keep)
		return nil
	}
	if len(list) == 0 {
		em := map[string]any{t.sub.name: value}
		p.touched = append(p.touched, em)
		setList(c, t.def.name, []any{em})
		return nil
	}
	for _, e := range list {
		if em, ok := e.(map[string]any); ok {
			em[t.sub.name] = value
			p.touched = append(p.touched, em)
		}
	}
	return nil
}

// filtered applies an operation to the elements a value filter selects.
func (p *patcher) filtered(op string, c map[string]any, t target, value any) error {
	d := t.def
	list := asList(c[d.name])
	var matches []int
	for i, e := range list {
		ok, err := matchElement(t.expr, elementMap(e), d)
		if err != nil {
			return badRequest(typeInvalidFilter, "path %q: %v", t.name, err)
		}
		if ok {
			matches = append(matches, i)
		}
	}
	if op == "remove" {
		var keep []any
		matched := map[int]bool{}
		for _, i := range matches {
			matched[i] = true
		}
		for i, e := range list {
			if !matched[i] {
				keep = append(keep, e)
				continue
			}
			if t.sub == nil || t.sub.name == "value" {
				continue // the element goes
			}
			em := elementMap(e)
			delete(em, t.sub.name)
			keep = append(keep, em)
		}
		setList(c, d.name, keep)
		return nil
	}
	if len(matches) == 0 {
		base, ok := eqConstraints(t.expr, d)
		if !ok || !upsertForm(base) {
			return badRequest(typeNoTarget, "no value of %q matches %q", d.name, t.name)
		}
		if t.sub != nil {
			base[t.sub.name] = value
		} else {
			vm, ok := value.(map[string]any)
			if !ok {
				return badRequest(typeInvalidValue, "%q needs an object value", t.name)
			}
			for k, v := range vm {
				base[k] = v
			}
		}
		p.touched = append(p.touched, base)
		setList(c, d.name, append(list, base))
		return nil
	}
	for _, i := range matches {
		em, ok := list[i].(map[string]any)
		if !ok {
			return badRequest(typeInvalidPath, "%q has no sub-attributes", d.name)
		}
		switch {
		case t.sub != nil:
			em[t.sub.name] = value
		case op == "replace":
			vm, ok := value.(map[string]any)
			if !ok {
				return badRequest(typeInvalidValue, "%q needs an object value", t.name)
			}
			em = copyMap(vm)
			list[i] = em
		default:
			vm, ok := value.(map[string]any)
			if !ok {
				return badRequest(typeInvalidValue, "%q needs an object value", t.name)
			}
			for k, v := range vm {
				em[k] = v
			}
		}
		p.touched = append(p.touched, em)
	}
	setList(c, d.name, list)
	return nil
}

// addElement appends v to a multi-valued attribute, merging it into an
// element with the same value instead of duplicating it.
func (p *patcher) addElement(d *attrDef, list []any, v any) []any {
	for i, e := range list {
		if sameValue(d, e, v) {
			if em, ok := e.(map[string]any); ok {
				if vm, ok := v.(map[string]any); ok {
					for k, x := range vm {
						em[k] = x
					}
				}
				p.touched = append(p.touched, em)
				return list
			}
			list[i] = v
			return list
		}
	}
	if vm, ok := v.(map[string]any); ok {
		vm = copyMap(vm)
		p.touched = append(p.touched, vm)
		v = vm
	}
	return append(list, v)
}

// keepPrimaryUnique clears primary on every element but the last one the
// operation set it on.
func (p *patcher) keepPrimaryUnique(c map[string]any, d *attrDef) {
	if !d.multi || d.sub("primary") == nil {
		return
	}
	var keep map[string]any
	for _, e := range p.touched {
		if b, _ := e["primary"].(bool); b {
			keep = e
		}
	}
	if keep == nil {
		return
	}
	for _, e := range asList(c[d.name]) {
		if em, ok := e.(map[string]any); ok && !sameMap(em, keep) {
			if b, _ := em["primary"].(bool); b {
				em["primary"] = false
			}
		}
	}
}

func sameMap(a, b map[string]any) bool {
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func asList(v any) []any {
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		return x
	case []string:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out
	}
	return []any{v}
}

func setList(c map[string]any, name string, list []any) {
	if len(list) == 0 {
		delete(c, name)
		return
	}
	c[name] = list
}

// elementMap views an element as a map; simple values are {"value": v}.
func elementMap(e any) map[string]any {
	if m, ok := e.(map[string]any); ok {
		return m
	}
	return map[string]any{"value": e}
}

// sameValue reports whether two elements of d have the same value: the
// value sub-attribute of complex elements, the value itself otherwise.
func sameValue(d *attrDef, a, b any) bool {
	av, bv := elementMap(a)["value"], elementMap(b)["value"]
	as, aok := av.(string)
	bs, bok := bv.(string)
	if !aok || !bok || as == "" {
		return false
	}
	vd := d
	if sd := d.sub("value"); sd != nil {
		vd = sd
	}
	if vd.caseExact {
		return as == bs
	}
	return strings.EqualFold(as, bs)
}

func containsValue(d *attrDef, list []any, e any) bool {
	for _, x := range list {
		if sameValue(d, x, e) {
			return true
		}
	}
	return false
}

func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

func normalizeValue(v any) any {
	if s, ok := v.(string); ok {
		return strings.ToLower(s)
	}
	return v
}

// matchElement evaluates a value filter on one element of d.
func matchElement(e filter.Expression, elem map[string]any, d *attrDef) (bool, error) {
	switch e := e.(type) {
	case *filter.AttributeExpression:
		if e.AttributePath.URIPrefix != nil || e.AttributePath.SubAttribute != nil {
			return false, fmt.Errorf("%q is not a sub-attribute of %s", e.AttributePath.String(), d.name)
		}
		sd := d.sub(e.AttributePath.AttributeName)
		if sd == nil {
			if d.typ == "complex" || !strings.EqualFold(e.AttributePath.AttributeName, "value") {
				return false, fmt.Errorf("%q is not a sub-attribute of %s", e.AttributePath.AttributeName, d.name)
			}
			sd = &attrDef{name: "value", typ: d.typ, caseExact: d.caseExact}
		}
		return compareElement(elem[sd.name], sd, strings.ToLower(string(e.Operator)), e.CompareValue)
	case *filter.LogicalExpression:
		l, err := matchElement(e.Left, elem, d)
		if err != nil {
			return false, err
		}
		r, err := matchElement(e.Right, elem, d)
		if err != nil {
			return false, err
		}
		if strings.EqualFold(string(e.Operator), "or") {
			return l || r, nil
		}
		return l && r, nil
	case *filter.NotExpression:
		ok, err := matchElement(e.Expression, elem, d)
		return !ok, err
	}
	return false, fmt.Errorf("nested value filters are not supported")
}

func compareElement(v any, sd *attrDef, op string, want any) (bool, error) {
	if op == "pr" {
		return !isEmpty(v), nil
	}
	switch w := want.(type) {
	case bool:
		if sd.typ != "boolean" {
			return false, fmt.Errorf("%s compares with a string, not a boolean", sd.name)
		}
		b, _ := v.(bool)
		switch op {
		case "eq":
			return b == w, nil
		case "ne":
			return b != w, nil
		}
		return false, fmt.Errorf("operator %s cannot compare booleans", op)
	case string:
		if sd.typ == "boolean" {
			return false, fmt.Errorf("%s compares with true or false", sd.name)
		}
		ws, err := unescape(w)
		if err != nil {
			return false, err
		}
		s, _ := v.(string)
		if !sd.caseExact {
			s, ws = strings.ToLower(s), strings.ToLower(ws)
		}
		switch op {
		case "eq":
			return s == ws, nil
		case "ne":
			return s != ws, nil
		case "co":
			return strings.Contains(s, ws), nil
		case "sw":
			return strings.HasPrefix(s, ws), nil
		case "ew":
			return strings.HasSuffix(s, ws), nil
		case "gt":
			return s > ws, nil
		case "ge":
			return s >= ws, nil
		case "lt":
			return s < ws, nil
		case "le":
			return s <= ws, nil
		}
		return false, fmt.Errorf("unknown operator %q", op)
	}
	return false, fmt.Errorf("%s cannot be compared with %s", sd.name, describeValue(want))
}

// upsertForm reports whether a filter's constraints are the form Entra and
// Okta send to create a value that does not exist yet: type eq "..."
// (emails[type eq "work"].value, phoneNumbers[type eq "mobile"].value,
// addresses[type eq "work"].streetAddress), optionally with primary eq
// true or false. Any other filter that matches nothing is noTarget (RFC
// 7644 §3.5.2.3).
func upsertForm(c map[string]any) bool {
	if _, ok := c["type"]; !ok {
		return false
	}
	for k := range c {
		if k != "type" && k != "primary" {
			return false
		}
	}
	return true
}

// eqConstraints returns the element a conjunction of eq comparisons
// describes (type eq "work" and primary eq true), or false.
func eqConstraints(e filter.Expression, d *attrDef) (map[string]any, bool) {
	switch e := e.(type) {
	case *filter.AttributeExpression:
		if !strings.EqualFold(string(e.Operator), "eq") || e.AttributePath.URIPrefix != nil || e.AttributePath.SubAttribute != nil {
			return nil, false
		}
		sd := d.sub(e.AttributePath.AttributeName)
		if sd == nil || sd.mut == "readOnly" {
			return nil, false
		}
		v := e.CompareValue
		switch x := v.(type) {
		case string:
			s, err := unescape(x)
			if err != nil || sd.typ == "boolean" {
				return nil, false
			}
			v = s
		case bool:
			if sd.typ != "boolean" {
				return nil, false
			}
		default:
			return nil, false
		}
		return map[string]any{sd.name: v}, true
	case *filter.LogicalExpression:
		if !strings.EqualFold(string(e.Operator), "and") {
			return nil, false
		}
		l, ok := eqConstraints(e.Left, d)
		if !ok {
			return nil, false
		}
		r, ok := eqConstraints(e.Right, d)
		if !ok {
			return nil, false
		}
		for k, v := range r {
			if old, dup := l[k]; dup && old != v {
				return nil, false
			}
			l[k] = v
		}
		return l, true
	}
	return nil, false
}
