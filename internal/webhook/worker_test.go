package webhook_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/internal/pbxfeed"
	"github.com/pbxgate/pbxgate/internal/webhook"
	"github.com/pbxgate/pbxgate/pbxusers"
	"github.com/pbxgate/pbxgate/pbxusers/postgres"
	"github.com/pbxgate/pbxgate/pbxusers/postgres/pgtest"
	"github.com/pbxgate/pbxgate/pbxusers/sqlite"
)

// clock is a test clock that moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// openDir opens (or reopens) the SQLite file at path.
func openDir(t testing.TB, path string, now func() time.Time) (*pbxusers.Directory, *sqlite.Store) {
	t.Helper()
	store, err := sqlite.Open(context.Background(), path)
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	return pbxusers.New(store, pbxusers.Options{Now: now, PasswordCost: 4}), store
}

// setup is a tenant "acme" on a fresh SQLite file.
func setup(t testing.TB, now func() time.Time) (*pbxusers.Directory, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pbxgate.db")
	dir, _ := openDir(t, path, now)
	_, err := dir.CreateTenant(context.Background(), pbxusers.Tenant{ID: "acme", Name: "Acme", Region: "DE"})
	require.NoError(t, err)
	return dir, path
}

func addUsers(t *testing.T, dir *pbxusers.Directory, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		_, err := dir.CreateUser(context.Background(), "acme", pbxusers.User{UserName: fmt.Sprintf("user%03d", i),
			Extension: fmt.Sprint(200 + i)})
		require.NoError(t, err)
	}
}

// delivery is one POST the receiver got.
type delivery struct {
	Header http.Header
	Body   []byte
	Feed   pbxfeed.Changes
}

// receiver is a webhook endpoint on loopback that answers with the
// statuses of answers in turn (200 once they are used up) and records
// every POST.
type receiver struct {
	t   *testing.T
	srv *httptest.Server

	mu      sync.Mutex
	answers []int
	got     []delivery
	// onPost, when set, runs for each POST before it is answered.
	onPost func(d delivery)
	// inFlight counts POSTs being answered; overlap is set when there
	// were ever two at once.
	inFlight atomic.Int32
	overlap  atomic.Bool
}

func newReceiver(t *testing.T, answers ...int) *receiver {
	r := &receiver{t: t, answers: answers}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if r.inFlight.Add(1) > 1 {
			r.overlap.Store(true)
		}
		defer r.inFlight.Add(-1)
		body, _ := io.ReadAll(req.Body)
		d := delivery{Header: req.Header.Clone(), Body: body}
		if err := json.Unmarshal(body, &d.Feed); err != nil {
			t.Errorf("delivery body is not the feed's JSON: %v: %s", err, body)
		}
		r.mu.Lock()
		r.got = append(r.got, d)
		status := http.StatusOK
		if len(r.answers) > 0 {
			status, r.answers = r.answers[0], r.answers[1:]
		}
		on := r.onPost
		r.mu.Unlock()
		if on != nil {
			on(d)
		}
		w.WriteHeader(status)
		fmt.Fprintln(w, http.StatusText(status))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) deliveries() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.got...)
}

// verify checks a delivery's signature the way the README tells receivers
// to: HMAC-SHA256 over timestamp + "." + body with the secret shown at
// creation.
func verify(secret string, d delivery) bool {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(d.Header.Get("X-Pbxgate-Timestamp") + "."))
	mac.Write(d.Body)
	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	return hmac.Equal([]byte(want), []byte(d.Header.Get("X-Pbxgate-Signature")))
}

// drain runs rounds until one claims nothing.
func drain(t *testing.T, w *webhook.Worker) {
	t.Helper()
	for i := 0; ; i++ {
		require.Less(t, i, 1000, "rounds never ran out")
		st, err := w.Deliver(context.Background())
		require.NoError(t, err)
		if st.Claimed == 0 {
			return
		}
	}
}

// seqs are the Seqs of the tenant's change log after after.
func seqs(t *testing.T, dir *pbxusers.Directory, after int64) []int64 {
	t.Helper()
	var out []int64
	for {
		list, err := dir.Changes(context.Background(), "acme", pbxusers.ChangeQuery{AfterSeq: after, Limit: pbxusers.MaxPageSize})
		require.NoError(t, err)
		if len(list) == 0 {
			return out
		}
		for _, c := range list {
			out = append(out, c.Seq)
		}
		after = list[len(list)-1].Seq
	}
}

// delivered lists the Seqs of deliveries in the order they came.
func delivered(ds []delivery) []int64 {
	var out []int64
	for _, d := range ds {
		for _, c := range d.Feed.Changes {
			out = append(out, c.Seq)
		}
	}
	return out
}

