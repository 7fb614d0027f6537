package scim_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/internal/authguard"
	"github.com/pbxgate/pbxgate/pbxusers"
	"github.com/pbxgate/pbxgate/scim"
	"github.com/pbxgate/pbxgate/scim/scimtest"
)

// route is one method and path of the endpoint.
type route struct {
	method, path string
	body         any
}

// allRoutes lists every route, with ids of existing resources.
func allRoutes(uid, gid string) []route {
	userPatch := patchBody(op("replace", "title", "x"))
	return []route{
		{"GET", "/Users", nil},
		{"POST", "/Users", userBody("new@example.com", nil)},
		{"POST", "/Users/.search", map[string]any{"schemas": []string{searchSchema}}},
		{"GET", "/Users/" + uid, nil},
		{"PUT", "/Users/" + uid, userBody("u@example.com", nil)},
		{"PATCH", "/Users/" + uid, userPatch},
		{"DELETE", "/Users/" + uid, nil},
		{"GET", "/Groups", nil},
		{"POST", "/Groups", map[string]any{"schemas": []string{groupSchemaURN}, "displayName": "New"}},
		{"POST", "/Groups/.search", map[string]any{"schemas": []string{searchSchema}}},
		{"GET", "/Groups/" + gid, nil},
		{"PUT", "/Groups/" + gid, map[string]any{"schemas": []string{groupSchemaURN}, "displayName": "G"}},
		{"PATCH", "/Groups/" + gid, patchBody(op("replace", "displayName", "Renamed"))},
		{"DELETE", "/Groups/" + gid, nil},
		{"GET", "/ServiceProviderConfig", nil},
		{"GET", "/Schemas", nil},
		{"GET", "/Schemas/" + userSchemaURN, nil},
		{"GET", "/ResourceTypes", nil},
		{"GET", "/ResourceTypes/User", nil},
		{"POST", "/Bulk", map[string]any{}},
		{"GET", "/Me", nil},
		{"GET", "/", nil},
	}
}

