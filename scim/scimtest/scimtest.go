package scimtest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/pbxusers"
	"github.com/pbxgate/pbxgate/pbxusers/sqlite"
	"github.com/pbxgate/pbxgate/scim"
)

// DefaultTenant is the tenant MustStart creates.
const DefaultTenant = "acme"

// Server is a running SCIM endpoint with its directory.
type Server struct {
	*httptest.Server
	TB testing.TB
	// Store is the SQLite store of MustStart and MustStartAt; nil for
	// MustStartStore.
	Store   *sqlite.Store
	Dir     *pbxusers.Directory
	Handler http.Handler
	// Tenant and Token are the tenant MustStart created and a token for it.
	Tenant string
	Token  string
}

// MustStart opens a SQLite database in tb's temp dir, creates the tenant
// DefaultTenant (region DE) and a token named "idp" for it, and starts the
// SCIM handler with opts behind an httptest.Server. Everything is closed
// when the test ends. Rate limiting is off unless opts sets it.
func MustStart(tb testing.TB, opts scim.Options) *Server {
	tb.Helper()
	return MustStartAt(tb, filepath.Join(tb.TempDir(), "pbx.db"), opts)
}

// MustStartAt is MustStart on the database file at path, which may
// already hold data (the tenant is created only when missing).
func MustStartAt(tb testing.TB, path string, opts scim.Options) *Server {
	tb.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, path)
	require.NoError(tb, err)
	tb.Cleanup(func() { store.Close() })
	s := MustStartStore(tb, store, opts)
	s.Store = store
	return s
}

// MustStartStore is MustStart on any store (PostgreSQL, for instance),
// which the caller closes; Server.Store is nil.
func MustStartStore(tb testing.TB, store pbxusers.Store, opts scim.Options) *Server {
	tb.Helper()
	ctx := context.Background()
	dir := pbxusers.New(store, pbxusers.Options{PasswordCost: 4})
	if _, err := dir.GetTenant(ctx, DefaultTenant); err != nil {
		_, err = dir.CreateTenant(ctx, pbxusers.Tenant{ID: DefaultTenant, Name: "Acme", Region: "DE"})
		require.NoError(tb, err)
	}
	if opts.RateLimit.PerSecond == 0 {
		opts.RateLimit.PerSecond = -1
	}
	h, err := scim.New(dir, opts)
	require.NoError(tb, err)
	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	s := &Server{Server: srv, TB: tb, Dir: dir, Handler: h, Tenant: DefaultTenant}
	s.Token = s.MustToken(DefaultTenant, "idp")
	return s
}

// With returns a copy of s that reports failures to tb: use it inside a
// fuzz target or another goroutine's test.
func (s *Server) With(tb testing.TB) *Server {
	c := *s
	c.TB = tb
	return &c
}

// MustToken creates a bearer token for a tenant.
func (s *Server) MustToken(tenant, name string) string {
	s.TB.Helper()
	tok, _, err := s.Dir.CreateToken(context.Background(), tenant, name)
	require.NoError(s.TB, err)
	return tok
}

// MustTenant creates another tenant and returns a token for it.
func (s *Server) MustTenant(id string) string {
	s.TB.Helper()
	_, err := s.Dir.CreateTenant(context.Background(), pbxusers.Tenant{ID: id, Region: "DE"})
	require.NoError(s.TB, err)
	return s.MustToken(id, "idp")
}

// Response is a response read in full.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body as an object; it fails the test when it is not one.
func (r *Response) JSON(tb testing.TB) map[string]any {
	tb.Helper()
	var m map[string]any
	require.NoError(tb, json.Unmarshal(r.Body, &m), "body: %s", r.Body)
	return m
}

// Request is a request to the endpoint. Path is relative to scim.Prefix
// ("/Users?filter=..."). Body is sent as is when it is a []byte or string,
// else as JSON. Token "" uses the server's token; "-" sends none.
type Request struct {
	Method string
	Path   string
	Body   any
	Token  string
	Header http.Header
}

func (s *Server) newRequest(req Request, base string) *http.Request {
	s.TB.Helper()
	var body io.Reader
	switch b := req.Body.(type) {
	case nil:
	case []byte:
		body = bytes.NewReader(b)
	case string:
		body = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		require.NoError(s.TB, err)
		body = bytes.NewReader(raw)
	}
	r, err := http.NewRequest(req.Method, base+scim.Prefix+req.Path, body)
	require.NoError(s.TB, err)
	if body != nil {
		r.Header.Set("Content-Type", "application/scim+json")
	}
	tok := req.Token
	if tok == "" {
		tok = s.Token
	}
	if tok != "-" {
		r.Header.Set("Authorization", "Bearer "+tok)
	}
	for k, v := range req.Header {
		r.Header[k] = v
	}
	return r
}

// Do sends the request over HTTP.
func (s *Server) Do(req Request) *Response {
	s.TB.Helper()
	resp, err := s.Client().Do(s.newRequest(req, s.URL))
	require.NoError(s.TB, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(s.TB, err)
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: raw}
}

// Serve calls the handler in process, without a network round trip
// (fuzzing, benchmarks).
func (s *Server) Serve(req Request) *Response {
	s.TB.Helper()
	rec := httptest.NewRecorder()
	s.Handler.ServeHTTP(rec, s.newRequest(req, "http://scim.test"))
	return &Response{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
}

// MustCreateUser creates a user through the endpoint and returns its id.
func (s *Server) MustCreateUser(userName string) string {
	s.TB.Helper()
	r := s.Do(Request{Method: http.MethodPost, Path: "/Users", Body: map[string]any{
		"schemas":  []string{scim.UserSchema},
		"userName": userName,
		"emails":   []any{map[string]any{"value": userName, "type": "work", "primary": true}},
	}})
	require.Equal(s.TB, http.StatusCreated, r.Status, "%s", r.Body)
	return r.JSON(s.TB)["id"].(string)
}

// MustCreateGroup creates a group through the endpoint and returns its id.
func (s *Server) MustCreateGroup(name string, members ...string) string {
	s.TB.Helper()
	list := []any{}
	for _, m := range members {
		list = append(list, map[string]any{"value": m})
	}
	r := s.Do(Request{Method: http.MethodPost, Path: "/Groups", Body: map[string]any{
		"schemas": []string{scim.GroupSchema}, "displayName": name, "members": list,
	}})
	require.Equal(s.TB, http.StatusCreated, r.Status, "%s", r.Body)
	return r.JSON(s.TB)["id"].(string)
}
