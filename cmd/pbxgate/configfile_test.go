package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pbxgate.yaml")
	require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
	return path
}

func envMap(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

const relay = `smtp:
  host: smtp.example.com
  username: pbxgate
  password: ${SMTP_PASSWORD}
  from: {address: phones@example.com}
`

func TestConfigExpandsVariablesInValuesOnly(t *testing.T) {
	for _, secret := range []string{"abc #def", "*star", "&anchor", "[1, 2]", "{a: b}", "12345", "true", "~", "x: y", "'quoted'"} {
		t.Run(secret, func(t *testing.T) {
			cfg, _, err := loadConfig(writeConfig(t, relay), envMap(map[string]string{"SMTP_PASSWORD": secret}))
			require.NoError(t, err)
			assert.Equal(t, secret, cfg.SMTP.Password, "the variable verbatim")
		})
	}
	// Inside a longer string; in comments and keys nothing is expanded.
	path := writeConfig(t, "# set ${NOT_SET} for nothing\ndatabase: postgres://pbxgate:${PGPASSWORD}@db.internal/pbxgate\n")
	cfg, _, err := loadConfig(path, envMap(map[string]string{"PGPASSWORD": "p #w"}))
	require.NoError(t, err)
	assert.Equal(t, "postgres://pbxgate:p #w@db.internal/pbxgate", cfg.Database)
	_, _, err = loadConfig(writeConfig(t, "${KEY}: x\n"), envMap(map[string]string{"KEY": "listen"}))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `unknown key "${KEY}"`)

	// An unset variable is named with its path and line, once; a set
	// secret never appears in an error.
	_, _, err = loadConfig(writeConfig(t, relay+"mail:\n  linkTTL: ${TTL}\n"), envMap(nil))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "smtp.password: ${SMTP_PASSWORD} is not set in the environment (line 4)")
	assert.Contains(t, err.Error(), "mail.linkTTL: ${TTL} is not set in the environment (line 7)")
	assert.NotContains(t, err.Error(), "unmarshal")
	_, _, err = loadConfig(writeConfig(t, relay+"log: {level: loud}\n"), envMap(map[string]string{"SMTP_PASSWORD": "*hunter2"}))
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "hunter2")
	// Typed values from a variable.
	cfg, _, err = loadConfig(writeConfig(t, "mail:\n  linkTTL: ${TTL}\n  maxAttempts: ${N}\n"), envMap(map[string]string{"TTL": "48h", "N": "3"}))
	require.NoError(t, err)
	assert.Equal(t, 48*time.Hour, cfg.Mail.LinkTTL)
	assert.Equal(t, 3, cfg.Mail.MaxAttempts)
}

func TestConfigFromEnvironment(t *testing.T) {
	env := map[string]string{
		"PBXGATE_PUBLIC_URL": "https://pbx.example.com", "PBXGATE_SMTP_HOST": "smtp.example.com",
		"PBXGATE_SMTP_PASSWORD": "abc #def", "PBXGATE_SMTP_USERNAME": "pbxgate", "PBXGATE_SMTP_FROM_ADDRESS": "phones@example.com",
		"PBXGATE_MAIL_LINK_TTL": "48h", "PBXGATE_LOG_FORMAT": "json", "PBXGATE_SCIM_RATE_LIMIT_PER_SECOND": "7.5",
		"PBXGATE_HTTP_READ_HEADER_TIMEOUT": "3s",
	}
	for _, path := range []string{"", writeConfig(t, "publicURL: https://old.example.com\nlog: {format: text}\n")} {
		cfg, _, err := loadConfig(path, envMap(env))
		require.NoError(t, err, "file %q", path)
		assert.Equal(t, "https://pbx.example.com", cfg.PublicURL, "the environment wins over the file")
		require.NotNil(t, cfg.SMTP, "smtp.* variables configure a relay")
		assert.Equal(t, "abc #def", cfg.SMTP.Password)
		assert.Equal(t, "phones@example.com", cfg.SMTP.From.Address)
		assert.Equal(t, 48*time.Hour, cfg.Mail.LinkTTL)
		assert.Equal(t, "json", cfg.Log.Format)
		assert.Equal(t, 7.5, cfg.SCIM.RateLimit.PerSecond)
		assert.Equal(t, 3*time.Second, cfg.HTTP.ReadHeaderTimeout)
	}
	_, _, err := loadConfig("", envMap(map[string]string{"PBXGATE_LOG_FORMAT": "xml", "PBXGATE_MAIL_LINK_TTL": "soon"}))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "log.format: must be auto, text or json (from PBXGATE_LOG_FORMAT)")
	assert.Contains(t, err.Error(), `mail.linkTTL: "soon" is not a duration such as 30s or 24h (from PBXGATE_MAIL_LINK_TTL)`)

	// The rule, and the documentation lists every variable.
	assert.Equal(t, "PBXGATE_SMTP_ROOT_CA_FILE", envName("smtp.rootCAFile", "PBXGATE"))
	assert.Equal(t, "PBXGATE_PUBLIC_URL", envName("publicURL", "PBXGATE"))
	doc, err := os.ReadFile("../../docs/configuration.md")
	require.NoError(t, err)
	for _, s := range envSettings() {
		assert.Contains(t, string(doc), "| `"+s[0]+"` | `"+s[1]+"` |", "docs/configuration.md lists %s", s[1])
	}
}

func TestCLIConfigCheckReportsEverythingAtOnce(t *testing.T) {
	e := newCLIEnv(t)
	path := writeConfig(t, `# ${NOT_SET} in a comment is fine
lisen: 0.0.0.0:8080
log:
  level: loud
tenants:
  - id: acme
    timeZone: Mars/Base
smtp:
  host: smtp.example.com
  username: u
  password: hunter2
  from: {address: phones@example.com}
ldap:
  directories:
    - name: corp
      tenant: acme
      url: ldap://dc1.example.com
      bindDN: cn=pbxgate
      bindPasword: x
      baseDN: dc=example
mail:
  maxAttempts: lots
`)
	code, out, errs := e.run("", "config", "check", path)
	assert.Equal(t, 1, code, out)
	for _, want := range []string{
		`line 2: unknown key "lisen"; did you mean "listen"?`,
		`log.level: must be debug, info, warn or error (line 4)`,
		`tenants[0].timeZone: unknown IANA time zone "Mars/Base" (line 7)`,
		`line 19: unknown key "ldap.directories[0].bindPasword"; did you mean "bindPassword"?`,
		`mail.maxAttempts: "lots" is not a whole number (line 22)`,
		`warning: smtp.password: a secret written in the file; use ${VAR}, passwordFile, or PBXGATE_SMTP_PASSWORD (line 11)`,
		`warning: ldap.directories[0].url: ldap:// without startTLS`,
	} {
		assert.Contains(t, errs, want)
	}
	assert.NotContains(t, errs, "hunter2")

	// Warnings alone do not fail the check.
	ok := writeConfig(t, "smtp:\n  host: smtp.example.com\n  username: u\n  password: hunter2\n  from: {address: phones@example.com}\n")
	code, out, errs = e.run("", "config", "check", ok)
	assert.Equal(t, 0, code, errs)
	assert.Contains(t, out, "ok (0 tenants, 0 LDAP directories, mail via relay smtp.example.com)")
	assert.Contains(t, errs, "warning: smtp.password")
	assert.True(t, strings.HasPrefix(errs, "warning: "), errs)
}