// TestSignedAndInOrder: every change after the webhook's creation arrives
// once, in order, in batches of ChangesN, each signed with the secret shown
// at creation, carrying the feed's entry shape.
func TestSignedAndInOrder(t *testing.T) {
	ctx := context.Background()
	dir, _ := setup(t, nil)
	addUsers(t, dir, 0, 2) // before the webhook: not delivered
	rcv := newReceiver(t)
	hook, secret, err := dir.CreateWebhook(ctx, "acme", pbxusers.WebhookInput{URL: rcv.srv.URL + "/hook"})
	require.NoError(t, err)
	addUsers(t, dir, 2, 7)

	reg := prometheus.NewRegistry()
	w, err := webhook.New(dir, webhook.Options{ChangesN: 3, Registerer: reg})
	require.NoError(t, err)
	drain(t, w)

	ds := rcv.deliveries()
	require.Len(t, ds, 3, "7 changes in batches of 3")
	want := seqs(t, dir, hook.DeliveredSeq)
	assert.Equal(t, want, delivered(ds))
	for i, d := range ds {
		assert.True(t, verify(secret, d), "delivery %d verifies with the secret", i)
		assert.False(t, verify(secret+"x", d))
		assert.Equal(t, "application/json", d.Header.Get("Content-Type"))
		first, last := d.Feed.Changes[0].Seq, d.Feed.Changes[len(d.Feed.Changes)-1].Seq
		assert.Equal(t, fmt.Sprintf("%s.%d-%d", hook.ID, first, last), d.Header.Get("X-Pbxgate-Delivery"))
		assert.Equal(t, last, d.Feed.Next)
		assert.Equal(t, pbxusers.EntityUser, d.Feed.Changes[0].Entity)
		assert.Equal(t, "create", string(d.Feed.Changes[0].Action))
	}
	got, err := dir.GetWebhook(ctx, "acme", hook.ID)
	require.NoError(t, err)
	assert.Equal(t, want[len(want)-1], got.DeliveredSeq)
	assert.NotNil(t, got.LastDelivered)
	assert.Zero(t, got.Attempts)

	assert.Equal(t, map[string]float64{
		"pbxgate_webhook_attempts_total":                   3,
		"pbxgate_webhook_changes_delivered_total":          7,
		`pbxgate_webhook_failures_total{reason="network"}`: 0,
		`pbxgate_webhook_failures_total{reason="status"}`:  0,
	}, counters(t, reg), "every series exists, failures at zero")
}

// counters returns every counter of reg by name and labels.
func counters(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			name := mf.GetName()
			for _, l := range m.GetLabel() {
				name += fmt.Sprintf(`{%s=%q}`, l.GetName(), l.GetValue())
			}
			out[name] = m.GetCounter().GetValue()
		}
	}
	return out
}

// TestRetriedUntilAcknowledged: a receiver answering 500 twice and then
// 200 gets the same delivery (same id, same entries) three times; the
// failures are visible on the webhook with a backoff, and the change made
// meanwhile comes next: nothing is skipped.
func TestRetriedUntilAcknowledged(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)}
	dir, _ := setup(t, clk.Now)
	rcv := newReceiver(t, 500, 500)
	hook, secret, err := dir.CreateWebhook(ctx, "acme", pbxusers.WebhookInput{URL: rcv.srv.URL})
	require.NoError(t, err)
	addUsers(t, dir, 0, 2)
	reg := prometheus.NewRegistry()
	w, err := webhook.New(dir, webhook.Options{Now: clk.Now, Registerer: reg})
	require.NoError(t, err)

	st, err := w.Deliver(ctx)
	require.NoError(t, err)
	assert.Equal(t, webhook.Stats{Claimed: 1, Failed: 1}, st)
	got, err := dir.GetWebhook(ctx, "acme", hook.ID)
	require.NoError(t, err)
	assert.Equal(t, 1, got.Attempts)
	assert.Equal(t, hook.DeliveredSeq, got.DeliveredSeq, "the cursor stays")
	assert.Contains(t, got.LastError, "500 Internal Server Error")
	assert.True(t, got.NextAttempt.After(clk.Now()), "retried after a backoff")
	assert.False(t, got.NextAttempt.After(clk.Now().Add(webhook.DefaultBackoffBase)), "the first backoff is at most the base")
	st, err = w.Deliver(ctx)
	require.NoError(t, err)
	assert.Zero(t, st.Claimed, "not due before the backoff ends")

	addUsers(t, dir, 2, 1) // arrives while the first delivery is retried
	clk.Add(webhook.DefaultBackoffMax)
	st, err = w.Deliver(ctx)
	require.NoError(t, err)
	assert.Equal(t, webhook.Stats{Claimed: 1, Failed: 1}, st)
	got, err = dir.GetWebhook(ctx, "acme", hook.ID)
	require.NoError(t, err)
	assert.Equal(t, 2, got.Attempts)
	clk.Add(webhook.DefaultBackoffMax)
	drain(t, w)

	ds := rcv.deliveries()
	require.Len(t, ds, 4)
	for i := 1; i < 3; i++ {
		assert.Equal(t, ds[0].Header.Get("X-Pbxgate-Delivery"), ds[i].Header.Get("X-Pbxgate-Delivery"), "attempt %d is the same delivery", i+1)
		assert.Equal(t, string(ds[0].Body), string(ds[i].Body), "attempt %d carries the same entries", i+1)
		assert.True(t, verify(secret, ds[i]))
	}
	assert.Len(t, ds[0].Feed.Changes, 2)
	assert.Equal(t, seqs(t, dir, hook.DeliveredSeq), delivered(ds[2:]), "after the acknowledged retry, the next change; none skipped")
	got, err = dir.GetWebhook(ctx, "acme", hook.ID)
	require.NoError(t, err)
	assert.Zero(t, got.Attempts)
	assert.Empty(t, got.LastError)
	assert.Equal(t, 2.0, counters(t, reg)[`pbxgate_webhook_failures_total{reason="status"}`])
	assert.Equal(t, 4.0, counters(t, reg)["pbxgate_webhook_attempts_total"])
}

