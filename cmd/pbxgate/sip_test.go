package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The SIP side of the end-to-end tests: a real Kamailio running
// examples/kamailio on a loopback port, and SIPp processes playing the
// phones, the carrier gateway and the voicemail server with the scenarios
// in testdata/sipp. .ci/run installs kamailio, its modules and sip-tester.

// sipTools are the paths of the programs the SIP tests run.
type sipTools struct {
	kamailio, sipp string
}

// needSIPTools returns Kamailio and SIPp, or skips the test naming the
// Debian packages to install when one of them or a module is missing.
func needSIPTools(t *testing.T) sipTools {
	t.Helper()
	const pkgs = "kamailio kamailio-utils-modules kamailio-json-modules kamailio-python3-modules"
	tools := sipTools{kamailio: lookTool(t, "kamailio", pkgs), sipp: lookTool(t, "sipp", "sip-tester")}
	for _, mod := range []string{"http_client.so", "json.so", "app_python3.so"} {
		found, _ := filepath.Glob(filepath.Join("/usr/lib/*/kamailio/modules", mod))
		if len(found) == 0 {
			if _, err := os.Stat(filepath.Join("/usr/lib/kamailio/modules", mod)); err != nil {
				t.Skipf("kamailio module %s is not installed (apt-get install %s)", mod, pkgs)
			}
		}
	}
	return tools
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

// kamailioOptions are the example configuration's settings (its -A
// defines) a test sets.
type kamailioOptions struct {
	pbxgateURL, token string
	gatewayPort       int
	voicemailPort     int
}

// startKamailio runs examples/kamailio/kamailio.cfg on a free loopback UDP
// port and waits until it answers OPTIONS; it returns "127.0.0.1:port".
// The credentials cache is 1 s, so deactivation is seen quickly.
func startKamailio(t *testing.T, tools sipTools, o kamailioOptions) string {
	t.Helper()
	work := t.TempDir()
	port := freeUDPPort(t)
	example, err := filepath.Abs("../../examples/kamailio")
	require.NoError(t, err)
	kam := exec.Command(tools.kamailio, "-f", filepath.Join(example, "kamailio.cfg"), "-DD", "-E",
		"-l", fmt.Sprintf("udp:127.0.0.1:%d", port), "-Y", work, "-P", filepath.Join(work, "kamailio.pid"), "-w", work,
		"-m", "32", "-M", "8",
		"-A", fmt.Sprintf("PBXGATE_URL=%q", o.pbxgateURL),
		"-A", fmt.Sprintf("PBXGATE_TOKEN=%q", o.token),
		"-A", fmt.Sprintf("PBXGATE_PLAN_PY=%q", filepath.Join(example, "pbxgate_plan.py")),
		"-A", fmt.Sprintf("CARRIER_GATEWAY=\"127.0.0.1:%d\"", o.gatewayPort),
		"-A", fmt.Sprintf("VOICEMAIL_URI=\"127.0.0.1:%d\"", o.voicemailPort),
		"-A", "CREDENTIALS_CACHE=1")
	var log lockedBuffer
	kam.Stdout, kam.Stderr = &log, &log
	kam.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, kam.Start())
	t.Cleanup(func() {
		_ = syscall.Kill(-kam.Process.Pid, syscall.SIGTERM)
		_ = kam.Wait()
		if t.Failed() {
			t.Logf("kamailio log:\n%s", lastLines(log.String(), 80))
		}
	})
	waitSIP(t, port, &log)
	return fmt.Sprintf("127.0.0.1:%d", port)
}

// waitSIP waits until Kamailio answers OPTIONS.
func waitSIP(t *testing.T, port int, log *lockedBuffer) {
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
// proxy and returns an error unless the call went as the scenario says.
func runSIPp(t *testing.T, sipp, proxy, scenario string, args ...string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	errFile := filepath.Join(t.TempDir(), "sipp-errors.log")
	all := append([]string{proxy, "-sf", filepath.Join("testdata", "sipp", scenario), "-m", "1", "-i", "127.0.0.1",
		"-p", fmt.Sprint(freeUDPPort(t)), "-nostdin", "-timeout", "8s", "-timeout_error", "-recv_timeout", "6000",
		"-trace_err", "-error_file", errFile}, args...)
	out, err := exec.CommandContext(ctx, sipp, all...).CombinedOutput()
	if err != nil {
		errs, _ := os.ReadFile(errFile)
		return fmt.Errorf("sipp %s: %w\n%s\n%s", scenario, err, lastLines(string(errs), 40), lastLines(string(out), 4))
	}
	return nil
}

// uas is a SIPp server (a phone, the carrier gateway, the voicemail
// server) taking one call.
type uas struct {
	done chan error
}

// wait returns nil once the call went as the scenario says.
func (u *uas) wait() error {
	select {
	case err := <-u.done:
		return err
	case <-time.After(15 * time.Second):
		return fmt.Errorf("no call arrived")
	}
}

// startUAS starts SIPp with a server scenario of testdata/sipp on the
// port, for one call.
func startUAS(t *testing.T, sipp, scenario string, port int) *uas {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, sipp, "-sf", filepath.Join("testdata", "sipp", scenario), "-m", "1", "-i", "127.0.0.1",
		"-p", fmt.Sprint(port), "-nostdin", "-timeout", "40s", "-timeout_error")
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	u := &uas{done: make(chan error, 1)}
	go func() {
		err := cmd.Wait()
		if err != nil {
			err = fmt.Errorf("sipp uas %s: %w\n%s", scenario, err, lastLines(out.String(), 15))
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
