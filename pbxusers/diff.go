package pbxusers

import (
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// secretFields are paths whose values the change log never records.
var secretFields = map[string]bool{"secret": true, "password.new": true,
	"digest.ha1": true, "digest.ha1b": true, "digest.ha1sha256": true, "digest.ha1bsha256": true}

// Diff compares two objects field by field, named as in their JSON form
// ("name.given", "emails[0].value"), and returns the changed leaf fields in
// path order. Nil and empty values are treated alike; lists of objects of
// the same length are compared element by element, other lists as a whole.
// Read-only bookkeeping (version, created, updated) is skipped. It walks the
// values with reflection instead of encoding them, because every write
// computes one.
func Diff(before, after any) []FieldChange {
	a, b := reflect.ValueOf(before), reflect.ValueOf(after)
	switch {
	case !a.IsValid() && !b.IsValid():
		return nil
	case !a.IsValid():
		a = reflect.Zero(b.Type())
	case !b.IsValid():
		b = reflect.Zero(a.Type())
	}
	var out []FieldChange
	diffReflect("", a, b, &out)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Field < out[j].Field })
	return out
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

func diffReflect(path string, a, b reflect.Value, out *[]FieldChange) {
	if skipDiff[path] {
		return
	}
	t := a.Type()
	if leafType(t) {
		diffLeaf(path, a, b, out)
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		switch {
		case a.IsNil() && b.IsNil():
			return
		case a.IsNil():
			a = reflect.New(t.Elem())
		case b.IsNil():
			b = reflect.New(t.Elem())
		}
		diffReflect(path, a.Elem(), b.Elem(), out)
	case reflect.Struct:
		if a.IsZero() && b.IsZero() {
			return // most of a user is empty: skip whole subtrees
		}
		for _, f := range structFields(t) {
			if f.embedded {
				diffReflect(path, a.Field(f.index), b.Field(f.index), out)
				continue
			}
			p := f.name
			if path != "" {
				p = path + "." + f.name
			}
			diffReflect(p, a.Field(f.index), b.Field(f.index), out)
		}
	case reflect.Map:
		keys := map[string]reflect.Value{}
		for _, m := range []reflect.Value{a, b} {
			for _, k := range m.MapKeys() {
				keys[fmt.Sprint(k.Interface())] = k
			}
		}
		zero := reflect.Zero(t.Elem())
		for name, k := range keys {
			av, bv := a.MapIndex(k), b.MapIndex(k)
			if !av.IsValid() {
				av = zero
			}
			if !bv.IsValid() {
				bv = zero
			}
			p := name
			if path != "" {
				p = path + "." + name
			}
			diffReflect(p, av, bv, out)
		}
	}
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
	if a.Kind() == reflect.Slice && !ae && !be && a.Len() == b.Len() && structElems(a.Type()) {
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
	if secretFields[strings.ToLower(path)] {
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
