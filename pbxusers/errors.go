package pbxusers

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Every error the library returns for one of these
// conditions wraps the matching sentinel, so callers can test with errors.Is
// whatever the backend.
var (
	// ErrNotFound is returned when the object does not exist in the tenant
	// the call was made for. An object of another tenant is "not found" too.
	ErrNotFound = errors.New("not found")

	// ErrConflict is returned when a write would break a uniqueness rule
	// (userName, email, extension, external id, SIP id, MAC, name) or would
	// take a user away from the source that owns it. The concrete error is a
	// *ConflictError.
	ErrConflict = errors.New("conflict")

	// ErrVersionMismatch is returned when an update names a version that is
	// no longer current (optimistic concurrency; the SCIM ETag). It wraps
	// ErrConflict as well, so errors.Is(err, ErrConflict) is true for it.
	ErrVersionMismatch = fmt.Errorf("stale version: %w", ErrConflict)

	// ErrInvalid is returned for input that fails validation. The concrete
	// error is a *ValidationError listing every bad field.
	ErrInvalid = errors.New("invalid input")

	// ErrInUse is returned when an object cannot be deleted because other
	// objects still refer to it (a time frame used by answering rules, a
	// profile bound to a team). It wraps ErrConflict.
	ErrInUse = fmt.Errorf("in use: %w", ErrConflict)

	// ErrUnavailable is returned when the store is busy (another process
	// holds the database longer than the busy timeout) or unreachable. The
	// operation was not applied and may be retried.
	ErrUnavailable = errors.New("storage unavailable")

	// ErrUnauthenticated is returned by token checks for a missing, unknown,
	// revoked or expired token. It never says which of those it was.
	ErrUnauthenticated = errors.New("unauthenticated")
)

// FieldError describes one invalid field: its path in the object (for
// example "emails[1].value" or "routing.rules[0].ring.steps[0].timeout") and
// why it is invalid.
type FieldError struct {
	Field  string
	Reason string
}

// Error is "field: reason".
func (e FieldError) Error() string { return e.Field + ": " + e.Reason }

// ValidationError is the error returned for invalid input. It lists every
// problem found, not only the first one.
type ValidationError struct {
	Fields []FieldError
}

// Error lists every field's problem.
func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString("invalid input: ")
	for i, f := range e.Fields {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(f.Error())
	}
	return b.String()
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *ValidationError) Unwrap() error { return ErrInvalid }

// Has reports whether the error names the field.
func (e *ValidationError) Has(field string) bool {
	for _, f := range e.Fields {
		if f.Field == field {
			return true
		}
	}
	return false
}

// Problems collects field errors while validating and turns them into a
// *ValidationError. The zero value is ready to use.
type Problems struct {
	list []FieldError
}

// Add records that field is invalid for the given reason, formatted with
// fmt.Sprintf.
func (p *Problems) Add(field, reason string, args ...any) {
	if len(args) > 0 {
		reason = fmt.Sprintf(reason, args...)
	}
	p.list = append(p.list, FieldError{Field: field, Reason: reason})
}

// Merge adds the problems of a nested validation error under a field prefix
// ("routing" + "rules[0].name" → "routing.rules[0].name"). Errors that are
// not validation errors are recorded against the prefix itself.
func (p *Problems) Merge(prefix string, err error) {
	if err == nil {
		return
	}
	var ve *ValidationError
	if !errors.As(err, &ve) {
		p.Add(prefix, "%s", err.Error())
		return
	}
	for _, f := range ve.Fields {
		name := f.Field
		switch {
		case prefix == "":
		case name == "":
			name = prefix
		case strings.HasPrefix(name, "["):
			name = prefix + name
		default:
			name = prefix + "." + name
		}
		p.list = append(p.list, FieldError{Field: name, Reason: f.Reason})
	}
}

// Err returns nil when nothing was added, else a *ValidationError.
func (p *Problems) Err() error {
	if len(p.list) == 0 {
		return nil
	}
	return &ValidationError{Fields: append([]FieldError(nil), p.list...)}
}

// Invalid returns a *ValidationError for a single field.
func Invalid(field, reason string, args ...any) error {
	var p Problems
	p.Add(field, reason, args...)
	return p.Err()
}

// ConflictError says which object a write collided with and on what.
type ConflictError struct {
	// Kind is the kind of object collided with, e.g. "user", "team".
	Kind string
	// Field is the unique field, e.g. "userName", "extension", "email".
	Field string
	// Value is the conflicting value as given.
	Value string
	// ExistingID is the id of the object that already holds the value, when
	// known and in the same tenant.
	ExistingID string
	// Reason is set for conflicts that are not duplicates, e.g. ownership:
	// "user is owned by source ldap".
	Reason string
	// References, for ErrInUse, lists every object that refers to the one
	// that could not be deleted, and where.
	References []Reference
	// Err is the sentinel wrapped: ErrConflict, ErrVersionMismatch or ErrInUse.
	Err error
}

// Error names what conflicts with what.
func (e *ConflictError) Error() string {
	switch {
	case e.Reason != "" && e.Field != "":
		return fmt.Sprintf("%s %s %q: %s", e.Kind, e.Field, e.Value, e.Reason)
	case e.Reason != "":
		return e.Kind + ": " + e.Reason
	default:
		return fmt.Sprintf("%s with %s %q already exists", e.Kind, e.Field, e.Value)
	}
}

// Unwrap returns the wrapped sentinel (ErrConflict when unset).
func (e *ConflictError) Unwrap() error {
	if e.Err == nil {
		return ErrConflict
	}
	return e.Err
}
