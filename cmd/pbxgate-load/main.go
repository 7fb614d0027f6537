// Command pbxgate-load drives a running pbxgate over real HTTP with
// concurrent SCIM clients and prints throughput and p50/p95/p99 latency per
// operation. It talks to loopback addresses only.
//
//	pbxgate-load -url http://127.0.0.1:8080/scim/v2 -token "$TOKEN" -preload 100000
//	pbxgate-load -url http://127.0.0.1:8080/scim/v2 -token "$TOKEN" -ops create -clients 32 -n 20000
//
// "pbxgate-load compare" runs the same load against the gateway and against
// an in-memory SCIM peer (a naive elimity-com/scim server, see peer.go) in
// one run and prints the ratios; "pbxgate-load peer" serves that peer alone.
//
//	pbxgate-load compare -url http://127.0.0.1:8080/scim/v2 -token "$TOKEN" -n 5000
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "pbxgate-load: %s\n", err)
		os.Exit(1)
	}
}

// allOps lists the operations the driver runs by default, in that order.
var allOps = []string{"create", "get", "filter", "list", "patch", "group", "deactivate"}

// knownOps are allOps and those that run only when asked for: "active"
// PATCHes active (path form, as Entra sends it) of the users in turn,
// false on the first pass and true on the next, so every PATCH changes the
// user.
var knownOps = append(append([]string(nil), allOps...), "active")

// topUsage is the command's help.
const topUsage = `Usage:
  pbxgate-load -url URL -token TOKEN [flags]   drive a gateway (see pbxgate-load -h)
  pbxgate-load compare -url URL -token TOKEN [flags]
                                               the same load against the gateway and an
                                               in-memory SCIM peer, with ratios
  pbxgate-load peer [flags]                    serve the in-memory SCIM peer alone
`

type config struct {
	base     string
	token    string
	clients  int
	n        int
	duration time.Duration
	ops      []string
	preload  int
	scan     int
	groupN   int
	prefix   string
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "compare":
			return runCompare(ctx, args[1:], stdout, stderr)
		case "peer":
			return runPeer(ctx, args[1:], stdout, stderr)
		case "help":
			fmt.Fprint(stdout, topUsage)
			return nil
		}
		if !strings.HasPrefix(args[0], "-") {
			return fmt.Errorf("unknown command %q\n%s", args[0], topUsage)
		}
	}
	return runDrive(ctx, args, stdout, stderr)
}

// runDrive drives a gateway: "pbxgate-load [flags]".
func runDrive(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("pbxgate-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg config
	var ops string
	fs.StringVar(&cfg.base, "url", "http://127.0.0.1:8080/scim/v2", "SCIM base `URL` of the gateway (loopback only)")
	fs.StringVar(&cfg.token, "token", os.Getenv("PBXGATE_TOKEN"), "bearer `TOKEN` (env PBXGATE_TOKEN)")
	fs.IntVar(&cfg.clients, "clients", 32, "concurrent `N` clients")
	fs.IntVar(&cfg.n, "n", 5000, "operations per kind (bounded); 0 with -duration runs until the duration ends")
	fs.DurationVar(&cfg.duration, "duration", 0, "run each kind for at most `D` (e.g. 30s)")
	fs.StringVar(&ops, "ops", strings.Join(allOps, ","), "comma-separated `OPS`: "+strings.Join(knownOps, ", "))
	fs.IntVar(&cfg.preload, "preload", 0, "first create `N` users (not measured) so reads run against a full tenant")
	fs.IntVar(&cfg.scan, "scan", 0, "instead of preloading, list up to `N` existing users of the tenant to read and patch")
	fs.IntVar(&cfg.groupN, "group-members", 10000, "members of the group the 'group' operation patches")
	fs.StringVar(&cfg.prefix, "prefix", fmt.Sprintf("load%d", time.Now().Unix()%100000), "userName `PREFIX` of the users it creates")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: pbxgate-load -url URL -token TOKEN [flags]\n\n"+
			"Drives a running pbxgate over real HTTP with concurrent SCIM clients and prints\n"+
			"throughput and p50/p95/p99 latency per operation. Loopback addresses only.\n"+
			"Other commands: pbxgate-load compare -h, pbxgate-load peer -h.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if err := cfg.check(ops, knownOps); err != nil {
		return err
	}
	return newLoader(cfg).run(ctx, stdout, stderr)
}

