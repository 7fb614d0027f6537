package adminapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/internal/adminapi"
	"github.com/pbxgate/pbxgate/pbxusers"
	"github.com/pbxgate/pbxgate/pbxusers/sqlite"
)

// apiEnv is the admin API over HTTP on a fresh SQLite file, with two
// tenants (acme, globex) and tokens of every scope.
type apiEnv struct {
	t      *testing.T
	url    string
	dir    *pbxusers.Directory
	router routers.Router
	// admin is acme's admin token; other is globex's; operator is an
	// operator token (of acme); scimTok is acme's SCIM token.
	admin, other, operator, scimTok string
}

// start opens the store and serves the API on a loopback httptest.Server.
func start(t *testing.T) *apiEnv {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "pbxgate.db"))
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	dir := pbxusers.New(store, pbxusers.Options{PasswordCost: 4})
	for _, tn := range []pbxusers.Tenant{{ID: "acme", Name: "Acme", Region: "DE", TimeZone: "Europe/Berlin"}, {ID: "globex", Name: "Globex", Region: "US"}} {
		_, err := dir.CreateTenant(ctx, tn)
		require.NoError(t, err)
	}
	e := &apiEnv{t: t, dir: dir}
	mint := func(tenant, name string, scope pbxusers.TokenScope) string {
		tok, _, err := dir.CreateScopedToken(ctx, tenant, name, scope)
		require.NoError(t, err)
		return tok
	}
	e.admin = mint("acme", "ci-admin", pbxusers.ScopeAdmin)
	e.other = mint("globex", "globex-admin", pbxusers.ScopeAdmin)
	e.operator = mint("acme", "ops", pbxusers.ScopeOperator)
	e.scimTok = mint("acme", "okta", pbxusers.ScopeSCIM)

	srv := httptest.NewServer(adminapi.New(dir, adminapi.Options{}))
	t.Cleanup(srv.Close)
	e.url = srv.URL

	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(adminapi.Document())
	require.NoError(t, err)
	require.NoError(t, doc.Validate(loader.Context), "the OpenAPI document is valid")
	doc.Servers = openapi3.Servers{{URL: srv.URL}}
	e.router, err = legacy.NewRouter(doc)
	require.NoError(t, err)
	return e
}

// response is an answer of the API.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body as an object.
func (r *response) JSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.Body, &m), "body: %s", r.Body)
	return m
}

// Problem decodes a problem document and checks its status.
func (r *response) Problem(t *testing.T, status int) map[string]any {
	t.Helper()
	require.Equal(t, status, r.Status, "body: %s", r.Body)
	require.Equal(t, "application/problem+json", r.Header.Get("Content-Type"))
	return r.JSON(t)
}

// Paths returns the paths of a problem's errors.
func (r *response) Paths(t *testing.T) []string {
	var out []string
	for _, e := range r.JSON(t)["errors"].([]any) {
		out = append(out, e.(map[string]any)["path"].(string))
	}
	return out
}

// req is one request; Token "" sends none.
type req struct {
	Method, Path, Token string
	Body                any
	// Raw is sent as is with ContentType when set.
	Raw         []byte
	ContentType string
	IfMatch     string
}

// do sends the request and validates the response against the OpenAPI
// document: its status must be documented for the operation, its body
// must match the schema.
func (e *apiEnv) do(q req) *response {
	t := e.t
	t.Helper()
	var body io.Reader
	ctype := q.ContentType
	switch {
	case q.Raw != nil:
		body = bytes.NewReader(q.Raw)
	case q.Body != nil:
		b, err := json.Marshal(q.Body)
		require.NoError(t, err)
		body = bytes.NewReader(b)
		if ctype == "" {
			ctype = "application/json"
			if q.Method == http.MethodPatch {
				ctype = "application/merge-patch+json"
			}
		}
	}
	hr, err := http.NewRequest(q.Method, e.url+q.Path, body)
	require.NoError(t, err)
	if ctype != "" {
		hr.Header.Set("Content-Type", ctype)
	}
	if q.Token != "" {
		hr.Header.Set("Authorization", "Bearer "+q.Token)
	}
	if q.IfMatch != "" {
		hr.Header.Set("If-Match", q.IfMatch)
	}
	res, err := http.DefaultClient.Do(hr)
	require.NoError(t, err)
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	out := &response{Status: res.StatusCode, Header: res.Header, Body: data}
	e.validate(hr, out)
	return out
}

// validate checks a response against the document.
func (e *apiEnv) validate(hr *http.Request, r *response) {
	t := e.t
	t.Helper()
	route, params, err := e.router.FindRoute(hr)
	if err != nil {
		// Only the catch-all answers paths the document does not have.
		require.Contains(t, []int{401, 404, 405}, r.Status, "%s %s is not in the OpenAPI document: %v", hr.Method, hr.URL.Path, err)
		return
	}
	if r.Status < 300 {
		// A request the API accepted must match the document too.
		rin := &openapi3filter.RequestValidationInput{Request: hr.Clone(context.Background()), PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true}}
		if hr.GetBody != nil {
			rin.Request.Body, _ = hr.GetBody()
		}
		require.NoError(t, openapi3filter.ValidateRequest(context.Background(), rin),
			"%s %s was accepted but does not match the OpenAPI document", hr.Method, hr.URL.Path)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: hr, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}},
		Status: r.Status, Header: r.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(r.Body)
	require.NoError(t, openapi3filter.ValidateResponse(context.Background(), in),
		"%s %s → %d does not match the OpenAPI document; body: %s", hr.Method, hr.URL.Path, r.Status, r.Body)
}

// mustUser creates a user through the API and returns its id.
func (e *apiEnv) mustUser(body map[string]any) string {
	e.t.Helper()
	r := e.do(req{Method: "POST", Path: "/api/v1/tenants/acme/users", Token: e.admin, Body: body})
	require.Equal(e.t, 201, r.Status, "body: %s", r.Body)
	return r.JSON(e.t)["id"].(string)
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
