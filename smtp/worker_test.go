package smtp_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/pbxusers"
	"github.com/pbxgate/pbxgate/pbxusers/sqlite"
	"github.com/pbxgate/pbxgate/smtp"
	"github.com/pbxgate/pbxgate/smtp/smtptest"
)

// The worker tests run the real pipeline: a SQLite Directory in a temporary
// directory, the outbox worker, a Relay and smtptest's server over TCP on
// 127.0.0.1. They need nothing installed.

const testPublicURL = "https://pbx.example.net"

// linkRE matches a set-password link in a received mail.
var linkRE = regexp.MustCompile(regexp.QuoteMeta(testPublicURL) + `/setup/(pbxs_[a-z0-9]+\.[A-Za-z0-9_-]{43})`)

// testClock is a clock the test moves forward; Directory and Worker share it.
type testClock struct{ off atomic.Int64 }

func (c *testClock) Now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *testClock) Advance(d time.Duration) { c.off.Add(int64(d)) }

// mustDirectory opens (or reopens) the SQLite database at path.
func mustDirectory(t testing.TB, path string, clock *testClock) *pbxusers.Directory {
	t.Helper()
	store, err := sqlite.Open(context.Background(), path)
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	return pbxusers.New(store, pbxusers.Options{PasswordCost: 4, Now: clock.Now})
}

type workerEnv struct {
	path   string
	clock  *testClock
	dir    *pbxusers.Directory
	tenant pbxusers.Tenant
	tmpl   *smtp.Templates
}

func newWorkerEnv(t testing.TB) *workerEnv {
	t.Helper()
	e := &workerEnv{path: filepath.Join(t.TempDir(), "pbx.db"), clock: &testClock{}}
	e.dir = mustDirectory(t, e.path, e.clock)
	var err error
	e.tenant, err = e.dir.CreateTenant(context.Background(), pbxusers.Tenant{ID: "mueller", Name: "Müller & Söhne", TimeZone: "Europe/Berlin"})
	require.NoError(t, err)
	e.tmpl, err = smtp.NewTemplates("")
	require.NoError(t, err)
	return e
}

// options are fast worker options for tests.
func (e *workerEnv) options(t testing.TB) smtp.WorkerOptions {
	return smtp.WorkerOptions{
		PublicURL:    testPublicURL,
		PollInterval: 20 * time.Millisecond,
		BackoffBase:  10 * time.Millisecond,
		BackoffMax:   40 * time.Millisecond,
		Logger:       testLogger(t),
		Now:          e.clock.Now,
	}
}

func (e *workerEnv) worker(t testing.TB, s smtp.Sender, opts smtp.WorkerOptions) *smtp.Worker {
	t.Helper()
	w, err := smtp.NewWorker(e.dir, s, e.tmpl, opts)
	require.NoError(t, err)
	return w
}

// person is an invite-type person with an email: it gets a welcome mail.
func person(login, given, family, email, lang string) pbxusers.User {
	u := pbxusers.User{UserName: login, Name: pbxusers.Name{Given: given, Family: family}, Language: lang}
	if email != "" {
		u.Emails = []pbxusers.Email{{Value: email, Type: "work", Primary: true}}
	}
	return u
}

func (e *workerEnv) createUser(t testing.TB, u pbxusers.User) pbxusers.User {
	t.Helper()
	u, err := e.dir.CreateUser(context.Background(), e.tenant.ID, u)
	require.NoError(t, err)
	return u
}

func (e *workerEnv) mail(t testing.TB, id int64) (pbxusers.OutboxMessage, []pbxusers.MailAttempt) {
	t.Helper()
	m, attempts, err := e.dir.GetMail(context.Background(), e.tenant.ID, id)
	require.NoError(t, err)
	return m, attempts
}

// onlyMail returns the tenant's one outbox message.
func (e *workerEnv) onlyMail(t testing.TB) pbxusers.OutboxMessage {
	t.Helper()
	ms, err := e.dir.ListMail(context.Background(), e.tenant.ID, pbxusers.MailQuery{})
	require.NoError(t, err)
	require.Len(t, ms, 1)
	return ms[0]
}

func mustDrain(t testing.TB, w *smtp.Worker) smtp.Stats {
	t.Helper()
	st, err := w.Drain(context.Background())
	require.NoError(t, err)
	return st
}

