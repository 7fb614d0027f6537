package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// compareOps are the operations compare can run against both servers.
var compareOps = []string{"create", "get", "patch", "active", "deactivate"}

const compareUsage = `Usage: pbxgate-load compare -url URL -token TOKEN [flags]

Runs the same SCIM load against a running gateway and against an in-memory
SCIM peer (a naive server on elimity-com/scim: users in a map behind a lock,
nothing on disk) in one run, and prints both with the gateway's throughput
as a ratio of the peer's. The peer runs as a child process of this command
on a loopback port. For each operation the gateway runs first, then the
peer; both get the same number of operations from the same clients.
Loopback addresses only.

Flags:
`

const compareExamples = `
Example (the gateway as in docs/performance.md, durable SQLite):
  pbxgate-load compare -url http://127.0.0.1:18090/scim/v2 -token "$TOKEN" \
      -clients 32 -n 5000 -ops create,get,active -gateway-pid "$(pgrep -nx pbxgate)"
`

// runCompare is "pbxgate-load compare".
func runCompare(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("pbxgate-load compare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg config
	var ops, peerURL, peerToken string
	var gatewayPID int
	fs.StringVar(&cfg.base, "url", "http://127.0.0.1:8080/scim/v2", "SCIM base `URL` of the gateway (loopback only)")
	fs.StringVar(&cfg.token, "token", os.Getenv("PBXGATE_TOKEN"), "bearer `TOKEN` of the gateway (env PBXGATE_TOKEN)")
	fs.IntVar(&cfg.clients, "clients", 32, "concurrent `N` clients, against each server in turn")
	fs.IntVar(&cfg.n, "n", 5000, "operations per kind and server (bounded); 0 with -duration runs until the duration ends")
	fs.DurationVar(&cfg.duration, "duration", 10*time.Second, "run each kind against each server for at most `D` (3 kinds: at most a minute in all)")
	fs.StringVar(&ops, "ops", "create,get,active", "comma-separated `OPS`: "+strings.Join(compareOps, ", ")+
		"; every one but create needs create first")
	fs.StringVar(&cfg.prefix, "prefix", fmt.Sprintf("cmp%d", time.Now().Unix()%100000), "userName `PREFIX` of the users it creates")
	fs.StringVar(&peerURL, "peer-url", "", "use the peer already serving at `URL` (pbxgate-load peer) instead of starting one")
	fs.StringVar(&peerToken, "peer-token", os.Getenv("PBXGATE_PEER_TOKEN"), "bearer `TOKEN` of the peer given with -peer-url (env PBXGATE_PEER_TOKEN)")
	fs.IntVar(&gatewayPID, "gateway-pid", 0, "process `ID` of the gateway: with it, the CPU time each server used per operation is printed too (Linux)")
	fs.Usage = func() {
		fmt.Fprint(stderr, compareUsage)
		fs.PrintDefaults()
		fmt.Fprint(stderr, compareExamples)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("compare takes no arguments, got %q (try pbxgate-load compare -h)", strings.Join(fs.Args(), " "))
	}
	if err := cfg.check(ops, compareOps); err != nil {
		return err
	}
	if cfg.ops[0] != "create" {
		return errors.New("-ops: compare starts from an empty tenant on the peer, so the first operation must be create")
	}

	peer := cfg
	pids := [2]int{gatewayPID, 0}
	if peerURL == "" {
		stop, base, token, pid, err := startPeer(ctx, stderr)
		if err != nil {
			return err
		}
		defer stop()
		peerURL, peerToken, pids[1] = base, token, pid
	}
	peer.base, peer.token = peerURL, peerToken
	if err := loopbackOnly(peer.base); err != nil {
		return fmt.Errorf("-peer-url: %w", err)
	}

	sides := []*loader{newLoader(cfg), newLoader(peer)}
	for i, l := range sides {
		if _, err := l.do(ctx, http.MethodGet, "/ServiceProviderConfig", nil, http.StatusOK); err != nil {
			return fmt.Errorf("%s not reachable or token refused: %w", sideName[i], err)
		}
	}
	var rows [][2]result
	for _, op := range cfg.ops {
		var row [2]result
		for i, l := range sides {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			fmt.Fprintf(stderr, "%s: %s…\n", sideName[i], op)
			cpu0, ok0 := processCPU(pids[i])
			r, err := l.runOp(ctx, op, stderr)
			if err != nil {
				return fmt.Errorf("%s: %w", sideName[i], err)
			}
			cpu1, ok1 := processCPU(pids[i])
			r.cpu, r.cpuKnown = cpu1-cpu0, ok0 && ok1
			row[i] = r
		}
		rows = append(rows, row)
	}
	printComparison(stdout, rows)
	for _, row := range rows {
		for i, r := range row {
			if r.errors > 0 {
				fmt.Fprintf(stderr, "%s %s: %d errors, first: %v\n", sideName[i], r.op, r.errors, r.firstErr)
			}
		}
	}
	return nil
}

var sideName = [2]string{"gateway", "peer"}

// printComparison prints one line per operation: each server's throughput,
// latencies and CPU time per operation, then the gateway's throughput as a
// ratio of the peer's, and the peer's CPU time per operation as a ratio of
// the gateway's (above 1: the gateway does an operation with less CPU).
func printComparison(w io.Writer, rows [][2]result) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "operation\tgateway ops/s\tp50\tp99\tCPU/op\terrors\tpeer ops/s\tp50\tp99\tCPU/op\terrors\tops/s ratio\tCPU ratio\t\n")
	for _, row := range rows {
		fmt.Fprintf(tw, "%s\t", row[0].op)
		for _, r := range row {
			sort.Slice(r.latencies, func(i, j int) bool { return r.latencies[i] < r.latencies[j] })
			fmt.Fprintf(tw, "%.0f\t%s\t%s\t%s\t%d\t", r.rate(), pct(r.latencies, 50), pct(r.latencies, 99), r.cpuPerOp(), r.errors)
		}
		ratio := "-"
		if p := row[1].rate(); p > 0 {
			ratio = fmt.Sprintf("%.2f×", row[0].rate()/p)
		}
		cpuRatio := "-"
		g, p := row[0], row[1]
		if g.cpuKnown && p.cpuKnown && g.cpu > 0 && len(g.latencies) > 0 && len(p.latencies) > 0 {
			cpuRatio = fmt.Sprintf("%.2f×", (p.cpu.Seconds()/float64(len(p.latencies)))/(g.cpu.Seconds()/float64(len(g.latencies))))
		}
		fmt.Fprintf(tw, "%s\t%s\t\n", ratio, cpuRatio)
	}
	tw.Flush()
}

