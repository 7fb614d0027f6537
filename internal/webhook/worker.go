// Package webhook delivers each tenant's change log to its webhooks: signed
// POSTs, in order, at least once, retried with backoff, resumed from a
// durable cursor after any restart.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mathrand "math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pbxgate/pbxgate/internal/pbxfeed"
	"github.com/pbxgate/pbxgate/pbxusers"
)

// The headers of a delivery.
const (
	// HeaderSignature is "sha256=" and the hex HMAC-SHA256, keyed with the
	// webhook's secret, of the timestamp header, ".", and the body.
	HeaderSignature = "X-Pbxgate-Signature"
	// HeaderTimestamp is when the attempt was signed, in Unix seconds; a
	// receiver refuses old ones (replays).
	HeaderTimestamp = "X-Pbxgate-Timestamp"
	// HeaderDelivery names the delivery: the webhook id and the first and
	// last Seq it carries. Every retry of a delivery has the same one.
	HeaderDelivery = "X-Pbxgate-Delivery"
)

// Defaults of [Options], applied to zero fields.
const (
	DefaultPollInterval = 2 * time.Second
	DefaultBatchN       = 20
	DefaultChangesN     = 100
	DefaultLease        = time.Minute
	DefaultTimeout      = 10 * time.Second
	DefaultBackoffBase  = time.Second
	DefaultBackoffMax   = 5 * time.Minute
)

// maxErrorBody is how much of a failed answer's body LastError keeps.
const maxErrorBody = 200

// Options configure a [Worker]. Zero fields take the documented defaults.
type Options struct {
	// Owner names this worker in webhook leases. Default
	// "<hostname>/<pid>/<random>", unique per Worker.
	Owner string
	// PollInterval is how often the webhooks are looked at when no change
	// of this process woke the worker (changes of other processes, retries
	// coming due). Default 2s.
	PollInterval time.Duration
	// BatchN is how many webhooks are claimed, and delivered to at the
	// same time, per round. Default 20.
	BatchN int
	// ChangesN is the most change-log entries one delivery carries.
	// Default 100.
	ChangesN int
	// Lease is how long a claimed webhook stays reserved for this worker;
	// at least twice Timeout. Default 1m.
	Lease time.Duration
	// Timeout bounds one POST, answer included. Default 10s.
	Timeout time.Duration
	// BackoffBase and BackoffMax bound the wait before a retry: after the
	// n-th failed attempt in a row, between half and all of
	// min(BackoffBase·2^(n-1), BackoffMax), at random. Defaults 1s and 5m.
	BackoffBase time.Duration
	BackoffMax  time.Duration
	// Client sends the POSTs; nil uses one that follows no redirects (a
	// redirect is a failure: the receiver's URL is to be fixed).
	Client *http.Client
	// Logger receives the worker's logs; nil discards them. Secrets and
	// URL queries are never logged.
	Logger *slog.Logger
	// Registerer, when set, gets the worker's metrics (see Worker).
	Registerer prometheus.Registerer
	// Now is the clock; nil means time.Now. Use the Directory's clock.
	Now func() time.Time
}

// validate reports every problem of o at once, each named as a configuration
// section "webhooks" would name it (there is none yet: the defaults serve).
func (o Options) validate() error {
	var errs []error
	for _, d := range []struct {
		path string
		v    time.Duration
	}{{"pollInterval", o.PollInterval}, {"lease", o.Lease}, {"timeout", o.Timeout},
		{"backoffBase", o.BackoffBase}, {"backoffMax", o.BackoffMax}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("webhooks.%s: %s is negative (0 means the default)", d.path, d.v))
		}
	}
	if o.BatchN < 0 {
		errs = append(errs, fmt.Errorf("webhooks.batchN: %d is negative (0 means the default %d)", o.BatchN, DefaultBatchN))
	}
	if o.ChangesN < 0 || o.ChangesN > pbxusers.MaxPageSize {
		errs = append(errs, fmt.Errorf("webhooks.changesN: %d is not 1 to %d (0 means the default %d)", o.ChangesN, pbxusers.MaxPageSize, DefaultChangesN))
	}
	lease, timeout := o.Lease, o.Timeout
	if lease == 0 {
		lease = DefaultLease
	}
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	if lease < 2*timeout {
		errs = append(errs, fmt.Errorf("webhooks.lease: %s is shorter than twice the timeout %s", lease, timeout))
	}
	return errors.Join(errs...)
}