// check validates the flags every command shares and sets c.ops from ops.
func (c *config) check(ops string, known []string) error {
	c.ops = strings.Split(ops, ",")
	for _, op := range c.ops {
		if !contains(known, op) {
			return fmt.Errorf("unknown operation %q (known: %s)", op, strings.Join(known, ", "))
		}
	}
	if c.token == "" {
		return errors.New("no token: pass -token or set PBXGATE_TOKEN (pbxgate token create --tenant default)")
	}
	if err := loopbackOnly(c.base); err != nil {
		return err
	}
	if c.clients < 1 || c.clients > 1024 {
		return errors.New("-clients must be between 1 and 1024")
	}
	if c.n <= 0 && c.duration <= 0 {
		return errors.New("give -n or -duration: every run is bounded")
	}
	return nil
}

func newLoader(cfg config) *loader {
	return &loader{cfg: cfg, http: &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{
		MaxIdleConns: cfg.clients * 2, MaxIdleConnsPerHost: cfg.clients * 2, IdleConnTimeout: time.Minute}}}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// loopbackOnly refuses targets that are not on this machine.
func loopbackOnly(base string) error {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return fmt.Errorf("-url %q is not a URL", base)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-url %q: pbxgate-load only drives gateways on loopback addresses (127.0.0.1, ::1, localhost)", base)
	}
	return nil
}

type loader struct {
	cfg   config
	http  *http.Client
	users []string // ids created or scanned, for the read and write operations
	names []string // their userNames, for the filter operation
	mu    sync.Mutex
	seq   atomic.Int64
	group string
}

func (l *loader) do(ctx context.Context, method, path string, body any, want int) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(l.cfg.base, "/")+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+l.cfg.token)
	req.Header.Set("Content-Type", "application/scim+json")
	resp, err := l.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != want {
		return data, fmt.Errorf("%s %s: status %d, want %d: %.300s", method, path, resp.StatusCode, want, data)
	}
	return data, nil
}

func (l *loader) newUser() map[string]any {
	n := l.seq.Add(1)
	name := fmt.Sprintf("%s-%07d@load.example", l.cfg.prefix, n)
	return map[string]any{
		"schemas":  []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
		"userName": name,
		"name":     map[string]any{"givenName": "Load", "familyName": fmt.Sprintf("User%07d", n)},
		"emails":   []map[string]any{{"value": name, "type": "work", "primary": true}},
		"active":   true,
	}
}

func (l *loader) create(ctx context.Context) error {
	data, err := l.do(ctx, http.MethodPost, "/Users", l.newUser(), http.StatusCreated)
	if err != nil {
		return err
	}
	var u struct{ ID, UserName string }
	if err := json.Unmarshal(data, &u); err != nil {
		return err
	}
	l.mu.Lock()
	l.users = append(l.users, u.ID)
	l.names = append(l.names, u.UserName)
	l.mu.Unlock()
	return nil
}

// scanUsers lists up to n existing users (pages of 1000) for the read and
// write operations to use.
func (l *loader) scanUsers(ctx context.Context, n int) error {
	for start := 1; len(l.users) < n; start += 1000 {
		data, err := l.do(ctx, http.MethodGet, fmt.Sprintf("/Users?startIndex=%d&count=1000&attributes=userName", start), nil, http.StatusOK)
		if err != nil {
			return err
		}
		var page struct {
			Resources []struct{ ID, UserName string }
		}
		if err := json.Unmarshal(data, &page); err != nil {
			return err
		}
		if len(page.Resources) == 0 {
			break
		}
		for _, r := range page.Resources {
			l.users = append(l.users, r.ID)
			l.names = append(l.names, r.UserName)
		}
	}
	return nil
}

func (l *loader) randomName() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.names[rand.IntN(len(l.names))]
}

func (l *loader) randomUser() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.users) == 0 {
		return ""
	}
	return l.users[rand.IntN(len(l.users))]
}

// result holds one operation's latencies.
type result struct {
	op        string
	latencies []time.Duration
	errors    int
	firstErr  error
	elapsed   time.Duration
	// cpu is the CPU time the server process used during the run, when
	// known (cpuKnown).
	cpu      time.Duration
	cpuKnown bool
}

// cpuPerOp is the server's CPU time per successful operation, or "-".
func (r result) cpuPerOp() string {
	if !r.cpuKnown || len(r.latencies) == 0 {
		return "-"
	}
	return fmt.Sprintf("%dµs", (r.cpu / time.Duration(len(r.latencies))).Microseconds())
}

