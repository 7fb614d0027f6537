package smtp

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mathrand "math/rand/v2"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// This file is the outbox Worker, over 700 lines on purpose: claiming,
// rendering, sending, classifying the relay's answer, backoff, release on
// stop and the metrics are one delivery loop whose guarantees (at least once,
// every link alive, no lease overrun) are argued across these steps.

// Defaults of [WorkerOptions], applied to zero fields.
const (
	DefaultPollInterval = 2 * time.Second
	DefaultBatchN       = 50
	DefaultLease        = 2 * time.Minute
	DefaultMaxAttempts  = 10
	DefaultMaxAge       = 24 * time.Hour
	DefaultBackoffBase  = time.Minute
	DefaultBackoffMax   = time.Hour
	// MaxLinkTTL is the longest a set-password link may work (OWASP,
	// Thirdlane: 72 h). The default is pbxusers.DefaultSetupTTL (24 h).
	MaxLinkTTL = 72 * time.Hour
)

// SetupPath is the path of the set-password page under WorkerOptions.PublicURL:
// links are <PublicURL>/setup/<token>. Package passwordpage serves it.
const SetupPath = "/setup/"

// finishMargin is the part of a lease kept free for recording the outcome:
// a send is cancelled this long before the lease ends.
const finishMargin = 5 * time.Second

// minSendWindow is the least lease time left for which a claimed message is
// still sent; with less, it is left for the next claim.
const minSendWindow = 10 * time.Second

// ErrRelayUnavailable is wrapped by the error of Drain when it stopped
// because the relay could not be reached, secured or authenticated with.
var ErrRelayUnavailable = errors.New("relay unavailable")

// WorkerOptions configure a [Worker]. Zero fields take the documented
// defaults; only PublicURL is required.
type WorkerOptions struct {
	// PublicURL is the base URL of the gateway as users reach it, e.g.
	// "https://pbx.example.com" or "https://example.com/pbx". Set-password
	// links are <PublicURL>/setup/<token>. Required: the binary passes its
	// publicURL setting, which defaults to its listen address (see
	// DefaultPublicURL).
	PublicURL string

	// Owner names this worker in outbox leases. Default
	// "<hostname>/<pid>/<random>", unique per Worker.
	Owner string

	// PollInterval is how often the outbox is looked at when the worker has
	// not been woken (Wake, or a user change in the same process). Default 2s.
	PollInterval time.Duration

	// BatchN is how many due messages are claimed at once. Default 50.
	BatchN int

	// Lease is how long claimed messages stay reserved for this worker. A
	// send is cancelled 5s before its message's lease ends, so the lease
	// bounds every send; messages a stopped or crashed worker held are sent
	// by the next worker once it ends. At least 30s. Default 2m.
	Lease time.Duration

	// MaxAttempts is how many delivery attempts a message gets before a
	// temporary failure marks it failed. Attempts that did not get past
	// connecting, TLS or AUTH (relay problems) do not count. Default 10.
	MaxAttempts int

	// MaxAge is how long after it was queued a message may still be
	// retried after a temporary failure; after that it is marked failed.
	// Relay problems never fail a message. Default 24h.
	MaxAge time.Duration

	// BackoffBase and BackoffMax bound the wait before a retry: after the
	// n-th temporary failure, between half and all of
	// min(BackoffBase·2^(n-1), BackoffMax), at random. The same schedule,
	// counted over consecutive relay problems, pauses the whole worker.
	// Defaults 1m and 1h.
	BackoffBase time.Duration
	BackoffMax  time.Duration

	// LinkTTL is how long a set-password link works. At most 72h. Default
	// pbxusers.DefaultSetupTTL (24h).
	LinkTTL time.Duration

	// MessageIDDomain is the right-hand side of Message-IDs. Every attempt
	// of an outbox message carries the same Message-ID
	// (<id>.<queued>.<tenant>@<domain>), so duplicates can be recognised
	// downstream. Default: the domain of the Sender's From address when it
	// has a From() Address method (Relay and Dir do), else PublicURL's host
	// when it is a domain name, else the machine's host name, else
	// "localhost".
	MessageIDDomain string

	// Logger receives the worker's logs; nil discards them. Relay problems
	// are logged at error level. Links, tokens and message bodies are never
	// logged.
	Logger *slog.Logger

	// Registerer, when set, gets the worker's metrics (see Worker). nil
	// registers nothing.
	Registerer prometheus.Registerer

	// Now is the clock; nil means time.Now. Use the Directory's clock.
	Now func() time.Time
}

