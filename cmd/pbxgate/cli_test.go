package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
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
	for _, cmd := range []string{"serve", "tenant", "token", "users", "teams", "profiles", "route", "ldap", "mail", "config", "db", "migrate", "version", "webhooks"} {
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
	assert.Equal(t, "beta\n", e.ok("tenant", "create", "beta", "--sip-domain", "beta.pbx.example"))
	list := e.ok("tenant", "list")
	assert.Contains(t, list, "acme")
	assert.Contains(t, list, "Europe/Berlin")
	assert.Contains(t, list, "SIP DOMAIN")
	assert.Regexp(t, `(?m)^beta\s+beta\s+-\s+-\s+beta\.pbx\.example\s`, list, "the SIP domain a phone system asks the feed about")
	assert.Regexp(t, `(?m)^acme\s+Acme Inc\.\s+Europe/Berlin\s+DE\s+acme\s`, list, "none set: the tenant id")

	tok := e.ok("token", "create", "--tenant", "acme", "--name", "okta")
	assert.Regexp(t, `^pbxg_[a-z0-9]+\.[A-Za-z0-9_-]{43}\n$`, tok, "create prints only the token")
	tokens := e.ok("token", "list", "--tenant", "acme")
	assert.Contains(t, tokens, "okta")
	assert.NotContains(t, tokens, strings.TrimSpace(tok)[20:], "list never shows secrets")
	id := strings.Split(strings.TrimPrefix(strings.TrimSpace(tok), "pbxg_"), ".")[0]
	e.ok("token", "revoke", id, "--tenant", "acme", "--yes")
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
	assert.Contains(t, e.ok("users", "import", good, "--tenant", "acme", "--dry-run"), "dry run, nothing written: 2 to create")
	assert.NotContains(t, e.ok("users", "list", "--tenant", "acme"), "bob")
	assert.Contains(t, e.ok("users", "import", good, "--tenant", "acme", "--quiet"), "imported: 2 created")
	export := e.ok("users", "export", "--tenant", "acme", "--quiet")
	assert.Contains(t, export, "userName,givenName")
	assert.Contains(t, export, "carol")

	e.ok("users", "delete", "carol", "--tenant", "acme", "--yes")
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
	assert.Contains(t, e.fail(1, "profiles", "delete", "Agent", "--tenant", "acme", "--yes"), `is referred to by user "ada" (profiles)`)
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
	assert.Contains(t, e.ok("config", "check", "../../examples/active-directory.yaml"), "ok (1 tenant, 1 LDAP directory")
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

	// --direct opens no database and needs no --tenant.
	assert.Contains(t, e.ok("mail", "test", "it@acme.example", "--direct"), "sent test mail")

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

// runIn runs a command with stdin as if a person typed it on a terminal.
func (e *cliEnv) runInteractive(stdin string, args ...string) (int, string, string) {
	e.t.Helper()
	var out, errb bytes.Buffer
	c := &CLI{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb, forceInteractive: true, Getenv: func(k string) string {
		if k == "PBXGATE_DATA" {
			return e.data
		}
		return e.env[k]
	}}
	code := c.Run(context.Background(), args)
	return code, out.String(), errb.String()
}

func TestCLILeafFlagsAndHelp(t *testing.T) {
	e := newCLIEnv(t)
	// Each leaf accepts only its own flags, and says whose flag it is.
	errs := e.fail(2, "users", "list", "--dry-run")
	assert.Contains(t, errs, "flag provided but not defined: -dry-run")
	assert.Contains(t, errs, "--dry-run is a flag of users import, not of users list")
	assert.Contains(t, e.fail(2, "users", "list", "--outptu", "json"), "did you mean --output?")
	assert.Contains(t, e.fail(2, "users", "show", "ada", "--given", "Ada"), "is a flag of users add, users edit")

	// Flags may come before the subcommand.
	e.ok("tenant", "create", "acme")
	e.ok("users", "--tenant", "acme", "add", "ada", "--extension", "201")
	assert.Contains(t, e.ok("users", "--search", "ada", "--quiet", "list"), "ada")
	assert.Contains(t, e.ok("users", "--output=json", "list"), `"userName": "ada"`)

	// "did you mean" for commands and subcommands.
	errs = e.fail(2, "user", "list")
	assert.Contains(t, errs, `unknown command "user"; did you mean "users"?`)
	assert.Contains(t, errs, "Try: pbxgate users list")
	assert.Contains(t, e.fail(2, "users", "lsit"), `did you mean "list"?`)
	assert.Contains(t, e.fail(2, "profiles", "catalog"), `did you mean "catalogue"?`)
	assert.Contains(t, e.fail(2, "route", "explian", "ada"), `did you mean "explain"?`)
	assert.Contains(t, e.fail(2, "config", "chek", "x.yaml"), `did you mean "check"?`)

	// A group's -h lists its subcommands only; a leaf's -h its own flags.
	group := e.ok("users", "-h")
	assert.Contains(t, group, "Subcommands:")
	assert.Contains(t, group, "import FILE.csv")
	assert.NotContains(t, group, "Flags:")
	assert.NotContains(t, group, "\n  --", "no flag lines")
	list := e.ok("users", "list", "-h")
	assert.Contains(t, list, "Usage: pbxgate users list")
	assert.Contains(t, list, "--search")
	assert.NotContains(t, list, "--given")
	assert.NotContains(t, list, "--dry-run")
	assert.Contains(t, e.ok("users", "import", "-h"), "--no-welcome-mail")
	assert.Equal(t, e.ok("users", "list", "-h"), e.ok("help", "users", "list"), "help CMD SUB is CMD SUB -h")

	// Every -h fits on one screen.
	var leaves [][]string
	for _, g := range groups() {
		leaves = append(leaves, []string{g.name})
		for _, l := range g.leaves {
			leaves = append(leaves, []string{g.name, l.name})
		}
	}
	for _, cmd := range []string{"serve", "route", "config", "db", "migrate", "version", "completion"} {
		leaves = append(leaves, []string{cmd})
	}
	leaves = append(leaves, []string{"help"})
	for _, args := range leaves {
		out := e.ok(append(args, "-h")...)
		assert.LessOrEqual(t, strings.Count(out, "\n"), 40, "pbxgate %s -h has %d lines", strings.Join(args, " "), strings.Count(out, "\n"))
	}

	// The documented commands and flags are all still there.
	for _, doc := range [][]string{
		{"token", "create", "--tenant", "--name"}, {"token", "list", "--output"}, {"token", "revoke", "--tenant"},
		{"tenant", "create", "--name", "--time-zone", "--region", "--no-welcome-mail"}, {"tenant", "list", "--output"},
		{"users", "list", "--search", "--include-system", "--limit", "--output"},
		{"users", "add", "--given", "--family", "--email", "--extension", "--profile", "--feature", "--backup-number", "--password-stdin"},
		{"users", "edit", "--title", "--role", "--team"}, {"users", "import", "--dry-run", "--update"}, {"users", "export", "--quiet"},
		{"profiles", "create", "--grant", "--role", "--priority", "--description"}, {"profiles", "set", "--grant", "--revoke"},
		{"profiles", "bind", "--team"}, {"profiles", "unbind", "--team"}, {"profiles", "effective", "--output"},
		{"ldap", "sync", "--dry-run", "--full", "--force"}, {"ldap", "history", "--limit"}, {"ldap", "test", "--config"},
		{"mail", "outbox", "--failed"}, {"mail", "test", "--direct", "--wait"}, {"mail", "retry"}, {"mail", "send-welcome"}, {"mail", "reset-password"},
		{"teams", "list"}, {"teams", "create"}, {"teams", "delete"}, {"teams", "members"},
		{"route", "--at", "--from", "--state", "--internal"}, {"serve", "--listen", "--config", "--data", "--db"},
		{"db", "--from", "--to", "--batch"}, {"migrate", "--db"},
	} {
		var args, flags []string
		for _, a := range doc {
			if strings.HasPrefix(a, "--") {
				flags = append(flags, a)
			} else {
				args = append(args, a)
			}
		}
		out := e.ok(append(args, "-h")...)
		for _, f := range flags {
			assert.Contains(t, out, "  "+f, "pbxgate %s -h lists %s", strings.Join(args, " "), f)
		}
	}
}

func TestCLICompletion(t *testing.T) {
	e := newCLIEnv(t)
	for _, shell := range []string{"bash", "zsh", "fish"} {
		out := e.ok("completion", shell)
		assert.Contains(t, out, "users", shell)
		assert.Contains(t, out, "no-welcome-mail", shell)
		assert.Contains(t, out, "explain", shell)
	}
	assert.Contains(t, e.fail(2, "completion", "bsh"), `did you mean "bash"?`)
	assert.Contains(t, e.fail(2, "completion"), "bash, zsh or fish")
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Log("bash is not installed: the bash script's syntax is not checked")
		return
	}
	script := filepath.Join(t.TempDir(), "pbxgate.bash")
	require.NoError(t, os.WriteFile(script, []byte(e.ok("completion", "bash")), 0o600))
	// Complete "pbxgate users l" and "pbxgate users import --no" in a real bash.
	out, err := exec.Command(bash, "-c", `source `+script+`
COMP_WORDS=(pbxgate users l); COMP_CWORD=2; _pbxgate; echo "${COMPREPLY[*]}"
COMP_WORDS=(pbxgate users import --no); COMP_CWORD=3; _pbxgate; echo "${COMPREPLY[*]}"
COMP_WORDS=(pbxgate us); COMP_CWORD=1; _pbxgate; echo "${COMPREPLY[*]}"`).CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Equal(t, "list\n--no-welcome-mail\nusers\n", string(out))
}

