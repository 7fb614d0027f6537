package scim_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/scim"
	"github.com/pbxgate/pbxgate/scim/scimtest"
)

const (
	bulkRequestURN  = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
	bulkResponseURN = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
)

func bulkBody(failOnErrors int, ops ...map[string]any) map[string]any {
	list := make([]any, len(ops))
	for i, o := range ops {
		list[i] = o
	}
	b := map[string]any{"schemas": []string{bulkRequestURN}, "Operations": list}
	if failOnErrors > 0 {
		b["failOnErrors"] = failOnErrors
	}
	return b
}

func bulkOp(method, path, bulkID string, data any) map[string]any {
	o := map[string]any{"method": method, "path": path}
	if bulkID != "" {
		o["bulkId"] = bulkID
	}
	if data != nil {
		o["data"] = data
	}
	return o
}

// TestBulk1000 sends 1,000 operations in one Bulk request (RFC 7644 §3.7):
// a group whose members are created later in the same request, users whose
// manager is created in it, answered in request order.
func TestBulk1000(t *testing.T) {
	s := scimtest.MustStart(t, scim.Options{})
	const users = 998
	var ops []map[string]any
	members := make([]any, users)
	for i := range users {
		members[i] = map[string]any{"value": fmt.Sprintf("bulkId:u%d", i)}
	}
	// The group comes first and names members created after it.
	ops = append(ops, bulkOp("POST", "/Groups", "g", map[string]any{
		"schemas": []string{groupSchemaURN}, "displayName": "Everyone", "members": members}))
	ops = append(ops, bulkOp("POST", "/Users", "boss", userBody("boss@example.com", nil)))
	for i := range users {
		ops = append(ops, bulkOp("POST", "/Users", fmt.Sprintf("u%d", i), userBody(fmt.Sprintf("user%d@example.com", i), map[string]any{
			entSchemaURN: map[string]any{"manager": map[string]any{"value": "bulkId:boss"}},
		})))
	}
	require.Len(t, ops, 1000)
	r := s.Do(scimtest.Request{Method: "POST", Path: "/Bulk", Body: bulkBody(0, ops...)})
	requireStatus(t, 200, r)
	m := r.JSON(t)
	assert.Equal(t, []any{bulkResponseURN}, m["schemas"])
	res := asSlice(m["Operations"])
	require.Len(t, res, 1000)
	ids := map[string]string{}
	for i, o := range res {
		om := o.(map[string]any)
		require.Equal(t, "201", om["status"], "operation %d: %v", i, om)
		assert.Equal(t, ops[i]["bulkId"], om["bulkId"], "responses are in request order")
		assert.Equal(t, "POST", om["method"])
		loc, _ := om["location"].(string)
		require.NotEmpty(t, loc)
		assert.NotEmpty(t, om["version"])
		ids[om["bulkId"].(string)] = loc[strings.LastIndex(loc, "/")+1:]
	}
	ctx := context.Background()
	gm, n, err := s.Dir.ListTeamMembers(ctx, s.Tenant, ids["g"], 0, 0)
	require.NoError(t, err)
	assert.Equal(t, users, n)
	assert.Contains(t, gm, ids["u0"])
	assert.Contains(t, gm, ids[fmt.Sprintf("u%d", users-1)])
	u, err := s.Dir.GetUser(ctx, s.Tenant, ids["u7"])
	require.NoError(t, err)
	assert.Equal(t, ids["boss"], u.ManagerID)
	assert.Equal(t, "user7@example.com", u.UserName)
}

