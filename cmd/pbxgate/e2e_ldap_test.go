package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/ldapsync/ldaptest"
	"github.com/pbxgate/pbxgate/smtp/smtptest"
)

// TestIntegrationGatewayEndToEnd runs the whole product as an operator
// would: serve with a config naming a real slapd and a real SMTP relay, a
// token from the CLI, a user provisioned and deactivated over SCIM, an LDAP
// sync run from the CLI while serve runs, the welcome mails received by the
// relay with their set-password links, /metrics and /readyz, then SIGTERM:
// a clean exit with everything acknowledged on disk.
func TestIntegrationGatewayEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary with slapd and an SMTP server")
	}
	dirsrv := ldaptest.Start(t, ldaptest.Options{UnlimitedSync: true})
	relay := smtptest.Start(t, smtptest.Options{})
	var ldif strings.Builder
	for i, name := range []string{"grace", "linus", "jürgen"} {
		fmt.Fprintf(&ldif, "dn: uid=%s,%s\nobjectClass: inetOrgPerson\nobjectClass: AsteriskExtension\nuid: %s\ncn: %s Person\ngivenName: %s\nsn: Person\nmail: %s@corp.example\nAstExtension: %d\n\n",
			name, dirsrv.PeopleDN, name, name, name, strings.ReplaceAll(name, "ü", "ue"), 301+i)
	}
	dirsrv.AddLDIF(t, ldif.String())

	config := fmt.Sprintf(`tenants:
  - id: acme
    name: Acme
    timeZone: Europe/Berlin
smtp:
  host: %s
  port: %d
  tls: none
  from: {name: Acme Phones, address: phones@acme.example}
mail:
  pollInterval: 100ms
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
`, relay.Host(), relay.Port(), dirsrv.URL, dirsrv.SyncDN, dirsrv.SyncPassword, dirsrv.BaseDN)
	g := startGateway(t, "", config)
	assert.Empty(t, g.token, "configured tenants: no first-start token")
	token, err := g.cli("token", "create", "--tenant", "acme", "--name", "okta")
	require.NoError(t, err)
	token = strings.TrimSpace(token)

	code, body := g.scim("POST", "/Users", token, scimUser("ada@acme.example"))
	require.Equal(t, 201, code, "%v", body)
	id := body["id"].(string)
	code, body = g.scim("PATCH", "/Users/"+id, token, map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []map[string]any{{"op": "Replace", "path": "active", "value": "False"}}, // Entra without the flag
	})
	require.Equal(t, 200, code, "%v", body)
	assert.Equal(t, false, body["active"])

	out, err := g.cli("ldap", "test", "corp")
	require.NoError(t, err, out)
	out, err = g.cli("ldap", "sync", "corp", "--quiet")
	require.NoError(t, err)
	assert.Contains(t, out, "created 3")
	assert.Contains(t, out, "status: succeeded")
	hist, err := g.cli("ldap", "history")
	require.NoError(t, err)
	assert.Contains(t, hist, "succeeded")

	// Ada's welcome mail (sent before she was deactivated, or cancelled —
	// either way never twice) and the three directory users' mails arrive.
	require.Eventually(t, func() bool {
		rcpts := map[string]bool{}
		for _, m := range relay.Messages() {
			rcpts[m.To[0]] = true
		}
		return rcpts["grace@corp.example"] && rcpts["linus@corp.example"] && rcpts["juergen@corp.example"]
	}, 20*time.Second, 50*time.Millisecond)
	for _, m := range relay.Messages() {
		p := m.Parse(t)
		assert.Contains(t, p.Text, g.base+"/setup/pbxs_", "the mail carries an absolute set-password link")
	}

	resp, err := http.Get(g.base + "/readyz")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)
	assert.Contains(t, metric(t, g.base, "pbxgate_mail_sent_total"), "pbxgate_mail_sent_total")
	assert.Contains(t, metric(t, g.base, "pbxgate_http_requests_total"), `code="200",endpoint="/scim/v2/Users/{id}",method="PATCH"`)

	require.NoError(t, g.stop(), "SIGTERM exits 0\n%s", g.stderr)
	list, err := g.cli("users", "list", "--tenant", "acme")
	require.NoError(t, err)
	for _, want := range []string{"ada@acme.example", "grace", "linus", "jürgen"} {
		assert.Contains(t, list, want)
	}
	assert.Contains(t, list, "inactive")
	outbox, err := g.cli("mail", "outbox", "--tenant", "acme")
	require.NoError(t, err)
	// The directory users' mails were sent; Ada's was sent or, if the
	// worker came after her deactivation, cancelled — never failed.
	assert.GreaterOrEqual(t, strings.Count(outbox, " sent "), 3, outbox)
	assert.NotContains(t, outbox, "failed")
	assert.Equal(t, 4, strings.Count(outbox, "welcome"), outbox)
}