func TestCLIDestructiveCommandsConfirm(t *testing.T) {
	e := newCLIEnv(t)
	e.ok("tenant", "create", "acme")
	e.ok("profiles", "create", "Agent", "--grant", "chat.limit=3")
	e.ok("teams", "create", "Support")
	e.ok("profiles", "bind", "Agent", "--team", "Support")
	e.ok("users", "add", "ada", "--extension", "201", "--team", "Support")
	e.ok("users", "add", "bob", "--extension", "202", "--team", "Support")

	// Not on a terminal: refused without --yes, saying what would go.
	errs := e.fail(2, "users", "delete", "ada")
	assert.Contains(t, errs, "this would delete user ada of tenant acme with its 0 devices and 1 team membership; confirm with --yes")
	assert.Contains(t, errs, "Try: pbxgate users delete ada --tenant acme --yes")
	errs = e.fail(2, "teams", "delete", "Support")
	assert.Contains(t, errs, "its 2 members stay users but lose its 1 profile binding")
	tok := strings.TrimSpace(e.ok("token", "create", "--name", "okta"))
	id := strings.Split(strings.TrimPrefix(tok, "pbxg_"), ".")[0]
	assert.Contains(t, e.fail(2, "token", "revoke", id), "(okta, last used never) of tenant acme: whatever uses it gets 401")
	assert.Contains(t, e.fail(2, "profiles", "delete", "Agent"), "delete profile Agent of tenant acme with its 1 grant")
	assert.Contains(t, e.ok("users", "list"), "ada", "nothing was deleted")
	assert.Contains(t, e.ok("teams", "list"), "Support")
	assert.Contains(t, e.ok("token", "list"), "active")

	// On a terminal: asks; anything but yes cancels.
	code, _, errs := e.runInteractive("n\n", "users", "delete", "ada")
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, "This will delete user ada")
	assert.Contains(t, errs, "Continue? [y/N]")
	assert.Contains(t, errs, "cancelled; nothing changed")
	assert.Contains(t, e.ok("users", "list"), "ada")
	code, _, errs = e.runInteractive("y\n", "users", "delete", "ada")
	assert.Equal(t, 0, code, errs)
	assert.Contains(t, errs, "deleted ada with its 0 devices and 1 team membership")
	assert.NotContains(t, e.ok("users", "list"), "ada")
	code, _, errs = e.runInteractive("yes\n", "token", "revoke", id)
	assert.Equal(t, 0, code, errs)
	e.ok("teams", "delete", "Support", "--yes")
	assert.Contains(t, e.ok("users", "show", "bob"), "bob", "members stay")

	// A profile in use is refused, naming who has it; --cascade takes it
	// from them.
	e.ok("users", "edit", "bob", "--profile", "Agent")
	errs = e.fail(1, "profiles", "delete", "Agent", "--yes")
	assert.Contains(t, errs, `is referred to by user "bob" (profiles)`)
	assert.Contains(t, errs, "nothing was deleted. To delete it and take it from them: pbxgate profiles delete Agent --tenant acme --cascade --yes")
	assert.Contains(t, e.fail(2, "profiles", "delete", "Agent", "--cascade"), "the users and teams that have it lose it")
	e.ok("profiles", "delete", "Agent", "--cascade", "--yes")
	assert.NotContains(t, e.ok("profiles", "effective", "bob"), `profile "Agent"`)
	assert.Contains(t, e.ok("users", "delete", "-h"), "--cascade")
}

