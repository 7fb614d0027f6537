package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The end-to-end tests build the real binary once and run "pbxgate serve"
// as a child process on a free loopback port with a temp data dir, driving
// it over real HTTP and its own CLI.

var built struct {
	once sync.Once
	path string
	err  error
}

// binary builds cmd/pbxgate once per test run.
func binary(t testing.TB) string {
	t.Helper()
	built.once.Do(func() {
		dir, err := os.MkdirTemp("", "pbxgate-e2e-")
		if err != nil {
			built.err = err
			return
		}
		built.path = filepath.Join(dir, "pbxgate")
		out, err := exec.Command("go", "build", "-o", built.path, ".").CombinedOutput()
		if err != nil {
			built.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.path
}

// gateway is a running "pbxgate serve".
type gateway struct {
	t      testing.TB
	bin    string
	data   string
	config string
	cmd    *exec.Cmd
	base   string // http://127.0.0.1:port
	token  string
	stdout *fileOutput
	stderr *lockedBuffer
	exited chan error
}

// fileOutput is a child's stdout written straight to a file (no copying
// goroutine), so what the child wrote before a later stderr line is
// readable as soon as that line is seen.
type fileOutput struct{ f *os.File }

func (o *fileOutput) String() string {
	b, _ := os.ReadFile(o.f.Name())
	return string(b)
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var tokenLine = regexp.MustCompile(`Bearer token:\s+(\S+)`)
var listenLog = regexp.MustCompile(`"listen":"([0-9.:]+)"`)

// startGateway starts serve with the config (may be "") in data (a fresh
// temp dir when ""), and waits until it answers /readyz.
func startGateway(t testing.TB, data, config string) *gateway {
	t.Helper()
	out, err := os.CreateTemp(t.TempDir(), "stdout")
	require.NoError(t, err)
	t.Cleanup(func() { out.Close() })
	g := &gateway{t: t, bin: binary(t), data: data, stdout: &fileOutput{out}, stderr: &lockedBuffer{}, exited: make(chan error, 1)}
	if g.data == "" {
		g.data = t.TempDir()
	}
	args := []string{"serve", "--data", g.data, "--listen", "127.0.0.1:0"}
	if config != "" {
		g.config = filepath.Join(t.TempDir(), "pbxgate.yaml")
		require.NoError(t, os.WriteFile(g.config, []byte(config), 0o600))
		args = append(args, "--config", g.config)
	}
	g.cmd = exec.Command(g.bin, args...)
	g.cmd.Env = append(os.Environ(), "PBXGATE_CONFIG=", "PBXGATE_DB=")
	g.cmd.Stdout, g.cmd.Stderr = out, g.stderr
	require.NoError(t, g.cmd.Start())
	go func() { g.exited <- g.cmd.Wait() }()
	t.Cleanup(func() {
		if g.cmd.ProcessState == nil {
			g.cmd.Process.Kill()
			<-g.exited
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if m := listenLog.FindStringSubmatch(g.stderr.String()); m != nil {
			g.base = "http://" + m[1]
			if resp, err := http.Get(g.base + "/readyz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					if m := tokenLine.FindStringSubmatch(g.stdout.String()); m != nil {
						g.token = m[1]
					}
					return g
				}
			}
		}
		select {
		case err := <-g.exited:
			t.Fatalf("serve exited early: %v\nstdout: %s\nstderr: %s", err, g.stdout, g.stderr)
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("serve did not become ready\nstderr: %s", g.stderr)
	return nil
}

// cli runs another pbxgate command against the same data.
func (g *gateway) cli(args ...string) (string, error) {
	cmd := exec.Command(g.bin, append(args, "--data", g.data)...)
	cmd.Env = append(os.Environ(), "PBXGATE_CONFIG="+g.config)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("%v: %s", err, errb.String())
	}
	return out.String(), nil
}

// scim sends a SCIM request with the token and returns status and body.
func (g *gateway) scim(method, path, token string, body any) (int, map[string]any) {
	g.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, g.base+"/scim/v2"+path, rd)
	require.NoError(g.t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/scim+json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(g.t, err)
	defer resp.Body.Close()
	var out map[string]any
	data, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(data, &out)
	return resp.StatusCode, out
}

// stop sends SIGTERM and waits for the exit.
func (g *gateway) stop() error {
	g.t.Helper()
	require.NoError(g.t, g.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-g.exited:
		return err
	case <-time.After(40 * time.Second):
		g.cmd.Process.Kill()
		g.t.Fatal("serve did not stop within 40s of SIGTERM")
		return nil
	}
}

func scimUser(name string) map[string]any {
	return map[string]any{
		"schemas":  []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
		"userName": name,
		"name":     map[string]any{"givenName": "Given", "familyName": "Family"},
		"emails":   []map[string]any{{"value": name, "type": "work", "primary": true}},
	}
}

func metric(t testing.TB, base, name string) string {
	resp, err := http.Get(base + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	var lines []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), name) {
			lines = append(lines, sc.Text())
		}
	}
	return strings.Join(lines, "\n")
}

func TestIntegrationServeFirstStartAndShutdown(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	g := startGateway(t, "", "")
	require.NotEmpty(t, g.token, "first start prints a token:\n%s", g.stdout)
	assert.Contains(t, g.stdout.String(), g.base+"/scim/v2")

	resp, err := http.Get(g.base + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)

	// A second token from the CLI on the same data while serve runs.
	tok2, err := g.cli("token", "create", "--tenant", "default", "--name", "okta")
	require.NoError(t, err)
	tok2 = strings.TrimSpace(tok2)

	code, body := g.scim("POST", "/Users", tok2, scimUser("ada@example.com"))
	require.Equal(t, 201, code, "%v", body)
	id := body["id"].(string)
	code, _ = g.scim("GET", "/Users/"+id, "wrong-token", nil)
	assert.Equal(t, 401, code)
	code, body = g.scim("PATCH", "/Users/"+id, tok2, map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []map[string]any{{"op": "replace", "value": map[string]any{"active": false}}},
	})
	require.Equal(t, 200, code, "%v", body)
	assert.Equal(t, false, body["active"])

	assert.Contains(t, metric(t, g.base, "pbxgate_http_requests_total"), `code="201",endpoint="/scim/v2/Users",method="POST"`)
	assert.Contains(t, metric(t, g.base, "pbxgate_mail_outbox_messages"), "pbxgate_mail_outbox_messages")

	// The welcome mail went to an .eml file (no relay configured).
	require.Eventually(t, func() bool {
		files, _ := filepath.Glob(filepath.Join(g.data, "mail", "*.eml"))
		return len(files) == 1
	}, 15*time.Second, 100*time.Millisecond)

	require.NoError(t, g.stop(), "SIGTERM exits 0\nstderr: %s", g.stderr)
	assert.Contains(t, g.stderr.String(), "stopped")

	// Everything acknowledged is on disk; a restart prints no new token.
	list, err := g.cli("users", "list", "--tenant", "default", "--output", "json")
	require.NoError(t, err)
	assert.Contains(t, list, "ada@example.com")
	assert.Contains(t, list, `"status": "inactive"`)
	again := startGateway(t, g.data, "")
	assert.Empty(t, again.token, "the token is printed only on the first start")
	require.NoError(t, again.stop())
}

// TestIntegrationKillDuringCreateLoad kills serve with SIGKILL while 32
// clients create users, restarts it, and checks that every user
// acknowledged with 201 is there, the database passes integrity_check and
// no half-written user exists. PBXGATE_FAULT_USERS sets how many creates
// are attempted (default 2000; the long run uses 20000).
func TestIntegrationKillDuringCreateLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	total := 2000
	if v := os.Getenv("PBXGATE_FAULT_USERS"); v != "" {
		fmt.Sscan(v, &total)
	}
	g := startGateway(t, "", "scim:\n  rateLimit: {perSecond: -1}\n")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var (
		mu    sync.Mutex
		acked []string
		wg    sync.WaitGroup
		next  int
	)
	client := &http.Client{Timeout: 10 * time.Second}
	for c := 0; c < 32; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				mu.Lock()
				next++
				n := next
				mu.Unlock()
				if n > total {
					return
				}
				name := fmt.Sprintf("k%06d@example.com", n)
				b, _ := json.Marshal(scimUser(name))
				req, _ := http.NewRequestWithContext(ctx, "POST", g.base+"/scim/v2/Users", bytes.NewReader(b))
				req.Header.Set("Authorization", "Bearer "+g.token)
				req.Header.Set("Content-Type", "application/scim+json")
				resp, err := client.Do(req)
				if err != nil {
					return // the server is gone
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 201 {
					mu.Lock()
					acked = append(acked, name)
					mu.Unlock()
				}
			}
		}()
	}
	// Kill it when about a third is acknowledged.
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(acked) >= total/3 }, 60*time.Second, 5*time.Millisecond)
	require.NoError(t, g.cmd.Process.Kill())
	<-g.exited
	cancel()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	t.Logf("killed with %d of %d creates acknowledged", len(acked), total)

	db, err := sql.Open("sqlite3", "file:"+filepath.Join(g.data, "pbxgate.db"))
	require.NoError(t, err)
	defer db.Close()
	var check string
	require.NoError(t, db.QueryRow("PRAGMA integrity_check").Scan(&check))
	assert.Equal(t, "ok", check)
	// Every acknowledged user is there, whole: user row, email row, change
	// log entry and welcome mail.
	for _, name := range acked {
		var users, emails, changes, mails int
		require.NoError(t, db.QueryRow(`SELECT
			(SELECT count(*) FROM users WHERE user_name_lc = ?1),
			(SELECT count(*) FROM user_emails WHERE address_lc = ?1),
			(SELECT count(*) FROM changes c JOIN users u ON u.id = c.entity_id WHERE u.user_name_lc = ?1 AND c.action = 'create'),
			(SELECT count(*) FROM outbox o JOIN users u ON u.id = o.user_id WHERE u.user_name_lc = ?1)`, name).
			Scan(&users, &emails, &changes, &mails))
		require.Equal(t, [4]int{1, 1, 1, 1}, [4]int{users, emails, changes, mails}, "user %s acknowledged with 201", name)
	}
	// No half-written user among all users stored (acknowledged or not).
	var half int
	require.NoError(t, db.QueryRow(`SELECT count(*) FROM users u WHERE
		NOT EXISTS (SELECT 1 FROM user_emails e WHERE e.user_id = u.id)
		OR NOT EXISTS (SELECT 1 FROM changes c WHERE c.entity_id = u.id AND c.action = 'create')`).Scan(&half))
	assert.Zero(t, half)

	again := startGateway(t, g.data, "scim:\n  rateLimit: {perSecond: -1}\n")
	code, body := again.scim("GET", "/Users?filter="+strings.ReplaceAll(fmt.Sprintf(`userName eq "%s"`, acked[0]), " ", "%20"), mustToken(t, again), nil)
	require.Equal(t, 200, code, "%v", body)
	assert.EqualValues(t, 1, body["totalResults"])
	require.NoError(t, again.stop())
}