// logBuffer collects logs at debug level for secret checks.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func TestWorkerWelcomeMailAfterUserCreate(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{TLS: true, Username: "pbxgate", Password: "relay s3cret"})
	cfg := relayConfig(t, srv)
	cfg.Username, cfg.Password = "pbxgate", "relay s3cret"
	var logs logBuffer
	relay, err := smtp.NewRelay(cfg, logs.logger())
	require.NoError(t, err)
	t.Cleanup(func() { relay.Close() })

	e := newWorkerEnv(t)
	opts := e.options(t)
	opts.Logger = logs.logger()
	w := e.worker(t, relay, opts)
	u := e.createUser(t, person("jweiss", "Jürgen", "Weiß", "jweiss@mueller.example", "de-AT"))
	queued := e.onlyMail(t)
	assert.Equal(t, pbxusers.MailWelcome, queued.Kind)

	st := mustDrain(t, w)
	assert.Equal(t, smtp.Stats{Sent: 1}, st)

	got := srv.Messages()
	require.Len(t, got, 1)
	m := got[0]
	assert.True(t, m.TLS, "STARTTLS")
	assert.Equal(t, "pbxgate", m.User, "AUTH")
	assert.Equal(t, []string{"jweiss@mueller.example"}, m.To)
	assert.Equal(t, testFrom.Address, m.From)

	p := m.Parse(t)
	subject, err := p.Header.Subject()
	require.NoError(t, err)
	assert.Equal(t, "Ihr neues Konto für die Telefonanlage bei Müller & Söhne", subject)
	to, err := p.Header.AddressList("To")
	require.NoError(t, err)
	assert.Equal(t, "Jürgen Weiß", to[0].Name)
	id, err := p.Header.MessageID()
	require.NoError(t, err)
	assert.Regexp(t, fmt.Sprintf(`^%d\.[0-9a-z]+\.mueller@example\.net$`, queued.ID), id)
	assert.Equal(t, "auto-generated", p.Header.Get("Auto-Submitted"))
	assert.Equal(t, "welcome", p.Header.Get("X-Pbxgate-Kind"))
	assert.Equal(t, "de", p.Header.Get("Content-Language"))
	assert.Equal(t, "multipart/alternative", p.ContentType)
	assert.Equal(t, []string{"text/plain", "text/html"}, p.PartTypes)
	assert.Contains(t, p.Text, "Hallo Jürgen,")
	assert.Contains(t, p.Text, "Anmeldename:  jweiss")

	// The same link in both parts, issued at send time, valid, purpose
	// welcome, expiring in 24 h, shown in the tenant's zone.
	tm := linkRE.FindStringSubmatch(p.Text)
	require.NotNil(t, tm, "link in text part:\n%s", p.Text)
	token := tm[1]
	assert.Contains(t, p.HTML, `href="`+testPublicURL+"/setup/"+token+`"`)
	tok, user, err := e.dir.CheckSetupLink(context.Background(), token)
	require.NoError(t, err)
	assert.Equal(t, u.ID, user.ID)
	assert.Equal(t, pbxusers.SetupWelcome, tok.Purpose)
	assert.WithinDuration(t, e.clock.Now().Add(pbxusers.DefaultSetupTTL), tok.Expires, time.Minute)
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	assert.Contains(t, p.Text, tok.Expires.In(berlin).Format("15:04 MST"))

	sent, attempts := e.mail(t, queued.ID)
	assert.Equal(t, pbxusers.MailSent, sent.Status)
	assert.Equal(t, 1, sent.Attempts)
	require.NotNil(t, sent.SentAt)
	assert.Empty(t, sent.ClaimedBy)
	require.Len(t, attempts, 1)
	assert.True(t, attempts[0].OK)

	// Neither the token, nor the relay password, nor the body is logged.
	assert.NotContains(t, logs.String(), token)
	assert.NotContains(t, logs.String(), strings.SplitN(token, ".", 2)[1])
	assert.NotContains(t, logs.String(), "relay s3cret")
	assert.Contains(t, logs.String(), "mail sent")
}

func TestWorkerRunWakesOnUserCreate(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	e := newWorkerEnv(t)
	opts := e.options(t)
	opts.PollInterval = time.Hour // only the wake-up can deliver in time
	w := e.worker(t, newRelay(t, relayConfig(t, srv)), opts)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	// Let Run take its first (empty) look and subscribe.
	time.Sleep(100 * time.Millisecond)

	e.createUser(t, person("anna", "Anna", "Schmidt", "anna@mueller.example", "en"))
	require.Eventually(t, func() bool { return len(srv.Messages()) == 1 }, 5*time.Second, 10*time.Millisecond)

	_, err := e.dir.QueueTestMail(context.Background(), e.tenant.ID, "ops@mueller.example")
	require.NoError(t, err)
	w.Wake()
	require.Eventually(t, func() bool { return len(srv.Messages()) == 2 }, 5*time.Second, 10*time.Millisecond)

	cancel()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func TestWorkerRelayDownThenUp(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	srv.Stop()
	e := newWorkerEnv(t)
	cfg := relayConfig(t, srv)
	cfg.DialTimeout = time.Second
	w := e.worker(t, newRelay(t, cfg), e.options(t))
	u := e.createUser(t, person("anna", "Anna", "Schmidt", "anna@mueller.example", "en"))
	queued := e.onlyMail(t)

	// Drain stops at the relay problem and keeps the message.
	_, err := w.Drain(context.Background())
	require.ErrorIs(t, err, smtp.ErrRelayUnavailable)
	var se *smtp.Error
	require.ErrorAs(t, err, &se)
	assert.Equal(t, smtp.StageConnect, se.Stage)
	m, attempts := e.mail(t, queued.ID)
	assert.Equal(t, pbxusers.MailPending, m.Status)
	assert.Zero(t, m.Attempts, "relay problems do not count")
	assert.Contains(t, m.LastError, "relay problem, message kept")
	require.Len(t, attempts, 1, "the attempt is recorded")
	assert.True(t, attempts[0].Temporary)

	// Run keeps trying with a backoff while the relay is down, and
	// delivers once it is up.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	require.Eventually(t, func() bool {
		_, a := e.mail(t, queued.ID)
		return len(a) >= 3
	}, 5*time.Second, 10*time.Millisecond)
	srv.Restart()
	require.Eventually(t, func() bool {
		m, _ := e.mail(t, queued.ID)
		return m.Status == pbxusers.MailSent
	}, 5*time.Second, 10*time.Millisecond)
	cancel()
	require.NoError(t, <-done)

	assert.Len(t, srv.Messages(), 1, "delivered once")
	// While the relay was known to fail, the worker checked it before
	// issuing links: one link for the first attempt, one for the mail.
	assert.Equal(t, 2, countSetupLinks(t, e.path, u.ID))
	m, attempts = e.mail(t, queued.ID)
	assert.Equal(t, 1, m.Attempts)
	assert.True(t, attempts[len(attempts)-1].OK)
	for _, a := range attempts[:len(attempts)-1] {
		assert.False(t, a.OK)
		assert.True(t, a.Temporary)
	}
}