func (o Options) withDefaults() Options {
	set := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	set(&o.PollInterval, DefaultPollInterval)
	set(&o.Lease, DefaultLease)
	set(&o.Timeout, DefaultTimeout)
	set(&o.BackoffBase, DefaultBackoffBase)
	set(&o.BackoffMax, max(DefaultBackoffMax, o.BackoffBase))
	if o.BatchN == 0 {
		o.BatchN = DefaultBatchN
	}
	if o.ChangesN == 0 {
		o.ChangesN = DefaultChangesN
	}
	if o.Owner == "" {
		host, _ := os.Hostname()
		suffix := make([]byte, 4)
		_, _ = rand.Read(suffix)
		o.Owner = fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(suffix))
	}
	if o.Client == nil {
		o.Client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Worker delivers the change logs of every tenant to their webhooks.
//
// A round claims the due webhooks that have news (a lease per webhook, so
// several gateways sharing one database never deliver to one webhook at
// the same time) and delivers one batch to each: the tenant's entries
// after the webhook's DeliveredSeq, at most ChangesN, in the shape of the
// PBX feed's GET /pbx/v1/changes answer (pbxfeed.Changes). A 2xx answer
// moves DeliveredSeq to the last entry; anything else (another status, a
// redirect, a timeout, no connection) keeps it, records the error and the
// attempt, and schedules a retry of the same entries after a backoff. So
// delivery is at least once and in order: an entry is sent again only when
// its attempt failed or the worker stopped between the receiver's answer
// and recording it, and nothing is skipped, also across restarts, since
// the cursor is in the database. Receivers drop entries whose Seq they
// have seen.
//
// Metrics, when Options.Registerer is set (every series exists at zero
// from the start):
//
//	pbxgate_webhook_attempts_total              delivery attempts
//	pbxgate_webhook_failures_total{reason}      failed attempts: status (a non-2xx answer), network (no answer)
//	pbxgate_webhook_changes_delivered_total     change-log entries acknowledged by receivers
type Worker struct {
	dir  *pbxusers.Directory
	opts Options
	log  *slog.Logger
	wake chan struct{}

	attempts  prometheus.Counter
	failures  *prometheus.CounterVec
	delivered prometheus.Counter

	running atomic.Bool
}

// New returns a Worker over dir. It validates opts (every problem at once)
// and registers the metrics when opts.Registerer is set. It starts nothing:
// call Run.
func New(dir *pbxusers.Directory, opts Options) (*Worker, error) {
	if dir == nil {
		return nil, errors.New("new webhook worker: nil Directory")
	}
	if err := opts.validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	w := &Worker{
		dir: dir, opts: opts, wake: make(chan struct{}, 1),
		log: opts.Logger.With(slog.String("component", "webhook-worker")),
		attempts: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "pbxgate", Subsystem: "webhook", Name: "attempts_total",
			Help: "Webhook delivery attempts."}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "pbxgate", Subsystem: "webhook", Name: "failures_total",
			Help: "Failed webhook delivery attempts: status (a non-2xx answer) or network (no answer)."}, []string{"reason"}),
		delivered: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "pbxgate", Subsystem: "webhook", Name: "changes_delivered_total",
			Help: "Change-log entries webhook receivers acknowledged."}),
	}
	for _, r := range []string{reasonStatus, reasonNetwork} {
		w.failures.WithLabelValues(r)
	}
	if reg := opts.Registerer; reg != nil {
		for _, c := range []prometheus.Collector{w.attempts, w.failures, w.delivered} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("register webhook metrics: %w", err)
			}
		}
	}
	return w, nil
}

// The reasons of pbxgate_webhook_failures_total.
const (
	reasonStatus  = "status"
	reasonNetwork = "network"
)