// validate reports every problem of o at once.
func (o WorkerOptions) validate() error {
	var errs []error
	add := func(path, format string, args ...any) {
		errs = append(errs, fieldErr("mail."+path, fmt.Sprintf(format, args...)))
	}
	if o.PublicURL == "" {
		add("publicURL", "required: set-password links are built from it")
	} else if _, err := parsePublicURL(o.PublicURL); err != nil {
		add("publicURL", "%v", err)
	}
	for _, d := range []struct {
		path string
		v    time.Duration
	}{
		{"pollInterval", o.PollInterval}, {"lease", o.Lease}, {"maxAge", o.MaxAge},
		{"backoffBase", o.BackoffBase}, {"backoffMax", o.BackoffMax}, {"linkTTL", o.LinkTTL},
	} {
		if d.v < 0 {
			add(d.path, "%s is negative (0 means the default)", d.v)
		}
	}
	if o.Lease != 0 && o.Lease < 3*minSendWindow {
		add("lease", "%s is too short (at least %s)", o.Lease, 3*minSendWindow)
	}
	if o.LinkTTL > MaxLinkTTL {
		add("linkTTL", "%s is longer than the maximum %s", o.LinkTTL, MaxLinkTTL)
	}
	if o.BatchN < 0 {
		add("batchN", "%d is negative (0 means the default %d)", o.BatchN, DefaultBatchN)
	}
	if o.MaxAttempts < 0 {
		add("maxAttempts", "%d is negative (0 means the default %d)", o.MaxAttempts, DefaultMaxAttempts)
	}
	if o.BackoffBase > 0 && o.BackoffMax > 0 && o.BackoffMax < o.BackoffBase {
		add("backoffMax", "%s is shorter than backoffBase %s", o.BackoffMax, o.BackoffBase)
	}
	if o.MessageIDDomain != "" {
		if err := checkMessageID("x@" + o.MessageIDDomain); err != nil {
			add("messageIDDomain", "%q is not a domain name", o.MessageIDDomain)
		}
	}
	return errors.Join(errs...)
}