// TestResumesAfterRestart: a worker stopped midway and a new one on the
// same database file deliver every change exactly in order: no gap, no
// loss, since the cursor is in the database.
func TestResumesAfterRestart(t *testing.T) {
	ctx := context.Background()
	dir, path := setup(t, nil)
	rcv := newReceiver(t)
	hook, _, err := dir.CreateWebhook(ctx, "acme", pbxusers.WebhookInput{URL: rcv.srv.URL})
	require.NoError(t, err)
	addUsers(t, dir, 0, 20)
	want := seqs(t, dir, hook.DeliveredSeq)

	runCtx, stop := context.WithCancel(ctx)
	var once sync.Once
	rcv.mu.Lock()
	rcv.onPost = func(delivery) {
		if len(rcv.deliveries()) == 3 {
			once.Do(stop) // the worker stops while this delivery is in flight
		}
	}
	rcv.mu.Unlock()
	first, err := webhook.New(dir, webhook.Options{ChangesN: 3})
	require.NoError(t, err)
	require.NoError(t, first.Run(runCtx))
	stopped := rcv.deliveries()
	require.GreaterOrEqual(t, len(stopped), 3)
	require.Less(t, len(delivered(stopped)), len(want), "the first worker stopped midway")
	require.NoError(t, dir.Store().Close())

	// A new process on the same file.
	dir2, _ := openDir(t, path, nil)
	done := make(chan struct{})
	rcv.mu.Lock()
	rcv.onPost = func(d delivery) {
		if n := len(d.Feed.Changes); n > 0 && d.Feed.Changes[n-1].Seq == want[len(want)-1] {
			close(done)
		}
	}
	rcv.mu.Unlock()
	second, err := webhook.New(dir2, webhook.Options{ChangesN: 3})
	require.NoError(t, err)
	runCtx2, stop2 := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- second.Run(runCtx2) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the second worker did not deliver the last change")
	}
	stop2()
	require.NoError(t, <-ran)

	assert.Equal(t, want, delivered(rcv.deliveries()), "every change once, in order, across the restart")
	got, err := dir2.GetWebhook(ctx, "acme", hook.ID)
	require.NoError(t, err)
	assert.Equal(t, want[len(want)-1], got.DeliveredSeq)
	assert.Empty(t, got.ClaimedBy, "a stopped worker releases its lease")
}

// TestDeletedWebhookGetsNothing: after its deletion, a webhook gets no
// delivery, while the tenant's other webhook goes on.
func TestDeletedWebhookGetsNothing(t *testing.T) {
	ctx := context.Background()
	dir, _ := setup(t, nil)
	gone, kept := newReceiver(t), newReceiver(t)
	hook, _, err := dir.CreateWebhook(ctx, "acme", pbxusers.WebhookInput{URL: gone.srv.URL})
	require.NoError(t, err)
	_, _, err = dir.CreateWebhook(ctx, "acme", pbxusers.WebhookInput{URL: kept.srv.URL})
	require.NoError(t, err)
	w, err := webhook.New(dir, webhook.Options{})
	require.NoError(t, err)
	addUsers(t, dir, 0, 1)
	drain(t, w)
	require.Len(t, gone.deliveries(), 1)

	require.NoError(t, dir.DeleteWebhook(ctx, "acme", hook.ID))
	addUsers(t, dir, 1, 2)
	drain(t, w)
	assert.Len(t, gone.deliveries(), 1, "nothing after the deletion")
	last := delivered(kept.deliveries())
	assert.Equal(t, seqs(t, dir, 0)[len(seqs(t, dir, 0))-1], last[len(last)-1], "the other webhook got everything")
}