// Owner returns the name the worker claims webhooks under.
func (w *Worker) Owner() string { return w.opts.Owner }

// Wake makes a running worker look at the webhooks now. It never blocks.
// Changes made through the worker's Directory wake it by themselves.
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx is cancelled, then returns nil after finishing
// the deliveries in hand (each bounded by Timeout) and releasing its
// leases, so another worker or the next start goes on at once.
func (w *Worker) Run(ctx context.Context) error {
	if !w.running.CompareAndSwap(false, true) {
		return errors.New("run webhook worker: already running")
	}
	defer w.running.Store(false)
	cancel := w.dir.Subscribe(func(context.Context, []pbxusers.Change) { w.Wake() })
	defer cancel()
	w.log.InfoContext(ctx, "webhook worker started", slog.String("owner", w.opts.Owner))
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			w.release(ctx)
			w.log.InfoContext(ctx, "webhook worker stopped", slog.String("owner", w.opts.Owner))
			return nil
		case <-timer.C:
		case <-w.wake:
			timer.Stop()
		}
		if ctx.Err() != nil {
			continue // stop rather than start another round
		}
		st, err := w.round(ctx)
		next := w.opts.PollInterval
		switch {
		case err != nil:
			w.log.WarnContext(ctx, "webhook round failed", slog.Any("error", err))
		case st.Delivered > 0:
			next = 0 // more may be due; failures wait for the poll
		}
		timer.Reset(next)
	}
}

// Stats counts what a round did.
type Stats struct {
	// Claimed counts the webhooks claimed.
	Claimed int
	// Delivered counts deliveries the receiver acknowledged; Failed those
	// it did not (retried later).
	Delivered, Failed int
}

// Deliver runs one round: it claims the due webhooks that have news and
// makes one delivery attempt to each. For one-shot use and tests; Run
// calls it in a loop. It must not run concurrently with Run.
func (w *Worker) Deliver(ctx context.Context) (Stats, error) {
	return w.round(ctx)
}

func (w *Worker) round(ctx context.Context) (Stats, error) {
	hooks, err := w.dir.ClaimWebhooks(ctx, w.opts.Owner, w.opts.Lease, w.opts.BatchN)
	if err != nil {
		return Stats{}, fmt.Errorf("claim webhooks: %w", err)
	}
	st := Stats{Claimed: len(hooks)}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, h := range hooks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, done := w.deliver(ctx, h)
			if !done {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if ok {
				st.Delivered++
			} else {
				st.Failed++
			}
		}()
	}
	wg.Wait()
	return st, nil
}

// deliver makes one attempt on a claimed webhook and records it; ok says
// the receiver acknowledged it, done that an attempt was made and recorded.
func (w *Worker) deliver(ctx context.Context, h pbxusers.Webhook) (ok, done bool) {
	log := w.log.With(slog.String("webhook", h.ID), slog.String("tenant", h.TenantID))
	// The delivery in hand is finished even when ctx is cancelled; Timeout
	// bounds it.
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.opts.Timeout)
	defer cancel()
	list, err := w.dir.Changes(dctx, h.TenantID, pbxusers.ChangeQuery{AfterSeq: h.DeliveredSeq, Limit: w.opts.ChangesN})
	if err != nil {
		log.WarnContext(ctx, "read the change log for a webhook", slog.Any("error", err))
		w.finish(ctx, log, h)
		return false, false
	}
	// A retry carries exactly the entries of the failed attempt.
	if h.PendingSeq > h.DeliveredSeq {
		for i, c := range list {
			if c.Seq > h.PendingSeq {
				list = list[:i]
				break
			}
		}
	}
	if len(list) == 0 {
		w.finish(ctx, log, h)
		return false, false
	}
	first, last := list[0].Seq, list[len(list)-1].Seq
	body, err := json.Marshal(pbxfeed.Changes{Changes: list, Next: last, More: len(list) == w.opts.ChangesN})
	if err != nil {
		log.ErrorContext(ctx, "encode a webhook delivery", slog.Any("error", err))
		w.finish(ctx, log, h)
		return false, false
	}
	now := w.opts.Now()
	delivery := fmt.Sprintf("%s.%d-%d", h.ID, first, last)
	w.attempts.Inc()
	status, reason, err := w.post(dctx, h, delivery, body, now)
	at := now.UTC().Truncate(time.Microsecond)
	h.LastAttempt = &at
	if err == nil {
		h.DeliveredSeq, h.PendingSeq, h.Attempts, h.LastError, h.NextAttempt, h.LastDelivered = last, 0, 0, "", at, &at
		w.delivered.Add(float64(len(list)))
		log.DebugContext(ctx, "webhook delivered", slog.String("delivery", delivery), slog.Int("changes", len(list)), slog.Int("status", status))
		w.finish(ctx, log, h)
		return true, true
	}
	w.failures.WithLabelValues(reason).Inc()
	h.PendingSeq, h.Attempts, h.LastError = last, h.Attempts+1, err.Error()
	h.NextAttempt = at.Add(w.backoff(h.Attempts))
	log.WarnContext(ctx, "webhook delivery failed; it will be retried", slog.String("delivery", delivery),
		slog.Int("attempts", h.Attempts), slog.Time("next_attempt", h.NextAttempt), slog.String("error", h.LastError))
	w.finish(ctx, log, h)
	return false, true
}