func TestWorkerRelayAuthFailureKeepsMessage(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{TLS: true, Username: "pbxgate", Password: "right"})
	cfg := relayConfig(t, srv)
	cfg.Username, cfg.Password = "pbxgate", "wrong-relay-password"
	var logs logBuffer
	e := newWorkerEnv(t)
	opts := e.options(t)
	opts.Logger = logs.logger()
	relay, err := smtp.NewRelay(cfg, logs.logger())
	require.NoError(t, err)
	t.Cleanup(func() { relay.Close() })
	w := e.worker(t, relay, opts)
	e.createUser(t, person("anna", "Anna", "Schmidt", "anna@mueller.example", "en"))

	_, err = w.Drain(context.Background())
	require.ErrorIs(t, err, smtp.ErrRelayUnavailable)
	var se *smtp.Error
	require.ErrorAs(t, err, &se)
	assert.Equal(t, smtp.StageAuth, se.Stage)
	assert.Equal(t, 535, se.Code)
	m := e.onlyMail(t)
	assert.Equal(t, pbxusers.MailPending, m.Status, "a relay problem does not burn the message")
	assert.Zero(t, m.Attempts)
	assert.Empty(t, srv.Messages())
	assert.Contains(t, logs.String(), "level=ERROR")
	assert.Contains(t, logs.String(), "mail relay problem")
	assert.NotContains(t, logs.String(), "wrong-relay-password")
}

func TestWorkerTemporaryFailureRetried(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{TempFailN: 2})
	e := newWorkerEnv(t)
	opts := e.options(t)
	opts.BackoffBase, opts.BackoffMax = time.Minute, time.Hour
	w := e.worker(t, newRelay(t, relayConfig(t, srv)), opts)
	e.createUser(t, person("anna", "Anna", "Schmidt", "anna@mueller.example", "en"))
	id := e.onlyMail(t).ID

	for i, wantLo := range []time.Duration{30 * time.Second, time.Minute} {
		st := mustDrain(t, w)
		assert.Equal(t, smtp.Stats{Retried: 1}, st, "attempt %d", i+1)
		m, attempts := e.mail(t, id)
		assert.Equal(t, pbxusers.MailPending, m.Status)
		assert.Equal(t, i+1, m.Attempts)
		assert.Contains(t, m.LastError, "421 4.3.0 "+smtptest.TempFailReply)
		require.Len(t, attempts, i+1)
		assert.True(t, attempts[i].Temporary)
		assert.Equal(t, 421, attempts[i].Code)
		// Exponential backoff with jitter: [base·2^(n-1)/2, base·2^(n-1)].
		wait := m.NextAttempt.Sub(m.Updated)
		assert.GreaterOrEqual(t, wait, wantLo)
		assert.LessOrEqual(t, wait, 2*wantLo)

		// Not due yet: nothing happens.
		assert.Equal(t, smtp.Stats{}, mustDrain(t, w))
		e.clock.Advance(2 * wantLo)
	}
	assert.Equal(t, smtp.Stats{Sent: 1}, mustDrain(t, w))
	m, attempts := e.mail(t, id)
	assert.Equal(t, pbxusers.MailSent, m.Status)
	assert.Equal(t, 3, m.Attempts)
	assert.Len(t, attempts, 3)
	assert.Len(t, srv.Messages(), 1)
}

func TestWorkerGivesUpAfterMaxAttempts(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{TempFailN: 1000})
	e := newWorkerEnv(t)
	opts := e.options(t)
	opts.MaxAttempts = 3
	w := e.worker(t, newRelay(t, relayConfig(t, srv)), opts)
	e.createUser(t, person("anna", "Anna", "Schmidt", "anna@mueller.example", "en"))
	id := e.onlyMail(t).ID

	var total smtp.Stats
	for i := 0; i < 3; i++ {
		e.clock.Advance(time.Second)
		st := mustDrain(t, w)
		total.Retried += st.Retried
		total.Failed += st.Failed
	}
	assert.Equal(t, smtp.Stats{Retried: 2, Failed: 1}, total)
	m, attempts := e.mail(t, id)
	assert.Equal(t, pbxusers.MailFailed, m.Status)
	assert.Equal(t, 3, m.Attempts)
	assert.Contains(t, m.LastError, "gave up after 3 attempts")
	assert.Len(t, attempts, 3)
	e.clock.Advance(time.Hour)
	assert.Equal(t, smtp.Stats{}, mustDrain(t, w), "failed messages stay failed")
}