func mustToken(t testing.TB, g *gateway) string {
	tok, err := g.cli("token", "create", "--tenant", "default")
	require.NoError(t, err)
	return strings.TrimSpace(tok)
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.path != "" {
		os.RemoveAll(filepath.Dir(built.path))
	}
	os.Exit(code)
}

// TestIntegrationServeSecurity checks what reaches the gateway before any
// handler: slow clients are cut off by the server timeouts, huge and deeply
// nested bodies are refused without a 500, and tokens are tenant-scoped.
func TestIntegrationServeSecurity(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	g := startGateway(t, "", "http:\n  readHeaderTimeout: 1s\n  readTimeout: 2s\n")

	// Slow-loris: headers trickle in and never finish.
	conn, err := net.Dial("tcp", strings.TrimPrefix(g.base, "http://"))
	require.NoError(t, err)
	defer conn.Close()
	start := time.Now()
	_, err = conn.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n"))
	require.NoError(t, err)
	closed := false
	for i := 0; i < 40 && !closed; i++ { // bounded: 40 × 100ms
		time.Sleep(100 * time.Millisecond)
		if _, err := conn.Write([]byte("X-Slow: 1\r\n")); err != nil {
			closed = true
		}
		conn.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
		buf := make([]byte, 512)
		if n, err := conn.Read(buf); n > 0 || (err != nil && !isTimeout(err)) {
			closed = true
		}
	}
	assert.True(t, closed, "a client that never finishes its headers is cut off")
	assert.Less(t, time.Since(start), 4*time.Second)

	// Deeply nested JSON and an oversized body.
	deep := strings.Repeat("[", 100000) + strings.Repeat("]", 100000)
	for _, body := range []string{
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x","emails":` + deep + `}`,
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"` + strings.Repeat("a", 2<<20) + `"}`,
	} {
		req, _ := http.NewRequest("POST", g.base+"/scim/v2/Users", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+g.token)
		req.Header.Set("Content-Type", "application/scim+json")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Contains(t, []int{400, 413}, resp.StatusCode)
	}

	// Another tenant's token sees none of default's users.
	_, err = g.cli("tenant", "create", "other")
	require.NoError(t, err)
	other, err := g.cli("token", "create", "--tenant", "other")
	require.NoError(t, err)
	code, body := g.scim("POST", "/Users", g.token, scimUser("ada@example.com"))
	require.Equal(t, 201, code, "%v", body)
	code, _ = g.scim("GET", "/Users/"+body["id"].(string), strings.TrimSpace(other), nil)
	assert.Equal(t, 404, code)
	require.NoError(t, g.stop())
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// TestIntegrationShutdownWithSlowClient: SIGTERM while 300 authenticated
// clients trickle request bodies exits 0 after http.shutdownGrace, instead
// of waiting out the clients and failing.
func TestIntegrationShutdownWithSlowClient(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	const clients = 300
	g := startGateway(t, "", "http:\n  shutdownGrace: 1s\nscim:\n  rateLimit:\n    perSecond: 1000\n    burst: 1000\n")
	require.NotEmpty(t, g.token)
	for i := 0; i < clients; i++ {
		conn, err := net.Dial("tcp", strings.TrimPrefix(g.base, "http://"))
		require.NoError(t, err)
		defer conn.Close()
		_, err = fmt.Fprintf(conn, "POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"+
			"Content-Type: application/scim+json\r\nContent-Length: 100000\r\n\r\n{\"schemas\":", g.token)
		require.NoError(t, err)
	}
	time.Sleep(500 * time.Millisecond) // the requests are in their handlers, reading their bodies

	start := time.Now()
	require.NoError(t, g.stop(), "SIGTERM exits 0 with slow clients\nstderr: %s", g.stderr)
	took := time.Since(start)
	t.Logf("stopped %v after SIGTERM with %d slow clients (grace 1s)", took.Round(time.Millisecond), clients)
	assert.Contains(t, g.stderr.String(), "closing connections still open after the shutdown grace")
	assert.Contains(t, g.stderr.String(), "stopped")
}
