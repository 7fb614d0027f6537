package pbxfeed

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// Prefix is the path every endpoint of the feed starts with.
const Prefix = "/pbx/v1/"

// AuthorizeFunc decides who the caller is: the tenant they may read, or
// all tenants when all is true. An error refuses the request with 401
// (403 when it wraps ErrForbidden); its text is not shown to the caller.
type AuthorizeFunc func(r *http.Request) (tenant string, all bool, err error)

// ErrForbidden, wrapped by an AuthorizeFunc's error, answers 403 instead
// of 401: the caller is known but may not use the feed.
var ErrForbidden = errors.New("forbidden")

// Config configures a Handler.
type Config struct {
	// Directory is where users, devices and routes are read. Required.
	Directory *pbxusers.Directory
	// Authorize checks every request. Required: there is no anonymous
	// access to credentials.
	Authorize AuthorizeFunc
	// Logger receives one debug line per refused request; nil discards.
	Logger *slog.Logger
}

// Handler serves the feed; it implements http.Handler for paths under
// Prefix.
type Handler struct {
	dir       *pbxusers.Directory
	authorize AuthorizeFunc
	log       *slog.Logger
	mux       *http.ServeMux
}

// New returns a Handler, or an error naming the missing Config field.
func New(cfg Config) (*Handler, error) {
	var missing []error
	if cfg.Directory == nil {
		missing = append(missing, errors.New("pbxfeed: Directory is required"))
	}
	if cfg.Authorize == nil {
		missing = append(missing, errors.New("pbxfeed: Authorize is required"))
	}
	if err := errors.Join(missing...); err != nil {
		return nil, err
	}
	h := &Handler{dir: cfg.Directory, authorize: cfg.Authorize, log: cfg.Logger, mux: http.NewServeMux()}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	h.mux.HandleFunc("GET "+Prefix+"credentials/{domain}/{sipUser}", h.serveCredentials)
	h.mux.HandleFunc("GET "+Prefix+"route", h.serveRoute)
	h.mux.HandleFunc("GET "+Prefix+"changes", h.serveChanges)
	h.mux.HandleFunc("GET "+Prefix+"directory", h.serveDirectory)
	h.mux.HandleFunc("POST "+Prefix+"freeswitch/directory", h.serveFreeSWITCH)
	return h, nil
}

// Mount registers the handler on mux for every path under Prefix.
func (h *Handler) Mount(mux *http.ServeMux) { mux.Handle(Prefix, h) }

// ServeHTTP authorizes the request and dispatches it.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	tenant, all, err := h.authorize(r)
	if err != nil {
		h.log.DebugContext(r.Context(), "pbx feed request refused", "remote_addr", r.RemoteAddr, "path", r.URL.Path)
		if errors.Is(err, ErrForbidden) {
			writeError(w, http.StatusForbidden, "this token may not read the PBX feed")
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="pbxgate"`)
		writeError(w, http.StatusUnauthorized, "a valid bearer token is required")
		return
	}
	ctx := withAccess(r.Context(), access{tenant: tenant, all: all})
	h.mux.ServeHTTP(w, r.WithContext(ctx))
}

// writeJSON writes v with status 200.
func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(v)
}

// errorBody is the JSON form of every error.
type errorBody struct {
	Status int    `json:"status"`
	Error  string `json:"error"`
}

func writeError(w http.ResponseWriter, status int, format string, args ...any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(errorBody{Status: status, Error: fmt.Sprintf(format, args...)})
}

// writeDirError maps a Directory error to a status.
func (h *Handler) writeDirError(w http.ResponseWriter, r *http.Request, what string, err error) {
	switch {
	case errors.Is(err, pbxusers.ErrNotFound):
		writeError(w, http.StatusNotFound, "%s not found", what)
	case errors.Is(err, pbxusers.ErrInvalid):
		writeError(w, http.StatusBadRequest, "%v", err)
	default:
		h.log.ErrorContext(r.Context(), "pbx feed lookup", "what", what, "err", err)
		writeError(w, http.StatusInternalServerError, "internal error")
	}
}
