package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cliRun runs the command line in-process against a data dir and returns
// the exit code, stdout and stderr.
type cliEnv struct {
	t    *testing.T
	data string
	env  map[string]string
}

func newCLIEnv(t *testing.T) *cliEnv {
	return &cliEnv{t: t, data: t.TempDir(), env: map[string]string{}}
}

func (e *cliEnv) run(stdin string, args ...string) (int, string, string) {
	e.t.Helper()
	var out, errb bytes.Buffer
	c := &CLI{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb, Getenv: func(k string) string {
		if k == "PBXGATE_DATA" {
			return e.data
		}
		return e.env[k]
	}}
	code := c.Run(context.Background(), args)
	return code, out.String(), errb.String()
}

// ok runs a command that must succeed and returns its stdout.
func (e *cliEnv) ok(args ...string) string {
	e.t.Helper()
	code, out, errs := e.run("", args...)
	require.Equal(e.t, 0, code, "pbxgate %s\nstdout: %s\nstderr: %s", strings.Join(args, " "), out, errs)
	return out
}

// fail runs a command that must fail with the exit code and returns stderr.
func (e *cliEnv) fail(wantCode int, args ...string) string {
	e.t.Helper()
	code, out, errs := e.run("", args...)
	require.Equal(e.t, wantCode, code, "pbxgate %s\nstdout: %s\nstderr: %s", strings.Join(args, " "), out, errs)
	return errs
}

func TestCLIHelpAndMistakes(t *testing.T) {
	e := newCLIEnv(t)
	out := e.ok("help")
	for _, cmd := range []string{"serve", "tenant", "token", "users", "teams", "profiles", "route", "ldap", "mail", "config", "db", "migrate", "version"} {
		assert.Contains(t, out, "  "+cmd, "help lists %s", cmd)
		sub := e.ok(cmd, "-h")
		assert.Contains(t, sub, "Usage: pbxgate "+cmd, "%s -h", cmd)
		assert.Contains(t, sub, "Example", "%s -h shows examples", cmd)
	}
	assert.Contains(t, e.fail(2, "frobnicate"), `unknown command "frobnicate"`)
	assert.Contains(t, e.fail(2, "users", "list", "--outptu", "json"), "flag provided but not defined: -outptu")
	assert.Contains(t, e.fail(2, "users"), "users needs a subcommand")
	assert.Contains(t, e.fail(2, "users", "show"), "users show needs exactly one USER")
	assert.Contains(t, e.ok("version"), "pbxgate ")
}

func TestCLITenantsAndTokens(t *testing.T) {
	e := newCLIEnv(t)
	assert.Equal(t, "acme\n", e.ok("tenant", "create", "acme", "--name", "Acme Inc.", "--time-zone", "Europe/Berlin", "--region", "DE"))
	assert.Contains(t, e.fail(1, "tenant", "create", "acme"), `tenant with id "acme" already exists`)
	assert.Contains(t, e.fail(1, "tenant", "create", "Bad Name"), "id: must be 1–63 lowercase letters")
	list := e.ok("tenant", "list")
	assert.Contains(t, list, "acme")
	assert.Contains(t, list, "Europe/Berlin")

	tok := e.ok("token", "create", "--tenant", "acme", "--name", "okta")
	assert.Regexp(t, `^pbxg_[a-z0-9]+\.[A-Za-z0-9_-]{43}\n$`, tok, "create prints only the token")
	tokens := e.ok("token", "list", "--tenant", "acme")
	assert.Contains(t, tokens, "okta")
	assert.NotContains(t, tokens, strings.TrimSpace(tok)[20:], "list never shows secrets")
	id := strings.Split(strings.TrimPrefix(strings.TrimSpace(tok), "pbxg_"), ".")[0]
	e.ok("token", "revoke", id, "--tenant", "acme")
	assert.Contains(t, e.ok("token", "list", "--tenant", "acme"), "revoked")
	assert.Contains(t, e.fail(1, "token", "create", "--tenant", "nope"), `tenant "nope": not found`)
	assert.Contains(t, e.fail(1, "token", "revoke", "zzz", "--tenant", "acme"), "not found")
}

