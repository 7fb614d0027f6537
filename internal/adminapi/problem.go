package adminapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/pbxgate/pbxgate/internal/strictjson"
	"github.com/pbxgate/pbxgate/pbxusers"
)

// Problem types (RFC 9457 "type" members). They are URNs rather than URLs
// because no page is served for them; Title explains each.
const (
	typeInvalid      = "urn:pbxgate:problem:invalid"
	typeMalformed    = "urn:pbxgate:problem:malformed"
	typeNotFound     = "urn:pbxgate:problem:not-found"
	typeConflict     = "urn:pbxgate:problem:conflict"
	typeOwned        = "urn:pbxgate:problem:owned"
	typeInUse        = "urn:pbxgate:problem:in-use"
	typeStale        = "urn:pbxgate:problem:stale"
	typeUnauthorized = "urn:pbxgate:problem:unauthorized"
	typeForbidden    = "urn:pbxgate:problem:forbidden"
	typeTooLarge     = "urn:pbxgate:problem:too-large"
	typeTooMany      = "urn:pbxgate:problem:too-many-requests"
	typeUnavailable  = "urn:pbxgate:problem:unavailable"
	typeInternal     = "urn:pbxgate:problem:internal"
)

// Problem is an RFC 9457 problem document (application/problem+json). It
// is also an error, so handlers can return it.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	// Instance is the request path.
	Instance string `json:"instance,omitempty"`
	// Errors lists every invalid field at once, with its path in the
	// request ("routing.rules[0].ring.steps[0].timeout") and the reason.
	Errors []FieldProblem `json:"errors,omitempty"`
	// Owner is the source that owns the fields of a 409 ownership problem.
	Owner pbxusers.Source `json:"owner,omitempty"`
	// Field names the field of a uniqueness conflict.
	Field string `json:"field,omitempty"`
	// ExistingID is the object that already holds the value of a
	// uniqueness conflict, when known.
	ExistingID string `json:"existingId,omitempty"`
	// References, on a 409 in-use problem, lists every object that refers
	// to the one that could not be deleted; ?cascade=true rewrites them.
	References []pbxusers.Reference `json:"references,omitempty"`
	// retryAfter, for a 429, is the Retry-After header in seconds.
	retryAfter string
}

// FieldProblem is one invalid field of a request.
type FieldProblem struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// Error returns the detail, so a Problem can travel as an error.
func (p *Problem) Error() string { return p.Detail }

func problemf(status int, typ, format string, args ...any) *Problem {
	return &Problem{Type: typ, Status: status, Detail: fmt.Sprintf(format, args...)}
}

// invalid is a 400 problem for a set of field problems.
func invalid(fields []pbxusers.FieldError) *Problem {
	p := &Problem{Type: typeInvalid, Status: http.StatusBadRequest}
	for _, f := range fields {
		p.Errors = append(p.Errors, FieldProblem{Path: f.Field, Reason: f.Reason})
	}
	names := make([]string, 0, len(p.Errors))
	for _, f := range p.Errors {
		names = append(names, f.Path)
	}
	p.Detail = fmt.Sprintf("%d invalid field(s): %s", len(p.Errors), strings.Join(names, ", "))
	return p
}

func (p *Problem) write(w http.ResponseWriter, r *http.Request) {
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	if p.Instance == "" && r != nil {
		p.Instance = r.URL.Path
	}
	if p.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="pbxgate-admin"`)
	}
	if p.retryAfter != "" {
		w.Header().Set("Retry-After", p.retryAfter)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(p)
}

// problem turns an error of the library (or a *Problem) into a problem
// document. Unexpected errors are logged and shown without detail.
func (h *Handler) problem(r *http.Request, err error) *Problem {
	var p *Problem
	var ve *pbxusers.ValidationError
	var ce *pbxusers.ConflictError
	switch {
	case errors.As(err, &p):
		return p
	case errors.As(err, &ve):
		return invalid(ve.Fields)
	case errors.Is(err, pbxusers.ErrNotFound):
		return problemf(http.StatusNotFound, typeNotFound, "%s", err.Error())
	case errors.Is(err, pbxusers.ErrVersionMismatch):
		return problemf(http.StatusPreconditionFailed, typeStale, "%s; read it again", err.Error())
	case errors.As(err, &ce):
		typ := typeConflict
		if errors.Is(err, pbxusers.ErrInUse) {
			typ = typeInUse
		}
		if pbxusers.IsOwnedBy(err) {
			typ = typeOwned
		}
		return &Problem{Type: typ, Status: http.StatusConflict, Detail: ce.Error(), Field: ce.Field, ExistingID: ce.ExistingID,
			References: ce.References}
	case errors.Is(err, pbxusers.ErrInUse):
		return problemf(http.StatusConflict, typeInUse, "%s", err.Error())
	case errors.Is(err, pbxusers.ErrConflict):
		return problemf(http.StatusConflict, typeConflict, "%s", err.Error())
	case errors.Is(err, pbxusers.ErrUnavailable):
		return problemf(http.StatusServiceUnavailable, typeUnavailable, "the database is busy; retry")
	}
	h.log.ErrorContext(r.Context(), "admin API request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	return problemf(http.StatusInternalServerError, typeInternal, "internal error; see the gateway log")
}

// decodeStrict decodes a JSON object into v. Every top-level member is
// decoded on its own, so every unknown or ill-typed field is reported at
// once, each with its path.
func decodeStrict(data []byte, v any) error {
	if err := strictjson.Check(data); err != nil {
		return problemf(http.StatusBadRequest, typeMalformed, "%s", err.Error())
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(data, &members); err != nil {
		return problemf(http.StatusBadRequest, typeMalformed, "the body is not a JSON object: %v", err)
	}
	keys := make([]string, 0, len(members))
	for k := range members {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var ps pbxusers.Problems
	for _, k := range keys {
		one, _ := json.Marshal(map[string]json.RawMessage{k: members[k]})
		if err := strictInto(one, v); err != nil {
			ps.Add(fieldPath(k, err), "%s", jsonReason(err))
		}
	}
	var ve *pbxusers.ValidationError
	if errors.As(ps.Err(), &ve) {
		return invalid(ve.Fields)
	}
	return nil
}

func strictInto(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// fieldPath names the field a decoding error is about.
func fieldPath(key string, err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return te.Field
	}
	if s := err.Error(); strings.HasPrefix(s, "json: unknown field ") {
		name := strings.Trim(strings.TrimPrefix(s, "json: unknown field "), `"`)
		if name != key {
			return key + "." + name
		}
	}
	return key
}

func jsonReason(err error) string {
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &te):
		return fmt.Sprintf("must be %s, not %s", jsonType(te.Type.Kind().String()), te.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field"
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

func jsonType(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	case "map", "struct":
		return "an object"
	case "int", "int64", "int32", "float64", "uint", "uint64":
		return "a number"
	}
	return kind
}