func TestWorkerPermanentFailure(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{PermFail: true})
	e := newWorkerEnv(t)
	w := e.worker(t, newRelay(t, relayConfig(t, srv)), e.options(t))
	e.createUser(t, person("anna", "Anna", "Schmidt", "anna@mueller.example", "en"))
	id := e.onlyMail(t).ID

	assert.Equal(t, smtp.Stats{Failed: 1}, mustDrain(t, w))
	m, attempts := e.mail(t, id)
	assert.Equal(t, pbxusers.MailFailed, m.Status)
	assert.Equal(t, 1, m.Attempts)
	assert.Contains(t, m.LastError, "550 5.7.1 "+smtptest.PermFailReply)
	require.Len(t, attempts, 1)
	assert.False(t, attempts[0].Temporary)
	assert.Equal(t, 550, attempts[0].Code)

	// An admin's retry puts it back; it fails again, once.
	require.NoError(t, e.dir.RetryMail(context.Background(), e.tenant.ID, id))
	assert.Equal(t, smtp.Stats{Failed: 1}, mustDrain(t, w))
	e.clock.Advance(time.Hour)
	assert.Equal(t, smtp.Stats{}, mustDrain(t, w))
}

func TestWorkerRejectedRecipient(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{RejectRcpt: func(a string) bool { return a == "gone@mueller.example" }})
	e := newWorkerEnv(t)
	w := e.worker(t, newRelay(t, relayConfig(t, srv)), e.options(t))
	e.createUser(t, person("gone", "Gone", "Away", "gone@mueller.example", "en"))
	e.createUser(t, person("anna", "Anna", "Schmidt", "anna@mueller.example", "en"))

	assert.Equal(t, smtp.Stats{Sent: 1, Failed: 1}, mustDrain(t, w))
	failed, err := e.dir.ListMail(context.Background(), e.tenant.ID, pbxusers.MailQuery{Status: pbxusers.MailFailed})
	require.NoError(t, err)
	require.Len(t, failed, 1)
	assert.Equal(t, "gone@mueller.example", failed[0].To)
	assert.Contains(t, failed[0].LastError, "550 5.1.1 "+smtptest.RejectReply)
}

// stopAfter is a Sender that cancels the worker's context after n sends.
type stopAfter struct {
	smtp.Sender
	n      atomic.Int64
	cancel context.CancelFunc
}

func (s *stopAfter) Send(ctx context.Context, msg smtp.Message) (bool, error) {
	retry, err := s.Sender.Send(ctx, msg)
	if s.n.Add(-1) == 0 {
		s.cancel()
	}
	return retry, err
}

func TestWorkerRestartMidQueue(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	e := newWorkerEnv(t)
	const total = 30
	for i := 0; i < total; i++ {
		_, err := e.dir.QueueTestMail(context.Background(), e.tenant.ID, fmt.Sprintf("ops%02d@mueller.example", i))
		require.NoError(t, err)
	}

	// The first worker claims all 30 and is stopped after 7 sends: the
	// seventh is finished and, on the way out, it releases the other 23.
	ctx, cancel := context.WithCancel(context.Background())
	sender := &stopAfter{Sender: newRelay(t, relayConfig(t, srv)), cancel: cancel}
	sender.n.Store(7)
	w1 := e.worker(t, sender, e.options(t))
	require.NoError(t, w1.Run(ctx))
	assert.Len(t, srv.Messages(), 7)
	counts, err := e.dir.MailCounts(context.Background())
	require.NoError(t, err)
	assert.Equal(t, map[pbxusers.MailStatus]int{pbxusers.MailSent: 7, pbxusers.MailPending: total - 7}, counts)

	// A new process: a new Directory on the same file and a new worker,
	// which sends the released messages at once, not after the lease.
	clock := &testClock{}
	clock.off.Store(e.clock.off.Load())
	dir2 := mustDirectory(t, e.path, clock)
	opts := e.options(t)
	opts.Now = clock.Now
	w2, err := smtp.NewWorker(dir2, newRelay(t, relayConfig(t, srv)), e.tmpl, opts)
	require.NoError(t, err)
	assert.NotEqual(t, w1.Owner(), w2.Owner())
	assert.Equal(t, smtp.Stats{Sent: total - 7}, mustDrain(t, w2))
	assertOncePerRecipient(t, srv, total)
	counts, err = dir2.MailCounts(context.Background())
	require.NoError(t, err)
	assert.Equal(t, map[pbxusers.MailStatus]int{pbxusers.MailSent: total}, counts)
}

// TestWorkerCrashedWorkersLease: messages claimed by a worker that died
// (it never released them) wait out its lease, then are sent once.
func TestWorkerCrashedWorkersLease(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	e := newWorkerEnv(t)
	const total = 5
	for i := 0; i < total; i++ {
		_, err := e.dir.QueueTestMail(context.Background(), e.tenant.ID, fmt.Sprintf("ops%02d@mueller.example", i))
		require.NoError(t, err)
	}
	claimed, err := e.dir.ClaimMail(context.Background(), "crashed-worker", smtp.DefaultLease, total)
	require.NoError(t, err)
	require.Len(t, claimed, total)

	w := e.worker(t, newRelay(t, relayConfig(t, srv)), e.options(t))
	assert.Equal(t, smtp.Stats{}, mustDrain(t, w), "another worker's lease is respected")
	e.clock.Advance(smtp.DefaultLease + time.Second)
	assert.Equal(t, smtp.Stats{Sent: total}, mustDrain(t, w))
	assertOncePerRecipient(t, srv, total)
}

