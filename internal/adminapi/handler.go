package adminapi

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/pbxgate/pbxgate/internal/authguard"
	"github.com/pbxgate/pbxgate/pbxusers"
)

// Prefix is the path every admin API route starts with.
const Prefix = "/api/v1"

// DefaultMaxBodyBytes bounds a request body (JSON or CSV) when
// Options.MaxBodyBytes is zero.
const DefaultMaxBodyBytes = 10 << 20

// Options configure a Handler.
type Options struct {
	// Logger receives request failures (never tokens or secrets); nil
	// discards them.
	Logger *slog.Logger
	// MaxBodyBytes bounds a request body, in bytes; 0 means
	// DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// LDAPRun starts LDAP sync runs for POST .../ldap/directories/{name}/runs;
	// nil answers 404 there (no directory configured).
	LDAPRun LDAPRunner
	// AuthThrottle throttles failed authentications per client address
	// and token id (429 before the next token is checked); nil uses one
	// with authguard's defaults. Share one with the SCIM endpoint.
	AuthThrottle *authguard.Guard
}

// Handler serves the admin API. It is safe for concurrent use.
type Handler struct {
	dir     *pbxusers.Directory
	log     *slog.Logger
	maxBody int64
	ldap    LDAPRunner
	guard   *authguard.Guard
	mux     *http.ServeMux
}

var _ http.Handler = (*Handler)(nil)

// New returns the admin API over the directory.
func New(dir *pbxusers.Directory, opts Options) *Handler {
	h := &Handler{dir: dir, log: opts.Logger, maxBody: opts.MaxBodyBytes, ldap: opts.LDAPRun, mux: http.NewServeMux(),
		guard: opts.AuthThrottle}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.guard == nil {
		h.guard = authguard.New(authguard.Options{Logger: h.log})
	}
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBodyBytes
	}
	h.mux.HandleFunc("GET "+Prefix+"/openapi.json", serveDocument)
	h.mountTenants()
	h.mountUsers()
	h.mountRouting()
	h.mountPermissions()
	h.mountDevices()
	h.mountNumbers()
	h.mountTimeFrames()
	h.mountProfiles()
	h.mountTeams()
	h.mountQueues()
	h.mountTokens()
	h.mountWebhooks()
	h.mountChanges()
	h.mountOutbox()
	h.mountImports()
	h.mountLDAP()
	h.mux.HandleFunc(Prefix+"/", func(w http.ResponseWriter, r *http.Request) {
		if _, p := h.authenticate(r); p != nil {
			p.write(w, r)
			return
		}
		if allowed := h.allowed(r); len(allowed) > 0 {
			w.Header().Set("Allow", strings.Join(allowed, ", "))
			problemf(http.StatusMethodNotAllowed, typeNotFound, "%s is not allowed on %s; use %s", r.Method, r.URL.Path, strings.Join(allowed, ", ")).write(w, r)
			return
		}
		problemf(http.StatusNotFound, typeNotFound, "no such endpoint: %s %s", r.Method, r.URL.Path).write(w, r)
	})
	return h
}

// allowed lists the methods a path is served with, for a 405.
func (h *Handler) allowed(r *http.Request) []string {
	var out []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pat := h.mux.Handler(probe); pat != "" && pat != Prefix+"/" {
			out = append(out, m)
		}
	}
	return out
}

// Mount registers the API under Prefix on mux.
func (h *Handler) Mount(mux *http.ServeMux) { mux.Handle(Prefix+"/", h) }

// ServeHTTP serves one request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// call is one authenticated request.
type call struct {
	w      http.ResponseWriter
	r      *http.Request
	ctx    context.Context
	tok    pbxusers.APIToken
	tenant string
}

// handle registers a tenant-scoped route: the token must be allowed the
// {tenant} of the path. fn returns nil after writing its answer, or an
// error that becomes a problem document.
func (h *Handler) handle(pattern string, fn func(c *call) error) {
	h.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		tok, p := h.authenticate(r)
		if p != nil {
			p.write(w, r)
			return
		}
		c := &call{w: w, r: r, tok: tok, tenant: r.PathValue("tenant")}
		if c.tenant != "" && tok.Scope != pbxusers.ScopeOperator && c.tenant != tok.TenantID {
			problemf(http.StatusNotFound, typeNotFound, "tenant %q not found", c.tenant).write(w, r)
			return
		}
		name := tok.Name
		if name == "" {
			name = tok.ID
		}
		actor := "token " + name
		if _, a, ok := principal(r.Context()); ok {
			actor = a
		}
		c.ctx = pbxusers.WithActor(r.Context(), pbxusers.Actor{Source: pbxusers.SourceManual, Name: actor})
		if err := fn(c); err != nil {
			h.problem(r, err).write(w, r)
		}
	})
}

// json writes v as JSON with the status.
func (c *call) json(status int, v any) error {
	c.w.Header().Set("Content-Type", "application/json")
	c.w.WriteHeader(status)
	enc := json.NewEncoder(c.w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// etag writes the ETag of a version and returns c for chaining.
func (c *call) etag(version int64) *call {
	c.w.Header().Set("ETag", etagOf(version))
	return c
}

func etagOf(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// ifMatch returns the version named by If-Match: 0 when the header is
// absent or "*" (no precondition).
func (c *call) ifMatch() (int64, error) {
	h := strings.TrimSpace(c.r.Header.Get("If-Match"))
	if h == "" || h == "*" {
		return 0, nil
	}
	h = strings.TrimPrefix(h, "W/")
	v, err := strconv.ParseInt(strings.Trim(h, `"`), 10, 64)
	if err != nil || v <= 0 {
		return 0, problemf(http.StatusBadRequest, typeInvalid, "If-Match %q is not an ETag of this API (a quoted version such as \"3\")", h)
	}
	return v, nil
}

// checkVersion fails with 412 when If-Match names another version.
func checkVersion(want, have int64) error {
	if want != 0 && want != have {
		return problemf(http.StatusPreconditionFailed, typeStale, "the resource is at version %d, If-Match named %d; read it again", have, want)
	}
	return nil
}

// body reads the request body up to the handler's limit.
func (h *Handler) body(c *call) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(c.r.Body, h.maxBody+1))
	if err != nil {
		return nil, problemf(http.StatusBadRequest, typeMalformed, "read request body: %v", err)
	}
	if int64(len(data)) > h.maxBody {
		return nil, problemf(http.StatusRequestEntityTooLarge, typeTooLarge, "the request body is larger than %d bytes", h.maxBody)
	}
	return data, nil
}

// decode reads a JSON body into v, refusing unknown fields and reporting
// each bad top-level field.
func (h *Handler) decode(c *call, v any) error {
	data, err := h.body(c)
	if err != nil {
		return err
	}
	return decodeStrict(data, v)
}

// queryInt reads an integer query parameter.
func queryInt(r *http.Request, name string, def int, p *pbxusers.Problems) int {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		p.Add(name, "must be an integer, not %q", s)
		return def
	}
	return n
}

// list is the envelope of every listing.
type list[T any] struct {
	Items []T `json:"items"`
	// Total is the number of items over all pages.
	Total int `json:"total"`
	// NextCursor, when set, fetches the next page (as ?cursor=).
	NextCursor string `json:"nextCursor,omitempty"`
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
