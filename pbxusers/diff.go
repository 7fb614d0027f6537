package pbxusers

import (
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// secretFields are paths whose values the change log never records,
// compared without regard to case.
var secretFields = []string{"secret", "password.new", "digest.ha1", "digest.ha1b", "digest.ha1sha256", "digest.ha1bsha256"}

func secretField(path string) bool {
	return slices.ContainsFunc(secretFields, func(s string) bool { return strings.EqualFold(s, path) })
}

// Diff compares two objects field by field, named as in their JSON form
// ("name.given", "emails[0].value"), and returns the changed leaf fields in
// path order. Nil and empty values are treated alike; lists of objects of
// the same length are compared element by element, other lists as a whole.
// Read-only bookkeeping (version, created, updated) is skipped. It walks the
// values with reflection instead of encoding them, because every write
// computes one.
func Diff(before, after any) []FieldChange {
	a, b := reflect.ValueOf(before), reflect.ValueOf(after)
	if !a.IsValid() && !b.IsValid() {
		return nil
	}
	var out []FieldChange
	diffReflect("", a, b, &out)
	return sortedByField(out)
}

// sortedByField returns the changes in path order, keeping the order of
// equal paths as sort.SliceStable did. It sorts their positions rather
// than the changes themselves, whose every move would be a copy of four
// pointers under the GC's write barrier.
func sortedByField(cs []FieldChange) []FieldChange {
	if slices.IsSortedFunc(cs, func(x, y FieldChange) int { return strings.Compare(x.Field, y.Field) }) {
		return cs
	}
	order := make([]int, len(cs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(i, j int) int { return strings.Compare(cs[i].Field, cs[j].Field) })
	sorted := make([]FieldChange, len(cs))
	for i, j := range order {
		sorted[i] = cs[j]
	}
	return sorted
}

var skipDiff = map[string]bool{"version": true, "created": true, "updated": true, "tenantId": true, "members": true}

var (
	jsonMarshaler = reflect.TypeFor[json.Marshaler]()
	textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
)

// leafType reports whether values of t are compared as a whole: scalars,
// and types with their own JSON or text form (times, permission values).
func leafType(t reflect.Type) bool {
	if t.Implements(jsonMarshaler) || t.Implements(textMarshaler) {
		return true
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return false
	case reflect.Pointer:
		return leafType(t.Elem())
	}
	return true
}

// skipped reports whether the field at path is left out of diffs: only
// top-level names are.
func skipped(path, name string) bool { return path == "" && skipDiff[name] }

// join names the child name of path.
func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// diffReflect records what differs between a and b below path. Either side
// may be the invalid Value, standing for an absent object (the "before" of
// a creation): it is walked as the empty value of the other side's type
// without making one.
func diffReflect(path string, a, b reflect.Value, out *[]FieldChange) {
	if a.IsValid() && a.Kind() == reflect.Pointer && a.IsNil() {
		a = reflect.Value{}
	}
	if b.IsValid() && b.Kind() == reflect.Pointer && b.IsNil() {
		b = reflect.Value{}
	}
	var t reflect.Type
	switch {
	case a.IsValid():
		t = a.Type()
	case b.IsValid():
		t = b.Type()
	default:
		return
	}
	if leafType(t) {
		diffLeaf(path, a, b, out)
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		diffReflect(path, elem(a), elem(b), out)
	case reflect.Struct:
		for _, f := range structFields(t) {
			af, bf := field(a, f.index), field(b, f.index)
			if emptyValue(af) && emptyValue(bf) {
				continue // nothing to record below an empty field: skip before naming it
			}
			if f.embedded {
				diffReflect(path, af, bf, out)
				continue
			}
			if skipped(path, f.name) {
				continue
			}
			diffReflect(join(path, f.name), af, bf, out)
		}
	case reflect.Map:
		keys := map[string]reflect.Value{}
		for _, m := range []reflect.Value{a, b} {
			if !m.IsValid() {
				continue
			}
			for it := m.MapRange(); it.Next(); {
				k := it.Key()
				if k.Kind() == reflect.String {
					keys[k.String()] = k
				} else {
					keys[fmt.Sprint(k.Interface())] = k
				}
			}
		}
		for name, k := range keys {
			if skipped(path, name) {
				continue
			}
			diffReflect(join(path, name), mapIndex(a, k), mapIndex(b, k), out)
		}
	}
}

// elem, field and mapIndex are the reflect methods of the same names for
// a side that may be absent (the invalid Value), which stays absent.
func elem(v reflect.Value) reflect.Value {
	if !v.IsValid() {
		return v
	}
	return v.Elem()
}

func field(v reflect.Value, i int) reflect.Value {
	if !v.IsValid() {
		return v
	}
	return v.Field(i)
}

func mapIndex(m, k reflect.Value) reflect.Value {
	if !m.IsValid() {
		return m
	}
	return m.MapIndex(k) // the invalid Value when k is not in m
}

// fieldInfo is a struct field as Diff names it.
type fieldInfo struct {
	name     string
	index    int
	embedded bool
}

var fieldCache sync.Map // reflect.Type → []fieldInfo

// structFields returns t's exported fields with their JSON names, cached.
func structFields(t reflect.Type) []fieldInfo {
	if v, ok := fieldCache.Load(t); ok {
		return v.([]fieldInfo)
	}
	var fields []fieldInfo
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name := f.Name
		if tag, ok := f.Tag.Lookup("json"); ok {
			if tag == "-" {
				continue
			}
			if n, _, _ := strings.Cut(tag, ","); n != "" {
				name = n
			}
		}
		fields = append(fields, fieldInfo{name: name, index: i, embedded: f.Anonymous && f.Type.Kind() == reflect.Struct})
	}
	fieldCache.Store(t, fields)
	return fields
}

// diffLeaf records a leaf (or a whole list) that differs.
func diffLeaf(path string, a, b reflect.Value, out *[]FieldChange) {
	ae, be := emptyValue(a), emptyValue(b)
	if ae && be {
		return
	}
	if !ae && !be && a.Kind() == reflect.Slice && a.Len() == b.Len() && structElems(a.Type()) {
		for i := 0; i < a.Len(); i++ {
			diffReflect(path+"["+strconv.Itoa(i)+"]", a.Index(i), b.Index(i), out)
		}
		return
	}
	if !ae && !be && reflect.DeepEqual(a.Interface(), b.Interface()) {
		return
	}
	fc := FieldChange{Field: path}
	if !ae {
		fc.Old = a.Interface()
	}
	if !be {
		fc.New = b.Interface()
	}
	if secretField(path) {
		fc.Old, fc.New = redactValue(!ae), redactValue(!be)
	}
	*out = append(*out, fc)
}

func structElems(t reflect.Type) bool {
	e := t.Elem()
	if e.Kind() == reflect.Pointer {
		e = e.Elem()
	}
	return e.Kind() == reflect.Struct && !leafType(e)
}

func redactValue(set bool) any {
	if set {
		return "[redacted]"
	}
	return nil
}

// emptyValue is encoding/json's notion of empty (omitempty), plus zero
// structs such as an unset time.
func emptyValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Invalid:
		return true
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool:
		return !v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int() == 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return v.Uint() == 0
	case reflect.Float32, reflect.Float64:
		return v.Float() == 0
	case reflect.Interface, reflect.Pointer:
		return v.IsNil()
	}
	return v.IsZero()
}