func assertOncePerRecipient(t *testing.T, srv *smtptest.Server, total int) {
	t.Helper()
	perRcpt := map[string]int{}
	for _, m := range srv.Messages() {
		perRcpt[m.To[0]]++
	}
	assert.Len(t, perRcpt, total)
	for rcpt, n := range perRcpt {
		assert.Equal(t, 1, n, rcpt)
	}
}

// lostReply hands the message to the relay and then reports the connection
// lost before the reply, as when the worker dies between the relay's
// acceptance and recording it: the message is sent again.
type lostReply struct{ smtp.Sender }

func (s lostReply) Send(ctx context.Context, msg smtp.Message) (bool, error) {
	if _, err := s.Sender.Send(ctx, msg); err != nil {
		return false, err
	}
	return true, errors.New("connection lost before the relay's reply")
}

// TestWorkerRepeatedWelcomeEveryLinkWorks: a welcome mail delivered twice
// (the first delivery was not recorded) carries a working link in each
// copy; using one revokes the other.
func TestWorkerRepeatedWelcomeEveryLinkWorks(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	e := newWorkerEnv(t)
	ctx := context.Background()
	u := e.createUser(t, person("anna", "Anna", "Schmidt", "anna@mueller.example", "en"))
	relay := newRelay(t, relayConfig(t, srv))
	// The retry waits a minute of the test clock, so a slow machine cannot
	// make the first drain retry by itself before the clock moves on.
	slow := e.options(t)
	slow.BackoffBase, slow.BackoffMax = time.Minute, time.Minute
	st := mustDrain(t, e.worker(t, lostReply{relay}, slow))
	assert.Equal(t, 1, st.Retried)
	e.clock.Advance(time.Hour)
	assert.Equal(t, smtp.Stats{Sent: 1}, mustDrain(t, e.worker(t, relay, e.options(t))))

	got := srv.Messages()
	require.Len(t, got, 2)
	var tokens []string
	for _, m := range got {
		tm := linkRE.FindStringSubmatch(m.Parse(t).Text)
		require.NotNil(t, tm)
		tokens = append(tokens, tm[1])
	}
	assert.NotEqual(t, tokens[0], tokens[1])
	for i, tok := range tokens {
		_, owner, err := e.dir.CheckSetupLink(ctx, tok)
		require.NoError(t, err, "copy %d's link works", i+1)
		assert.Equal(t, u.ID, owner.ID)
	}
	_, err := e.dir.CompleteSetup(ctx, tokens[0], "a long enough passphrase 42")
	require.NoError(t, err)
	_, _, err = e.dir.CheckSetupLink(ctx, tokens[1])
	assert.ErrorIs(t, err, pbxusers.ErrSetupLink, "the other copy's link dies with the first use")
}

// countSetupLinks counts the set-password link records of a user, read
// straight from the SQLite file.
func countSetupLinks(t *testing.T, path, userID string) int {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	require.NoError(t, err)
	defer db.Close()
	var n int
	require.NoError(t, db.QueryRow("SELECT count(*) FROM setup_tokens WHERE user_id = ?", userID).Scan(&n))
	return n
}

// createInvitees creates n invite-type users with email in one transaction.
func createInvitees(t testing.TB, e *workerEnv, n int) {
	t.Helper()
	err := e.dir.Batch(context.Background(), e.tenant.ID, func(b *pbxusers.Batch) error {
		for i := 0; i < n; i++ {
			u := person(fmt.Sprintf("user%04d", i), "User", fmt.Sprint(i), fmt.Sprintf("user%04d@mueller.example", i), "en")
			if _, err := b.CreateUser(u); err != nil {
				return err
			}
		}
		return nil
	})
	require.NoError(t, err)
}

func TestWorkerThousandDeliveredExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 mails; skipped with -short")
	}
	srv := smtptest.Start(t, smtptest.Options{})
	e := newWorkerEnv(t)
	const n = 1000
	createInvitees(t, e, n)

	// Two workers with their own relay connections compete for the queue.
	var wg sync.WaitGroup
	stats := make([]smtp.Stats, 2)
	for i := range stats {
		opts := e.options(t)
		opts.BatchN = 25
		opts.Logger = slog.New(slog.DiscardHandler)
		w := e.worker(t, newRelay(t, relayConfig(t, srv)), opts)
		wg.Go(func() {
			st, err := w.Drain(context.Background())
			assert.NoError(t, err)
			stats[i] = st
		})
	}
	wg.Wait()
	assert.Equal(t, n, stats[0].Sent+stats[1].Sent)
	assert.Positive(t, stats[0].Sent)
	assert.Positive(t, stats[1].Sent)

	ids, rcpts := map[string]int{}, map[string]int{}
	for _, m := range srv.Messages() {
		p := m.Parse(t)
		id, err := p.Header.MessageID()
		require.NoError(t, err)
		ids[id]++
		rcpts[m.To[0]]++
	}
	assert.Len(t, ids, n)
	assert.Len(t, rcpts, n)
	for k, c := range ids {
		if c != 1 {
			t.Errorf("Message-ID %s received %d times", k, c)
		}
	}
	counts, err := e.dir.MailCounts(context.Background())
	require.NoError(t, err)
	assert.Equal(t, map[pbxusers.MailStatus]int{pbxusers.MailSent: n}, counts)
}

