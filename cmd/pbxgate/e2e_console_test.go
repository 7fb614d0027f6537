package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/ldapsync/ldaptest"
)

// TestIntegrationConsoleLDAP: serve lists the LDAP directories its config
// names for the signed-in tenant on the console's LDAP page, and the
// console's "Dry run" and "Sync now" run the real sync against slapd
// through the admin API, landing in the run history.
func TestIntegrationConsoleLDAP(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary with slapd")
	}
	dirsrv := ldaptest.Start(t, ldaptest.Options{UnlimitedSync: true})
	dirsrv.AddLDIF(t, fmt.Sprintf("dn: uid=grace,%s\nobjectClass: inetOrgPerson\nuid: grace\ncn: Grace Hopper\ngivenName: Grace\nsn: Hopper\nmail: grace@corp.example\n\n", dirsrv.PeopleDN))
	config := fmt.Sprintf(`tenants:
  - id: acme
    name: Acme
    timeZone: Europe/Berlin
  - id: other
    name: Other
ldap:
  directories:
    - name: corp
      tenant: acme
      preset: openldap
      url: %s
      bindDN: %s
      bindPassword: %s
      baseDN: %s
      schedule: "0 3 1 1 *"
`, dirsrv.URL, dirsrv.SyncDN, dirsrv.SyncPassword, dirsrv.BaseDN)
	g := startGateway(t, "", config)
	_, err := g.cli("users", "add", "ada@acme.example", "--tenant", "acme", "--role", "admin")
	require.NoError(t, err)
	link, err := g.cli("console", "link", "--tenant", "acme", "--user", "ada@acme.example")
	require.NoError(t, err)
	u, err := url.Parse(strings.TrimSpace(link))
	require.NoError(t, err)

	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	post := func(path string, form url.Values) (int, string) {
		req, err := http.NewRequest(http.MethodPost, g.base+path, strings.NewReader(form.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", g.base)
		resp, err := c.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := post(u.Path, nil)
	require.Equal(t, http.StatusOK, code, body)
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(body)
	require.NotNil(t, m)

	resp, err := c.Get(g.base + "/admin/tenant/ldap")
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Contains(t, string(b), `<a href="/admin/tenant/ldap/corp">corp</a>`, "the configured directory of acme")

	code, body = post("/admin/tenant/ldap/corp/runs", url.Values{"csrf": {m[1]}, "dryRun": {"1"}})
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, "The dry run ended (nothing was changed): succeeded")
	list, err := g.cli("users", "list", "--tenant", "acme")
	require.NoError(t, err)
	assert.NotContains(t, list, "grace", "a dry run creates nobody")

	code, body = post("/admin/tenant/ldap/corp/runs", url.Values{"csrf": {m[1]}})
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, "The sync ended: succeeded")
	assert.Regexp(t, `1 read, 1 created`, body)
	list, err = g.cli("users", "list", "--tenant", "acme")
	require.NoError(t, err)
	assert.Contains(t, list, "grace")
	hist, err := g.cli("ldap", "history")
	require.NoError(t, err)
	assert.Equal(t, 2, strings.Count(hist, "succeeded"), hist)
}