func TestCLIUsers(t *testing.T) {
	e := newCLIEnv(t)
	e.ok("tenant", "create", "acme", "--region", "DE")
	e.ok("profiles", "create", "Supervisor", "--tenant", "acme", "--grant", "monitoring.live_calls=true", "--grant", "chat.limit=10")
	id := strings.TrimSpace(e.ok("users", "add", "ada@acme.example", "--tenant", "acme", "--given", "Ada", "--family", "Lovelace",
		"--email", "ada@acme.example", "--extension", "201", "--profile", "Supervisor", "--feature", "voicemail,mobileApp",
		"--backup-number", "+4917612345678"))
	assert.Len(t, id, 36)

	// The most likely mistakes, with the message a user sees.
	errs := e.fail(1, "users", "add", "bob", "--tenant", "acme", "--extension", "20x", "--email", "bob-at-acme")
	assert.Contains(t, errs, "extension: must contain digits only")
	assert.Contains(t, errs, `emails[0].value: "bob-at-acme" is not an email address`)
	assert.Contains(t, e.fail(1, "users", "add", "carol", "--tenant", "acme", "--extension", "201"), `user with extension "201" already exists`)
	assert.Contains(t, e.fail(1, "users", "list", "--tenant", "nope"), `tenant "nope": not found`)
	assert.Contains(t, e.fail(1, "users", "show", "nobody", "--tenant", "acme"), `no user "nobody" in tenant "acme"`)

	list := e.ok("users", "list", "--tenant", "acme")
	assert.Contains(t, list, "ada@acme.example")
	assert.Contains(t, list, "Ada Lovelace")
	var users []map[string]any
	require.NoError(t, json.Unmarshal([]byte(e.ok("users", "list", "--tenant", "acme", "--output", "json")), &users))
	require.Len(t, users, 1)
	assert.Contains(t, e.ok("users", "list", "--tenant", "acme", "--output", "csv"), "id,userName,displayName")
	assert.Contains(t, e.ok("users", "list", "--tenant", "acme", "--search", "LOVE"), "ada@acme.example")
	assert.NotContains(t, e.ok("users", "list", "--tenant", "acme", "--search", "zzz"), "ada@acme.example")

	show := e.ok("users", "show", "201", "--tenant", "acme")
	assert.Contains(t, show, "monitoring.live_calls = true (profile \"Supervisor\")")
	assert.Contains(t, show, "+4917612345678")

	e.ok("users", "edit", "ada@acme.example", "--tenant", "acme", "--title", "Analyst", "--role", "supervisor")
	assert.Contains(t, e.ok("users", "show", id, "--tenant", "acme"), "supervisor")
	e.ok("users", "deactivate", "ada@acme.example", "--tenant", "acme")
	assert.Contains(t, e.ok("users", "list", "--tenant", "acme"), "inactive")
	e.ok("users", "activate", "ada@acme.example", "--tenant", "acme")

	// system users only with --include-system
	e.ok("users", "add", "support-queue", "--kind", "call_queue", "--extension", "600", "--tenant", "acme")
	assert.NotContains(t, e.ok("users", "list", "--tenant", "acme"), "support-queue")
	assert.Contains(t, e.ok("users", "list", "--tenant", "acme", "--include-system"), "support-queue")

	// CSV: a bad file is rejected whole with line and column, a good one imported.
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.csv")
	require.NoError(t, os.WriteFile(bad, []byte("userName,extension,email\nbob,202,bob@acme.example\ncarol,2O3,carol@acme.example\n"), 0o600))
	errs = e.fail(1, "users", "import", bad, "--tenant", "acme")
	assert.Contains(t, errs, "line 3, column extension: must contain digits only")
	assert.Contains(t, errs, "nothing applied")
	assert.NotContains(t, e.ok("users", "list", "--tenant", "acme"), "bob")
	good := filepath.Join(dir, "good.csv")
	require.NoError(t, os.WriteFile(good, []byte("userName,extension,email\nbob,202,bob@acme.example\ncarol,203,carol@acme.example\n"), 0o600))
	assert.Contains(t, e.ok("users", "import", good, "--tenant", "acme", "--dry-run"), "dry run, nothing written: would import 2 created")
	assert.NotContains(t, e.ok("users", "list", "--tenant", "acme"), "bob")
	assert.Contains(t, e.ok("users", "import", good, "--tenant", "acme", "--quiet"), "imported 2 created")
	export := e.ok("users", "export", "--tenant", "acme", "--quiet")
	assert.Contains(t, export, "userName,givenName")
	assert.Contains(t, export, "carol")

	e.ok("users", "delete", "carol", "--tenant", "acme")
	assert.NotContains(t, e.ok("users", "list", "--tenant", "acme"), "carol")
}