// withDefaults returns o with every zero field set to its default.
func (o WorkerOptions) withDefaults(base *url.URL, fromDomain string) WorkerOptions {
	if o.PollInterval == 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.BatchN == 0 {
		o.BatchN = DefaultBatchN
	}
	if o.Lease == 0 {
		o.Lease = DefaultLease
	}
	if o.MaxAttempts == 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.MaxAge == 0 {
		o.MaxAge = DefaultMaxAge
	}
	if o.BackoffBase == 0 {
		o.BackoffBase = DefaultBackoffBase
	}
	if o.BackoffMax == 0 {
		o.BackoffMax = max(DefaultBackoffMax, o.BackoffBase)
	}
	if o.LinkTTL == 0 {
		o.LinkTTL = pbxusers.DefaultSetupTTL
	}
	host, _ := os.Hostname()
	if o.Owner == "" {
		suffix := make([]byte, 4)
		_, _ = rand.Read(suffix)
		o.Owner = fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(suffix))
	}
	if o.MessageIDDomain == "" {
		o.MessageIDDomain = "localhost"
		switch h := base.Hostname(); {
		case fromDomain != "":
			o.MessageIDDomain = fromDomain
		case net.ParseIP(h) == nil && checkMessageID("x@"+h) == nil && strings.Contains(h, "."):
			o.MessageIDDomain = h
		case host != "" && checkMessageID("x@"+host) == nil && checkHeloName(host) == nil:
			o.MessageIDDomain = host
		}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// parsePublicURL checks that s is an absolute http(s) URL without query or
// fragment and returns it without a trailing slash.
func parsePublicURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%q is not a URL: %w", s, err)
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("%q must start with https:// (or http://)", s)
	case u.Host == "" || u.User != nil:
		return nil, fmt.Errorf("%q must name a host, without user info", s)
	case u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(s, "?") || strings.HasSuffix(s, "#"):
		return nil, fmt.Errorf("%q must not have a query or fragment", s)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// DefaultPublicURL returns the public URL a gateway listening on listen
// (host:port, as given to net.Listen) has when none is configured:
// http://host:port, or https:// with TLS. A wildcard or empty host becomes
// the machine's host name.
func DefaultPublicURL(listen string, tls bool) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		host, port = listen, ""
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
		if h, err := os.Hostname(); err == nil && checkHeloName(h) == nil {
			host = h
		}
	}
	scheme := "http"
	if tls {
		scheme = "https"
	}
	if port == "" {
		return scheme + "://" + bracketIPv6(host)
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

func bracketIPv6(h string) string {
	if strings.Contains(h, ":") {
		return "[" + h + "]"
	}
	return h
}

// Worker delivers the durable outbox of a pbxusers.Directory: it claims
// due messages with a lease, renders each (issuing the set-password link at
// send time, so the outbox holds no secret), sends it with a [Sender] and
// records every attempt with Directory.FinishMail.
//
// Outcomes, per message:
//
//   - sent: the relay accepted it.
//   - cancelled: its reason went away (the user was deleted or deactivated,
//     has no email address, is a system user; the tenant was deleted).
//   - pending with a later NextAttempt: a temporary failure (4xx, a
//     dropped connection or timeout during the transaction); the backoff
//     grows per attempt. After MaxAttempts or MaxAge it is failed instead.
//   - failed: a permanent failure (5xx, a message that cannot be composed
//     or rendered), with the relay's reply in LastError.
//   - relay problems (connecting, STARTTLS, certificate, AUTH; temporary or
//     permanent) keep the message pending without counting the attempt,
//     pause the worker with a growing backoff and are logged at error
//     level: an unreachable or misconfigured relay is the operator's
//     problem and must not burn the queue.
//
// Delivery is at least once: a message is re-sent only if the worker died
// between the relay's acceptance and FinishMail (or the connection was lost
// between the data and the relay's reply), and every attempt carries the
// same Message-ID. Each copy of a repeated message carries a link that
// works (Directory.IssueMailLink) until one of them is used; a new welcome
// or reset mail (a resend) revokes the links of earlier mails. A send is
// cancelled before the lease ends, so no other worker claims a message
// while it is being sent. When Run stops, it releases the messages it
// claimed and did not get to, so they are sent at once by another worker or
// the next start, not after the lease.
//
// Links are issued just before the send, so the attempt that first finds
// the relay down has issued one that is never mailed (revoking the user's
// earlier link, as a resend does anyway). While the relay keeps failing, a
// Sender with a Check(ctx) error method (Relay has one) is checked first,
// and no further links are issued until it works.
//
// Metrics, when WorkerOptions.Registerer is set (labels: kind = welcome,
// password_reset, test; stage = connect, tls, auth; status = pending,
// sent, failed, cancelled):
//
//	pbxgate_mail_sent_total{kind}          messages the relay accepted
//	pbxgate_mail_failed_total{kind}        messages marked failed
//	pbxgate_mail_retried_total{kind}       attempts rescheduled (temporary failure or relay problem)
//	pbxgate_mail_cancelled_total{kind}     messages cancelled
//	pbxgate_mail_relay_errors_total{stage} relay problems
//	pbxgate_mail_relay_up                  1 after a delivery, 0 after a relay problem
//	pbxgate_mail_outbox_messages{status}   outbox size per status (Directory.MailCounts, every scrape)
//
// The counters are the worker's own; the outbox gauge covers every tenant
// and survives restarts. With several Workers in one process, register
// only one of them.
type Worker struct {
	dir    *pbxusers.Directory
	sender Sender
	tmpl   *Templates
	opts   WorkerOptions
	base   *url.URL
	logger *slog.Logger
	m      *workerMetrics
	wake   chan struct{}

	running atomic.Bool

	// Touched only by the goroutine running Run or Drain.
	relayFailures int
	relayUntil    time.Time
	lastRelayErr  error
}

// Stats counts what a Worker did.
type Stats struct {
	// Sent, Failed, Cancelled count messages that reached that status.
	Sent, Failed, Cancelled int
	// Retried counts attempts rescheduled (temporary failure or relay problem).
	Retried int
	// Skipped counts claimed messages left for a later claim (lease too
	// short, store unavailable, worker stopping).
	Skipped int
}

func (s *Stats) add(o Stats) {
	s.Sent += o.Sent
	s.Failed += o.Failed
	s.Cancelled += o.Cancelled
	s.Retried += o.Retried
	s.Skipped += o.Skipped
}

// NewWorker returns a Worker for dir's outbox sending with sender and
// rendering with tmpl. It validates opts (every problem at once, named by
// the YAML path under "mail.") and registers the metrics when
// opts.Registerer is set. It starts nothing: call Run.
func NewWorker(dir *pbxusers.Directory, sender Sender, tmpl *Templates, opts WorkerOptions) (*Worker, error) {
	var errs []error
	if dir == nil {
		errs = append(errs, errors.New("new worker: nil Directory"))
	}
	if sender == nil {
		errs = append(errs, errors.New("new worker: nil Sender"))
	}
	if tmpl == nil {
		errs = append(errs, errors.New("new worker: nil Templates"))
	}
	errs = append(errs, opts.validate())
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	base, _ := parsePublicURL(opts.PublicURL)
	opts = opts.withDefaults(base, senderDomain(sender))
	w := &Worker{
		dir:    dir,
		sender: sender,
		tmpl:   tmpl,
		opts:   opts,
		base:   base,
		logger: opts.Logger.With(slog.String("component", "mail-worker")),
		m:      newWorkerMetrics(dir),
		wake:   make(chan struct{}, 1),
	}
	if opts.Registerer != nil {
		if err := w.m.register(opts.Registerer); err != nil {
			return nil, fmt.Errorf("register mail metrics: %w", err)
		}
	}
	return w, nil
}

// Owner returns the name the worker claims messages under.
func (w *Worker) Owner() string { return w.opts.Owner }

// Wake makes a running worker look at the outbox now rather than at the
// next poll, e.g. after Directory.QueueTestMail. It never blocks. User
// changes made through the worker's Directory wake it by themselves.
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run delivers the outbox until ctx is cancelled, then returns nil after
// finishing the message in hand (its send is bounded by its lease) and
// releasing the claimed messages it did not get to, for another worker or
// the next start to send at once. Run and Drain must not run concurrently on one Worker;
// run several Workers (with their own Senders) for that.
func (w *Worker) Run(ctx context.Context) error {
	if !w.running.CompareAndSwap(false, true) {
		return errors.New("run mail worker: already running")
	}
	defer w.running.Store(false)
	cancel := w.dir.Subscribe(func(_ context.Context, changes []pbxusers.Change) {
		for _, c := range changes {
			if c.Entity == pbxusers.EntityUser {
				w.Wake()
				return
			}
		}
	})
	defer cancel()

	w.logger.InfoContext(ctx, "outbox worker started", slog.String("owner", w.opts.Owner),
		slog.String("sender", describe(w.sender)), slog.String("public_url", w.base.String()))
	if w.base.Scheme == "http" && !isLoopback(w.base.Hostname()) {
		w.logger.WarnContext(ctx, "set-password links use plain http; set the public URL to https://",
			slog.String("public_url", w.base.String()))
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			w.release(ctx)
			w.logger.InfoContext(ctx, "outbox worker stopped", slog.String("owner", w.opts.Owner))
			return nil
		case <-timer.C:
		case <-w.wake:
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
		}
		if wait := w.relayUntil.Sub(w.opts.Now()); wait > 0 {
			timer.Reset(wait)
			continue
		}
		claimed, _, relayDown, err := w.round(ctx)
		next := w.opts.PollInterval
		switch {
		case err != nil:
			w.logger.WarnContext(ctx, "outbox round failed", slog.Any("error", err))
		case claimed == w.opts.BatchN && !relayDown:
			next = 0 // more may be due
		}
		if wait := w.relayUntil.Sub(w.opts.Now()); wait > next {
			next = wait
		}
		timer.Reset(next)
	}
}