// TestAuthentication sends every route with no token, malformed and wrong
// tokens, a revoked token and another scheme: all are 401 in the SCIM
// error format, and nothing changes.
// TestAuthFailuresThrottled: after a burst of failed authentications from
// one address, the next request gets 429 with Retry-After before its token
// is checked, whatever it presents; each failure is logged with the token
// id, never the secret.
func TestAuthFailuresThrottled(t *testing.T) {
	var logs bytes.Buffer
	s := scimtest.MustStart(t, scim.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	codes := map[int]int{}
	for i := 0; i < authguard.DefaultBurst+5; i++ {
		resp := s.Do(scimtest.Request{Method: "GET", Path: "/Users", Token: "pbxg_guessedid.guess" + strconv.Itoa(i)})
		codes[resp.Status]++
		if resp.Status == http.StatusTooManyRequests {
			assert.NotEmpty(t, resp.Header.Get("Retry-After"))
		}
	}
	assert.Equal(t, map[int]int{401: authguard.DefaultBurst, 429: 5}, codes)
	resp := s.Do(scimtest.Request{Method: "GET", Path: "/Users"})
	assert.Equal(t, http.StatusTooManyRequests, resp.Status, "the address is throttled")
	assert.Contains(t, logs.String(), "token_id=guessedid")
	assert.NotContains(t, logs.String(), "guess1")
}

func TestAuthentication(t *testing.T) {
	// Every route with every kind of bad token: far more failures than
	// the throttle allows, which TestAuthFailuresThrottled covers.
	s := scimtest.MustStart(t, scim.Options{AuthThrottle: authguard.New(authguard.Options{PerMinute: -1})})
	uid := s.MustCreateUser("owner@example.com")
	gid := s.MustCreateGroup("Owners", uid)
	revoked := s.MustToken(s.Tenant, "revoked")
	tokens, err := s.Dir.ListTokens(context.Background(), s.Tenant)
	require.NoError(t, err)
	for _, tok := range tokens {
		if tok.Name == "revoked" {
			require.NoError(t, s.Dir.RevokeToken(context.Background(), s.Tenant, tok.ID))
		}
	}
	wrongSecret := s.Token[:strings.IndexByte(s.Token, '.')+1] + "wrongsecret"

	for _, rt := range allRoutes(uid, gid) {
		for name, header := range map[string]string{
			"no token":        "",
			"empty bearer":    "Bearer ",
			"basic auth":      "Basic dXNlcjpwYXNz",
			"garbage":         "Bearer garbage",
			"unknown token":   "Bearer pbxg_unknownid.secret",
			"wrong secret":    "Bearer " + wrongSecret,
			"revoked token":   "Bearer " + revoked,
			"token in scheme": s.Token,
		} {
			h := http.Header{}
			if header != "" {
				h.Set("Authorization", header)
			}
			r := s.Do(scimtest.Request{Method: rt.method, Path: rt.path, Body: rt.body, Token: "-", Header: h})
			requireError(t, r, 401, "")
			assert.NotEmpty(t, r.Header.Get("WWW-Authenticate"), "%s %s (%s)", rt.method, rt.path, name)
		}
	}
	// Nothing was changed or deleted.
	r := s.Do(scimtest.Request{Method: "GET", Path: "/Users/" + uid})
	requireStatus(t, 200, r)
	assert.Equal(t, `W/"1"`, r.Header.Get("ETag"))
	requireStatus(t, 200, s.Do(scimtest.Request{Method: "GET", Path: "/Groups/" + gid}))
}

// TestAdminTokenRefused sends every route with a valid token of the
// tenant whose scope is admin or operator: each is 403, nothing changes.
func TestAdminTokenRefused(t *testing.T) {
	s := scimtest.MustStart(t, scim.Options{})
	uid := s.MustCreateUser("owner@example.com")
	gid := s.MustCreateGroup("Owners", uid)
	for _, scope := range []pbxusers.TokenScope{pbxusers.ScopeAdmin, pbxusers.ScopeOperator} {
		tok, _, err := s.Dir.CreateScopedToken(context.Background(), s.Tenant, string(scope), scope)
		require.NoError(t, err)
		for _, rt := range allRoutes(uid, gid) {
			r := s.Do(scimtest.Request{Method: rt.method, Path: rt.path, Body: rt.body, Token: tok})
			e := requireError(t, r, 403, "")
			assert.Contains(t, e["detail"], `scope "`+string(scope)+`"`, "%s %s", rt.method, rt.path)
		}
	}
	r := s.Do(scimtest.Request{Method: "GET", Path: "/Users/" + uid})
	requireStatus(t, 200, r)
	assert.Equal(t, `W/"1"`, r.Header.Get("ETag"))
}

// TestTenantIsolation uses a valid token of another tenant: resources of
// the first tenant are 404 on every id route, invisible in lists and
// searches, and cannot be made members of the other tenant's groups.
func TestTenantIsolation(t *testing.T) {
	s := scimtest.MustStart(t, scim.Options{})
	uid := s.MustCreateUser("owner@example.com")
	gid := s.MustCreateGroup("Owners", uid)
	other := s.MustTenant("globex")

	for _, rt := range allRoutes(uid, gid) {
		if !strings.Contains(rt.path, uid) && !strings.Contains(rt.path, gid) {
			continue
		}
		r := s.Do(scimtest.Request{Method: rt.method, Path: rt.path, Body: rt.body, Token: other})
		requireError(t, r, 404, "")
	}
	for _, q := range []string{"/Users", "/Groups", withFilter("/Users", `id eq "`+uid+`"`), withFilter("/Groups", `members[value eq "`+uid+`"]`)} {
		r := s.Do(scimtest.Request{Method: "GET", Path: q, Token: other})
		requireStatus(t, 200, r)
		assert.Equal(t, float64(0), r.JSON(t)["totalResults"], q)
	}
	r := s.Do(scimtest.Request{Method: "POST", Path: "/Users/.search", Token: other, Body: map[string]any{"schemas": []string{searchSchema}, "filter": `userName eq "owner@example.com"`}})
	requireStatus(t, 200, r)
	assert.Equal(t, float64(0), r.JSON(t)["totalResults"])

	// The same userName is free in the other tenant.
	r = s.Do(scimtest.Request{Method: "POST", Path: "/Users", Token: other, Body: userBody("owner@example.com", nil)})
	requireStatus(t, 201, r)
	// A member id of the first tenant is unknown in the second.
	r = s.Do(scimtest.Request{Method: "POST", Path: "/Groups", Token: other, Body: map[string]any{
		"schemas": []string{groupSchemaURN}, "displayName": "Thieves", "members": []any{map[string]any{"value": uid}},
	}})
	requireError(t, r, 400, "invalidValue")
	r = s.Do(scimtest.Request{Method: "POST", Path: "/Groups", Token: other, Body: map[string]any{"schemas": []string{groupSchemaURN}, "displayName": "Globex"}})
	requireStatus(t, 201, r)
	ogid := r.JSON(t)["id"].(string)
	r = s.Do(scimtest.Request{Method: "PATCH", Path: "/Groups/" + ogid, Token: other, Body: patchBody(op("add", "members", []any{map[string]any{"value": uid}}))})
	requireError(t, r, 400, "invalidValue")
	// The first tenant's group still has its one member.
	r = s.Do(scimtest.Request{Method: "GET", Path: "/Groups/" + gid})
	assert.Equal(t, []any{uid}, memberValues(r.JSON(t)))
}

// TestBodyLimit: bodies over MaxBodyBytes are 413, with or without a
// Content-Length.
func TestBodyLimit(t *testing.T) {
	s := scimtest.MustStart(t, scim.Options{MaxBodyBytes: 1024})
	big := userBody("big@example.com", map[string]any{"displayName": strings.Repeat("x", 2000)})
	requireError(t, s.Do(scimtest.Request{Method: "POST", Path: "/Users", Body: big}), 413, "")

	// Chunked: no Content-Length.
	pr, pw := io.Pipe()
	go func() {
		_, _ = pw.Write([]byte(`{"schemas":["` + userSchemaURN + `"],"userName":"` + strings.Repeat("y", 3000) + `"}`))
		pw.Close()
	}()
	req, err := http.NewRequest("POST", s.URL+scim.Prefix+"/Users", pr)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+s.Token)
	resp, err := s.Client().Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, 413, resp.StatusCode, "%s", body)
	assert.Contains(t, string(body), errSchema)

	requireStatus(t, 201, s.Do(scimtest.Request{Method: "POST", Path: "/Users", Body: userBody("small@example.com", nil)}))
	// The default is 1 MiB.
	d := scimtest.MustStart(t, scim.Options{})
	huge := userBody("huge@example.com", map[string]any{"displayName": strings.Repeat("x", scim.DefaultMaxBodyBytes)})
	requireError(t, d.Do(scimtest.Request{Method: "POST", Path: "/Users", Body: huge}), 413, "")
}

