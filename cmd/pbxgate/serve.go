package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pbxgate/pbxgate/internal/adminapi"
	"github.com/pbxgate/pbxgate/internal/authguard"
	"github.com/pbxgate/pbxgate/internal/console"
	"github.com/pbxgate/pbxgate/pbxusers"
	"github.com/pbxgate/pbxgate/scim"
	"github.com/pbxgate/pbxgate/smtp"
	"github.com/pbxgate/pbxgate/smtp/passwordpage"
)

func runServe(ctx context.Context, c *CLI, args []string) error {
	fs := c.flagSet("serve", "serve [--config FILE] [--data DIR | --db FILE] [--listen ADDR]", `
Run the gateway: the SCIM 2.0 endpoint (/scim/v2), the admin API (/api/v1),
the admin web console (/admin/, where / leads), the PBX feed (/pbx/v1), the
set-password pages (/setup/...), /healthz, /readyz and /metrics (Prometheus),
the LDAP sync schedules, the mail outbox worker and the webhook worker.

With no configuration at all it keeps its data in ./pbxgate-data, listens
on 127.0.0.1:8080, creates tenant "default" on first start and prints the
SCIM base URL and a bearer token for it, once. Mail goes to .eml files in
<data>/mail until an SMTP relay is configured.

SIGINT or SIGTERM stop it gracefully: it stops accepting, gives in-flight
requests http.shutdownGrace (default 10s) to finish and then closes what is
left, finishes the current sync batch, the mail and webhook deliveries in
hand, releases the mail and webhooks it had claimed, and exits 0.

Environment: PBXGATE_CONFIG, PBXGATE_DATA, PBXGATE_DB, PBXGATE_LISTEN, and
every setting as PBXGATE_<YAML PATH> (PBXGATE_PUBLIC_URL, PBXGATE_SMTP_HOST).
With a wildcard listen address set publicURL, or no mail is sent.

Examples:
  pbxgate serve
  pbxgate serve --config /etc/pbxgate/pbxgate.yaml
  PBXGATE_LISTEN=0.0.0.0:8080 PBXGATE_PUBLIC_URL=https://pbx.example.com pbxgate serve --data /var/lib/pbxgate`)
	g := c.commonFlags(fs, false)
	listen := fs.String("listen", "", "`ADDR` to listen on (env PBXGATE_LISTEN; default "+DefaultListen+")")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("pbxgate serve -h", "serve takes no arguments, got %q; name the configuration with --config FILE", strings.Join(pos, " "))
	}
	cfg, warnings, err := loadConfig(g.config, c.Getenv)
	if err != nil {
		return err
	}
	set := resolve(cfg, g.config, g.data, g.db, *listen, c.Getenv)
	log := c.logger(cfg.Log)
	for _, w := range warnings {
		log.Warn("configuration", "warning", w)
	}
	// Listen before anything is created, so that a busy port leaves no
	// half-made first start behind (a tenant whose token nobody saw).
	ln, err := net.Listen("tcp", set.listen)
	if err != nil {
		return listenError(set.listen, err)
	}
	defer ln.Close()
	g.data, g.db = set.data, set.database
	e, err := c.open(ctx, g)
	if err != nil {
		return err
	}
	defer e.Close()
	e.log = log
	return c.serve(ctx, e, cfg, set, ln, log, cliPrefix(g, cfg, set, c.Getenv))
}

// listenError explains a failed listen and names the three places the
// address comes from.
func listenError(addr string, err error) error {
	var hint string
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		hint = "another program (or another pbxgate) uses this port: stop it, or choose another address with --listen, PBXGATE_LISTEN or listen: in the configuration"
	case errors.Is(err, syscall.EACCES):
		hint = "ports below 1024 need privileges: use a port such as 8080 behind a proxy, or grant CAP_NET_BIND_SERVICE"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		hint = "this machine has no such address: use 127.0.0.1, 0.0.0.0 or one of its own addresses"
	default:
		hint = "check --listen, PBXGATE_LISTEN or listen: in the configuration"
	}
	var errno syscall.Errno // "address already in use", not "listen tcp …: bind: …"
	if errors.As(err, &errno) {
		err = errno
	}
	return fmt.Errorf("listen on %s: %w; %s (nothing was created)", addr, err, hint)
}

// commandName is how the operator runs pbxgate: "pbxgate", or, for a
// binary that "go run" built in a temporary directory, "go run
// ./cmd/pbxgate", since no pbxgate is on their PATH.
func commandName(executable func() (string, error)) string {
	path, err := executable()
	if err == nil && strings.Contains(filepath.ToSlash(path), "/go-build") {
		return "go run ./cmd/pbxgate"
	}
	return "pbxgate"
}

