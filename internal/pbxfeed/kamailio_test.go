package pbxfeed_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/internal/pbxfeed"
	"github.com/pbxgate/pbxgate/pbxusers"
	"github.com/pbxgate/pbxgate/pbxusers/sqlite"
	"github.com/pbxgate/pbxgate/scim"
)

// TestKamailioWithSIPp runs the example Kamailio configuration
// (examples/kamailio) against pbxgate's SCIM endpoint and PBX feed served
// over real HTTP on 127.0.0.1, and drives it with SIPp as the phones: a user
// provisioned over SCIM registers with their device's secret, a wrong
// password is refused, a call to the extension reaches the registered
// device, and after a SCIM PATCH active=false the device's REGISTER is
// refused (the delay is logged). .ci/run installs kamailio, its modules and
// sip-tester; the test skips, naming the package, only when they are
// missing.
func TestKamailioWithSIPp(t *testing.T) {
	kamailio := lookTool(t, "kamailio", "kamailio kamailio-utils-modules kamailio-json-modules kamailio-python3-modules")
	sipp := lookTool(t, "sipp", "sip-tester")
	for _, mod := range []string{"http_client.so", "json.so", "app_python3.so"} {
		if _, err := os.Stat(filepath.Join("/usr/lib/x86_64-linux-gnu/kamailio/modules", mod)); err != nil {
			if _, err2 := os.Stat(filepath.Join("/usr/lib/kamailio/modules", mod)); err2 != nil {
				t.Skipf("kamailio module %s is not installed (apt-get install kamailio-utils-modules kamailio-json-modules kamailio-python3-modules)", mod)
			}
		}
	}
	ctx := context.Background()
	const domain = "acme.sip.test"

	// pbxgate: a real SQLite directory behind the SCIM endpoint and the feed.
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "pbx.db"))
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	dir := pbxusers.New(store, pbxusers.Options{PasswordCost: 4})
	_, err = dir.CreateTenant(ctx, pbxusers.Tenant{ID: "acme", Region: "DE", SIPDomain: domain, DisableWelcomeMail: true})
	require.NoError(t, err)
	token, _, err := dir.CreateToken(ctx, "acme", "okta and kamailio")
	require.NoError(t, err)
	srv := httptest.NewUnstartedServer(nil)
	scimHandler, err := scim.New(dir, scim.Options{BaseURL: "http://" + srv.Listener.Addr().String() + scim.Prefix})
	require.NoError(t, err)
	feed, err := pbxfeed.New(pbxfeed.Config{Directory: dir, Authorize: tokenAuthorize(dir)})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle(scim.Prefix+"/", scimHandler)
	feed.Mount(mux)
	srv.Config.Handler = mux
	srv.Start()
	t.Cleanup(srv.Close)

	ada := scimCreate(t, srv.URL, token, "ada", "Ada", "201")
	bob := scimCreate(t, srv.URL, token, "bob", "Bob", "202")
	adaDesk, err := dir.AddDevice(ctx, "acme", pbxusers.Device{UserID: ada, SIPID: "ada-desk"})
	require.NoError(t, err)
	bobDesk, err := dir.AddDevice(ctx, "acme", pbxusers.Device{UserID: bob, SIPID: "bob-desk"})
	require.NoError(t, err)

	// Cyd's rule: ring her devices for 2 s, then the backup number 5 s,
	// then voicemail. Dee's: outside a time frame that is never now, calls
	// go straight to her voicemail.
	cyd := scimCreate(t, srv.URL, token, "cyd", "Cyd", "203")
	_, err = dir.ModifyUser(ctx, "acme", cyd, func(u *pbxusers.User) error {
		u.Features.Voicemail = true
		u.Routing = pbxusers.BackupRouting("+4930555000", 2*time.Second, 5*time.Second)
		return nil
	})
	require.NoError(t, err)
	cydDesk, err := dir.AddDevice(ctx, "acme", pbxusers.Device{UserID: cyd, SIPID: "cyd-desk"})
	require.NoError(t, err)
	never, err := dir.CreateTimeFrame(ctx, "acme", pbxusers.TimeFrame{Name: "Not today", Entries: []pbxusers.TimeFrameEntry{{
		Weekly: &pbxusers.Weekly{Days: []time.Weekday{(time.Now().UTC().Weekday() + 3) % 7}, From: pbxusers.ClockAt(0, 0), To: pbxusers.ClockAt(23, 59)}}}})
	require.NoError(t, err)
	dee := scimCreate(t, srv.URL, token, "dee", "Dee", "204")
	_, err = dir.ModifyUser(ctx, "acme", dee, func(u *pbxusers.User) error {
		u.Features.Voicemail = true
		u.Routing = pbxusers.AfterHours(never.ID, pbxusers.Destination{Kind: pbxusers.DestVoicemail})
		return nil
	})
	require.NoError(t, err)

	// Kamailio with the example configuration on a free loopback port; the
	// carrier gateway and the voicemail server are SIPp processes too.
	work := t.TempDir()
	sipPort, gatewayPort, voicemailPort := freeUDPPort(t), freeUDPPort(t), freeUDPPort(t)
	example, err := filepath.Abs("../../examples/kamailio")
	require.NoError(t, err)
	kam := exec.Command(kamailio, "-f", filepath.Join(example, "kamailio.cfg"), "-DD", "-E",
		"-l", fmt.Sprintf("udp:127.0.0.1:%d", sipPort), "-Y", work, "-P", filepath.Join(work, "kamailio.pid"), "-w", work,
		"-m", "32", "-M", "8",
		"-A", fmt.Sprintf("PBXGATE_URL=%q", srv.URL),
		"-A", fmt.Sprintf("PBXGATE_TOKEN=%q", token),
		"-A", fmt.Sprintf("PBXGATE_PLAN_PY=%q", filepath.Join(example, "pbxgate_plan.py")),
		"-A", fmt.Sprintf("CARRIER_GATEWAY=\"127.0.0.1:%d\"", gatewayPort),
		"-A", fmt.Sprintf("VOICEMAIL_URI=\"127.0.0.1:%d\"", voicemailPort),
		"-A", "CREDENTIALS_CACHE=1")
	var kamLog syncBuffer
	kam.Stdout, kam.Stderr = &kamLog, &kamLog
	kam.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, kam.Start())
	t.Cleanup(func() {
		_ = syscall.Kill(-kam.Process.Pid, syscall.SIGTERM)
		_ = kam.Wait()
		if t.Failed() {
			t.Logf("kamailio log:\n%s", kamLog.String())
		}
	})
	waitSIP(t, sipPort, &kamLog)

	proxy := fmt.Sprintf("127.0.0.1:%d", sipPort)
	run := func(scenario string, args ...string) error {
		return runSIPp(t, sipp, proxy, scenario, args...)
	}
	register := func(scenario string, dev pbxusers.Device, password string, contactPort int) error {
		return run(scenario, "-au", dev.SIPID, "-ap", password, "-key", "sipuser", dev.SIPID, "-key", "domain", domain,
			"-key", "contact_port", fmt.Sprint(contactPort))
	}

	t.Run("wrong password is refused", func(t *testing.T) {
		require.NoError(t, register("register_refused.xml", adaDesk, "not-the-secret", freeUDPPort(t)))
	})
	t.Run("unknown user is refused", func(t *testing.T) {
		require.NoError(t, register("register_refused.xml", pbxusers.Device{SIPID: "nobody"}, "x", freeUDPPort(t)))
	})

	// Ada's phone: a SIPp UAS on its own port, registered as ada-desk.
	phonePort := freeUDPPort(t)
	phone := startSIPpUAS(t, sipp, "uas.xml", phonePort)
	t.Run("provisioned device registers", func(t *testing.T) {
		require.NoError(t, register("register.xml", adaDesk, adaDesk.Secret, phonePort))
	})
	t.Run("call to the extension reaches the registered device", func(t *testing.T) {
		require.NoError(t, run("invite.xml", "-au", bobDesk.SIPID, "-ap", bobDesk.Secret, "-key", "sipuser", bobDesk.SIPID,
			"-key", "domain", domain, "-key", "ext", "201"))
		require.NoError(t, phone.wait(), "the phone (SIPp UAS) took the call")
	})
	call := func(scenario, ext string) error {
		return run(scenario, "-au", bobDesk.SIPID, "-ap", bobDesk.Secret, "-key", "sipuser", bobDesk.SIPID,
			"-key", "domain", domain, "-key", "ext", ext)
	}
	t.Run("call to an unknown extension gets 404", func(t *testing.T) {
		require.NoError(t, call("invite_refused.xml", "299"))
	})
	t.Run("unanswered device: the backup number after the plan's timeout", func(t *testing.T) {
		cydPhonePort := freeUDPPort(t)
		cydPhone := startSIPpUAS(t, sipp, "uas_no_answer.xml", cydPhonePort)
		gateway := startSIPpUAS(t, sipp, "uas.xml", gatewayPort)
		require.NoError(t, register("register.xml", cydDesk, cydDesk.Secret, cydPhonePort))
		start := time.Now()
		require.NoError(t, call("invite.xml", "203"), "answered by the carrier gateway")
		t.Logf("backup number answered %s after the INVITE (plan: ring devices 2 s)", time.Since(start).Round(time.Millisecond))
		require.NoError(t, cydPhone.wait(), "the phone rang and was cancelled when the step timed out")
		require.NoError(t, gateway.wait(), "the carrier gateway took the call")
	})
	t.Run("after hours: straight to voicemail", func(t *testing.T) {
		voicemail := startSIPpUAS(t, sipp, "uas.xml", voicemailPort)
		require.NoError(t, call("invite.xml", "204"), "answered by the voicemail server")
		require.NoError(t, voicemail.wait(), "the voicemail server took the call")
	})

	t.Run("deactivated over SCIM: REGISTER refused", func(t *testing.T) {
		require.NoError(t, register("register.xml", adaDesk, adaDesk.Secret, phonePort), "registered and cached before")
		scimDeactivate(t, srv.URL, token, ada)
		deactivated := time.Now()
		var refused time.Duration
		for time.Since(deactivated) < 15*time.Second { // gives up, does not measure
			if register("register_refused.xml", adaDesk, adaDesk.Secret, phonePort) == nil {
				refused = time.Since(deactivated)
				break
			}
		}
		require.NotZero(t, refused, "REGISTER still accepted 15 s after the deactivation")
		t.Logf("deprovisioning delay: REGISTER refused %s after the SCIM PATCH answered (credentials cache 1 s, whole-second expiry)", refused.Round(time.Millisecond))
	})
}