// post sends one signed attempt and returns the status and, on failure,
// the reason label and an error fit for LastError.
func (w *Worker) post(ctx context.Context, h pbxusers.Webhook, delivery string, body []byte, now time.Time) (int, string, error) {
	ts := strconv.FormatInt(now.Unix(), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return 0, reasonNetwork, fmt.Errorf("make request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "pbxgate-webhook")
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderDelivery, delivery)
	req.Header.Set(HeaderSignature, Sign(h.Secret, ts, body))
	resp, err := w.opts.Client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // *url.Error repeats the URL, whose query may be secret
		}
		return 0, reasonNetwork, fmt.Errorf("post: %w", err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // reuse the connection
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return resp.StatusCode, "", nil
	}
	msg := fmt.Sprintf("the receiver answered %s", resp.Status)
	if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
		msg += " (redirects are not followed: set the webhook's URL to where it points)"
	}
	if s := bytes.TrimSpace(snippet); len(s) > 0 {
		msg += ": " + string(bytes.ToValidUTF8(s, []byte("?")))
	}
	return resp.StatusCode, reasonStatus, errors.New(msg)
}

// Sign returns the X-Pbxgate-Signature of a delivery: "sha256=" and the hex
// HMAC-SHA256, keyed with the secret, of timestamp + "." + body.
func Sign(secret, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(timestamp))
	mac.Write([]byte("."))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// finish records the webhook's state (or only gives back its lease when
// nothing was attempted). ctx may be done; the write gets a time of its
// own.
func (w *Worker) finish(ctx context.Context, log *slog.Logger, h pbxusers.Webhook) {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	err := w.dir.FinishWebhook(fctx, h)
	switch {
	case errors.Is(err, pbxusers.ErrNotFound):
		log.InfoContext(ctx, "webhook deleted during its delivery")
	case err != nil:
		log.WarnContext(ctx, "record a webhook delivery; it is delivered again after its lease", slog.Any("error", err))
	}
}

// release gives back the leases of this worker. ctx is done; the release
// gets a short time of its own.
func (w *Worker) release(ctx context.Context) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := w.dir.ReleaseWebhooks(rctx, w.opts.Owner); err != nil {
		w.log.WarnContext(ctx, "release webhook leases; other workers deliver when they end", slog.Any("error", err))
	}
}

// backoff is the wait before the n-th retry: between half and all of
// min(BackoffBase·2^(n-1), BackoffMax).
func (w *Worker) backoff(n int) time.Duration {
	d := w.opts.BackoffMax
	if n < 40 {
		if e := w.opts.BackoffBase << (n - 1); e > 0 && e < d {
			d = e
		}
	}
	half := d / 2
	return half + time.Duration(mathrand.Int64N(int64(d-half)+1))
}
