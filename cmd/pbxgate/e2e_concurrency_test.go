package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/ldapsync/ldaptest"
)

// TestIntegrationConcurrentWriters writes through every door at once: SCIM
// clients creating users and racing PATCHes with If-Match on shared users,
// an LDAP sync and a CSV import from two more processes on the same
// database file. No client sees a 5xx ("database is locked" must never
// surface), and no update is lost: every PATCH answered 200 moved the
// version by one, the others got 412.
func TestIntegrationConcurrentWriters(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary with slapd")
	}
	const ldapUsers, csvUsers, scimUsers = 1500, 1500, 600
	dirsrv := ldaptest.Start(t, ldaptest.Options{UnlimitedSync: true, Bulk: func(w io.Writer, base string) error {
		for i := 0; i < ldapUsers; i++ {
			fmt.Fprintf(w, "dn: uid=l%05d,ou=people,%s\nobjectClass: inetOrgPerson\nuid: l%05d\ncn: L %d\nsn: L\nmail: l%05d@corp.example\n\n", i, base, i, i, i)
		}
		return nil
	}})
	config := fmt.Sprintf(`tenants:
  - id: default
scim:
  rateLimit: {perSecond: -1}
ldap:
  directories:
    - name: corp
      tenant: default
      preset: openldap
      url: %s
      bindDN: %s
      bindPassword: %s
      baseDN: %s
      schedule: "0 3 1 1 *"
`, dirsrv.URL, dirsrv.SyncDN, dirsrv.SyncPassword, dirsrv.BaseDN)
	g := startGateway(t, "", config)
	token := mustToken(t, g)

	// Shared users the PATCH racers fight over.
	var shared []string
	for i := 0; i < 4; i++ {
		code, body := g.scim("POST", "/Users", token, scimUser(fmt.Sprintf("shared%d@example.com", i)))
		require.Equal(t, 201, code, "%v", body)
		shared = append(shared, body["id"].(string))
	}
	var csv bytes.Buffer
	csv.WriteString("userName,email\n")
	for i := 0; i < csvUsers; i++ {
		fmt.Fprintf(&csv, "c%05d,c%05d@import.example\n", i, i)
	}
	csvPath := filepath.Join(t.TempDir(), "import.csv")
	require.NoError(t, os.WriteFile(csvPath, csv.Bytes(), 0o600))

	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		statuses = map[int]int{}
		patched  = map[string]int{}
		firstBad string
	)
	record := func(code int, what string, body []byte) {
		mu.Lock()
		defer mu.Unlock()
		statuses[code]++
		if code >= 500 && firstBad == "" {
			firstBad = fmt.Sprintf("%s: %d %s", what, code, body)
		}
	}
	do := func(method, path string, body any, ifMatch string) (int, []byte, string) {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, g.base+"/scim/v2"+path, bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/scim+json")
		if ifMatch != "" {
			req.Header.Set("If-Match", ifMatch)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, []byte(err.Error()), ""
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, data, resp.Header.Get("ETag")
	}
	// Creators.
	for c := 0; c < 8; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for i := c; i < scimUsers; i += 8 {
				code, body, _ := do("POST", "/Users", scimUser(fmt.Sprintf("s%05d@example.com", i)), "")
				record(code, "create", body)
			}
		}(c)
	}
	// PATCH racers: read the ETag, patch with If-Match.
	for c := 0; c < 8; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for i := 0; i < 40; i++ {
				id := shared[(c+i)%len(shared)]
				code, body, etag := do("GET", "/Users/"+id, nil, "")
				record(code, "get", body)
				if code != 200 {
					continue
				}
				code, body, _ = do("PATCH", "/Users/"+id, map[string]any{
					"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
					"Operations": []map[string]any{{"op": "replace", "path": "title", "value": fmt.Sprintf("w%d-%d", c, i)}},
				}, etag)
				record(code, "patch", body)
				if code == 200 {
					mu.Lock()
					patched[id]++
					mu.Unlock()
				}
			}
		}(c)
	}
	// The other two processes.
	var syncOut, importOut string
	var syncErr, importErr error
	wg.Add(2)
	go func() { defer wg.Done(); syncOut, syncErr = g.cli("ldap", "sync", "corp", "--quiet") }()
	go func() {
		defer wg.Done()
		importOut, importErr = g.cli("users", "import", csvPath, "--tenant", "default", "--quiet")
	}()
	wg.Wait()

	require.NoError(t, syncErr, syncOut)
	require.NoError(t, importErr, importOut)
	assert.Contains(t, syncOut, fmt.Sprintf("created %d", ldapUsers))
	assert.Contains(t, importOut, fmt.Sprintf("imported: %d created", csvUsers))
	assert.Empty(t, firstBad, "no 5xx reaches a client; statuses: %v", statuses)
	for code := range statuses {
		assert.Contains(t, []int{200, 201, 412}, code, "statuses: %v", statuses)
	}
	// No lost update: each 200 moved the version by exactly one.
	for _, id := range shared {
		code, body := g.scim("GET", "/Users/"+id, token, nil)
		require.Equal(t, 200, code)
		version := body["meta"].(map[string]any)["version"].(string)
		assert.Equal(t, fmt.Sprintf(`W/"%d"`, 1+patched[id]), version, "user %s", id)
	}
	list, err := g.cli("users", "list", "--tenant", "default", "--output", "csv")
	require.NoError(t, err)
	assert.Equal(t, 1+len(shared)+scimUsers+ldapUsers+csvUsers, strings.Count(list, "\n"), "every acknowledged user is there")
	t.Logf("statuses: %v; patches won: %v", statuses, patched)
	require.NoError(t, g.stop())
}