func lookTool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/" + name); serr == nil {
			return "/usr/sbin/" + name
		}
		t.Skipf("%s is not installed (apt-get install %s)", name, pkg)
	}
	return p
}

// freeUDPPort returns a UDP port on 127.0.0.1 that was free a moment ago.
func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// waitSIP waits until Kamailio answers OPTIONS.
func waitSIP(t *testing.T, port int, log *syncBuffer) {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	defer c.Close()
	local := c.LocalAddr().(*net.UDPAddr).Port
	to := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}
	buf := make([]byte, 4096)
	for i := 0; i < 100; i++ {
		msg := fmt.Sprintf("OPTIONS sip:ping@127.0.0.1:%d SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-ping%d\r\n"+
			"Max-Forwards: 70\r\nFrom: <sip:ping@127.0.0.1>;tag=p%d\r\nTo: <sip:ping@127.0.0.1>\r\nCall-ID: ping-%d\r\n"+
			"CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n", port, local, i, i, i)
		_, err := c.WriteTo([]byte(msg), to)
		require.NoError(t, err)
		_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if n, _, err := c.ReadFrom(buf); err == nil && bytes.HasPrefix(buf[:n], []byte("SIP/2.0 200")) {
			return
		}
	}
	t.Fatalf("kamailio did not answer OPTIONS on 127.0.0.1:%d; log:\n%s", port, log.String())
}