// cliPrefix is what the commands the gateway suggests (token create) need
// to reach the same database: its --config, and --data or --db where the
// gateway was given them beyond what the configuration (and the
// environment, which those commands share) would give.
func cliPrefix(g *common, cfg *Config, set settings, getenv func(string) string) string {
	var b strings.Builder
	if g.config != "" {
		b.WriteString(" --config " + g.config)
	}
	if implied := resolve(cfg, g.config, "", "", "", getenv); set.data != implied.data {
		b.WriteString(" --data " + set.data)
	}
	if implied := resolve(cfg, g.config, set.data, "", "", getenv); set.database != implied.database {
		b.WriteString(" --db " + redactDSN(set.database))
	}
	return b.String()
}

// publicURL is the address set-password links and the SCIM base URL are
// built from: publicURL in the configuration (env PBXGATE_PUBLIC_URL), else
// http(s)://<listen>. A wildcard listen address (0.0.0.0, [::], :8080) names
// no host users can reach, so it is an error that names the setting.
func publicURL(cfg *Config, listen string) (string, error) {
	if cfg.PublicURL != "" {
		return strings.TrimRight(cfg.PublicURL, "/"), nil
	}
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("listen %q is not host:port", listen)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		return "", fmt.Errorf("publicURL is not set and listen %s is a wildcard address, so there is no address for links in mail: set publicURL (env PBXGATE_PUBLIC_URL) to the gateway's address as users reach it, e.g. https://pbx.example.com", listen)
	}
	scheme := "http"
	if cfg.TLS.CertFile != "" {
		scheme = "https"
	}
	return scheme + "://" + listen, nil
}