// TestBulk covers failOnErrors, each operation's atomicity, errors in the
// response, the advertised limits and their enforcement.
func TestBulk(t *testing.T) {
	s := scimtest.MustStart(t, scim.Options{BulkMaxOperations: 5, BulkMaxPayloadBytes: 4096})

	t.Run("ServiceProviderConfig advertises bulk", func(t *testing.T) {
		r := s.Do(scimtest.Request{Method: "GET", Path: "/ServiceProviderConfig"})
		requireStatus(t, 200, r)
		assert.Equal(t, map[string]any{"supported": true, "maxOperations": float64(5), "maxPayloadSize": float64(4096)}, r.JSON(t)["bulk"])
	})

	t.Run("errors are answered per operation; the others apply", func(t *testing.T) {
		id := s.MustCreateUser("existing@example.com")
		r := s.Do(scimtest.Request{Method: "POST", Path: "/Bulk", Body: bulkBody(0,
			bulkOp("POST", "/Users", "a", userBody("existing@example.com", nil)),
			bulkOp("PATCH", "/Users/"+id, "", patchBody(op("replace", "title", "Boss"), op("replace", `emails[value sw "zz"].type`, "home"))),
			bulkOp("PATCH", "/Users/"+id, "", patchBody(op("replace", "displayName", "Existing"))),
			bulkOp("DELETE", "/Users/nope", "", nil),
			bulkOp("POST", "/Groups", "", map[string]any{"schemas": []string{groupSchemaURN}, "displayName": "G", "members": []any{map[string]any{"value": "bulkId:a"}}}),
		)})
		requireStatus(t, 200, r)
		res := asSlice(r.JSON(t)["Operations"])
		require.Len(t, res, 5)
		assert.Equal(t, "409", get(res[0], "status"))
		assert.Equal(t, "uniqueness", get(res[0], "response", "scimType"))
		assert.Equal(t, "a", get(res[0], "bulkId"))
		assert.Equal(t, "400", get(res[1], "status"))
		assert.Equal(t, "noTarget", get(res[1], "response", "scimType"))
		assert.Equal(t, "200", get(res[2], "status"))
		assert.Equal(t, "404", get(res[3], "status"))
		assert.Equal(t, "409", get(res[4], "status"), "a bulkId whose operation failed cannot be resolved")
		assert.Contains(t, get(res[4], "response", "detail"), "bulkId:a")
		g := s.Do(scimtest.Request{Method: "GET", Path: "/Users/" + id})
		assert.Equal(t, "Existing", g.JSON(t)["displayName"])
		assert.NotContains(t, g.JSON(t), "title", "the failed PATCH changed nothing")
	})

	t.Run("failOnErrors stops after that many errors", func(t *testing.T) {
		r := s.Do(scimtest.Request{Method: "POST", Path: "/Bulk", Body: bulkBody(1,
			bulkOp("POST", "/Users", "", userBody("f1@example.com", nil)),
			bulkOp("DELETE", "/Users/nope", "", nil),
			bulkOp("POST", "/Users", "", userBody("f2@example.com", nil)),
		)})
		requireStatus(t, 200, r)
		res := asSlice(r.JSON(t)["Operations"])
		require.Len(t, res, 2)
		assert.Equal(t, "201", get(res[0], "status"))
		assert.Equal(t, "404", get(res[1], "status"))
		f := s.Do(scimtest.Request{Method: "GET", Path: withFilter("/Users", `userName eq "f2@example.com"`)})
		assert.Equal(t, float64(0), f.JSON(t)["totalResults"])
	})

	t.Run("limits are enforced with 413 naming them", func(t *testing.T) {
		var ops []map[string]any
		for i := range 6 {
			ops = append(ops, bulkOp("DELETE", fmt.Sprintf("/Users/x%d", i), "", nil))
		}
		e := requireError(t, s.Do(scimtest.Request{Method: "POST", Path: "/Bulk", Body: bulkBody(0, ops...)}), 413, "")
		assert.Contains(t, e["detail"], "maxOperations (5)")
		big := bulkBody(0, bulkOp("POST", "/Users", "", userBody("big@example.com", map[string]any{"title": strings.Repeat("x", 5000)})))
		e = requireError(t, s.Do(scimtest.Request{Method: "POST", Path: "/Bulk", Body: big}), 413, "")
		assert.Contains(t, e["detail"], "maxPayloadSize (4096)")
	})

	t.Run("malformed requests", func(t *testing.T) {
		for _, body := range []string{`not json`, `{"Operations": "x"}`, `{"schemas":["` + bulkRequestURN + `"]}`,
			`{"Operations":[{"method":"GET","path":"/Users"}]}`, `{"Operations":[{"method":"POST","path":"/Bulk","data":{}}]}`} {
			r := s.Do(scimtest.Request{Method: "POST", Path: "/Bulk", Body: body})
			if r.Status == 200 {
				assert.Equal(t, "400", get(r.JSON(t), "Operations", 0, "status"), body)
			} else {
				requireError(t, r, 400, "")
			}
		}
		r := s.Do(scimtest.Request{Method: "GET", Path: "/Bulk"})
		requireError(t, r, 405, "")
	})
}

// FuzzBulk sends arbitrary Bulk bodies through the whole handler: every
// input gets a 200 (with per-operation results) or a 4xx, never a 5xx.
//
//	go test ./scim -run '^$' -fuzz FuzzBulk -fuzztime 60s
func FuzzBulk(f *testing.F) {
	seed := func(b any) {
		raw, _ := json.Marshal(b)
		f.Add(raw)
	}
	seed(bulkBody(0, bulkOp("POST", "/Users", "a", userBody("a@example.com", nil)),
		bulkOp("POST", "/Groups", "g", map[string]any{"schemas": []string{groupSchemaURN}, "displayName": "G", "members": []any{map[string]any{"value": "bulkId:a"}}})))
	seed(bulkBody(1, bulkOp("PATCH", "/Users/bulkId:a", "", patchBody(op("replace", "active", false))), bulkOp("DELETE", "/Groups/bulkId:g", "", nil)))
	seed(bulkBody(0, bulkOp("POST", "/Groups", "x", map[string]any{"displayName": "bulkId:x", "members": []any{map[string]any{"value": "bulkId:x"}}})))
	seed(map[string]any{"Operations": []any{map[string]any{"method": "PUT", "path": "/Users/1", "version": `W/"1"`, "data": map[string]any{}}}})
	f.Add([]byte(`{"failOnErrors": -1, "Operations": [null, 1, "x", {"bulkId": ""}]}`))
	s := scimtest.MustStart(f, scim.Options{})
	s.MustCreateUser("fuzz@example.com")
	f.Fuzz(func(t *testing.T, body []byte) {
		s := s.With(t)
		r := s.Serve(scimtest.Request{Method: "POST", Path: "/Bulk", Body: body})
		require.True(t, r.Status < 500, "%d %s", r.Status, r.Body)
		if r.Status == 200 {
			for _, o := range asSlice(r.JSON(t)["Operations"]) {
				st, _ := get(o, "status").(string)
				require.False(t, strings.HasPrefix(st, "5"), "operation answered %s: %s", st, r.Body)
			}
		}
	})
}