func TestWorkerRolledBackCreateSendsNothing(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	e := newWorkerEnv(t)
	w := e.worker(t, newRelay(t, relayConfig(t, srv)), e.options(t))
	errAbort := errors.New("abort the import")
	err := e.dir.Batch(context.Background(), e.tenant.ID, func(b *pbxusers.Batch) error {
		if _, err := b.CreateUser(person("anna", "Anna", "Schmidt", "anna@mueller.example", "en")); err != nil {
			return err
		}
		return errAbort
	})
	require.ErrorIs(t, err, errAbort)

	assert.Equal(t, smtp.Stats{}, mustDrain(t, w))
	assert.Empty(t, srv.Messages())
	ms, err := e.dir.ListMail(context.Background(), e.tenant.ID, pbxusers.MailQuery{})
	require.NoError(t, err)
	assert.Empty(t, ms)
}

func TestWorkerNoMailForSystemUsersOrUsersWithoutEmail(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	e := newWorkerEnv(t)
	w := e.worker(t, newRelay(t, relayConfig(t, srv)), e.options(t))

	queue := person("sales", "", "", "sales@mueller.example", "en")
	queue.Kind, queue.DisplayName = pbxusers.KindCallQueue, "Sales"
	e.createUser(t, queue)
	e.createUser(t, person("noemail", "No", "Email", "", "en"))
	manual := person("manual", "Man", "Ual", "manual@mueller.example", "en")
	manual.Password.New = "a fine passphrase"
	e.createUser(t, manual)

	assert.Equal(t, smtp.Stats{}, mustDrain(t, w))
	assert.Empty(t, srv.Messages())
	ms, err := e.dir.ListMail(context.Background(), e.tenant.ID, pbxusers.MailQuery{})
	require.NoError(t, err)
	assert.Empty(t, ms)
}

func TestWorkerCancelsWhenReasonWentAway(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	e := newWorkerEnv(t)
	w := e.worker(t, newRelay(t, relayConfig(t, srv)), e.options(t))
	ctx := context.Background()

	deleted := e.createUser(t, person("deleted", "De", "Leted", "deleted@mueller.example", "en"))
	inactive := e.createUser(t, person("inactive", "In", "Active", "inactive@mueller.example", "en"))
	noEmail := e.createUser(t, person("noemail", "No", "Email", "noemail@mueller.example", "en"))
	require.NoError(t, e.dir.DeleteUser(ctx, e.tenant.ID, deleted.ID))
	_, err := e.dir.DeactivateUser(ctx, e.tenant.ID, inactive.ID)
	require.NoError(t, err)
	_, err = e.dir.ModifyUser(ctx, e.tenant.ID, noEmail.ID, func(u *pbxusers.User) error {
		u.Emails = nil
		return nil
	})
	require.NoError(t, err)

	assert.Equal(t, smtp.Stats{Cancelled: 3}, mustDrain(t, w))
	assert.Empty(t, srv.Messages())
	ms, err := e.dir.ListMail(ctx, e.tenant.ID, pbxusers.MailQuery{})
	require.NoError(t, err)
	reasons := map[string]string{}
	for _, m := range ms {
		assert.Equal(t, pbxusers.MailCancelled, m.Status)
		reasons[m.To] = m.LastError
	}
	assert.Equal(t, map[string]string{
		"deleted@mueller.example":  "cancelled: the user no longer exists",
		"inactive@mueller.example": "cancelled: the user is inactive",
		"noemail@mueller.example":  "cancelled: the user has no email address",
	}, reasons)
}

func TestWorkerWelcomeDisabledTenant(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	e := newWorkerEnv(t)
	w := e.worker(t, newRelay(t, relayConfig(t, srv)), e.options(t))
	sso, err := e.dir.CreateTenant(context.Background(), pbxusers.Tenant{ID: "sso", Name: "SSO Inc.", DisableWelcomeMail: true})
	require.NoError(t, err)
	_, err = e.dir.CreateUser(context.Background(), sso.ID, person("anna", "Anna", "Schmidt", "anna@sso.example", "en"))
	require.NoError(t, err)

	assert.Equal(t, smtp.Stats{}, mustDrain(t, w))
	assert.Empty(t, srv.Messages())
	counts, err := e.dir.MailCounts(context.Background())
	require.NoError(t, err)
	assert.Empty(t, counts)
}

