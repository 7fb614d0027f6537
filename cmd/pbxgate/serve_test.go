package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIntegrationServeBusyPortCreatesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	data := filepath.Join(t.TempDir(), "data")
	cmd := exec.Command(binary(t), "serve", "--data", data, "--listen", busy.Addr().String())
	cmd.Env = append(os.Environ(), "PBXGATE_CONFIG=", "PBXGATE_DB=")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	var exit *exec.ExitError
	require.True(t, errors.As(err, &exit), "serve must fail: %v\n%s", err, errb.String())
	assert.Equal(t, 1, exit.ExitCode())
	assert.Contains(t, errb.String(), "listen on "+busy.Addr().String()+": address already in use")
	assert.Contains(t, errb.String(), "choose another address with --listen, PBXGATE_LISTEN or listen:")
	assert.Contains(t, errb.String(), "(nothing was created)")
	assert.Empty(t, out.String(), "no token printed for a tenant that does not exist")
	_, err = os.Stat(data)
	assert.True(t, os.IsNotExist(err), "the data directory was not created")

	// The next start, on a free port, is a real first start with a token.
	busy.Close()
	g := startGateway(t, data, "")
	assert.NotEmpty(t, g.token, "first start prints the token:\n%s", g.stdout)
	// ... and says where the console is and how to get into it.
	assert.Contains(t, g.stdout.String(), "Admin console:  "+g.base+"/admin/\n")
	assert.Contains(t, g.stdout.String(), "console link --user you@example.com --data "+data+"\n")
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(g.base + "/")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode, "the root leads to the console")
	assert.Equal(t, "/admin/", resp.Header.Get("Location"))
	resp, err = noFollow.Get(g.base + "/no-such-page")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "only the root redirects")
	require.NoError(t, g.stop())
}

func TestIntegrationServeSaysHowToGetAToken(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	data := t.TempDir()
	cmd := exec.Command(binary(t), "tenant", "create", "acme", "--data", data)
	cmd.Env = append(os.Environ(), "PBXGATE_CONFIG=", "PBXGATE_DB=")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	g := startGateway(t, data, "")
	assert.Empty(t, g.token, "no first-start token: a tenant exists")
	assert.Contains(t, g.stdout.String(), `Tenant "acme" has no usable SCIM token. Create one (it is printed once) with:`)
	assert.Contains(t, g.stdout.String(), "  pbxgate token create --tenant acme --name okta --data "+data+"\n")
	assert.Contains(t, g.stdout.String(), "SCIM base URL "+g.base+"/scim/v2")
	require.NoError(t, g.stop())

	// With a token, nothing is said.
	tok, err := g.cli("token", "create", "--tenant", "acme")
	require.NoError(t, err, tok)
	g = startGateway(t, data, "")
	assert.NotContains(t, g.stdout.String(), "no usable SCIM token")
	require.NoError(t, g.stop())
}

func TestPublicURLNeedsAHost(t *testing.T) {
	for _, tc := range []struct{ listen, public, want, err string }{
		{listen: "127.0.0.1:8080", want: "http://127.0.0.1:8080"},
		{listen: "pbx.example.com:8443", want: "http://pbx.example.com:8443"},
		{listen: "0.0.0.0:8080", public: "https://pbx.example.com/", want: "https://pbx.example.com"},
		{listen: "0.0.0.0:8080", err: "publicURL is not set and listen 0.0.0.0:8080 is a wildcard address"},
		{listen: "[::]:8080", err: "set publicURL (env PBXGATE_PUBLIC_URL)"},
		{listen: ":8080", err: "wildcard"},
	} {
		got, err := publicURL(&Config{PublicURL: tc.public}, tc.listen)
		if tc.err != "" {
			require.Error(t, err, tc.listen)
			assert.Contains(t, err.Error(), tc.err)
			continue
		}
		require.NoError(t, err)
		assert.Equal(t, tc.want, got)
	}
}

func TestCLIMailRefusesLinksWithoutAPublicAddress(t *testing.T) {
	e := newCLIEnv(t)
	e.ok("tenant", "create", "acme")
	e.env["PBXGATE_LISTEN"] = "0.0.0.0:8080"
	errs := e.fail(1, "mail", "test", "it@acme.example")
	assert.Contains(t, errs, "set publicURL (env PBXGATE_PUBLIC_URL)")
	e.env["PBXGATE_PUBLIC_URL"] = "https://pbx.example.com"
	assert.Contains(t, e.ok("mail", "test", "it@acme.example"), "sent test mail")
}