// Drain delivers due messages until none is left (or ctx is done), for
// one-shot use: a CLI without a running server, tests, benchmarks. It
// returns what it did; when it stopped because of a relay problem, the
// error wraps ErrRelayUnavailable and the *Error of the relay. Messages
// rescheduled to later are left for later.
func (w *Worker) Drain(ctx context.Context) (Stats, error) {
	if !w.running.CompareAndSwap(false, true) {
		return Stats{}, errors.New("drain mail outbox: worker already running")
	}
	defer w.running.Store(false)
	var total Stats
	for ctx.Err() == nil {
		claimed, st, relayDown, err := w.round(ctx)
		total.add(st)
		switch {
		case err != nil:
			return total, err
		case relayDown:
			return total, fmt.Errorf("drain mail outbox: %w", w.lastRelayErr)
		case claimed == 0:
			return total, nil
		}
	}
	return total, ctx.Err()
}

// release gives back the messages this worker claimed and did not finish.
// ctx is done; the release gets a short time of its own.
func (w *Worker) release(ctx context.Context) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	n, err := w.dir.ReleaseMail(rctx, w.opts.Owner)
	switch {
	case err != nil:
		w.logger.WarnContext(ctx, "outbox worker could not release its claimed messages; they are sent when the lease ends",
			slog.String("owner", w.opts.Owner), slog.Any("error", err))
	case n > 0:
		w.logger.InfoContext(ctx, "outbox worker released claimed messages", slog.String("owner", w.opts.Owner), slog.Int("messages", n))
	}
}