func TestCLITenantRequiredWithSeveral(t *testing.T) {
	e := newCLIEnv(t)
	errs := e.fail(2, "users", "list")
	assert.Contains(t, errs, `there are no tenants yet: create one with "pbxgate tenant create ID"`)
	e.ok("tenant", "create", "acme")
	e.ok("users", "add", "ada", "--extension", "201")
	assert.Contains(t, e.ok("users", "list"), "ada", "the only tenant needs no --tenant")
	e.ok("tenant", "create", "other")
	errs = e.fail(2, "users", "list")
	assert.Contains(t, errs, "there are 2 tenants (acme, other): say which with --tenant")
	assert.Contains(t, e.fail(2, "token", "create"), "say which with --tenant")
	assert.Contains(t, e.ok("users", "list", "--tenant", "acme"), "ada")
	e.env["PBXGATE_TENANT"] = "acme"
	assert.Contains(t, e.ok("users", "list"), "ada")
	e.env["PBXGATE_TENANT"] = "nope"
	errs = e.fail(1, "users", "list")
	assert.Contains(t, errs, `tenant "nope": not found (see: pbxgate tenant list`)
	assert.NotContains(t, errs, `tenant "nope": tenant "nope"`)
	assert.NotContains(t, e.fail(1, "token", "create", "--tenant", "nope"), `tenant "nope": tenant "nope"`)
}

