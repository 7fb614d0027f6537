package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// MaxDepth is how deeply objects and arrays may nest.
const MaxDepth = 64

// An Error says why a body is not one strict JSON value, and where.
type Error struct {
	// Offset is the byte offset in the body where the problem was found.
	Offset int64
	// Reason says what is wrong, e.g. `duplicate key "emails"`.
	Reason string
}

// Error says where the JSON is wrong and why.
func (e *Error) Error() string { return fmt.Sprintf("invalid JSON at byte %d: %s", e.Offset, e.Reason) }

// Check returns an *Error when data is not exactly one JSON value in
// valid UTF-8 with no duplicate object keys and at most MaxDepth levels of
// nesting, else nil.
func Check(data []byte) error {
	if !utf8.Valid(data) {
		off := 0
		for off < len(data) {
			r, size := utf8.DecodeRune(data[off:])
			if r == utf8.RuneError && size <= 1 {
				break
			}
			off += size
		}
		return &Error{Offset: int64(off), Reason: "not valid UTF-8"}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := value(dec, 0); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return &Error{Offset: dec.InputOffset(), Reason: "data after the JSON value"}
	}
	return nil
}

// value reads one value from dec, checking the keys of every object in it.
func value(dec *json.Decoder, depth int) error {
	tok, err := dec.Token()
	if err != nil {
		return syntaxErr(dec, err)
	}
	delim, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	if depth >= MaxDepth {
		return &Error{Offset: dec.InputOffset(), Reason: fmt.Sprintf("nested more than %d levels deep", MaxDepth)}
	}
	switch delim {
	case '{':
		seen := map[string]bool{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return syntaxErr(dec, err)
			}
			key, _ := k.(string)
			if seen[key] {
				return &Error{Offset: dec.InputOffset(), Reason: fmt.Sprintf("duplicate key %q", key)}
			}
			seen[key] = true
			if err := value(dec, depth+1); err != nil {
				return err
			}
		}
	case '[':
		for dec.More() {
			if err := value(dec, depth+1); err != nil {
				return err
			}
		}
	}
	if _, err := dec.Token(); err != nil { // the closing delimiter
		return syntaxErr(dec, err)
	}
	return nil
}

func syntaxErr(dec *json.Decoder, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return &Error{Offset: se.Offset, Reason: se.Error()}
	}
	if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		return &Error{Offset: dec.InputOffset(), Reason: "unexpected end of the body"}
	}
	return &Error{Offset: dec.InputOffset(), Reason: err.Error()}
}