// round claims one batch and works through it. It stops early when ctx
// is done (after the message in hand) or the relay has a problem, which
// it reports.
func (w *Worker) round(ctx context.Context) (claimed int, st Stats, relayDown bool, err error) {
	msgs, err := w.dir.ClaimMail(ctx, w.opts.Owner, w.opts.Lease, w.opts.BatchN)
	if err != nil {
		return 0, Stats{}, false, fmt.Errorf("claim mail: %w", err)
	}
	cache := map[string]tenantEntry{}
	for i, m := range msgs {
		if ctx.Err() != nil || relayDown {
			st.Skipped += len(msgs) - i
			break
		}
		s, o := w.deliver(ctx, m, cache)
		st.add(s)
		relayDown = o == outcomeRelay
	}
	return len(msgs), st, relayDown, nil
}

type tenantEntry struct {
	tn  pbxusers.Tenant
	err error
}

// outcome is what happened to one message.
type outcome int

const (
	outcomeSkip      outcome = iota // left claimed; no attempt recorded
	outcomeSent                     // relay accepted it
	outcomeRetry                    // temporary failure, rescheduled
	outcomeFailed                   // permanent failure or out of attempts
	outcomeCancelled                // reason went away
	outcomeRelay                    // relay problem, rescheduled without counting
)