// runSIPp runs one SIPp call of a scenario in testdata/sipp against the
// proxy and returns an error unless the call succeeded.
func runSIPp(t *testing.T, sipp, proxy, scenario string, args ...string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	errFile := filepath.Join(t.TempDir(), "sipp-errors.log")
	all := append([]string{proxy, "-sf", filepath.Join("testdata", "sipp", scenario), "-m", "1", "-i", "127.0.0.1",
		"-p", fmt.Sprint(freeUDPPort(t)), "-nostdin", "-timeout", "8s", "-timeout_error", "-recv_timeout", "6000",
		"-trace_err", "-error_file", errFile}, args...)
	cmd := exec.CommandContext(ctx, sipp, all...)
	cmd.Dir = "."
	out, err := cmd.CombinedOutput()
	if err != nil {
		errs, _ := os.ReadFile(errFile)
		return fmt.Errorf("sipp %s: %w\n%s\n%s", scenario, err, lastLines(string(errs), 40), lastLines(string(out), 4))
	}
	return nil
}

// uas is a SIPp playing a phone that answers one call.
type uas struct {
	done chan error
}

func (u *uas) wait() error {
	select {
	case err := <-u.done:
		return err
	case <-time.After(15 * time.Second):
		return fmt.Errorf("the phone got no call")
	}
}

