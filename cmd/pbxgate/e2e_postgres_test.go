package main

// TestIntegrationPostgresTwoGateways runs two "pbxgate serve" processes on
// one PostgreSQL database. It needs PostgreSQL's server programs
// (apt-get install -y postgresql; package pgtest starts a throwaway server,
// or set PBXGATE_POSTGRES_DSN) and OpenLDAP's slapd (apt-get install -y
// slapd ldap-utils; package ldaptest starts its own); without them it
// skips and names the packages. The SMTP relay is in-process
// (smtp/smtptest).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/ldapsync/ldaptest"
	"github.com/pbxgate/pbxgate/pbxusers"
	"github.com/pbxgate/pbxgate/pbxusers/postgres/pgtest"
	"github.com/pbxgate/pbxgate/smtp/smtptest"
)

// mailGate holds the SMTP relay's answer to RCPT TO while it is shut, so
// that the gateways' mail workers stand still with messages claimed. It
// never rejects anyone.
type mailGate struct {
	mu      sync.Mutex
	shut    chan struct{} // nil while open
	waiting atomic.Int32
}

func (g *mailGate) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.shut == nil {
		g.shut = make(chan struct{})
	}
}

func (g *mailGate) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.shut != nil {
		close(g.shut)
		g.shut = nil
	}
}

// rcpt is smtptest's RejectRcpt hook: it waits while the gate is shut (at
// most 30s) and accepts.
func (g *mailGate) rcpt(string) bool {
	g.mu.Lock()
	shut := g.shut
	g.mu.Unlock()
	if shut != nil {
		g.waiting.Add(1)
		defer g.waiting.Add(-1)
		select {
		case <-shut:
		case <-time.After(30 * time.Second):
		}
	}
	return false
}