func TestCommandNameForGoRun(t *testing.T) {
	exe := func(p string) func() (string, error) { return func() (string, error) { return p, nil } }
	assert.Equal(t, "go run ./cmd/pbxgate", commandName(exe("/tmp/go-build1234/b001/exe/pbxgate")))
	assert.Equal(t, "pbxgate", commandName(exe("/usr/local/bin/pbxgate")))
	assert.Equal(t, "pbxgate", commandName(func() (string, error) { return "", errors.New("no") }))
}

// TestIntegrationMetricsListen: with metrics.listen set, /metrics is served
// there and not on the main listener (which may face the internet).
func TestIntegrationMetricsListen(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	g := startGateway(t, "", "metrics:\n  listen: "+addr+"\n")
	resp, err := http.Get(g.base + "/metrics")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "not on the main listener")
	resp, err = http.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(body), "pbxgate_build_info")
	resp, err = http.Get("http://" + addr + "/debug/pprof/")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "the profiler on a loopback metrics listener")
	require.NoError(t, g.stop())
}

// TestTenantSignInURLFromCLI: a bad sign-in URL is refused naming the
// field; a good one is stored.
func TestTenantSignInURLFromCLI(t *testing.T) {
	e := newCLIEnv(t)
	assert.Contains(t, e.fail(1, "tenant", "create", "acme", "--sign-in-url", "portal.example.com"), `signInUrl: "portal.example.com" is not an absolute http(s) URL`)
	e.ok("tenant", "create", "acme", "--sign-in-url", "https://portal.example.com/")
	assert.Contains(t, e.ok("tenant", "list", "--output", "json"), `"signInUrl": "https://portal.example.com/"`)
}

// TestCLIPrefixReachesTheSameDatabase: the commands the gateway suggests
// carry what the gateway was given beyond its configuration and the
// environment, so they open the same database.
func TestCLIPrefixReachesTheSameDatabase(t *testing.T) {
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	for _, tc := range []struct {
		name             string
		config, data, db string
		cfg              Config
		getenv           func(string) string
		want             string
	}{
		{name: "defaults", want: ""},
		{name: "data", data: "/srv/pbx", want: " --data /srv/pbx"},
		{name: "config", config: "gw.yaml", want: " --config gw.yaml"},
		{name: "config and data", config: "gw.yaml", data: "/tmp/perf/data", want: " --config gw.yaml --data /tmp/perf/data"},
		{name: "config naming the data", config: "gw.yaml", cfg: Config{Data: "/var/lib/pbxgate"}, want: " --config gw.yaml"},
		{name: "data from the environment", data: "/env/data", getenv: env("PBXGATE_DATA", "/env/data"), want: ""},
		{name: "a database elsewhere", db: "/db/pbx.db", want: " --db /db/pbx.db"},
		{name: "PostgreSQL, password hidden", config: "gw.yaml", db: "postgres://pbx:secret@db/pbx",
			want: " --config gw.yaml --db postgres://pbx:xxxxx@db/pbx"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			getenv := tc.getenv
			if getenv == nil {
				getenv = env()
			}
			set := resolve(&tc.cfg, tc.config, tc.data, tc.db, "", getenv)
			g := &common{config: tc.config, data: set.data, db: set.database}
			assert.Equal(t, tc.want, cliPrefix(g, &tc.cfg, set, getenv))
		})
	}
}

// TestTenantSIPDomainFromConfig: sipDomain in the file sets the tenant's
// SIP domain (and realm) on start; a file without it keeps what the API
// or CLI set.
func TestTenantSIPDomainFromConfig(t *testing.T) {
	ctx := context.Background()
	dir := openSQLite(t, filepath.Join(t.TempDir(), "pbxgate.db"))
	_, err := ensureTenants(ctx, dir, &Config{Tenants: []TenantConfig{{ID: "acme", SIPDomain: "acme.pbx.example"}}})
	require.NoError(t, err)
	tn, err := dir.LookupSIPDomain(ctx, "acme.pbx.example")
	require.NoError(t, err)
	assert.Equal(t, "acme", tn.ID)

	tn.SIPDomain = "sip.acme.example" // as the admin API would
	_, err = dir.UpdateTenant(ctx, tn)
	require.NoError(t, err)
	_, err = ensureTenants(ctx, dir, &Config{Tenants: []TenantConfig{{ID: "acme", Name: "Acme"}}})
	require.NoError(t, err)
	got, err := dir.GetTenant(ctx, "acme")
	require.NoError(t, err)
	assert.Equal(t, "sip.acme.example", got.SIPRealm(), "kept: the file does not say")
	assert.Equal(t, "Acme", got.Name)
}