// startPeer starts "pbxgate-load peer" as a child process on a free
// loopback port with a random token and returns how to stop it, its base
// URL, the token and its process id.
func startPeer(ctx context.Context, stderr io.Writer) (stop func(), base, token string, pid int, err error) {
	self, err := os.Executable()
	if err != nil {
		return nil, "", "", 0, fmt.Errorf("start peer: %w", err)
	}
	token = newPeerID()
	cmd := exec.Command(self, "peer", "-listen", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "PBXGATE_PEER_TOKEN="+token)
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", "", 0, fmt.Errorf("start peer: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, "", "", 0, fmt.Errorf("start peer: %w", err)
	}
	stop = func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case line, ok := <-lines:
		if base, found := strings.CutPrefix(line, peerReadyPrefix); ok && found {
			return stop, base, token, cmd.Process.Pid, nil
		}
		stop()
		return nil, "", "", 0, fmt.Errorf("start peer: it printed %q instead of its address", line)
	case <-time.After(10 * time.Second):
		stop()
		return nil, "", "", 0, errors.New("start peer: no address after 10 s")
	case <-ctx.Done():
		stop()
		return nil, "", "", 0, ctx.Err()
	}
}

// peerReadyPrefix starts the line "pbxgate-load peer" prints once it
// listens, followed by its base URL.
const peerReadyPrefix = "peer serving "

const peerUsage = `Usage: pbxgate-load peer [flags]

Serves the in-memory SCIM peer that "pbxgate-load compare" measures the
gateway against: a naive server on elimity-com/scim (users in a map behind
a lock, nothing on disk) at /scim/v2 on a loopback address, until
interrupted. It prints "` + peerReadyPrefix + `URL" once it listens.

Flags:
`

const peerExamples = `
Example:
  PBXGATE_PEER_TOKEN=secret pbxgate-load peer -listen 127.0.0.1:18095 &
  pbxgate-load compare -url http://127.0.0.1:18090/scim/v2 -token "$TOKEN" \
      -peer-url http://127.0.0.1:18095/scim/v2 -peer-token secret
`

// runPeer is "pbxgate-load peer".
func runPeer(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("pbxgate-load peer", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var addr, token string
	fs.StringVar(&addr, "listen", "127.0.0.1:18095", "loopback `ADDR` to listen on (port 0: any free port)")
	fs.StringVar(&token, "token", os.Getenv("PBXGATE_PEER_TOKEN"), "bearer `TOKEN` clients must send (env PBXGATE_PEER_TOKEN)")
	fs.Usage = func() {
		fmt.Fprint(stderr, peerUsage)
		fs.PrintDefaults()
		fmt.Fprint(stderr, peerExamples)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("peer takes no arguments, got %q (try pbxgate-load peer -h)", strings.Join(fs.Args(), " "))
	}
	if token == "" {
		return errors.New("no token: pass -token or set PBXGATE_PEER_TOKEN")
	}
	return servePeer(ctx, addr, token, func(base string) {
		fmt.Fprintf(stdout, "%s%s\n", peerReadyPrefix, base)
	})
}