// fakeClock is a settable clock for the rate limiter.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestRateLimit: a token over its bucket gets 429 with an integer
// Retry-After; other tokens are not affected; the bucket refills.
func TestRateLimit(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := scimtest.MustStart(t, scim.Options{RateLimit: scim.RateLimit{PerSecond: 0.5, Burst: 3}, Now: clock.now})
	for i := 0; i < 3; i++ {
		requireStatus(t, 200, s.Do(scimtest.Request{Method: "GET", Path: "/Users"}))
	}
	r := s.Do(scimtest.Request{Method: "GET", Path: "/Users"})
	requireError(t, r, 429, "")
	assert.Equal(t, "2", r.Header.Get("Retry-After"), "one request per 2 s: an integer number of seconds")

	other := s.MustToken(s.Tenant, "other")
	requireStatus(t, 200, s.Do(scimtest.Request{Method: "GET", Path: "/Users", Token: other}))

	clock.add(2 * time.Second)
	requireStatus(t, 200, s.Do(scimtest.Request{Method: "GET", Path: "/Users"}))
	requireError(t, s.Do(scimtest.Request{Method: "GET", Path: "/Users"}), 429, "")
}

// TestPasswordNeverReturned sets a password on create, PUT and PATCH and
// checks that no response contains it or the password attribute.
func TestPasswordNeverReturned(t *testing.T) {
	s := scimtest.MustStart(t, scim.Options{})
	const secret = "Corr3ct-Horse-Battery"
	check := func(r *scimtest.Response) {
		t.Helper()
		assert.NotContains(t, string(r.Body), secret)
		assert.NotContains(t, string(r.Body), `"password"`)
	}
	r := s.Do(scimtest.Request{Method: "POST", Path: "/Users?attributes=password,userName", Body: userBody("pw@example.com", map[string]any{"password": secret})})
	requireStatus(t, 201, r)
	check(r)
	id := r.JSON(t)["id"].(string)
	u, err := s.Dir.GetUser(context.Background(), s.Tenant, id)
	require.NoError(t, err)
	assert.True(t, u.Password.IsSet)
	_, err = s.Dir.Login(context.Background(), s.Tenant, "pw@example.com", secret)
	require.NoError(t, err, "the password was stored")

	for _, req := range []scimtest.Request{
		{Method: "GET", Path: "/Users/" + id},
		{Method: "GET", Path: "/Users/" + id + "?attributes=password"},
		{Method: "GET", Path: "/Users"},
		{Method: "POST", Path: "/Users/.search", Body: map[string]any{"schemas": []string{searchSchema}, "attributes": []string{"password"}}},
		{Method: "PUT", Path: "/Users/" + id, Body: userBody("pw@example.com", map[string]any{"password": secret + "2"})},
		{Method: "PATCH", Path: "/Users/" + id, Body: patchBody(op("replace", "password", secret+"3"))},
		{Method: "PATCH", Path: "/Users/" + id, Body: patchBody(op("replace", "", map[string]any{"password": secret + "4"}))},
	} {
		r := s.Do(req)
		require.Less(t, r.Status, 300, "%s %s: %s", req.Method, req.Path, r.Body)
		check(r)
	}
	_, err = s.Dir.Login(context.Background(), s.Tenant, "pw@example.com", secret+"4")
	require.NoError(t, err, "the last PATCH set the password")
	// A password that fails the policy is a 400 that does not echo it.
	r = s.Do(scimtest.Request{Method: "PATCH", Path: "/Users/" + id, Body: patchBody(op("replace", "password", "short"))})
	requireError(t, r, 400, "invalidValue")
	assert.NotContains(t, string(r.Body), `"short"`)
	// Removing it is refused.
	requireError(t, s.Do(scimtest.Request{Method: "PATCH", Path: "/Users/" + id, Body: patchBody(op("remove", "password", nil))}), 400, "mutability")
}

