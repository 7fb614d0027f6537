package scim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	scimerrors "github.com/elimity-com/scim/errors"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// The scimType keywords of RFC 7644 §3.12 this package answers with.
const (
	typeInvalidFilter = "invalidFilter"
	typeTooMany       = "tooMany"
	typeUniqueness    = "uniqueness"
	typeMutability    = "mutability"
	typeInvalidSyntax = "invalidSyntax"
	typeInvalidPath   = "invalidPath"
	typeNoTarget      = "noTarget"
	typeInvalidValue  = "invalidValue"
)

// apiError is an error answered in the SCIM error format (RFC 7644 §3.12).
// Handlers return it (wrapped through the request state, see fail) instead
// of elimity's ScimError because elimity turns statuses it does not know for
// a method (304, 412 on GET, 429, 503) into 500s.
type apiError struct {
	status   int
	scimType string
	detail   string
	// retryAfter is the Retry-After header in seconds; 0 sends none.
	retryAfter int
	// noBody answers with the status only (304 Not Modified).
	noBody bool
	// etag is sent as the ETag header (304, 412).
	etag string
}

func (e *apiError) Error() string {
	if e.scimType != "" {
		return fmt.Sprintf("%d %s: %s", e.status, e.scimType, e.detail)
	}
	return fmt.Sprintf("%d: %s", e.status, e.detail)
}

func errorf(status int, scimType, format string, args ...any) *apiError {
	return &apiError{status: status, scimType: scimType, detail: fmt.Sprintf(format, args...)}
}

func badRequest(scimType, format string, args ...any) *apiError {
	return errorf(http.StatusBadRequest, scimType, format, args...)
}

func notFound(kind, id string) *apiError {
	return errorf(http.StatusNotFound, "", "%s %q not found", kind, id)
}

// errorBody is the JSON form of an error response; status is a string as
// RFC 7644 §3.12 requires.
type errorBody struct {
	Schemas  []string `json:"schemas"`
	ScimType string   `json:"scimType,omitempty"`
	Detail   string   `json:"detail,omitempty"`
	Status   string   `json:"status"`
}