func TestCLIProfilesAndRoute(t *testing.T) {
	e := newCLIEnv(t)
	e.ok("tenant", "create", "acme", "--region", "US", "--time-zone", "America/New_York")
	assert.Contains(t, e.ok("profiles", "catalogue"), "calls.barge_whisper")
	assert.Contains(t, e.fail(2, "profiles", "create", "X", "--tenant", "acme", "--grant", "calls.teleport=true"), `unknown permission "calls.teleport"`)
	assert.Contains(t, e.fail(2, "profiles", "create", "X", "--tenant", "acme", "--grant", "chat.limit=lots"), "takes a whole number")
	e.ok("profiles", "create", "Agent", "--tenant", "acme", "--grant", "recordings.access=true")
	e.ok("profiles", "set", "Agent", "--tenant", "acme", "--grant", "chat.limit=3", "--revoke", "recordings.access")
	show := e.ok("profiles", "show", "agent", "--tenant", "acme")
	assert.Contains(t, show, "chat.limit = 3")
	assert.NotContains(t, show, "recordings.access")
	e.ok("users", "add", "ada", "--tenant", "acme", "--extension", "201", "--profile", "Agent", "--feature", "voicemail",
		"--backup-number", "+12025550143")
	assert.Contains(t, e.ok("profiles", "effective", "ada", "--tenant", "acme"), `profile "Agent"`)
	assert.Contains(t, e.fail(1, "profiles", "delete", "Agent", "--tenant", "acme"), `is referred to by user "ada" (profiles)`)
	// Binding a profile to a team grants it to the team's members.
	e.ok("profiles", "create", "Supervisor", "--tenant", "acme", "--grant", "monitoring.live_calls=true")
	assert.Contains(t, e.fail(1, "profiles", "bind", "Supervisor", "--team", "Nobody", "--tenant", "acme"), `team "Nobody": `)
	assert.Contains(t, e.fail(2, "profiles", "bind", "Supervisor", "--tenant", "acme"), "needs --team")
	e.ok("teams", "create", "Supervisors", "--tenant", "acme")
	e.ok("users", "edit", "ada", "--tenant", "acme", "--team", "Supervisors")
	e.ok("profiles", "bind", "Supervisor", "--team", "Supervisors", "--tenant", "acme")
	assert.Contains(t, e.ok("profiles", "effective", "ada", "--tenant", "acme"), `profile "Supervisor" via team "Supervisors"`)
	assert.Contains(t, e.ok("teams", "members", "Supervisors", "--tenant", "acme"), "ada")
	assert.Contains(t, e.ok("teams", "list", "--tenant", "acme"), "Supervisors")
	e.ok("profiles", "unbind", "Supervisor", "--team", "Supervisors", "--tenant", "acme")
	assert.NotContains(t, e.ok("profiles", "effective", "ada", "--tenant", "acme"), "via team")

	plan := e.ok("route", "explain", "ada", "--tenant", "acme", "--at", "2026-12-24 18:30", "--from", "+12025550199", "--state", "offline")
	assert.Contains(t, plan, "Thu 2026-12-24 18:30 EST")
	assert.Contains(t, plan, "+12025550143")
	assert.Contains(t, e.fail(2, "route", "explain", "ada", "--tenant", "acme", "--state", "asleep"), "--state must be")
	assert.Contains(t, e.fail(2, "route", "explain", "ada", "--tenant", "acme", "--at", "tomorrow"), "is not RFC 3339")
	var js map[string]any
	require.NoError(t, json.Unmarshal([]byte(e.ok("route", "explain", "ada", "--tenant", "acme", "--output", "json")), &js))
}

