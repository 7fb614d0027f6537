package console

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/pbxgate/pbxgate/internal/ratelimit"
	"github.com/pbxgate/pbxgate/pbxusers"
)

// Prefix is where the console is served.
const Prefix = "/admin"

// Defaults for sign-in throttling: failed sign-ins per client address
// and per account.
const (
	DefaultSignInPerMinute = 10
	DefaultSignInBurst     = 5
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Options configures the console. The zero value works.
type Options struct {
	// Logger receives sign-ins, refusals and failures (never passwords or
	// tokens); nil discards them.
	Logger *slog.Logger
	// Secure says the console is reached over https (directly or through
	// a proxy that terminates TLS): the session cookie is then __Host-
	// prefixed and Secure. Requests over TLS and to a loopback address are
	// treated as secure anyway.
	Secure bool
	// IdleTimeout ends a session after that long without a request; zero
	// means DefaultIdleTimeout.
	IdleTimeout time.Duration
	// SignInPerMinute and SignInBurst limit failed sign-ins per client
	// address and per account; zero means the defaults.
	SignInPerMinute float64
	SignInBurst     int
	// ClientIP returns the client address of a request; nil uses
	// RemoteAddr. Set it behind a proxy you trust.
	ClientIP func(*http.Request) string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// LDAPDirectories names a tenant's configured LDAP directories for the
	// LDAP page; nil means none. Runs start through the admin API.
	LDAPDirectories LDAPDirectories
}

// Handler serves the console. It is safe for concurrent use.
type Handler struct {
	dir      *pbxusers.Directory
	api      http.Handler
	opts     Options
	log      *slog.Logger
	sessions *sessions
	byIP     *ratelimit.Limiter
	byUser   *ratelimit.Limiter
	pages    map[string]*template.Template
	mux      *http.ServeMux
}

var _ http.Handler = (*Handler)(nil)

// New returns the console over dir; api is the admin API handler every
// write goes through.
func New(dir *pbxusers.Directory, api http.Handler, opts Options) *Handler {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	if opts.SignInPerMinute <= 0 {
		opts.SignInPerMinute = DefaultSignInPerMinute
	}
	if opts.SignInBurst <= 0 {
		opts.SignInBurst = DefaultSignInBurst
	}
	if opts.ClientIP == nil {
		opts.ClientIP = func(r *http.Request) string { return ratelimit.RemoteIP(r.RemoteAddr) }
	}
	h := &Handler{dir: dir, api: api, opts: opts, log: opts.Logger, sessions: newSessions(opts.IdleTimeout, opts.Now),
		mux: http.NewServeMux()}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	limit := ratelimit.Config{PerSecond: opts.SignInPerMinute / 60, Burst: opts.SignInBurst, Now: opts.Now}
	h.byIP, h.byUser = ratelimit.New(limit), ratelimit.New(limit)
	h.pages = parsePages()

	static, _ := fs.Sub(staticFS, "static")
	h.mux.Handle("GET "+Prefix+"/static/", http.StripPrefix(Prefix+"/static/", http.FileServerFS(static)))
	h.mux.HandleFunc("GET "+Prefix+"/{$}", h.home)
	h.mux.HandleFunc("GET "+Prefix+"/sign-in", h.signInForm)
	h.mux.HandleFunc("POST "+Prefix+"/sign-in", h.signIn)
	h.mux.HandleFunc("GET "+Prefix+"/link/{token}", h.linkForm)
	h.mux.HandleFunc("POST "+Prefix+"/link/{token}", h.useLink)
	h.mux.HandleFunc("POST "+Prefix+"/sign-out", h.signedIn(h.signOut))
	h.mux.HandleFunc("GET "+Prefix+"/users", h.signedIn(h.listUsers))
	h.mux.HandleFunc("GET "+Prefix+"/users/new", h.signedIn(h.newUserForm))
	h.mux.HandleFunc("POST "+Prefix+"/users", h.signedIn(h.createUser))
	h.mux.HandleFunc("GET "+Prefix+"/users/{id}", h.signedIn(h.showUser))
	h.mux.HandleFunc("POST "+Prefix+"/users/{id}/devices", h.signedIn(h.addDevice))
	h.mux.HandleFunc("GET "+Prefix+"/users/{id}/delete", h.signedIn(h.deleteForm))
	h.mux.HandleFunc("POST "+Prefix+"/users/{id}/delete", h.signedIn(h.deleteUser))
	h.mountTenant()
	h.mountUserPages()
	return h
}

// ServeHTTP serves the console with its security headers.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "+
		"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Cache-Control", "no-store")
	h.mux.ServeHTTP(w, r)
}

// secure reports whether the request reached the console over https, or
// from this machine (where browsers treat http as secure too).
func (h *Handler) secure(r *http.Request) bool {
	if h.opts.Secure || r.TLS != nil {
		return true
	}
	host := r.Host
	if hst, _, err := net.SplitHostPort(host); err == nil {
		host = hst
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}

// signedIn wraps a handler that needs a session: without one a GET goes
// to the sign-in page, anything else is 401. Every POST must carry the
// session's CSRF token and come from the console's origin.
func (h *Handler) signedIn(fn func(http.ResponseWriter, *http.Request, *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ss := h.session(r)
		if ss == nil {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, Prefix+"/sign-in", http.StatusSeeOther)
				return
			}
			h.fail(w, r, nil, http.StatusUnauthorized, "signedOut")
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
			if !sameOrigin(r) || !checkCSRF(ss, r) {
				h.log.WarnContext(r.Context(), "console form refused: CSRF check failed", "client", h.opts.ClientIP(r))
				h.fail(w, r, ss, http.StatusForbidden, "formExpired")
				return
			}
		}
		fn(w, r, ss)
	}
}

func (h *Handler) home(w http.ResponseWriter, r *http.Request) {
	if h.session(r) == nil {
		http.Redirect(w, r, Prefix+"/sign-in", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, Prefix+"/users", http.StatusSeeOther)
}

// page is what every template gets.
type page struct {
	T       texts
	Title   string
	Session *session
	CSRF    string
	Error   string
	Data    any
}

// render writes the named page with status.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, ss *session, status int, name, title string, data any) {
	p := page{T: textsFor(ss, r), Title: title, Session: ss, Data: data}
	if ss != nil {
		p.CSRF = ss.CSRF
	}
	h.write(w, r, status, name, p)
}

func (h *Handler) write(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	var buf bytes.Buffer
	if err := h.pages[name].ExecuteTemplate(&buf, "layout", p); err != nil {
		h.log.ErrorContext(r.Context(), "render console page", "page", name, "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// fail renders an error page with the text of key.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, ss *session, status int, key string) {
	t := textsFor(ss, r)
	h.write(w, r, status, "message", page{T: t, Title: t.get(key + "Title"), Session: ss, Error: t.get(key)})
}

// parsePages parses each page template with the layout.
func parsePages() map[string]*template.Template {
	funcs := template.FuncMap{"join": strings.Join, "list": func(s ...string) []string { return s }}
	layout := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html"))
	names, _ := fs.Glob(templateFS, "templates/*.html")
	pages := map[string]*template.Template{}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		pages[base] = template.Must(template.Must(layout.Clone()).ParseFS(templateFS, n))
	}
	return pages
}

// L returns the text of key in the page's language.
func (p page) L(key string) string { return p.T.get(key) }

// F formats the text of key with args.
func (p page) F(key string, args ...any) string { return fmt.Sprintf(p.T.get(key), args...) }