// writeError writes e as the whole response.
func writeError(w http.ResponseWriter, e *apiError) {
	h := w.Header()
	h.Del("Etag")
	h.Del("Location")
	if e.etag != "" {
		h.Set("ETag", e.etag)
	}
	if e.retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(e.retryAfter))
	}
	if e.status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Bearer realm="scim"`)
	}
	if e.noBody {
		h.Del("Content-Type")
		w.WriteHeader(e.status)
		return
	}
	raw, _ := json.Marshal(errorBody{Schemas: []string{errorMessage}, ScimType: e.scimType, Detail: e.detail, Status: strconv.Itoa(e.status)})
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(raw)))
	w.WriteHeader(e.status)
	_, _ = w.Write(raw)
}

// DefaultRetryAfter is the Retry-After, in seconds, sent with a 503 when
// the store is busy or unreachable.
const DefaultRetryAfter = 5

// toAPIError maps an error of the library, of elimity or of this package to
// the response a client gets. Errors it does not know are logged and become
// a 500 with a generic detail: internals never reach the client.
func (s *server) toAPIError(ctx context.Context, err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	var se scimerrors.ScimError
	if errors.As(err, &se) && se.Status != http.StatusInternalServerError {
		return &apiError{status: se.Status, scimType: string(se.ScimType), detail: se.Detail}
	}
	var ce *pbxusers.ConflictError
	var ve *pbxusers.ValidationError
	switch {
	case errors.Is(err, pbxusers.ErrNotFound):
		return errorf(http.StatusNotFound, "", "resource not found")
	case errors.Is(err, pbxusers.ErrVersionMismatch):
		return errorf(http.StatusPreconditionFailed, "", "the resource was changed by someone else (version mismatch); read it again")
	case pbxusers.IsOwnedBy(err):
		// Not a uniqueness clash: the write touches an object another
		// identity source owns. The reason names the owner.
		errors.As(err, &ce)
		return errorf(http.StatusConflict, "", "%s", ce.Reason)
	case errors.As(err, &ce):
		return conflictError(ce)
	case errors.As(err, &ve):
		return badRequest(typeInvalidValue, "%s", describeValidation(ve))
	case errors.Is(err, pbxusers.ErrInvalid):
		return badRequest(typeInvalidValue, "%s", strings.TrimPrefix(err.Error(), "invalid input: "))
	case errors.Is(err, pbxusers.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		s.log.WarnContext(ctx, "storage unavailable", "err", err)
		return &apiError{status: http.StatusServiceUnavailable, detail: "the service is busy; retry later", retryAfter: DefaultRetryAfter}
	}
	s.log.ErrorContext(ctx, "internal error", "err", err)
	return errorf(http.StatusInternalServerError, "", "internal server error")
}

func isNotFound(err error) bool { return errors.Is(err, pbxusers.ErrNotFound) }

// scimField names a library field in SCIM terms, for error details.
func scimField(f string) string {
	for _, r := range fieldNames {
		if f == r[0] {
			return r[1]
		}
		if strings.HasPrefix(f, r[0]+".") || strings.HasPrefix(f, r[0]+"[") {
			return r[1] + f[len(r[0]):]
		}
	}
	return f
}

var fieldNames = [][2]string{
	{"email", "emails"},
	{"name.given", "name.givenName"},
	{"name.family", "name.familyName"},
	{"name.middle", "name.middleName"},
	{"name.prefix", "name.honorificPrefix"},
	{"name.suffix", "name.honorificSuffix"},
	{"nickname", "nickName"},
	{"language", "preferredLanguage"},
	{"timeZone", "timezone"},
	{"status", "active"},
	{"owner.externalId", "externalId"},
	{"managerId", EnterpriseUserSchema + ":manager.value"},
	{"enterprise", EnterpriseUserSchema},
	{"extension", UserExtensionSchema + ":extension"},
	{"stationNumber", UserExtensionSchema + ":stationNumber"},
	{"location", UserExtensionSchema + ":location"},
	{"customId", UserExtensionSchema + ":customId"},
	{"role", UserExtensionSchema + ":role"},
	{"profiles", UserExtensionSchema + ":profiles"},
	{"recording", UserExtensionSchema + ":recording"},
	{"callerId", UserExtensionSchema + ":callerId"},
	{"routing", UserExtensionSchema + ":routing"},
	{"kind", UserExtensionSchema + ":kind"},
	{"teams", "groups"},
}

func describeValidation(ve *pbxusers.ValidationError) string {
	parts := make([]string, len(ve.Fields))
	for i, f := range ve.Fields {
		parts[i] = scimField(f.Field) + ": " + f.Reason
	}
	return strings.Join(parts, "; ")
}

func conflictError(ce *pbxusers.ConflictError) *apiError {
	field := scimField(ce.Field)
	if ce.Kind == "team" && ce.Field == "name" {
		field = "displayName"
	}
	var b strings.Builder
	switch {
	case ce.Field == "":
		b.WriteString(ce.Error())
	default:
		fmt.Fprintf(&b, "%s %q is already used", field, ce.Value)
		if ce.ExistingID != "" {
			fmt.Fprintf(&b, " by %s %s", ce.Kind, ce.ExistingID)
		}
		if ce.Reason != "" {
			b.WriteString(": " + ce.Reason)
		}
	}
	return errorf(http.StatusConflict, typeUniqueness, "%s", b.String())
}

// elimityLogger adapts slog to elimity's logger, which logs a message and
// key/value pairs.
type elimityLogger struct{ log *slog.Logger }

func (l elimityLogger) Error(args ...any) {
	msg := "scim library error"
	if len(args) > 0 {
		if s, ok := args[0].(string); ok {
			msg, args = s, args[1:]
		}
	}
	// Drop values (they can be whole resources); keep the keys and errors.
	var attrs []any
	for i := 0; i+1 < len(args); i += 2 {
		if err, ok := args[i+1].(error); ok {
			attrs = append(attrs, args[i], err.Error())
		}
	}
	l.log.Error(msg, attrs...)
}
