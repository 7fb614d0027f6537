package sqlstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// Err maps a driver error of the operation op to the library's errors:
// a unique violation is a *pbxusers.ConflictError naming the field (value
// is the value written, "" for a read), a foreign key violation ErrInUse,
// text the database cannot store ErrInvalid, no rows ErrNotFound, and a
// database that cannot serve the request now ErrUnavailable. Other errors
// are wrapped with op.
func (f *Flavor) Err(op string, err error, value string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", op, err)
	}
	class, kind, field := f.Classify(err)
	switch class {
	case ClassUnique:
		return &pbxusers.ConflictError{Kind: kind, Field: field, Value: value}
	case ClassForeignKey:
		return &pbxusers.ConflictError{Kind: "object", Reason: "it is still referred to, or refers to something that does not exist", Err: pbxusers.ErrInUse}
	case ClassBadText:
		return pbxusers.Invalid("text", "contains a NUL character or invalid UTF-8, which the database cannot store")
	case ClassNoRows:
		return fmt.Errorf("%s: %w: %w", op, pbxusers.ErrNotFound, err)
	case ClassUnavailable:
		return fmt.Errorf("%s: %w: %w", op, pbxusers.ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// notFound is the error of a missing object: ErrNotFound naming it when err
// says no rows, else err mapped.
func (f *Flavor) notFound(op, kind, id string, err error) error {
	if class, _, _ := f.Classify(err); class == ClassNoRows {
		return fmt.Errorf("%s %q: %w", kind, id, pbxusers.ErrNotFound)
	}
	return f.Err(op, err, "")
}

// isNoRows reports whether err says a single-row query found nothing.
func (f *Flavor) isNoRows(err error) bool {
	if err == nil {
		return false
	}
	class, _, _ := f.Classify(err)
	return class == ClassNoRows
}