func (c *CLI) serve(ctx context.Context, e *env, cfg *Config, set settings, ln net.Listener, log *slog.Logger, prefix string) error {
	started := time.Now()
	firstToken, err := ensureTenants(ctx, e.dir, cfg)
	if err != nil {
		return err
	}
	// Links in mail need an address users can reach; without one the mail
	// stays queued until publicURL is set.
	public, publicErr := publicURL(cfg, ln.Addr().String())
	if publicErr != nil {
		public = smtp.DefaultPublicURL(ln.Addr().String(), cfg.TLS.CertFile != "")
		log.Error("mail is not sent", "reason", publicErr.Error())
		fmt.Fprintf(c.Stderr, "pbxgate: mail is not sent (it stays queued): %s\n", publicErr)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := newHTTPMetrics(reg)
	m.initialize()
	registerBuildInfo(reg)

	// One throttle of failed authentications for every bearer-token
	// endpoint: a client guessing tokens is slowed on all of them.
	guard := authguard.New(authguard.Options{Logger: log.With("component", "auth"), Registerer: reg})
	scimHandler, err := scim.New(e.dir, scim.Options{
		BaseURL:      public + scim.Prefix,
		Logger:       log.With("component", "scim"),
		MaxBodyBytes: cfg.SCIM.MaxBodyBytes,
		RateLimit:    scim.RateLimit{PerSecond: cfg.SCIM.RateLimit.PerSecond, Burst: cfg.SCIM.RateLimit.Burst},
		Registerer:   reg,
		AuthThrottle: guard,
	})
	if err != nil {
		return fmt.Errorf("set up SCIM: %w", err)
	}

	bgCtx, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBackground()
	bg, err := startBackground(bgCtx, e, cfg, set, public, publicErr == nil, reg, log)
	if err != nil {
		return err
	}

	mux := http.NewServeMux()
	mux.Handle(scim.Prefix+"/", scimHandler)
	api := mountAdminAPI(mux, e.dir, cfg, guard, log)
	if err := mountPBXFeed(mux, e.dir, guard, log); err != nil {
		return err
	}
	mountConsole(mux, e.dir, api, public, e)
	// The gateway's root is the console: a browser pointed at the address
	// the banner printed lands on its sign-in page instead of a 404.
	mux.Handle("GET /{$}", http.RedirectHandler(console.Prefix+"/", http.StatusSeeOther))
	if bg.setupPage != nil {
		bg.setupPage.Mount(mux)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		pctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := e.store.Ping(pctx); err != nil {
			log.Warn("not ready", "err", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "database not ready")
			return
		}
		fmt.Fprintln(w, "ready")
	})
	metrics := promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
	if cfg.Metrics.Listen == "" {
		mux.Handle("GET /metrics", metrics)
	} else if err := serveMetrics(ctx, cfg.Metrics.Listen, metrics, log); err != nil {
		return err
	}

	srv := &http.Server{
		Handler:           m.wrap(newAccessLog(log, e.dir).wrap(mux)),
		ReadHeaderTimeout: orDefault(cfg.HTTP.ReadHeaderTimeout, 10*time.Second),
		ReadTimeout:       orDefault(cfg.HTTP.ReadTimeout, 60*time.Second),
		WriteTimeout:      orDefault(cfg.HTTP.WriteTimeout, 90*time.Second),
		IdleTimeout:       orDefault(cfg.HTTP.IdleTimeout, 2*time.Minute),
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() {
		if cfg.TLS.CertFile != "" {
			serveErr <- srv.ServeTLS(ln, cfg.TLS.CertFile, cfg.TLS.KeyFile)
		} else {
			serveErr <- srv.Serve(ln)
		}
	}()

	if addr := c.Getenv("PBXGATE_PPROF"); addr != "" {
		if err := servePprof(ctx, addr, log); err != nil {
			return err
		}
	}
	// The first-start banner goes out before the "serving" line, so whoever
	// waits for that line (a supervisor, a test) finds the token printed.
	if firstToken != "" {
		fmt.Fprintf(c.Stdout, `
pbxgate is ready. Tenant %q was created on this first start.

  SCIM base URL:  %s%s
  Bearer token:   %s

The token is shown only this once; keep it in your identity provider.
Create more with: %[5]s token create --tenant %[6]s --name okta%[7]s

  Admin console:  %[2]s%[8]s/
Make yourself its first admin and sign in with a one-time link:
  %[5]s users add you@example.com --email you@example.com --role admin%[7]s
  %[5]s console link --user you@example.com%[7]s

`, DefaultTenant, public, scim.Prefix, firstToken, commandName(os.Executable), DefaultTenant, prefix, console.Prefix)
	} else if err := c.tokenHints(ctx, e, public, prefix); err != nil {
		log.Warn("list tokens", "err", err)
	}

	log.Info("pbxgate serving", "listen", ln.Addr().String(), "public_url", public, "database", redactDSN(set.database),
		"mail", bg.mailVia, "ldap_directories", len(cfg.LDAP.Directories), "version", version(),
		"startup_ms", time.Since(started).Milliseconds())

	select {
	case err := <-serveErr:
		stopBackground()
		bg.wait()
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	grace := orDefault(cfg.HTTP.ShutdownGrace, DefaultShutdownGrace)
	log.Info("shutting down: finishing in-flight requests, the current sync batch and mail in hand",
		"grace_ms", grace.Milliseconds())
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		// Requests still running after the grace (a client trickling its
		// body, a stalled reader) are cut off: stopping must not hang on
		// one slow client.
		log.Warn("closing connections still open after the shutdown grace", "grace_ms", grace.Milliseconds(), "error", err)
		srv.Close()
	}
	stopBackground()
	bg.wait()
	log.Info("stopped")
	return nil
}

// serveMetrics serves /metrics on a listener of its own (metrics.listen),
// with the profiler too when that listener is on loopback.
func serveMetrics(ctx context.Context, addr string, metrics http.Handler, log *slog.Logger) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("metrics.listen %q: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics)
	if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics.listen: %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	go func() { <-ctx.Done(); srv.Close() }()
	log.Info("metrics listening", "addr", ln.Addr().String())
	return nil
}

// servePprof serves net/http/pprof on a separate loopback listener, for
// profiling a running gateway (PBXGATE_PPROF=127.0.0.1:6060). Off by default.
func servePprof(ctx context.Context, addr string, log *slog.Logger) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("PBXGATE_PPROF: %w", err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("PBXGATE_PPROF=%s: the profiler only listens on loopback addresses", addr)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("PBXGATE_PPROF: %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	go func() { <-ctx.Done(); srv.Close() }()
	log.Warn("profiler listening", "addr", ln.Addr().String())
	return nil
}

// tokenHints says, for each tenant without a usable token, exactly how to
// get one: tokens are shown only when created.
func (c *CLI) tokenHints(ctx context.Context, e *env, public, prefix string) error {
	tenants, err := e.dir.ListTenants(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	for _, t := range tenants {
		toks, err := e.dir.ListTokens(ctx, t.ID)
		if err != nil {
			return err
		}
		usable := false
		for _, tk := range toks {
			if tk.Revoked == nil && (tk.ExpiresAt == nil || tk.ExpiresAt.After(now)) {
				usable = true
			}
		}
		if !usable {
			fmt.Fprintf(c.Stdout, "Tenant %q has no usable SCIM token. Create one (it is printed once) with:\n  %s token create --tenant %s --name okta%s\nand give it with the SCIM base URL %s%s to the identity provider.\n",
				t.ID, commandName(os.Executable), t.ID, prefix, public, scim.Prefix)
		}
	}
	return nil
}

// ensureTenants creates the configured tenants (and keeps their settings in
// step with the file), or, with none configured, tenant "default" on first
// start. It returns a token for the default tenant when it created it.
func ensureTenants(ctx context.Context, dir *pbxusers.Directory, cfg *Config) (string, error) {
	boot := pbxusers.WithActor(ctx, pbxusers.Actor{Source: pbxusers.SourceManual, Name: "config"})
	if len(cfg.Tenants) == 0 {
		list, err := dir.ListTenants(ctx)
		if err != nil {
			return "", err
		}
		if len(list) > 0 {
			return "", nil
		}
		if _, err := dir.CreateTenant(boot, pbxusers.Tenant{ID: DefaultTenant}); err != nil {
			return "", fmt.Errorf("create tenant %q: %w", DefaultTenant, err)
		}
		token, _, err := dir.CreateToken(boot, DefaultTenant, "first start")
		return token, err
	}
	for _, tc := range cfg.Tenants {
		want, err := tc.tenant()
		if err != nil {
			return "", err
		}
		cur, err := dir.GetTenant(ctx, want.ID)
		switch {
		case errors.Is(err, pbxusers.ErrNotFound):
			if _, err := dir.CreateTenant(boot, want); err != nil {
				return "", fmt.Errorf("create tenant %q: %w", want.ID, err)
			}
		case err != nil:
			return "", err
		default:
			want.Version = cur.Version
			// What the file does not say stays as the API or CLI set it.
			if want.Name == "" {
				want.Name = cur.Name
			}
			if want.SignInURL == "" {
				want.SignInURL = cur.SignInURL
			}
			if want.SIPDomain == "" {
				want.SIPDomain = cur.SIPDomain
			}
			want.DisableWelcomeOnActivation = cur.DisableWelcomeOnActivation
			if _, err := dir.UpdateTenant(boot, want); err != nil {
				return "", fmt.Errorf("update tenant %q from the configuration: %w", want.ID, err)
			}
		}
	}
	return "", nil
}

// httpMetrics counts requests by endpoint and status and times them.
type httpMetrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pbxgate_http_requests_total", Help: "HTTP requests by endpoint, method and status code.",
		}, []string{"endpoint", "method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "pbxgate_http_request_duration_seconds", Help: "HTTP request latency by endpoint.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"endpoint", "method"}),
	}
	reg.MustRegister(m.requests, m.latency)
	return m
}