func TestWorkerResendAndResetRevokeEarlierLinks(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	e := newWorkerEnv(t)
	w := e.worker(t, newRelay(t, relayConfig(t, srv)), e.options(t))
	ctx := context.Background()
	u := e.createUser(t, person("anna", "Anna", "Schmidt", "anna@mueller.example", "en"))
	mustDrain(t, w)
	_, err := e.dir.SendWelcome(ctx, e.tenant.ID, u.ID)
	require.NoError(t, err)
	mustDrain(t, w)
	_, err = e.dir.ForcePasswordReset(ctx, e.tenant.ID, u.ID)
	require.NoError(t, err)
	mustDrain(t, w)

	got := srv.Messages()
	require.Len(t, got, 3)
	var tokens []string
	for _, m := range got {
		p := m.Parse(t)
		tm := linkRE.FindStringSubmatch(p.Text)
		require.NotNil(t, tm)
		tokens = append(tokens, tm[1])
	}
	for _, tok := range tokens[:2] {
		_, _, err := e.dir.CheckSetupLink(ctx, tok)
		assert.ErrorIs(t, err, pbxusers.ErrSetupLink, "an earlier link is revoked")
	}
	st, _, err := e.dir.CheckSetupLink(ctx, tokens[2])
	require.NoError(t, err)
	assert.Equal(t, pbxusers.SetupReset, st.Purpose)
	p := got[2].Parse(t)
	assert.Equal(t, "password_reset", p.Header.Get("X-Pbxgate-Kind"))
	subject, err := p.Header.Subject()
	require.NoError(t, err)
	assert.Contains(t, strings.ToLower(subject), "password")
}

func TestWorkerTestMail(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	e := newWorkerEnv(t)
	relay := newRelay(t, relayConfig(t, srv))
	w := e.worker(t, relay, e.options(t))
	queued, err := e.dir.QueueTestMail(context.Background(), e.tenant.ID, "ops@mueller.example")
	require.NoError(t, err)

	assert.Equal(t, smtp.Stats{Sent: 1}, mustDrain(t, w))
	got := srv.Messages()
	require.Len(t, got, 1)
	p := got[0].Parse(t)
	subject, err := p.Header.Subject()
	require.NoError(t, err)
	assert.Equal(t, "pbxgate test message for Müller & Söhne", subject)
	assert.Contains(t, p.Text, relay.String())
	assert.Equal(t, "test", p.Header.Get("X-Pbxgate-Kind"))

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, attempts, err := smtp.WaitMail(ctx, e.dir, e.tenant.ID, queued.ID, 10*time.Millisecond)
	require.NoError(t, err)
	assert.Equal(t, pbxusers.MailSent, m.Status)
	assert.Len(t, attempts, 1)
}

func TestWaitMailTimesOutWhilePending(t *testing.T) {
	e := newWorkerEnv(t)
	queued, err := e.dir.QueueTestMail(context.Background(), e.tenant.ID, "ops@mueller.example")
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	m, _, err := smtp.WaitMail(ctx, e.dir, e.tenant.ID, queued.ID, 10*time.Millisecond)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, pbxusers.MailPending, m.Status)
}

func TestSendTestDirect(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{TLS: true})
	relay := newRelay(t, relayConfig(t, srv))
	msg, err := smtp.SendTest(context.Background(), relay, mustTemplates(t, ""), "", smtp.Address{Address: "ops@example.com"}, smtp.TestData{Language: "de"})
	require.NoError(t, err)
	require.Len(t, srv.Messages(), 1)
	p := srv.Messages()[0].Parse(t)
	id, err := p.Header.MessageID()
	require.NoError(t, err)
	assert.Equal(t, msg.MessageID, id)
	assert.Equal(t, "de", p.Header.Get("Content-Language"))
	assert.Contains(t, p.Text, relay.String())

	srv.Stop()
	_, err = smtp.SendTest(context.Background(), relay, mustTemplates(t, ""), "", smtp.Address{Address: "ops@example.com"}, smtp.TestData{})
	var se *smtp.Error
	require.ErrorAs(t, err, &se)
	assert.Equal(t, smtp.StageConnect, se.Stage)
}

func TestWorkerToDir(t *testing.T) {
	e := newWorkerEnv(t)
	mailDir := filepath.Join(t.TempDir(), "mail")
	d, err := smtp.NewDir(mailDir, testFrom, nil)
	require.NoError(t, err)
	w := e.worker(t, d, e.options(t))
	e.createUser(t, person("anna", "Anna", "Schmidt", "anna@mueller.example", "en"))
	assert.Equal(t, smtp.Stats{Sent: 1}, mustDrain(t, w))
	files, err := filepath.Glob(filepath.Join(mailDir, "*.eml"))
	require.NoError(t, err)
	assert.Len(t, files, 1)
}