// TestInternalErrorsDoNotLeak: a broken store answers a generic 500.
func TestInternalErrorsDoNotLeak(t *testing.T) {
	s := scimtest.MustStart(t, scim.Options{})
	id := s.MustCreateUser("x@example.com")
	require.NoError(t, s.Store.Close())
	r := s.Do(scimtest.Request{Method: "GET", Path: "/Users/" + id})
	require.GreaterOrEqual(t, r.Status, 500, "%s", r.Body)
	m := requireError(t, r, r.Status, "")
	assert.Contains(t, []string{"internal server error", "the service is busy; retry later"}, m["detail"])
	assert.NotContains(t, strings.ToLower(string(r.Body)), "sql")
}

// TestStrictJSON: a body with invalid UTF-8, a duplicate key or data after
// the object is 400 invalidSyntax, never stored as something else.
func TestStrictJSON(t *testing.T) {
	s := scimtest.MustStart(t, scim.Options{})
	base := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ada@example.com"`
	for name, body := range map[string]string{
		"invalid UTF-8": `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ada` + "\xff" + `@example.com"}`,
		"duplicate key": base + `,"userName":"eve@example.com"}`,
		"trailing data": base + `} {"x":1}`,
	} {
		resp := s.Do(scimtest.Request{Method: "POST", Path: "/Users", Body: body})
		assert.Equal(t, http.StatusBadRequest, resp.Status, name)
		assert.Contains(t, string(resp.Body), `"scimType":"invalidSyntax"`, name)
	}
	resp := s.Do(scimtest.Request{Method: "GET", Path: "/Users"})
	assert.Contains(t, string(resp.Body), `"totalResults":0`, "nothing was stored")
}

// TestPatchLimits: a PATCH with too many operations or values is refused
// with 400 tooMany naming the limit, and nothing of it is applied.
func TestPatchLimits(t *testing.T) {
	s := scimtest.MustStart(t, scim.Options{MaxBodyBytes: 4 << 20})
	uid := s.MustCreateUser("ada@example.com")
	gid := s.MustCreateGroup("Sales")
	ops := make([]map[string]any, scim.MaxPatchOperations+1)
	for i := range ops {
		ops[i] = map[string]any{"op": "replace", "path": "title", "value": "T" + strconv.Itoa(i)}
	}
	resp := s.Do(scimtest.Request{Method: "PATCH", Path: "/Users/" + uid, Body: map[string]any{
		"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"}, "Operations": ops}})
	assert.Equal(t, http.StatusBadRequest, resp.Status)
	assert.Contains(t, string(resp.Body), `"scimType":"tooMany"`)
	assert.Contains(t, string(resp.Body), "at most 1000 operations")

	members := make([]map[string]any, scim.MaxPatchValues+1)
	for i := range members {
		members[i] = map[string]any{"value": "m" + strconv.Itoa(i)}
	}
	resp = s.Do(scimtest.Request{Method: "PATCH", Path: "/Groups/" + gid, Body: map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []map[string]any{{"op": "add", "path": "members", "value": members}}}})
	assert.Equal(t, http.StatusBadRequest, resp.Status)
	assert.Contains(t, string(resp.Body), "at most 10000 values")
	resp = s.Do(scimtest.Request{Method: "GET", Path: "/Users/" + uid})
	assert.NotContains(t, string(resp.Body), `"title"`, "nothing was applied")
}