// scimEndpoints are the SCIM resources the metrics name; any other path
// under the prefix is "other", so no client can mint label values.
var scimEndpoints = map[string]bool{"Users": true, "Groups": true, "Bulk": true, "Me": true,
	"ServiceProviderConfig": true, "ResourceTypes": true, "Schemas": true, ".search": true}

// endpoint maps a served request to a label from a fixed set: the route
// that handled it with ids and tokens as placeholders, else "other". It
// is called after the mux has served r, so r.Pattern is set.
func endpoint(r *http.Request) string {
	path := r.URL.Path
	switch {
	case path == "/healthz" || path == "/readyz" || path == "/metrics":
		return path
	case strings.HasPrefix(path, "/setup/"):
		return "/setup/{token}"
	case strings.HasPrefix(path, adminapi.Prefix+"/"):
		return adminapi.Endpoint(path)
	case strings.HasPrefix(path, scim.Prefix):
		rest := strings.Trim(strings.TrimPrefix(path, scim.Prefix), "/")
		parts := strings.Split(rest, "/")
		switch {
		case rest == "":
			return scim.Prefix
		case !scimEndpoints[parts[0]]:
			return "other"
		case len(parts) == 1:
			return scim.Prefix + "/" + parts[0]
		case len(parts) == 2 && parts[1] == ".search":
			return scim.Prefix + "/" + parts[0] + "/.search"
		case len(parts) == 2:
			return scim.Prefix + "/" + parts[0] + "/{id}"
		}
		return "other"
	}
	// Routes registered on the mux with their own patterns: the pattern,
	// without its method, is from the fixed set of registered routes.
	if _, pattern, ok := strings.Cut(r.Pattern, " "); ok {
		return pattern
	}
	if r.Pattern != "" && r.Pattern != "/" {
		return r.Pattern
	}
	return "other"
}

// methodLabel folds every method but the standard ones into "other".
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return m
	}
	return "other"
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (m *httpMetrics) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		if sw.code == 0 {
			sw.code = http.StatusOK
		}
		ep, method := endpoint(r), methodLabel(r.Method)
		m.requests.WithLabelValues(ep, method, strconv.Itoa(sw.code)).Inc()
		m.latency.WithLabelValues(ep, method).Observe(time.Since(start).Seconds())
	})
}

// background is what serve runs besides HTTP: the LDAP schedules and the
// mail outbox worker.
type background struct {
	setupPage *passwordpage.Handler
	mailVia   string
	wg        sync.WaitGroup
}

// wait returns when every background job has stopped.
func (b *background) wait() { b.wg.Wait() }