// measure runs fn from cfg.clients goroutines, n times in all or until the
// duration ends, and collects the latencies.
func (l *loader) measure(ctx context.Context, op string, fn func(context.Context, int) error) result {
	var (
		next  atomic.Int64
		mu    sync.Mutex
		res   = result{op: op}
		wg    sync.WaitGroup
		start = time.Now()
	)
	if l.cfg.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, l.cfg.duration)
		defer cancel()
	}
	limit := int64(l.cfg.n)
	for c := 0; c < l.cfg.clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			var errs int
			var first error
			for ctx.Err() == nil {
				i := next.Add(1)
				if limit > 0 && i > limit {
					break
				}
				t0 := time.Now()
				err := fn(ctx, int(i))
				if err != nil {
					if ctx.Err() != nil {
						break
					}
					errs++
					if first == nil {
						first = err
					}
					continue
				}
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			res.latencies = append(res.latencies, lat...)
			res.errors += errs
			if res.firstErr == nil {
				res.firstErr = first
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	return res
}

func (l *loader) run(ctx context.Context, stdout, stderr io.Writer) error {
	if _, err := l.do(ctx, http.MethodGet, "/ServiceProviderConfig", nil, http.StatusOK); err != nil {
		return fmt.Errorf("gateway not reachable or token refused: %w", err)
	}
	if l.cfg.preload > 0 {
		fmt.Fprintf(stderr, "preloading %d users with %d clients…\n", l.cfg.preload, l.cfg.clients)
		saved := l.cfg.n
		l.cfg.n = l.cfg.preload
		r := l.measure(ctx, "preload", func(ctx context.Context, _ int) error { return l.create(ctx) })
		l.cfg.n = saved
		if r.errors > 0 {
			return fmt.Errorf("preload: %d errors, first: %v", r.errors, r.firstErr)
		}
		fmt.Fprintf(stderr, "preloaded %d users in %s (%.0f/s)\n", len(r.latencies), r.elapsed.Round(time.Millisecond),
			float64(len(r.latencies))/r.elapsed.Seconds())
	}
	if l.cfg.scan > 0 {
		if err := l.scanUsers(ctx, l.cfg.scan); err != nil {
			return fmt.Errorf("scan users: %w", err)
		}
		fmt.Fprintf(stderr, "scanned %d existing users\n", len(l.users))
	}
	var results []result
	for _, op := range l.cfg.ops {
		if ctx.Err() != nil {
			break
		}
		r, err := l.runOp(ctx, op, stderr)
		if err != nil {
			return err
		}
		results = append(results, r)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "operation\tok\terrors\tops/s\tp50\tp95\tp99\tmax\t\n")
	for _, r := range results {
		sort.Slice(r.latencies, func(i, j int) bool { return r.latencies[i] < r.latencies[j] })
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.0f\t%s\t%s\t%s\t%s\t\n", r.op, len(r.latencies), r.errors,
			r.rate(), pct(r.latencies, 50), pct(r.latencies, 95), pct(r.latencies, 99), pct(r.latencies, 100))
	}
	tw.Flush()
	for _, r := range results {
		if r.errors > 0 {
			fmt.Fprintf(stderr, "%s: first error: %v\n", r.op, r.firstErr)
		}
	}
	return nil
}

// rate is the operations per second that succeeded.
func (r result) rate() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(len(r.latencies)) / r.elapsed.Seconds()
}

func pct(l []time.Duration, p int) string {
	if len(l) == 0 {
		return "-"
	}
	i := (len(l)*p + 99) / 100
	if i > 0 {
		i--
	}
	if i >= len(l) {
		i = len(l) - 1
	}
	d := l[i]
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	default:
		return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000)
	}
}

