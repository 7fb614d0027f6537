package scim_test

import (
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/scim/scimtest"
)

const (
	patchOpSchema  = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	listSchema     = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	errSchema      = "urn:ietf:params:scim:api:messages:2.0:Error"
	searchSchema   = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
	userSchemaURN  = "urn:ietf:params:scim:schemas:core:2.0:User"
	groupSchemaURN = "urn:ietf:params:scim:schemas:core:2.0:Group"
	entSchemaURN   = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	pbxSchemaURN   = "urn:pbxgate:params:scim:schemas:extension:pbx:2.0:User"
	pbxGroupURN    = "urn:pbxgate:params:scim:schemas:extension:pbx:2.0:Group"
)

// testdata reads a file of testdata/, replacing the documentation's ids
// (old → new pairs).
func testdata(t testing.TB, name string, replace ...string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return strings.NewReplacer(replace...).Replace(string(raw))
}

// withFilter returns path?filter=f&extra (the filter URL-encoded).
func withFilter(path, f string, extra ...string) string {
	q := "filter=" + url.QueryEscape(f)
	for _, e := range extra {
		q += "&" + e
	}
	return path + "?" + q
}

// get walks a decoded JSON value by keys and list indexes.
func get(v any, keys ...any) any {
	for _, k := range keys {
		switch k := k.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

// patchBody builds a PatchOp body.
func patchBody(ops ...map[string]any) map[string]any {
	list := make([]any, len(ops))
	for i, o := range ops {
		list[i] = o
	}
	return map[string]any{"schemas": []string{patchOpSchema}, "Operations": list}
}

func op(name, path string, value any) map[string]any {
	o := map[string]any{"op": name}
	if path != "" {
		o["path"] = path
	}
	if value != nil {
		o["value"] = value
	}
	return o
}

// requireStatus fails with the body when the status differs.
func requireStatus(t testing.TB, want int, r *scimtest.Response) {
	t.Helper()
	require.Equal(t, want, r.Status, "body: %s", r.Body)
}

// requireError checks an error response in the RFC 7644 §3.12 format.
func requireError(t testing.TB, r *scimtest.Response, status int, scimType string) map[string]any {
	t.Helper()
	requireStatus(t, status, r)
	if status == 304 {
		return nil
	}
	m := r.JSON(t)
	require.Equal(t, []any{errSchema}, m["schemas"])
	require.Equal(t, strconv.Itoa(status), m["status"], "status must be a string")
	if scimType != "" {
		require.Equal(t, scimType, m["scimType"], "body: %s", r.Body)
	}
	require.NotEmpty(t, m["detail"])
	return m
}