// deliver handles one claimed message: render, send, record.
func (w *Worker) deliver(ctx context.Context, m pbxusers.OutboxMessage, cache map[string]tenantEntry) (Stats, outcome) {
	log := w.logger.With(slog.Int64("mail_id", m.ID), slog.String("tenant", m.TenantID),
		slog.String("kind", string(m.Kind)))
	now := w.opts.Now()
	deadline := m.ClaimedUntil.Add(-finishMargin)
	if m.ClaimedUntil.IsZero() {
		deadline = now.Add(w.opts.Lease - finishMargin)
	}
	if deadline.Sub(now) < minSendWindow {
		log.DebugContext(ctx, "lease too short to send, leaving for the next claim",
			slog.Time("claimed_until", m.ClaimedUntil))
		return Stats{Skipped: 1}, outcomeSkip
	}
	// The message in hand is finished even when ctx is cancelled; the
	// lease bounds it.
	sendCtx, cancel := context.WithDeadline(context.WithoutCancel(ctx), deadline)
	defer cancel()

	// While the relay is failing, check it before issuing a link: a
	// message that cannot be sent must not revoke the user's current link
	// or pile up link records.
	if c, ok := w.sender.(interface{ Check(context.Context) error }); ok && w.relayFailures > 0 {
		if err := c.Check(sendCtx); err != nil {
			var e *Error
			if !errors.As(err, &e) {
				e = &Error{Stage: StageConnect, Err: err}
			}
			return w.finish(ctx, log, m, outcomeRelay, err.Error(), e)
		}
	}

	msg, reason, err := w.prepare(sendCtx, m, cache)
	switch {
	case reason != "":
		return w.finish(ctx, log, m, outcomeCancelled, reason, nil)
	case errors.Is(err, errRender):
		log.ErrorContext(ctx, "mail cannot be rendered, marking it failed", slog.Any("error", err))
		return w.finish(ctx, log, m, outcomeFailed, err.Error(), nil)
	case err != nil:
		log.WarnContext(ctx, "mail not prepared, leaving it for the next claim", slog.Any("error", err))
		return Stats{Skipped: 1}, outcomeSkip
	}

	start := time.Now()
	_, err = w.sender.Send(sendCtx, msg)
	if err == nil {
		log.InfoContext(ctx, "mail sent", slog.String("message_id", msg.MessageID),
			slog.Int("attempt", m.Attempts+1), slog.Duration("took", time.Since(start)))
		return w.finish(ctx, log, m, outcomeSent, "", nil)
	}
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Stage: StageData, Err: err}
	}
	switch {
	case e.Stage == StageConnect || e.Stage == StageTLS || e.Stage == StageAuth:
		return w.finish(ctx, log, m, outcomeRelay, err.Error(), e)
	case e.Permanent:
		return w.finish(ctx, log, m, outcomeFailed, err.Error(), e)
	default:
		return w.finish(ctx, log, m, outcomeRetry, err.Error(), e)
	}
}

// errRender marks failures to render a message: permanent until the
// templates change.
var errRender = errors.New("render mail")

// prepare renders m. A non-empty reason means the message is to be
// cancelled; an error wrapping errRender is permanent; any other error is
// the store's and the message is left for later.
func (w *Worker) prepare(ctx context.Context, m pbxusers.OutboxMessage, cache map[string]tenantEntry) (Message, string, error) {
	tn, err := w.tenant(ctx, m.TenantID, cache)
	if errors.Is(err, pbxusers.ErrNotFound) {
		return Message{}, "cancelled: the tenant no longer exists", nil
	}
	if err != nil {
		return Message{}, "", err
	}
	var content Content
	to := Address{Address: m.To}
	switch m.Kind {
	case pbxusers.MailTest:
		content, err = w.tmpl.Test(tn.ID, TestData{Tenant: tn.Name, Via: describe(w.sender), SentAt: w.opts.Now()})
		if err != nil {
			return Message{}, "", fmt.Errorf("%w: %w", errRender, err)
		}
	case pbxusers.MailWelcome, pbxusers.MailPasswordReset:
		u, err := w.dir.GetUser(ctx, m.TenantID, m.UserID)
		switch {
		case errors.Is(err, pbxusers.ErrNotFound):
			return Message{}, "cancelled: the user no longer exists", nil
		case err != nil:
			return Message{}, "", fmt.Errorf("get user: %w", err)
		case u.Kind.System():
			return Message{}, "cancelled: system users get no mail", nil
		case !u.Active():
			return Message{}, "cancelled: the user is inactive", nil
		case u.PrimaryEmail() == "":
			return Message{}, "cancelled: the user has no email address", nil
		case m.Kind == pbxusers.MailWelcome && u.Password.SetAt != nil && u.Password.SetAt.After(m.Created):
			return Message{}, "cancelled: the user's password was set after the welcome mail was queued", nil
		}
		// Send to the current address: a link must not go to an address
		// the user no longer has (the library revokes links on a change).
		to = Address{Name: u.Label(), Address: u.PrimaryEmail()}
		purpose := pbxusers.SetupWelcome
		if m.Kind == pbxusers.MailPasswordReset {
			purpose = pbxusers.SetupReset
		}
		token, st, err := w.dir.IssueMailLink(ctx, m, purpose, w.opts.LinkTTL)
		switch {
		case errors.Is(err, pbxusers.ErrNotFound):
			return Message{}, "cancelled: the user no longer exists", nil
		case err != nil:
			return Message{}, "", fmt.Errorf("issue set-password link: %w", err)
		}
		link := w.base.JoinPath(strings.TrimSuffix(SetupPath, "/"), token).String()
		expires := st.Expires.In(location(u.TimeZone, tn.TimeZone))
		given := u.Name.Given
		if m.Kind == pbxusers.MailWelcome {
			content, err = w.tmpl.Welcome(tn.ID, WelcomeData{Tenant: tn.Name, DisplayName: u.Label(), GivenName: given,
				Login: u.UserName, Extension: u.Extension, Link: link, ExpiresAt: expires, Language: u.Language,
				SignInURL: tn.SignInURL})
		} else {
			content, err = w.tmpl.Reset(tn.ID, ResetData{Tenant: tn.Name, DisplayName: u.Label(), GivenName: given,
				Login: u.UserName, Link: link, ExpiresAt: expires, Language: u.Language})
		}
		if err != nil {
			return Message{}, "", fmt.Errorf("%w: %w", errRender, err)
		}
	default:
		return Message{}, "", fmt.Errorf("%w: unknown kind %q", errRender, m.Kind)
	}
	msg := content.Message(to)
	msg.MessageID = w.messageID(m)
	msg.Headers["Auto-Submitted"] = "auto-generated"
	msg.Headers["X-Pbxgate-Kind"] = string(m.Kind)
	if err := msg.Validate(); err != nil {
		return Message{}, "", fmt.Errorf("%w: %w", errRender, err)
	}
	return msg, "", nil
}

