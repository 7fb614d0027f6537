package scim_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/scim"
	"github.com/pbxgate/pbxgate/scim/scimtest"
)

// The fuzz tests send arbitrary filters and PATCH bodies through the whole
// handler (normaliser, elimity, the filter translator or the PATCH engine,
// the library): every input must get a 2xx or a 4xx, never a 5xx (a panic
// is answered 500 by the recovery middleware). Seeds are the replay
// payloads; plain `go test` runs them as unit tests. Fuzz with
//
//	go test ./scim -run '^$' -fuzz FuzzFilter -fuzztime 60s
//	go test ./scim -run '^$' -fuzz FuzzPatch -fuzztime 60s

func FuzzFilter(f *testing.F) {
	for _, s := range replayFilters {
		f.Add(s)
	}
	for _, s := range []string{
		`emails[type eq "work" and (value co "@" or primary eq true)]`,
		`not (userName sw "a") or meta.lastModified ge "2020-01-01T00:00:00Z"`,
		`members[value eq "a" or value eq "b"].value pr`,
		`urn:pbxgate:params:scim:schemas:extension:pbx:2.0:User:extension ew "1"`,
		`name[givenName eq "x\u00e9\"y"]`,
		`((((userName pr))))`,
		`active eq true and groups.value eq "g"`,
	} {
		f.Add(s)
	}
	s := scimtest.MustStart(f, scim.Options{})
	uid := s.MustCreateUser("fuzz@example.com")
	s.MustCreateGroup("Fuzz", uid)
	f.Fuzz(func(t *testing.T, filter string) {
		s := s.With(t)
		for _, path := range []string{"/Users", "/Groups"} {
			r := s.Serve(scimtest.Request{Method: "GET", Path: withFilter(path, filter)})
			require.True(t, r.Status == 200 || r.Status == 400, "GET %s filter %q: %d %s", path, filter, r.Status, r.Body)
			r = s.Serve(scimtest.Request{Method: "POST", Path: path + "/.search", Body: map[string]any{
				"schemas": []string{searchSchema}, "filter": filter, "sortBy": filter,
			}})
			require.True(t, r.Status == 200 || r.Status == 400, "search %s filter %q: %d %s", path, filter, r.Status, r.Body)
		}
	})
}

func FuzzPatch(f *testing.F) {
	for _, dir := range []string{"okta", "entra"} {
		files, err := filepath.Glob(filepath.Join("testdata", dir, "*.json"))
		require.NoError(f, err)
		for _, name := range files {
			raw, err := os.ReadFile(name)
			require.NoError(f, err)
			if strings.Contains(string(raw), "Operations") {
				f.Add(raw)
			}
		}
	}
	for _, o := range []map[string]any{
		op("replace", `emails[type eq "work"].primary`, true),
		op("add", pbxSchemaURN+":routing", map[string]any{"backupNumber": "+4930123456", "answerMode": "apps"}),
		op("remove", `members[value ne "x"]`, nil),
		op("replace", "", map[string]any{pbxSchemaURN: map[string]any{"features": map[string]any{"voicemail": "True"}}}),
		op("add", pbxGroupURN+":profiles", []any{"nobody"}),
	} {
		raw, _ := json.Marshal(patchBody(o))
		f.Add(raw)
	}
	s := scimtest.MustStart(f, scim.Options{})
	uid := s.MustCreateUser("fuzz@example.com")
	gid := s.MustCreateGroup("Fuzz", uid)
	f.Fuzz(func(t *testing.T, body []byte) {
		s := s.With(t)
		for _, path := range []string{"/Users/" + uid, "/Groups/" + gid} {
			r := s.Serve(scimtest.Request{Method: "PATCH", Path: path, Body: body})
			require.True(t, r.Status < 500 && r.Status >= 200, "PATCH %s %s: %d %s", path, body, r.Status, r.Body)
		}
	})
}

// FuzzRequestBody sends any body to the routes that take one (create and
// replace of users and groups, searches): the answer is 2xx or 4xx, never
// a 5xx or a panic. Seeds are the Okta and Entra payloads.
func FuzzRequestBody(f *testing.F) {
	for _, dir := range []string{"okta", "entra"} {
		files, err := filepath.Glob(filepath.Join("testdata", dir, "*.json"))
		require.NoError(f, err)
		for _, name := range files {
			raw, err := os.ReadFile(name)
			require.NoError(f, err)
			f.Add(raw)
		}
	}
	for _, seed := range []string{
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x","emails":[[[[[[[[[[]]]]]]]]]]}`,
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"é\u0000","active":"False","phoneNumbers":[{"value":"tel:+1-201-555-0123;ext=9"}]}`,
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"G","members":[{"value":"nope"}]}`,
		`{"userName":1e999}`, `[]`, `null`, `"`, ``,
	} {
		f.Add([]byte(seed))
	}
	s := scimtest.MustStart(f, scim.Options{})
	uid := s.MustCreateUser("fuzz@example.com")
	gid := s.MustCreateGroup("Fuzz", uid)
	f.Fuzz(func(t *testing.T, body []byte) {
		s := s.With(t)
		for _, req := range []scimtest.Request{
			{Method: "POST", Path: "/Users", Body: body},
			{Method: "PUT", Path: "/Users/" + uid, Body: body},
			{Method: "POST", Path: "/Groups", Body: body},
			{Method: "PUT", Path: "/Groups/" + gid, Body: body},
			{Method: "POST", Path: "/Users/.search", Body: body},
		} {
			r := s.Serve(req)
			require.True(t, r.Status >= 200 && r.Status < 500, "%s %s %q: %d %s", req.Method, req.Path, body, r.Status, r.Body)
		}
	})
}
