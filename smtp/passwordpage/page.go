package passwordpage

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pbxgate/pbxgate/internal/ratelimit"
	"github.com/pbxgate/pbxgate/pbxusers"
)

// Pattern is the route the page is served at (net/http ServeMux syntax);
// the token is the last path segment. It matches the links
// smtp.Worker puts in mail: <publicURL>/setup/<token>.
const Pattern = "/setup/{token}"

// Defaults of [Options].
const (
	// DefaultRatePerMinute and DefaultBurst limit POSTs per client IP
	// (IPv6 per /64): a burst of 5, then one every 6 seconds.
	DefaultRatePerMinute = 10
	DefaultBurst         = 5
	// DefaultMaxConcurrent bounds password hashing (bcrypt) in flight.
	DefaultMaxConcurrent = 4
	// MinKeyBytes is the shortest Options.Key.
	MinKeyBytes = 32
)

// maxBodyBytes caps a POST body: two passwords and a token.
const maxBodyBytes = 16 << 10

// maxClients bounds the rate limiter's memory.
const maxClients = 10000

// Options configure a [Handler]. The zero value works.
type Options struct {
	// Key is the server's secret for the forms' CSRF tokens, at least 32
	// bytes. Default: random per process, so a form opened before a
	// restart is refused once ("open the form again"); pass a stored key
	// to avoid that.
	Key []byte

	// SecureCookie marks the CSRF cookie Secure and gives it the __Host-
	// prefix. It is on for requests that came over TLS anyway; set it when
	// TLS ends at a reverse proxy. Default false.
	SecureCookie bool

	// RatePerMinute and Burst limit POSTs per client IP (IPv6 per /64);
	// more get 429 with Retry-After. Defaults 10 per minute, burst 5. This
	// is on top of the library's limit: a link is revoked after
	// pbxusers.MaxSetupFailures rejected passwords.
	RatePerMinute float64
	Burst         int

	// MaxConcurrent is how many passwords may be hashed at once; later
	// POSTs wait. Default 4.
	MaxConcurrent int

	// ClientIP returns the client's IP address for the rate limit.
	// Default: the host part of r.RemoteAddr. Behind a reverse proxy, pass
	// a function that reads the proxy's header, and only trust it from the
	// proxy.
	ClientIP func(r *http.Request) string

	// SignInURL, when set, is linked from the success page.
	SignInURL string

	// Logger receives the page's logs; nil discards them. Tokens and
	// passwords are never logged.
	Logger *slog.Logger

	// Now is the rate limiter's clock; nil means time.Now.
	Now func() time.Time
}

// Handler serves the set-password page. It implements http.Handler for
// GET, HEAD and POST on Pattern.
//
// Security: GET only checks the link (CheckSetupLink), so link scanners do
// not use it up; POST sets the password (CompleteSetup: policy, bcrypt,
// single use, revoked after MaxSetupFailures rejected passwords). Unknown,
// used, expired and revoked links get the same page and status (404).
// Every response carries Cache-Control: no-store, Referrer-Policy:
// no-referrer, a Content-Security-Policy that allows nothing but the
// page's own inline style block and form posts to itself, X-Frame-Options:
// DENY and X-Content-Type-Options: nosniff. POSTs are checked by net/http's
// CrossOriginProtection and a signed double-submit cookie (see Options.Key)
// and rate-limited per client IP.
type Handler struct {
	dir     *pbxusers.Directory
	opts    Options
	key     []byte
	logger  *slog.Logger
	limiter *ratelimit.Limiter
	sem     chan struct{}
	csp     string
	inner   http.Handler
}

var _ http.Handler = (*Handler)(nil)

//go:embed page.html.tmpl
var pageSource string

//go:embed style.css
var styleSource string

var pageTemplate = template.Must(template.New("page").Parse(pageSource))