// startSIPpUAS starts SIPp with a server scenario of testdata/sipp on the
// port, for one call.
func startSIPpUAS(t *testing.T, sipp, scenario string, port int) *uas {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, sipp, "-sf", filepath.Join("testdata", "sipp", scenario), "-m", "1", "-i", "127.0.0.1", "-p", fmt.Sprint(port), "-nostdin",
		"-timeout", "40s", "-timeout_error")
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	u := &uas{done: make(chan error, 1)}
	go func() {
		err := cmd.Wait()
		if err != nil {
			err = fmt.Errorf("sipp uas: %w\n%s", err, lastLines(out.String(), 15))
		}
		u.done <- err
	}()
	t.Cleanup(cancel)
	return u
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// syncBuffer is a bytes.Buffer safe for a process's output and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func scimCreate(t *testing.T, base, token, userName, given, ext string) string {
	t.Helper()
	body := map[string]any{
		"schemas":                []string{"urn:ietf:params:scim:schemas:core:2.0:User", scim.UserExtensionSchema},
		"userName":               userName,
		"name":                   map[string]string{"givenName": given, "familyName": "Test"},
		"active":                 true,
		scim.UserExtensionSchema: map[string]any{"extension": ext},
	}
	var out struct {
		ID string `json:"id"`
	}
	scimDo(t, http.MethodPost, base+scim.Prefix+"/Users", token, body, http.StatusCreated, &out)
	require.NotEmpty(t, out.ID)
	return out.ID
}

func scimDeactivate(t *testing.T, base, token, id string) {
	t.Helper()
	body := map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []map[string]any{{"op": "replace", "value": map[string]any{"active": false}}},
	}
	scimDo(t, http.MethodPatch, base+scim.Prefix+"/Users/"+id, token, body, http.StatusOK, nil)
}

func scimDo(t *testing.T, method, url, token string, body any, want int, out any) {
	t.Helper()
	data, err := json.Marshal(body)
	require.NoError(t, err)
	req, err := http.NewRequest(method, url, bytes.NewReader(data))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/scim+json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var raw bytes.Buffer
	_, _ = raw.ReadFrom(resp.Body)
	require.Equal(t, want, resp.StatusCode, raw.String())
	if out != nil {
		require.NoError(t, json.Unmarshal(raw.Bytes(), out), raw.String())
	}
}