func (l *loader) runOp(ctx context.Context, op string, stderr io.Writer) (result, error) {
	need := func() error {
		if len(l.users) == 0 {
			return fmt.Errorf("%s needs users: run create first or use -preload", op)
		}
		return nil
	}
	switch op {
	case "create":
		return l.measure(ctx, op, func(ctx context.Context, _ int) error { return l.create(ctx) }), nil
	case "get":
		if err := need(); err != nil {
			return result{}, err
		}
		return l.measure(ctx, op, func(ctx context.Context, _ int) error {
			_, err := l.do(ctx, http.MethodGet, "/Users/"+l.randomUser(), nil, http.StatusOK)
			return err
		}), nil
	case "filter":
		if err := need(); err != nil {
			return result{}, err
		}
		return l.measure(ctx, op, func(ctx context.Context, _ int) error {
			f := url.QueryEscape(fmt.Sprintf(`userName eq "%s"`, l.randomName()))
			data, err := l.do(ctx, http.MethodGet, "/Users?filter="+f, nil, http.StatusOK)
			if err == nil && !bytes.Contains(data, []byte(`"totalResults":1`)) {
				return fmt.Errorf("filter found no user: %.200s", data)
			}
			return err
		}), nil
	case "list":
		total := max(len(l.users), 1)
		return l.measure(ctx, op, func(ctx context.Context, _ int) error {
			start := 1 + rand.IntN(total)
			_, err := l.do(ctx, http.MethodGet, fmt.Sprintf("/Users?startIndex=%d&count=100", start), nil, http.StatusOK)
			return err
		}), nil
	case "patch":
		if err := need(); err != nil {
			return result{}, err
		}
		return l.measure(ctx, op, func(ctx context.Context, i int) error {
			body := map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
				"Operations": []map[string]any{{"op": "replace", "path": "title", "value": fmt.Sprintf("Title %d", i)}}}
			_, err := l.do(ctx, http.MethodPatch, "/Users/"+l.randomUser(), body, http.StatusOK)
			return err
		}), nil
	case "group":
		if err := need(); err != nil {
			return result{}, err
		}
		if err := l.bigGroup(ctx, stderr); err != nil {
			return result{}, err
		}
		return l.measure(ctx, op, func(ctx context.Context, _ int) error {
			body := map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
				"Operations": []map[string]any{{"op": "add", "path": "members", "value": []map[string]any{{"value": l.randomUser()}}}}}
			_, err := l.do(ctx, http.MethodPatch, "/Groups/"+l.group, body, http.StatusNoContent)
			return err
		}), nil
	case "active":
		if err := need(); err != nil {
			return result{}, err
		}
		return l.measure(ctx, op, func(ctx context.Context, i int) error {
			l.mu.Lock()
			n := len(l.users)
			id := l.users[(i-1)%n]
			l.mu.Unlock()
			body := map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
				"Operations": []map[string]any{{"op": "replace", "path": "active", "value": ((i-1)/n)%2 == 1}}}
			_, err := l.do(ctx, http.MethodPatch, "/Users/"+id, body, http.StatusOK)
			return err
		}), nil
	case "deactivate":
		if err := need(); err != nil {
			return result{}, err
		}
		return l.measure(ctx, op, func(ctx context.Context, _ int) error {
			body := map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
				"Operations": []map[string]any{{"op": "replace", "value": map[string]any{"active": false}}}}
			_, err := l.do(ctx, http.MethodPatch, "/Users/"+l.randomUser(), body, http.StatusOK)
			return err
		}), nil
	}
	return result{}, fmt.Errorf("unknown operation %q", op)
}

// bigGroup creates the group the "group" operation patches, with
// cfg.groupN members added in chunks (not measured).
func (l *loader) bigGroup(ctx context.Context, stderr io.Writer) error {
	if l.group != "" {
		return nil
	}
	data, err := l.do(ctx, http.MethodPost, "/Groups", map[string]any{
		"schemas":     []string{"urn:ietf:params:scim:schemas:core:2.0:Group"},
		"displayName": l.cfg.prefix + " load group",
	}, http.StatusCreated)
	if err != nil {
		return err
	}
	var g struct{ ID string }
	if err := json.Unmarshal(data, &g); err != nil {
		return err
	}
	l.group = g.ID
	l.mu.Lock()
	members := append([]string(nil), l.users...)
	l.mu.Unlock()
	if len(members) > l.cfg.groupN {
		members = members[:l.cfg.groupN]
	}
	fmt.Fprintf(stderr, "group %s: adding %d members…\n", l.group, len(members))
	for i := 0; i < len(members); i += 500 {
		chunk := members[i:min(i+500, len(members))]
		vals := make([]map[string]any, len(chunk))
		for j, id := range chunk {
			vals[j] = map[string]any{"value": id}
		}
		body := map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
			"Operations": []map[string]any{{"op": "add", "path": "members", "value": vals}}}
		if _, err := l.do(ctx, http.MethodPatch, "/Groups/"+l.group, body, http.StatusNoContent); err != nil {
			return err
		}
	}
	return nil
}