// New returns a Handler for dir. It fails only for a Key shorter than
// MinKeyBytes or negative limits.
func New(dir *pbxusers.Directory, opts Options) (*Handler, error) {
	var errs []error
	if dir == nil {
		errs = append(errs, errors.New("password page: nil Directory"))
	}
	if opts.Key != nil && len(opts.Key) < MinKeyBytes {
		errs = append(errs, fmt.Errorf("password page: key has %d bytes, want at least %d", len(opts.Key), MinKeyBytes))
	}
	if opts.RatePerMinute < 0 || opts.Burst < 0 || opts.MaxConcurrent < 0 {
		errs = append(errs, errors.New("password page: negative rate, burst or concurrency (0 means the default)"))
	}
	if opts.SignInURL != "" {
		if u, err := url.Parse(opts.SignInURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") {
			errs = append(errs, fmt.Errorf("password page: sign-in URL %q is not an http(s) URL", opts.SignInURL))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if opts.RatePerMinute == 0 {
		opts.RatePerMinute = DefaultRatePerMinute
	}
	if opts.Burst == 0 {
		opts.Burst = DefaultBurst
	}
	if opts.MaxConcurrent == 0 {
		opts.MaxConcurrent = DefaultMaxConcurrent
	}
	if opts.ClientIP == nil {
		opts.ClientIP = func(r *http.Request) string { return ratelimit.RemoteIP(r.RemoteAddr) }
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	key := opts.Key
	if key == nil {
		key = make([]byte, MinKeyBytes)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("password page: read random key: %w", err)
		}
	}
	sum := sha256.Sum256([]byte(styleSource))
	h := &Handler{
		dir:     dir,
		opts:    opts,
		key:     bytes.Clone(key),
		logger:  opts.Logger.With(slog.String("component", "password-page")),
		limiter: ratelimit.New(ratelimit.Config{PerSecond: opts.RatePerMinute / 60, Burst: opts.Burst, MaxKeys: maxClients, Now: opts.Now}),
		sem:     make(chan struct{}, opts.MaxConcurrent),
		csp: "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; " +
			"form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
	}
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.logger.WarnContext(r.Context(), "cross-origin POST refused", slog.String("client", h.opts.ClientIP(r)))
		h.message(w, r, http.StatusForbidden, pick("", r.Header.Get("Accept-Language")), kindFormExpired, "")
	}))
	h.inner = cop.Handler(http.HandlerFunc(h.serve))
	return h, nil
}

// Mount registers the page on mux at Pattern for GET (and HEAD) and POST.
func (h *Handler) Mount(mux *http.ServeMux) {
	mux.Handle("GET "+Pattern, h)
	mux.Handle("POST "+Pattern, h)
}

// ServeHTTP implements http.Handler. The token is r.PathValue("token")
// when routed by Pattern, else the last segment of the path.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("Pragma", "no-cache")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("Content-Security-Policy", h.csp)
	hdr.Set("X-Frame-Options", "DENY")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Cross-Origin-Opener-Policy", "same-origin")
	hdr.Set("Cross-Origin-Resource-Policy", "same-origin")
	hdr.Set("X-Robots-Tag", "noindex, nofollow")
	if h.secure(r) {
		hdr.Set("Strict-Transport-Security", "max-age=31536000")
	}
	h.inner.ServeHTTP(w, r)
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	if token == "" {
		token = r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		h.get(w, r, token)
	case http.MethodPost:
		h.post(w, r, token)
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		h.message(w, r, http.StatusMethodNotAllowed, pick("", r.Header.Get("Accept-Language")), kindError, "")
	}
}

// page kinds other than the form.
type kind int

const (
	kindInvalid kind = iota
	kindFormExpired
	kindTooMany
	kindError
	kindDone
)

// pageData is what page.html.tmpl shows.
type pageData struct {
	T      *text
	CSS    template.CSS
	Title  string
	Tenant string

	Form          bool
	Intro         string
	Notice        string
	CSRF          string
	Login         string
	PasswordHint  string
	PasswordError string
	ConfirmError  string

	Paragraphs []string
	Again      bool
	SignInURL  string
}

// link is a checked set-password link and what the page shows about it.
type link struct {
	token  string
	st     pbxusers.SetupToken
	user   pbxusers.User
	tenant string
	// signIn is the tenant's sign-in URL, else Options.SignInURL.
	signIn string
	t      *text
}