func TestCLIValuesOutputsAndMessages(t *testing.T) {
	e := newCLIEnv(t)
	e.ok("tenant", "create", "acme")
	assert.Contains(t, e.fail(2, "users", "list", "--limit", "-3"), `invalid value "-3" for flag -limit: must be 0 or more`)
	assert.Contains(t, e.fail(2, "users", "list", "--output", "yaml"), "must be table, json or csv")
	assert.Contains(t, e.fail(2, "ldap", "history", "--limit", "x"), "must be a whole number")
	assert.Contains(t, e.fail(2, "tenant", "list", "--output", "csv"), "must be table or json")
	assert.Contains(t, e.fail(2, "mail", "test", "it@acme.example", "--wait", "-1s"), "--wait must be positive")

	// Both bad grants in one report.
	errs := e.fail(2, "profiles", "create", "X", "--grant", "chat.limit=maybe", "--grant", "no.such=1")
	assert.Contains(t, errs, "2 bad --grant values")
	assert.Contains(t, errs, "chat.limit=maybe")
	assert.Contains(t, errs, `unknown permission "no.such"`)

	e.ok("profiles", "create", "Agent", "--grant", "chat.limit=3")
	e.ok("teams", "create", "Support")
	code, _, errs := e.run("", "profiles", "bind", "Agent", "--team", "Support")
	require.Equal(t, 0, code, errs)
	assert.Equal(t, "profile Agent bound to team Support: granted to its 0 members\n", errs)
	assert.NotContains(t, errs, "binded")

	// Import: mails queued in the summary, --no-welcome-mail queues none.
	dir := t.TempDir()
	csv1 := filepath.Join(dir, "a.csv")
	require.NoError(t, os.WriteFile(csv1, []byte("userName,email,extension\nada,ada@acme.example,201\nbob,bob@acme.example,202\n"), 0o600))
	assert.Contains(t, e.ok("users", "import", csv1, "--dry-run"), "2 to create, 0 to update, 0 unchanged; 2 welcome mails to queue")
	assert.Contains(t, e.ok("users", "import", csv1, "--quiet"), "imported: 2 created, 0 updated, 0 unchanged; 2 welcome mails queued")
	csv2 := filepath.Join(dir, "b.csv")
	require.NoError(t, os.WriteFile(csv2, []byte("userName,email,extension\ncarol,carol@acme.example,203\n"), 0o600))
	assert.Contains(t, e.ok("users", "import", csv2, "--no-welcome-mail", "--quiet"), "; 0 welcome mails queued")
	assert.NotContains(t, e.ok("mail", "outbox"), "carol@acme.example")
	code, _, errs = e.run("", "users", "export", "--search", "carol")
	require.Equal(t, 0, code)
	assert.Contains(t, errs, "exported 1 user\n")
	assert.Equal(t, 1, strings.Count(errs, "export: 1/1"), "progress printed once: %q", errs)

	// No doubled prefixes; the next step where there is one.
	errs = e.fail(1, "teams", "members", "Nope")
	assert.Contains(t, errs, `team "Nope": not found`)
	assert.NotContains(t, errs, `team "Nope": team`)
	assert.NotContains(t, e.fail(1, "users", "edit", "ada", "--profile", "Nope"), `profile "Nope": profile`)
	assert.Contains(t, e.fail(2, "users", "edit", "ada"), "none was given")
	assert.Contains(t, e.fail(1, "mail", "retry", "999"), "see: pbxgate mail outbox --failed")
	assert.Contains(t, e.fail(2, "ldap", "history", "a", "b"), "ldap history takes at most one DIRECTORY")
	assert.Contains(t, e.fail(2, "version", "x"), "version takes no arguments")

	// Every listing honours --output json.
	e.ok("users", "edit", "ada", "--team", "Support")
	e.ok("token", "create")
	for _, args := range [][]string{
		{"users", "list"}, {"teams", "list"}, {"teams", "members", "Support"}, {"tenant", "list"}, {"token", "list"},
		{"profiles", "list"}, {"profiles", "catalogue"}, {"profiles", "effective", "ada"}, {"profiles", "show", "Agent"},
		{"mail", "outbox"}, {"ldap", "history"}, {"users", "show", "ada"},
	} {
		out := e.ok(append(args, "--output", "json")...)
		assert.True(t, json.Valid([]byte(out)), "pbxgate %s --output json: %s", strings.Join(args, " "), out)
	}
}
