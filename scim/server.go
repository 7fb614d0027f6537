package scim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/elimity-com/scim"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pbxgate/pbxgate/internal/authguard"
	"github.com/pbxgate/pbxgate/internal/ratelimit"
	"github.com/pbxgate/pbxgate/pbxusers"
)

const contentType = "application/scim+json"

// router collects what each resource handler contributes: resource types
// that elimity serves, and routes served ahead of it.
type router struct {
	resourceTypes []scim.ResourceType
	routes        map[string]http.HandlerFunc // path below Prefix → handler (GET only)
}

// mounter is implemented by every resource handler; Mount registers the
// handler's resource type or routes.
type mounter interface {
	Mount(rt *router)
}

// server is the handler New returns. It puts the protocol parts elimity
// does not do in front of elimity's server: authentication, rate limiting,
// body limits, IdP dialect normalisation, filter extraction, conditional
// requests and SCIM-formatted errors for every status.
type server struct {
	dir     *pbxusers.Directory
	opts    Options
	log     *slog.Logger
	limit   *ratelimit.Limiter
	authThr AuthThrottle
	elimity scim.Server
	rt      *router
	// validPaths caches the PATCH paths that passed validation (see
	// patchValidator).
	validPaths pathCache
	// skipped counts skipped attribute values by attribute; nil without
	// Options.Registerer.
	skipped *prometheus.CounterVec
}

// New returns the SCIM 2.0 endpoint over dir: an http.Handler serving
// Prefix ("/scim/v2") and everything below it. Every request needs a bearer
// token made with dir.CreateToken; the token's tenant is the only tenant
// the request sees, and writes are attributed to the token's name with
// source scim.
func New(dir *pbxusers.Directory, opts Options) (http.Handler, error) {
	if dir == nil {
		return nil, errors.New("scim: nil directory")
	}
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &server{dir: dir, opts: opts, log: opts.Logger.With("component", "scim")}
	s.limit = ratelimit.New(ratelimit.Config{PerSecond: opts.RateLimit.PerSecond, Burst: opts.RateLimit.Burst, Now: opts.Now})
	s.authThr = opts.AuthThrottle
	if s.authThr == nil {
		s.authThr = authguard.New(authguard.Options{Logger: s.log, Now: opts.Now})
	}
	if opts.Registerer != nil {
		s.skipped = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pbxgate_scim_skipped_values_total",
			Help: "Attribute values of SCIM requests that were skipped (and logged) instead of refusing the request.",
		}, []string{"attribute"})
		if err := opts.Registerer.Register(s.skipped); err != nil {
			return nil, fmt.Errorf("scim: register metrics: %w", err)
		}
	}
	s.rt = &router{routes: map[string]http.HandlerFunc{}}
	for _, m := range []mounter{&usersHandler{s: s}, &groupsHandler{s: s}, &serviceProviderConfig{s: s}} {
		m.Mount(s.rt)
	}
	es, err := scim.NewServer(&scim.ServerArgs{
		ServiceProviderConfig: &scim.ServiceProviderConfig{
			MaxResults:       pbxusers.MaxPageSize,
			SupportFiltering: true,
			SupportPatch:     true,
		},
		ResourceTypes: s.rt.resourceTypes,
	}, scim.WithBaseURL(opts.BaseURL), scim.WithLogger(elimityLogger{s.log}))
	if err != nil {
		return nil, fmt.Errorf("scim: create server: %w", err)
	}
	s.elimity = es
	return s, nil
}

// request is the per-request state shared by the middleware and the
// resource handlers.
type request struct {
	tenant string
	token  pbxusers.APIToken

	// filter is the raw filter of the query (GET) or the search body
	// (POST .search), which filter.go parses.
	filter    string
	hasFilter bool
}

type stateKey struct{}

func state(r *http.Request) *request {
	if st, ok := r.Context().Value(stateKey{}).(*request); ok {
		return st
	}
	return &request{}
}

// routeKind classifies a path below Prefix.
type routeKind int

const (
	routeNone routeKind = iota
	routeList
	routeSearch
	routeItem
	routeDiscovery
	routeSPC
	routeBulk
	routeNotImplemented
)

type route struct {
	kind routeKind
	rs   *resourceSchema
	// typ is the resource type of a resource route.
	typ *scim.ResourceType
	// path is the canonical path below Prefix, when it differs from the
	// request's (a collection with a trailing slash).
	path  string
	allow []string
}