func (w *Worker) tenant(ctx context.Context, id string, cache map[string]tenantEntry) (pbxusers.Tenant, error) {
	if e, ok := cache[id]; ok {
		return e.tn, e.err
	}
	tn, err := w.dir.GetTenant(ctx, id)
	if err != nil {
		err = fmt.Errorf("get tenant: %w", err)
	}
	if err == nil || errors.Is(err, pbxusers.ErrNotFound) {
		cache[id] = tenantEntry{tn, err}
	}
	return tn, err
}

// messageID is the fixed Message-ID of an outbox message.
func (w *Worker) messageID(m pbxusers.OutboxMessage) string {
	return fmt.Sprintf("%d.%s.%s@%s", m.ID, strconv.FormatInt(m.Created.UnixMicro(), 36),
		fileSafe(m.TenantID), w.opts.MessageIDDomain)
}

// finish records the attempt and the message's new state.
func (w *Worker) finish(ctx context.Context, log *slog.Logger, m pbxusers.OutboxMessage, o outcome, reason string, e *Error) (Stats, outcome) {
	now := w.opts.Now()
	a := pbxusers.MailAttempt{}
	if e != nil {
		a.Code = e.Code
	}
	kind := string(m.Kind)
	var st Stats
	switch o {
	case outcomeSent:
		m.Attempts++
		m.Status, m.LastError = pbxusers.MailSent, ""
		a.OK = true
		w.m.sent.WithLabelValues(kind).Inc()
		w.relayOK(ctx)
		st.Sent = 1
	case outcomeCancelled:
		m.Status, m.LastError = pbxusers.MailCancelled, reason
		a.Error = reason
		log.InfoContext(ctx, "mail cancelled", slog.String("reason", reason))
		w.m.cancelled.WithLabelValues(kind).Inc()
		st.Cancelled = 1
	case outcomeFailed:
		if e != nil && e.Stage != StageCompose {
			m.Attempts++
			w.relayOK(ctx)
		}
		m.Status, m.LastError = pbxusers.MailFailed, reason
		a.Error = reason
		log.WarnContext(ctx, "mail failed permanently", slog.Int("attempts", m.Attempts), slog.String("reason", reason))
		w.m.failed.WithLabelValues(kind).Inc()
		st.Failed = 1
	case outcomeRetry:
		m.Attempts++
		w.relayOK(ctx)
		a.Error, a.Temporary = reason, true
		age := now.Sub(m.Created)
		if m.Attempts >= w.opts.MaxAttempts || age >= w.opts.MaxAge {
			m.Status = pbxusers.MailFailed
			m.LastError = fmt.Sprintf("gave up after %d attempts in %s: %s", m.Attempts, age.Round(time.Second), reason)
			log.WarnContext(ctx, "mail failed: out of attempts", slog.Int("attempts", m.Attempts), slog.String("reason", reason))
			w.m.failed.WithLabelValues(kind).Inc()
			st.Failed = 1
			break
		}
		m.Status, m.LastError = pbxusers.MailPending, reason
		m.NextAttempt = now.Add(w.backoff(m.Attempts))
		log.InfoContext(ctx, "mail will be retried", slog.Int("attempts", m.Attempts),
			slog.Time("next_attempt", m.NextAttempt), slog.String("reason", reason))
		w.m.retried.WithLabelValues(kind).Inc()
		st.Retried = 1
	case outcomeRelay:
		w.relayFailures++
		delay := w.backoff(w.relayFailures)
		w.relayUntil = now.Add(delay)
		w.lastRelayErr = fmt.Errorf("%w: %w", ErrRelayUnavailable, e)
		m.Status = pbxusers.MailPending
		m.LastError = "relay problem, message kept: " + reason
		m.NextAttempt = w.relayUntil
		a.Error, a.Temporary = m.LastError, true
		log.ErrorContext(ctx, "mail relay problem: nothing is sent until it is fixed; messages stay queued",
			slog.String("sender", describe(w.sender)), slog.String("stage", string(e.Stage)),
			slog.Bool("permanent", e.Permanent), slog.Int("code", e.Code),
			slog.Int("consecutive_failures", w.relayFailures), slog.Duration("retry_in", delay),
			slog.String("error", reason))
		w.m.relayErrors.WithLabelValues(string(e.Stage)).Inc()
		w.m.relayUp.Set(0)
		w.m.retried.WithLabelValues(kind).Inc()
		st.Retried = 1
	}
	// Record even when the worker is stopping: the send happened.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := w.dir.FinishMail(fctx, m, a); err != nil {
		// The lease runs out and the message is claimed again: a sent
		// message may be sent twice, which is why its Message-ID is fixed.
		log.ErrorContext(ctx, "record mail attempt", slog.String("status", string(m.Status)), slog.Any("error", err))
	}
	return st, o
}