// check looks the link up without using it. It writes the response and
// returns false when the link is not valid or the store fails.
func (h *Handler) check(w http.ResponseWriter, r *http.Request, token string) (link, bool) {
	st, u, err := h.dir.CheckSetupLink(r.Context(), token)
	if err != nil {
		h.linkError(w, r, err)
		return link{}, false
	}
	l := link{token: token, st: st, user: u, signIn: h.opts.SignInURL, t: pick(u.Language, r.Header.Get("Accept-Language"))}
	if tn, err := h.dir.GetTenant(r.Context(), u.TenantID); err == nil {
		l.tenant = tn.Name
		if tn.SignInURL != "" {
			l.signIn = tn.SignInURL
		}
	}
	return l, true
}

// linkError answers a failed link check in the browser's language.
func (h *Handler) linkError(w http.ResponseWriter, r *http.Request, err error) {
	h.linkErrorIn(w, r, pick("", r.Header.Get("Accept-Language")), err)
}

// linkErrorIn answers a failed link check in the language of t.
func (h *Handler) linkErrorIn(w http.ResponseWriter, r *http.Request, t *text, err error) {
	if errors.Is(err, pbxusers.ErrSetupLink) {
		h.logger.DebugContext(r.Context(), "set-password link refused", slog.String("client", h.opts.ClientIP(r)))
		h.message(w, r, http.StatusNotFound, t, kindInvalid, "")
		return
	}
	h.logger.ErrorContext(r.Context(), "check set-password link", slog.Any("error", err))
	h.message(w, r, http.StatusInternalServerError, t, kindError, "")
}

func (h *Handler) get(w http.ResponseWriter, r *http.Request, token string) {
	l, ok := h.check(w, r, token)
	if !ok {
		return
	}
	h.form(w, r, http.StatusOK, l, "", "")
}