func (s *server) classify(p string) route {
	switch {
	case p == "/ServiceProviderConfig":
		return route{kind: routeSPC, allow: []string{http.MethodGet}}
	case p == "/Schemas", strings.HasPrefix(p, "/Schemas/"), p == "/ResourceTypes", strings.HasPrefix(p, "/ResourceTypes/"):
		return route{kind: routeDiscovery, allow: []string{http.MethodGet}}
	case p == "/Bulk":
		return route{kind: routeBulk, allow: []string{http.MethodPost}}
	case p == "" || p == "/" || p == "/.search" || p == "/Me" || strings.HasPrefix(p, "/Me/"):
		return route{kind: routeNotImplemented}
	}
	for i := range s.rt.resourceTypes {
		rt := &s.rt.resourceTypes[i]
		if p == rt.Endpoint+"/" {
			// A collection with a trailing slash (issue 16) is the
			// collection, not the resource with the empty id.
			p = rt.Endpoint
		}
		rs := usersSchema
		if rt.Endpoint == "/Groups" {
			rs = groupsSchema
		}
		switch {
		case p == rt.Endpoint:
			return route{kind: routeList, rs: rs, typ: rt, path: p, allow: []string{http.MethodGet, http.MethodPost}}
		case p == rt.Endpoint+"/.search":
			return route{kind: routeSearch, rs: rs, typ: rt, allow: []string{http.MethodPost}}
		case strings.HasPrefix(p, rt.Endpoint+"/") && len(p) > len(rt.Endpoint)+1:
			return route{kind: routeItem, rs: rs, typ: rt, allow: []string{http.MethodGet, http.MethodPut, http.MethodPatch, http.MethodDelete}}
		}
	}
	return route{}
}

func (s *server) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	st := &request{}
	w := &headerTracker{ResponseWriter: rw}
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.log.ErrorContext(r.Context(), "panic serving request", "method", r.Method, "path", r.URL.Path,
				"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			if !w.wrote {
				writeError(rw, errorf(http.StatusInternalServerError, "", "internal server error"))
			}
		}
	}()
	if err := s.serve(w, r, st); err != nil {
		writeError(w, err)
	}
}

// headerTracker records whether the response has started, so that a
// panic is answered with a 500 only when nothing was written yet. It
// changes nothing that passes through it.
type headerTracker struct {
	http.ResponseWriter
	wrote bool
}

func (w *headerTracker) WriteHeader(code int) {
	w.wrote = true
	w.ResponseWriter.WriteHeader(code)
}

func (w *headerTracker) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// serve runs the middleware; a returned error is written as the response.
func (s *server) serve(w http.ResponseWriter, r *http.Request, st *request) *apiError {
	sub, ok := strings.CutPrefix(r.URL.Path, Prefix)
	if !ok || (sub != "" && sub[0] != '/') {
		return errorf(http.StatusNotFound, "", "no such endpoint; the SCIM endpoint is %s", Prefix)
	}

	// Authentication, before anything of the body is read: the tenant
	// comes from the token only. A client or token id that failed too
	// often is refused before its token is checked.
	bearer := bearerToken(r)
	if blocked, wait := s.authThr.Blocked(r, bearer, "scim"); blocked {
		return &apiError{status: http.StatusTooManyRequests, detail: "too many failed authentications; retry later",
			retryAfter: retrySeconds(wait)}
	}
	tok, err := s.authenticate(r)
	if err != nil {
		if err.status == http.StatusUnauthorized {
			s.authThr.Failed(r.Context(), r, bearer, "scim")
		}
		return err
	}
	if ok, wait := s.limit.Allow(tok.ID); !ok {
		return &apiError{status: http.StatusTooManyRequests, detail: "too many requests for this token; retry later", retryAfter: retrySeconds(wait)}
	}
	st.tenant, st.token = tok.TenantID, tok
	return s.route(w, r, st, sub)
}