func TestWorkerMetrics(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{RejectRcpt: func(a string) bool { return strings.HasPrefix(a, "bad") }})
	e := newWorkerEnv(t)
	reg := prometheus.NewRegistry()
	opts := e.options(t)
	opts.Registerer = reg
	w := e.worker(t, newRelay(t, relayConfig(t, srv)), opts)
	// Every series is there at zero before anything happened.
	before := gather(t, reg)
	for _, name := range []string{`pbxgate_mail_sent_total{kind="password_reset"}`, `pbxgate_mail_failed_total{kind="test"}`,
		`pbxgate_mail_retried_total{kind="welcome"}`, `pbxgate_mail_cancelled_total{kind="welcome"}`,
		`pbxgate_mail_relay_errors_total{stage="auth"}`, `pbxgate_mail_relay_errors_total{stage="connect"}`} {
		v, ok := before[name]
		assert.True(t, ok && v == 0, "%s present at zero", name)
	}
	e.createUser(t, person("anna", "Anna", "Schmidt", "anna@mueller.example", "en"))
	e.createUser(t, person("bad", "Bad", "Address", "bad@mueller.example", "en"))
	_, err := e.dir.QueueTestMail(context.Background(), e.tenant.ID, "ops@mueller.example")
	require.NoError(t, err)
	mustDrain(t, w)

	got := gather(t, reg)
	assert.Equal(t, 1.0, got[`pbxgate_mail_sent_total{kind="welcome"}`])
	assert.Equal(t, 1.0, got[`pbxgate_mail_sent_total{kind="test"}`])
	assert.Equal(t, 1.0, got[`pbxgate_mail_failed_total{kind="welcome"}`])
	assert.Equal(t, 1.0, got[`pbxgate_mail_relay_up`])
	assert.Equal(t, 2.0, got[`pbxgate_mail_outbox_messages{status="sent"}`])
	assert.Equal(t, 1.0, got[`pbxgate_mail_outbox_messages{status="failed"}`])
	assert.Equal(t, 0.0, got[`pbxgate_mail_outbox_messages{status="pending"}`])

	// A second worker on the same registry is refused.
	_, err = smtp.NewWorker(e.dir, newRelay(t, relayConfig(t, srv)), e.tmpl, opts)
	assert.ErrorContains(t, err, "register mail metrics")
}

// gather returns every sample of reg as `name{label="value"}` → value.
func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			if lps := m.GetLabel(); len(lps) > 0 {
				var parts []string
				for _, lp := range lps {
					parts = append(parts, fmt.Sprintf("%s=%q", lp.GetName(), lp.GetValue()))
				}
				key += "{" + strings.Join(parts, ",") + "}"
			}
			switch {
			case m.GetCounter() != nil:
				out[key] = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				out[key] = m.GetGauge().GetValue()
			}
		}
	}
	return out
}

func TestNewWorkerValidation(t *testing.T) {
	e := newWorkerEnv(t)
	_, err := smtp.NewWorker(e.dir, smtp.Sender(nil), e.tmpl, smtp.WorkerOptions{
		PublicURL:   "pbx.example.com/x?y",
		Lease:       time.Second,
		LinkTTL:     100 * time.Hour,
		BackoffBase: time.Hour, BackoffMax: time.Minute,
		MaxAttempts: -1,
	})
	require.Error(t, err)
	for _, want := range []string{
		"new worker: nil Sender",
		`mail.publicURL: "pbx.example.com/x?y" must start with https:// (or http://)`,
		"mail.lease: 1s is too short (at least 30s)",
		"mail.linkTTL: 100h0m0s is longer than the maximum 72h0m0s",
		"mail.backoffMax: 1m0s is shorter than backoffBase 1h0m0s",
		"mail.maxAttempts: -1 is negative (0 means the default 10)",
	} {
		assert.ErrorContains(t, err, want)
	}
	_, err = smtp.NewWorker(e.dir, smtp.Sender(nil), e.tmpl, smtp.WorkerOptions{})
	assert.ErrorContains(t, err, "mail.publicURL: required")
}

func TestWorkerLinkUnderPathPrefix(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	e := newWorkerEnv(t)
	opts := e.options(t)
	opts.PublicURL = "https://gw.example.org/pbx/"
	w := e.worker(t, newRelay(t, relayConfig(t, srv)), opts)
	e.createUser(t, person("anna", "Anna", "Schmidt", "anna@mueller.example", "en"))
	mustDrain(t, w)
	p := srv.Messages()[0].Parse(t)
	assert.Regexp(t, `https://gw\.example\.org/pbx/setup/pbxs_[a-z0-9]+\.[A-Za-z0-9_-]{43}\r?\n`, p.Text)
}

func TestDefaultPublicURL(t *testing.T) {
	assert.Equal(t, "http://127.0.0.1:8080", smtp.DefaultPublicURL("127.0.0.1:8080", false))
	assert.Equal(t, "https://pbx.example.com:8443", smtp.DefaultPublicURL("pbx.example.com:8443", true))
	assert.Equal(t, "http://[::1]:8080", smtp.DefaultPublicURL("[::1]:8080", false))
	assert.Regexp(t, `^https://[A-Za-z0-9.-]+:8443$`, smtp.DefaultPublicURL("0.0.0.0:8443", true))
	assert.NotContains(t, smtp.DefaultPublicURL(":8443", true), "://:")
}

func TestRelayCheck(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{TLS: true, Username: "u", Password: "p"})
	cfg := relayConfig(t, srv)
	cfg.Username, cfg.Password = "u", "p"
	r := newRelay(t, cfg)
	require.NoError(t, r.Check(context.Background()))
	mustSend(t, r, simpleMessage("a@example.com"))
	assert.Equal(t, 1, srv.Connections(), "Check's connection is used by Send")
	assert.Equal(t, "u", srv.Messages()[0].User)

	srv.Stop()
	r2 := newRelay(t, cfg)
	err := r2.Check(context.Background())
	var se *smtp.Error
	require.ErrorAs(t, err, &se)
	assert.Equal(t, smtp.StageConnect, se.Stage)
	assert.True(t, se.Temporary())
}