func (h *Handler) post(w http.ResponseWriter, r *http.Request, token string) {
	ctx := r.Context()
	client := h.opts.ClientIP(r)
	if ok, wait := h.limiter.Allow(ratelimit.ClientKey(client)); !ok {
		h.logger.WarnContext(ctx, "set-password POST rate-limited", slog.String("client", client))
		w.Header().Set("Retry-After", ratelimit.RetryAfter(wait))
		h.message(w, r, http.StatusTooManyRequests, pick("", r.Header.Get("Accept-Language")), kindTooMany, "")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	if err := r.ParseForm(); err != nil {
		h.message(w, r, http.StatusBadRequest, pick("", r.Header.Get("Accept-Language")), kindFormExpired, "")
		return
	}
	if !h.checkCSRF(r, linkID(token)) {
		h.logger.WarnContext(ctx, "set-password POST without a valid CSRF token", slog.String("client", client))
		h.message(w, r, http.StatusForbidden, pick("", r.Header.Get("Accept-Language")), kindFormExpired, "")
		return
	}
	l, ok := h.check(w, r, token)
	if !ok {
		return
	}
	password, confirm := r.PostForm.Get("password"), r.PostForm.Get("confirm")
	switch {
	case password == "":
		h.form(w, r, http.StatusUnprocessableEntity, l, l.t.ErrRequired, "")
		return
	case password != confirm:
		h.form(w, r, http.StatusUnprocessableEntity, l, "", l.t.ErrMismatch)
		return
	}

	select {
	case h.sem <- struct{}{}:
	case <-ctx.Done():
		return
	}
	u, err := h.dir.CompleteSetup(ctx, token, password)
	<-h.sem
	var verr *pbxusers.ValidationError
	switch {
	case errors.As(err, &verr) && verr.Has("password"):
		// The library counted the failure; the link may now be revoked.
		st, _, err := h.dir.CheckSetupLink(ctx, token)
		h.logger.InfoContext(ctx, "set-password link: password refused by policy",
			slog.String("tenant", l.user.TenantID), slog.String("user_id", l.user.ID),
			slog.Int("failures", st.Failures), slog.Bool("revoked", err != nil))
		if err != nil {
			h.linkErrorIn(w, r, l.t, err)
			return
		}
		l.st = st
		h.form(w, r, http.StatusUnprocessableEntity, l, policyMessage(l.t, password, l.user.UserName, verr), "")
	case err != nil:
		h.linkErrorIn(w, r, l.t, err)
	default:
		h.logger.InfoContext(ctx, "password set through link", slog.String("tenant", u.TenantID),
			slog.String("user_id", u.ID), slog.String("purpose", string(l.st.Purpose)), slog.String("client", client))
		h.message(w, r, http.StatusOK, l.t, kindDone, l.tenant, u.UserName, l.signIn)
	}
}

// policyMessage explains a refused password in the page's language. It
// mirrors pbxusers.CheckPasswordPolicy; a reason it does not know is shown
// as the library gives it.
func policyMessage(t *text, password, login string, verr *pbxusers.ValidationError) string {
	switch {
	case utf8.RuneCountInString(password) < pbxusers.MinPasswordLength:
		return fmt.Sprintf(t.ErrTooShort, pbxusers.MinPasswordLength)
	case len(password) > pbxusers.MaxPasswordBytes:
		return fmt.Sprintf(t.ErrTooLong, pbxusers.MaxPasswordBytes)
	case login != "" && strings.EqualFold(password, login):
		return t.ErrSameAsLogin
	case strings.TrimSpace(password) == "":
		return t.ErrOnlySpaces
	}
	for _, f := range verr.Fields {
		if f.Field == "password" && f.Reason == pbxusers.ErrCommonPassword.Error() {
			return t.ErrCommon
		}
	}
	for _, f := range verr.Fields {
		if f.Field == "password" {
			return fmt.Sprintf(t.ErrPolicy, f.Reason)
		}
	}
	return fmt.Sprintf(t.ErrPolicy, verr.Error())
}

// form renders the form for l with the given field errors.
func (h *Handler) form(w http.ResponseWriter, r *http.Request, status int, l link, passwordErr, confirmErr string) {
	nonce, err := h.nonce(w, r)
	if err != nil {
		h.logger.ErrorContext(r.Context(), "make CSRF nonce", slog.Any("error", err))
		h.message(w, r, http.StatusInternalServerError, l.t, kindError, "")
		return
	}
	d := pageData{
		T:             l.t,
		Tenant:        l.tenant,
		Form:          true,
		Title:         l.t.TitleWelcome,
		Intro:         l.t.IntroWelcome,
		CSRF:          h.csrfToken(linkID(l.token), nonce),
		Login:         l.user.UserName,
		PasswordHint:  fmt.Sprintf(l.t.PasswordHint, pbxusers.MinPasswordLength),
		PasswordError: passwordErr,
		ConfirmError:  confirmErr,
	}
	if l.st.Purpose == pbxusers.SetupReset {
		d.Title, d.Intro = l.t.TitleReset, l.t.IntroReset
	}
	if passwordErr != "" {
		switch left := pbxusers.MaxSetupFailures - l.st.Failures; {
		case left == 1:
			d.Notice = l.t.AttemptsLeftOne
		case left > 1 && left <= 3:
			d.Notice = fmt.Sprintf(l.t.AttemptsLeft, left)
		}
	}
	h.render(w, r, status, d)
}

// message renders a page without a form. For kindDone, args[0] is the login
// and args[1] the sign-in URL to link to ("" for none).
func (h *Handler) message(w http.ResponseWriter, r *http.Request, status int, t *text, k kind, tenant string, args ...string) {
	d := pageData{T: t, Tenant: tenant}
	switch k {
	case kindInvalid:
		d.Title, d.Paragraphs = t.InvalidTitle, []string{t.InvalidBody, t.InvalidHint}
	case kindFormExpired:
		d.Title, d.Paragraphs, d.Again = t.FormExpiredTitle, []string{t.FormExpiredBody}, true
	case kindTooMany:
		d.Title, d.Paragraphs = t.TooManyTitle, []string{t.TooManyBody}
	case kindDone:
		d.Title, d.Paragraphs, d.SignInURL = t.DoneTitle, []string{fmt.Sprintf(t.DoneBody, args[0]), t.DoneHint}, args[1]
	default:
		d.Title, d.Paragraphs = t.ErrorTitle, []string{t.ErrorBody}
	}
	h.render(w, r, status, d)
}

func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, d pageData) {
	d.CSS = template.CSS(styleSource)
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, d); err != nil {
		h.logger.ErrorContext(r.Context(), "render password page", slog.Any("error", err))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Language", d.T.Lang)
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}