// route serves an authenticated request for path sub (below Prefix); a
// returned error is written as the response. Bulk operations come here
// too, each as a request of its own.
func (s *server) route(w http.ResponseWriter, r *http.Request, st *request, sub string) *apiError {
	ctx, tok := r.Context(), st.token
	rt := s.classify(sub)
	switch rt.kind {
	case routeNone:
		return errorf(http.StatusNotFound, "", "no such endpoint %q", sub)
	case routeNotImplemented:
		return errorf(http.StatusNotImplemented, "", "%s is not supported; use /Users and /Groups", r.URL.Path)
	}
	if rt.path != "" {
		sub = rt.path
	}
	method := r.Method
	if method == http.MethodHead {
		// HEAD is GET without a body (RFC 9110 §9.3.2); net/http drops
		// what is written as the body of a HEAD response.
		method = http.MethodGet
	}
	if !allowed(rt.allow, method) {
		w.Header().Set("Allow", strings.Join(rt.allow, ", "))
		return errorf(http.StatusMethodNotAllowed, "", "method %s is not allowed on %s", r.Method, r.URL.Path)
	}

	if rt.kind == routeBulk {
		return s.bulk(w, r, st)
	}

	// Body: limited; the resource routes decode it once (resources.go).
	var body []byte
	var err *apiError
	if r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch {
		if r.ContentLength > s.opts.MaxBodyBytes {
			return s.tooLarge()
		}
		body, err = readBody(r.Body, s.opts.MaxBodyBytes)
		if err != nil {
			return err
		}
	}

	if rt.kind == routeSPC || rt.kind == routeDiscovery {
		// RFC 7644 §4: filtering and paging are ignored on the discovery
		// endpoints, and a filter SHOULD be refused with 403 so a client
		// cannot think it matched.
		q := r.URL.Query()
		if q.Has("filter") {
			return errorf(http.StatusForbidden, "", "the discovery endpoints cannot be filtered (RFC 7644 §4)")
		}
		ctx = context.WithValue(ctx, stateKey{}, st)
		if h := s.rt.routes[sub]; h != nil {
			h(w, r.WithContext(ctx))
			return nil
		}
		// /Schemas and /ResourceTypes: elimity serves them from the
		// resource types, without paging.
		q.Del("startIndex")
		q.Del("count")
		r2 := r.WithContext(ctx)
		r2.Method = method
		u := *r.URL
		u.Path, u.RawPath, u.RawQuery = "/v2"+sub, "", q.Encode()
		r2.URL = &u
		s.elimity.ServeHTTP(w, r2)
		return nil
	}

	if rt.kind == routeList && method == http.MethodGet {
		if f := strings.TrimSpace(r.URL.Query().Get("filter")); f != "" {
			st.filter, st.hasFilter = f, true
		}
	}
	ctx = pbxusers.WithActor(ctx, pbxusers.Actor{Source: pbxusers.SourceSCIM, Name: tok.Name})
	ctx = context.WithValue(ctx, stateKey{}, st)
	return s.serveResource(w, r.WithContext(ctx), st, rt, sub, method, body)
}

func allowed(list []string, m string) bool {
	for _, a := range list {
		if a == m {
			return true
		}
	}
	return false
}

func (s *server) tooLarge() *apiError {
	return errorf(http.StatusRequestEntityTooLarge, "", "the request body is larger than %d bytes", s.opts.MaxBodyBytes)
}

// readBody reads at most limit bytes; a longer body is a 413.
func readBody(body io.Reader, limit int64) ([]byte, *apiError) {
	if body == nil {
		return []byte{}, nil
	}
	data, err := io.ReadAll(io.LimitReader(body, limit+1))
	if err != nil {
		return nil, badRequest(typeInvalidSyntax, "read request body: %v", err)
	}
	if int64(len(data)) > limit {
		return nil, errorf(http.StatusRequestEntityTooLarge, "", "the request body is larger than %d bytes", limit)
	}
	return data, nil
}

// bearerToken returns the request's bearer token, or "".
func bearerToken(r *http.Request) string {
	scheme, token, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// retrySeconds is a Retry-After in whole seconds, at least 1.
func retrySeconds(wait time.Duration) int {
	return max(1, int(math.Ceil(wait.Seconds())))
}

// authenticate checks the bearer token. Which of missing, malformed,
// unknown, revoked or expired it was is never told.
func (s *server) authenticate(r *http.Request) (pbxusers.APIToken, *apiError) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return pbxusers.APIToken{}, errorf(http.StatusUnauthorized, "", "a bearer token is required")
	}
	tok, err := s.dir.Authenticate(r.Context(), strings.TrimSpace(token))
	switch {
	case errors.Is(err, pbxusers.ErrUnauthenticated):
		s.log.DebugContext(r.Context(), "token refused", "remote_addr", r.RemoteAddr)
		return pbxusers.APIToken{}, errorf(http.StatusUnauthorized, "", "the bearer token is not valid")
	case err != nil:
		return pbxusers.APIToken{}, s.toAPIError(r.Context(), err)
	}
	if sc := tok.Scope.OrDefault(); sc != pbxusers.ScopeSCIM {
		return pbxusers.APIToken{}, errorf(http.StatusForbidden, "", "this token has scope %q; the SCIM endpoint needs a token of scope \"scim\"", sc)
	}
	return tok, nil
}