func TestCLIConfigCheck(t *testing.T) {
	e := newCLIEnv(t)
	e.env["AD_BIND_PASSWORD"], e.env["SMTP_PASSWORD"], e.env["LDAP_BIND_PASSWORD"] = "x", "y", "z"
	assert.Contains(t, e.ok("config", "check", "../../examples/active-directory.yaml"), "ok (1 tenants, 1 LDAP directories")
	assert.Contains(t, e.ok("config", "check", "../../examples/openldap.yaml"), "ok")
	delete(e.env, "LDAP_BIND_PASSWORD")
	assert.Contains(t, e.fail(1, "config", "check", "../../examples/openldap.yaml"), "${LDAP_BIND_PASSWORD} is not set")

	bad := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("lisen: x\n"), 0o600))
	assert.Contains(t, e.fail(1, "config", "check", bad), `line 1: unknown key "lisen"`)
	require.NoError(t, os.WriteFile(bad, []byte("listen: nohost\ntenants:\n  - id: ok\n    timeZone: Mars/Base\nldap:\n  directories:\n    - name: x\n      tenant: nope\n      url: ldap://h\n"), 0o600))
	errs := e.fail(1, "config", "check", bad)
	for _, want := range []string{
		`listen: "nohost" is not host:port`,
		`tenants[0].timeZone: unknown IANA time zone "Mars/Base"`,
		`ldap.directories[0].tenant: tenant "nope" is not in tenants`,
		`ldap.directories[0].bindDN: required`,
	} {
		assert.Contains(t, errs, want)
	}
	assert.Contains(t, e.fail(1, "config", "check", "/no/such/file.yaml"), "no such file")
}

func TestCLIMailAndLDAPCommands(t *testing.T) {
	e := newCLIEnv(t)
	e.ok("tenant", "create", "acme")
	e.ok("users", "add", "ada", "--tenant", "acme", "--email", "ada@acme.example", "--extension", "201")

	// The welcome mail of a new user is queued; no gateway runs, so it waits.
	out := e.ok("mail", "outbox", "--tenant", "acme")
	assert.Contains(t, out, "welcome")
	assert.Contains(t, out, "ada@acme.example")
	assert.Contains(t, out, "pending")
	id := strings.TrimSpace(e.ok("mail", "send-welcome", "ada", "--tenant", "acme"))
	assert.Regexp(t, `^\d+$`, id)
	e.ok("mail", "reset-password", "ada", "--tenant", "acme")
	assert.Contains(t, e.ok("users", "show", "ada", "--tenant", "acme"), "must change: true")

	// With no relay configured, a test mail is written as an .eml file.
	assert.Contains(t, e.ok("mail", "test", "it@acme.example", "--tenant", "acme"), "sent test mail")
	files, err := filepath.Glob(filepath.Join(e.data, "mail", "*.eml"))
	require.NoError(t, err)
	assert.NotEmpty(t, files)

	// The likely mistakes.
	assert.Contains(t, e.fail(2, "mail", "retry", "abc", "--tenant", "acme"), "needs a message ID (a number)")
	assert.Contains(t, e.fail(1, "mail", "retry", "99999", "--tenant", "acme"), "not found")
	assert.Contains(t, e.fail(1, "mail", "send-welcome", "nobody", "--tenant", "acme"), `no user "nobody"`)
	assert.Contains(t, e.fail(1, "mail", "test", "not-an-address", "--tenant", "acme"), "is not an email address")
	assert.Contains(t, e.fail(2, "ldap", "sync", "corp"), "no LDAP directories are configured")
	assert.Contains(t, e.fail(2, "ldap", "sync"), "ldap sync needs exactly one DIRECTORY")
	code, _, errs := e.run("", "ldap", "history")
	assert.Equal(t, 0, code)
	assert.Contains(t, errs, "no sync runs yet")
}