// TestIntegrationPostgresTwoGateways runs two gateways (each with its own
// data directory for logs and keys) on one PostgreSQL database, with one
// LDAP directory on a schedule and one SMTP relay, and checks:
//
//   - concurrent SCIM creates against both, every userName sent to both at
//     once: each is created exactly once (one 201, one 409);
//   - every welcome mail reaches the relay exactly once;
//   - "ldap sync" started from the CLI against both instances' configs at
//     the same time: one runs, the other answers busy, and the history has
//     no two runs that overlap;
//   - kill -9 of one instance while its mail worker holds claimed messages:
//     the other keeps serving, leaves those messages alone while the dead
//     one's lease lasts, and delivers them once it ends.
func TestIntegrationPostgresTwoGateways(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary with PostgreSQL, slapd and an SMTP server")
	}
	srv := pgtest.StartServer(t, pgtest.Config{})
	dsn := srv.NewDatabase(t)
	const ldapUsers, scimUsers, killUsers = 1500, 200, 40
	dirsrv := ldaptest.Start(t, ldaptest.Options{UnlimitedSync: true, Bulk: func(w io.Writer, base string) error {
		for i := 0; i < ldapUsers; i++ {
			fmt.Fprintf(w, "dn: uid=l%05d,ou=people,%s\nobjectClass: inetOrgPerson\nuid: l%05d\ncn: L %d\nsn: L\n\n", i, base, i, i)
		}
		return nil
	}})
	gate := &mailGate{}
	relay := smtptest.Start(t, smtptest.Options{RejectRcpt: gate.rcpt})
	config := fmt.Sprintf(`database: %s
tenants:
  - id: acme
scim:
  rateLimit: {perSecond: -1}
smtp:
  host: %s
  port: %d
  tls: none
  from: {name: Acme Phones, address: phones@acme.example}
mail:
  pollInterval: 100ms
ldap:
  directories:
    - name: corp
      tenant: acme
      preset: openldap
      url: %s
      bindDN: %s
      bindPassword: %s
      baseDN: %s
      schedule: "0 3 1 1 *"
`, dsn, relay.Host(), relay.Port(), dirsrv.URL, dirsrv.SyncDN, dirsrv.SyncPassword, dirsrv.BaseDN)
	a := startGateway(t, "", config)
	b := startGateway(t, "", config)
	token, err := a.cli("token", "create", "--tenant", "acme")
	require.NoError(t, err)
	token = strings.TrimSpace(token)

	ctx := context.Background()
	db, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer db.Close(ctx)
	count := func(sql string, args ...any) int {
		t.Helper()
		var n int
		require.NoError(t, db.QueryRow(ctx, sql, args...).Scan(&n))
		return n
	}
	client := &http.Client{Timeout: 20 * time.Second}
	create := func(g *gateway, name string) int {
		body, _ := json.Marshal(scimUser(name))
		req, _ := http.NewRequest("POST", g.base+"/scim/v2/Users", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/scim+json")
		resp, err := client.Do(req)
		if err != nil {
			return 0
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}

	// Phase 1: SCIM load on both, each name to both at once, while the
	// CLI runs the LDAP sync against both instances' configs.
	var (
		mu       sync.Mutex
		statuses = map[string][]int{}
		wg       sync.WaitGroup
	)
	jobs := make(chan string)
	for c := 0; c < 8; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for name := range jobs {
				var inner sync.WaitGroup
				codes := make([]int, 2)
				for i, g := range []*gateway{a, b} {
					inner.Add(1)
					go func() { defer inner.Done(); codes[i] = create(g, name) }()
				}
				inner.Wait()
				mu.Lock()
				statuses[name] = codes
				mu.Unlock()
			}
		}()
	}
	type syncResult struct {
		out string
		err error
	}
	var rounds [][2]syncResult
	syncDone := make(chan struct{})
	go func() {
		defer close(syncDone)
		// Both at once; a round in which both ran (no overlap after all)
		// is repeated, at most three rounds.
		for round := 0; round < 3; round++ {
			var r [2]syncResult
			var sw sync.WaitGroup
			for i, g := range []*gateway{a, b} {
				sw.Add(1)
				go func() {
					defer sw.Done()
					r[i].out, r[i].err = g.cli("ldap", "sync", "corp", "--full", "--quiet")
				}()
			}
			sw.Wait()
			rounds = append(rounds, r)
			if (r[0].err == nil) != (r[1].err == nil) {
				return
			}
		}
	}()
	for i := 0; i < scimUsers; i++ {
		jobs <- fmt.Sprintf("u%04d@acme.example", i)
	}
	close(jobs)
	wg.Wait()
	<-syncDone

	for name, codes := range statuses {
		got := []int{codes[0], codes[1]}
		assert.ElementsMatch(t, []int{201, 409}, got, "%s created once: one 201 and one 409 (a=%d b=%d)", name, codes[0], codes[1])
	}
	require.Len(t, statuses, scimUsers)

	busy, ran := 0, 0
	for i, r := range rounds {
		for j, res := range r {
			switch {
			case res.err == nil:
				ran++
				if i == 0 {
					assert.Contains(t, res.out, fmt.Sprintf("created %d", ldapUsers))
				}
			case strings.Contains(res.err.Error(), "another run of corp is going on"):
				busy++
			default:
				t.Errorf("ldap sync on instance %d, round %d: %v\n%s", j, i, res.err, res.out)
			}
		}
	}
	assert.Equal(t, 1, busy, "one CLI sync answered busy (rounds: %d)", len(rounds))
	out, err := b.cli("ldap", "history", "--output", "json")
	require.NoError(t, err)
	var runs []pbxusers.SyncRun
	require.NoError(t, json.Unmarshal([]byte(out), &runs), out)
	assert.Len(t, runs, ran, "a busy attempt leaves no run behind")
	for i, r := range runs {
		assert.Equal(t, pbxusers.SyncOK, r.Status, "run %d: %s", r.ID, r.Message)
		require.NotNil(t, r.Finished)
		for _, o := range runs[i+1:] {
			overlap := r.Started.Before(*o.Finished) && o.Started.Before(*r.Finished)
			assert.False(t, overlap, "runs %d and %d overlap", r.ID, o.ID)
		}
	}

	// Every welcome mail goes out, once.
	require.Eventually(t, func() bool {
		return count("SELECT count(*) FROM outbox WHERE status = 'sent'") == scimUsers
	}, 30*time.Second, 100*time.Millisecond, "welcome mails sent; outbox: %d pending", count("SELECT count(*) FROM outbox WHERE status = 'pending'"))

	// Phase 2: shut the relay's gate, create users through A (its worker
	// is woken at once) and wait until A's worker holds claimed messages.
	gate.close()
	t.Cleanup(gate.open)
	var cw sync.WaitGroup
	for c := 0; c < 4; c++ {
		cw.Add(1)
		go func() {
			defer cw.Done()
			for i := c; i < killUsers; i += 4 {
				assert.Equal(t, 201, create(a, fmt.Sprintf("k%04d@acme.example", i)))
			}
		}()
	}
	cw.Wait()
	ownerA := "%/" + strconv.Itoa(a.cmd.Process.Pid) + "/%"
	require.Eventually(t, func() bool {
		return count("SELECT count(*) FROM outbox WHERE status = 'pending' AND claimed_by LIKE $1", ownerA) > 0
	}, 15*time.Second, 50*time.Millisecond, "A's mail worker claims messages")
	require.NoError(t, a.cmd.Process.Kill())
	<-a.exited
	var claimedByA []string
	rows, err := db.Query(ctx, "SELECT recipient FROM outbox WHERE status = 'pending' AND claimed_by LIKE $1", ownerA)
	require.NoError(t, err)
	for rows.Next() {
		var to string
		require.NoError(t, rows.Scan(&to))
		claimedByA = append(claimedByA, to)
	}
	require.NoError(t, rows.Err())
	require.NotEmpty(t, claimedByA)
	t.Logf("killed A holding claims on %d message(s); %d worker send(s) were waiting at the relay", len(claimedByA), gate.waiting.Load())
	gate.open()

	// B keeps serving.
	require.Equal(t, 201, create(b, "after-kill@acme.example"))
	code, body := b.scim("GET", "/Users?filter=userName%20eq%20%22after-kill@acme.example%22", token, nil)
	require.Equal(t, 200, code, "%v", body)
	assert.EqualValues(t, 1, body["totalResults"])

	// B sends everything but what the dead A holds: its lease (2 minutes)
	// keeps B off those messages.
	require.Eventually(t, func() bool {
		return count("SELECT count(*) FROM outbox WHERE status = 'pending' AND claimed_by NOT LIKE $1", ownerA) == 0
	}, 20*time.Second, 100*time.Millisecond)
	time.Sleep(500 * time.Millisecond) // five of B's polls
	assert.Equal(t, len(claimedByA), count("SELECT count(*) FROM outbox WHERE status = 'pending' AND claimed_by LIKE $1", ownerA),
		"a live lease is not taken over")
	received := map[string]int{}
	for _, m := range relay.Messages() {
		received[m.To[0]]++
	}
	for _, to := range claimedByA {
		assert.Zero(t, received[to], "%s is not sent while A's lease lasts", to)
	}

	// The lease ends (moved to now: waiting out serve's 2-minute lease
	// would take the test past its budget); B delivers A's messages.
	_, err = db.Exec(ctx, "UPDATE outbox SET claimed_until = now() - interval '1 second' WHERE claimed_by LIKE $1", ownerA)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		return count("SELECT count(*) FROM outbox WHERE status <> 'sent'") == 0
	}, 20*time.Second, 100*time.Millisecond, "B delivers the dead instance's messages once its lease ended")

	received = map[string]int{}
	for _, m := range relay.Messages() {
		require.Len(t, m.To, 1)
		received[m.To[0]]++
	}
	want := scimUsers + killUsers + 1
	assert.Len(t, received, want, "every user's welcome mail arrived")
	for to, n := range received {
		assert.Equal(t, 1, n, "%s got %d mails", to, n)
	}
	for _, to := range claimedByA {
		assert.Equal(t, 1, received[to], "%s (claimed by the dead instance) delivered once", to)
	}

	// No duplicate users: the SCIM users once each, and the directory's.
	assert.Equal(t, want+ldapUsers, count("SELECT count(*) FROM users"))
	assert.Zero(t, count("SELECT count(*) FROM (SELECT user_name_lc FROM users GROUP BY tenant_id, user_name_lc HAVING count(*) > 1) d"))
	require.NoError(t, b.stop(), "SIGTERM exits 0\n%s", b.stderr)
}