// relayOK notes that the relay was reached.
func (w *Worker) relayOK(ctx context.Context) {
	if w.relayFailures > 0 {
		w.logger.InfoContext(ctx, "mail relay reachable again", slog.Int("after_failures", w.relayFailures))
	}
	w.relayFailures, w.relayUntil, w.lastRelayErr = 0, time.Time{}, nil
	w.m.relayUp.Set(1)
}

// backoff returns the wait after the n-th consecutive failure (n ≥ 1):
// between half and all of min(base·2^(n-1), max).
func (w *Worker) backoff(n int) time.Duration {
	d := w.opts.BackoffMax
	if n < 1 {
		n = 1
	}
	if n <= 32 {
		if e := w.opts.BackoffBase << (n - 1); e > 0 && e < d {
			d = e
		}
	}
	half := d / 2
	return half + time.Duration(mathrand.Int64N(int64(d-half)+1))
}

// location returns the first zone of names that loads, else UTC.
func location(names ...string) *time.Location {
	for _, n := range names {
		if n == "" {
			continue
		}
		if loc, err := time.LoadLocation(n); err == nil {
			return loc
		}
	}
	return time.UTC
}

// senderDomain is the domain of s's From address, "" when s does not say.
func senderDomain(s Sender) string {
	if f, ok := s.(interface{ From() Address }); ok {
		if d := f.From().Domain(); checkMessageID("x@"+d) == nil {
			return d
		}
	}
	return ""
}

// describe names a Sender for logs and the test mail.
func describe(s Sender) string {
	if st, ok := s.(fmt.Stringer); ok {
		return st.String()
	}
	return fmt.Sprintf("%T", s)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