// TestUnreachableReceiver: no answer is a failure with a reason that names
// no URL query (it may hold the receiver's token), counted as network.
func TestUnreachableReceiver(t *testing.T) {
	ctx := context.Background()
	dir, _ := setup(t, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	hook, _, err := dir.CreateWebhook(ctx, "acme", pbxusers.WebhookInput{URL: "http://" + addr + "/hook?token=s3cret"})
	require.NoError(t, err)
	addUsers(t, dir, 0, 1)
	reg := prometheus.NewRegistry()
	w, err := webhook.New(dir, webhook.Options{Registerer: reg})
	require.NoError(t, err)
	st, err := w.Deliver(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, st.Failed)
	got, err := dir.GetWebhook(ctx, "acme", hook.ID)
	require.NoError(t, err)
	assert.Contains(t, got.LastError, "connection refused")
	assert.NotContains(t, got.LastError, "s3cret")
	assert.Equal(t, 1.0, counters(t, reg)[`pbxgate_webhook_failures_total{reason="network"}`])
}

func TestOptionsValidated(t *testing.T) {
	dir, _ := setup(t, nil)
	_, err := webhook.New(dir, webhook.Options{Lease: 5 * time.Second, PollInterval: -time.Second, ChangesN: 5000, BatchN: -1})
	require.Error(t, err)
	for _, want := range []string{"webhooks.lease", "webhooks.pollInterval", "webhooks.changesN", "webhooks.batchN"} {
		assert.True(t, strings.Contains(err.Error(), want), "%v names %s", err, want)
	}
}

// TestTwoGatewaysOneDatabase: two workers on one database file (two
// gateways) share the webhooks: each webhook is delivered to by one of
// them at a time, and every receiver gets every change once, in order.
func TestTwoGatewaysOneDatabase(t *testing.T) {
	dirA, path := setup(t, nil)
	dirB, _ := openDir(t, path, nil)
	twoGateways(t, dirA, dirB)
}

// TestIntegrationTwoGatewaysPostgres is TestTwoGatewaysOneDatabase with two
// gateways sharing one PostgreSQL database.
func TestIntegrationTwoGatewaysPostgres(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.Start(t)
	var dirs []*pbxusers.Directory
	for range 2 {
		store, err := postgres.Open(ctx, dsn, postgres.Options{})
		require.NoError(t, err)
		t.Cleanup(func() { store.Close() })
		dirs = append(dirs, pbxusers.New(store, pbxusers.Options{PasswordCost: 4}))
	}
	_, err := dirs[0].CreateTenant(ctx, pbxusers.Tenant{ID: "acme", Name: "Acme", Region: "DE"})
	require.NoError(t, err)
	twoGateways(t, dirs[0], dirs[1])
}

func twoGateways(t *testing.T, dirA, dirB *pbxusers.Directory) {
	ctx := context.Background()
	type hook struct {
		rcv     *receiver
		created pbxusers.Webhook
	}
	hooks := make([]*hook, 3)
	for i := range hooks {
		h := &hook{rcv: newReceiver(t)}
		var err error
		h.created, _, err = dirA.CreateWebhook(ctx, "acme", pbxusers.WebhookInput{URL: h.rcv.srv.URL})
		require.NoError(t, err)
		hooks[i] = h
	}
	addUsers(t, dirA, 0, 60)
	want := seqs(t, dirA, hooks[len(hooks)-1].created.DeliveredSeq)
	done := make(chan struct{}, len(hooks))
	for _, h := range hooks {
		h.rcv.mu.Lock()
		h.rcv.onPost = func(d delivery) {
			if n := len(d.Feed.Changes); n > 0 && d.Feed.Changes[n-1].Seq == want[len(want)-1] {
				done <- struct{}{}
			}
		}
		h.rcv.mu.Unlock()
	}
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, d := range []*pbxusers.Directory{dirA, dirB} {
		w, err := webhook.New(d, webhook.Options{ChangesN: 7, BatchN: 2})
		require.NoError(t, err)
		wg.Add(1)
		go func() { defer wg.Done(); assert.NoError(t, w.Run(runCtx)) }()
	}
	for range hooks {
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			t.Fatal("not every webhook got the last change")
		}
	}
	stop()
	wg.Wait()
	for i, h := range hooks {
		got := delivered(h.rcv.deliveries())
		// The first two webhooks also get the creation of the later ones.
		assert.Equal(t, want, got[len(got)-len(want):], "webhook %d: every change once, in order", i)
		assert.False(t, h.rcv.overlap.Load(), "webhook %d: never delivered to by two workers at once", i)
	}
}
