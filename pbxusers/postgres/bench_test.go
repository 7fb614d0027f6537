package postgres_test

import (
	"context"
	"fmt"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pbxgate/pbxgate/pbxusers"
	"github.com/pbxgate/pbxgate/pbxusers/postgres"
	"github.com/pbxgate/pbxgate/pbxusers/postgres/pgtest"
)

// Benchmarks of the library over the PostgreSQL store, mirroring
// pbxusers/bench_test.go. They run against a throwaway server with fsync on
// (pgtest.Config{Durable: true}), or the one PBXGATE_POSTGRES_DSN names.
// The 100k-user ones are opt-in, since building the database takes about
// three minutes:
//
//	PBXGATE_BENCH_POSTGRES=1 go test ./pbxusers/postgres/ -run '^$' -bench . -benchtime 2s
//
// Each reports its 99th percentile latency as p99-ms next to the mean.

// EnvBench opts in to the 100k-user benchmarks.
const EnvBench = "PBXGATE_BENCH_POSTGRES"

const bigN = 100_000

// bench holds the durable server and the 100k-user database the benchmarks
// share; TestMain stops the server.
var bench struct {
	srvOnce sync.Once
	srv     *pgtest.Server
	srvErr  error

	bigOnce sync.Once
	big     *pbxusers.Directory
	bigErr  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bench.srv != nil {
		bench.srv.Stop()
	}
	os.Exit(code)
}

// benchServer returns the shared durable server, skipping when there is
// none.
func benchServer(b *testing.B) *pgtest.Server {
	bench.srvOnce.Do(func() { bench.srv, bench.srvErr = pgtest.Launch(pgtest.Config{Durable: true}) })
	if bench.srvErr != nil {
		b.Skip(bench.srvErr)
	}
	return bench.srv
}

// benchDir opens a Directory on a fresh database of the shared server with
// the tenant "acme", and returns the database's connection string.
func benchDir(ctx context.Context, srv *pgtest.Server) (*pbxusers.Directory, string, func(), error) {
	dsn, drop, err := srv.CreateDatabase(ctx)
	if err != nil {
		return nil, "", nil, err
	}
	s, err := postgres.Open(ctx, dsn, postgres.Options{})
	if err != nil {
		drop()
		return nil, "", nil, err
	}
	d := pbxusers.New(s, pbxusers.Options{})
	if _, err := d.CreateTenant(ctx, pbxusers.Tenant{ID: "acme", DisableWelcomeMail: true}); err != nil {
		s.Close()
		drop()
		return nil, "", nil, err
	}
	return d, dsn, func() { s.Close(); drop() }, nil
}

// bigDir returns a Directory whose tenant "acme" holds 100,000 people. The
// database is built once per run and left to the server's cleanup.
func bigDir(b *testing.B) *pbxusers.Directory {
	if os.Getenv(EnvBench) == "" {
		b.Skipf("set %s=1 to run the 100k-user benchmarks", EnvBench)
	}
	srv := benchServer(b)
	bench.bigOnce.Do(func() {
		ctx := context.Background()
		start := time.Now()
		d, dsn, _, err := benchDir(ctx, srv)
		if err != nil {
			bench.bigErr = err
			return
		}
		const perTx = 1000
		for start := 0; start < bigN && err == nil; start += perTx {
			err = d.Batch(ctx, "acme", func(bt *pbxusers.Batch) error {
				for i := start; i < start+perTx; i++ {
					if _, err := bt.CreateUser(benchUser(i)); err != nil {
						return err
					}
				}
				return nil
			})
		}
		if err == nil {
			// The steady state autovacuum reaches shortly after a bulk
			// load: statistics, and a visibility map for index-only scans.
			err = vacuum(ctx, dsn)
		}
		bench.big, bench.bigErr = d, err
		b.Logf("built %d users in %s", bigN, time.Since(start).Round(time.Second))
	})
	if bench.bigErr != nil {
		b.Fatal(bench.bigErr)
	}
	return bench.big
}

func vacuum(ctx context.Context, dsn string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "VACUUM (ANALYZE)")
	return err
}

func benchUser(i int) pbxusers.User {
	name := fmt.Sprintf("user%06d", i)
	return pbxusers.User{
		UserName:    name + "@acme.example",
		Name:        pbxusers.Name{Given: "Given", Family: fmt.Sprintf("Family%06d", i)},
		DisplayName: fmt.Sprintf("User %06d", i),
		Emails:      []pbxusers.Email{{Value: name + "@acme.example", Type: "work", Primary: true}},
		Extension:   fmt.Sprintf("%07d", 1000000+i),
		Features:    pbxusers.Features{MobileApp: true, Voicemail: true},
	}
}

// latencies collects per-operation durations and reports their 99th
// percentile.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

func (l *latencies) report(b *testing.B) {
	b.StopTimer()
	if len(l.d) == 0 {
		return
	}
	sort.Slice(l.d, func(i, j int) bool { return l.d[i] < l.d[j] })
	p99 := l.d[min(len(l.d)-1, len(l.d)*99/100)]
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
}

// BenchmarkIntegrationCreateUser creates users one call at a time from
// parallel goroutines (the group commit's case), each a full validated
// create with its change log entry, on a durable server.
func BenchmarkIntegrationCreateUser(b *testing.B) {
	srv := benchServer(b)
	ctx := context.Background()
	d, _, done, err := benchDir(ctx, srv)
	if err != nil {
		b.Fatal(err)
	}
	defer done()
	var mu sync.Mutex
	n := 0
	var lat latencies
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			mu.Lock()
			i := n
			n++
			mu.Unlock()
			start := time.Now()
			if _, err := d.CreateUser(ctx, "acme", benchUser(i)); err != nil {
				b.Error(err)
				return
			}
			lat.add(time.Since(start))
		}
	})
	lat.report(b)
}

// BenchmarkIntegrationGetByUserName100k looks a user up by userName among
// 100,000.
func BenchmarkIntegrationGetByUserName100k(b *testing.B) {
	d := bigDir(b)
	ctx := context.Background()
	var lat latencies
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		name := fmt.Sprintf("USER%06d@acme.example", (i*7919)%bigN)
		start := time.Now()
		if _, err := d.LookupUser(ctx, "acme", pbxusers.KeyUserName, name); err != nil {
			b.Fatal(err)
		}
		lat.add(time.Since(start))
	}
	lat.report(b)
}

// BenchmarkIntegrationListPage100k lists a page of 100 users (with the
// total) at random offsets among 100,000, in id order.
func BenchmarkIntegrationListPage100k(b *testing.B) {
	d := bigDir(b)
	ctx := context.Background()
	var lat latencies
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		off := (i * 7919) % (bigN - 100)
		start := time.Now()
		page, err := d.ListUsers(ctx, "acme", pbxusers.UserQuery{Offset: off, Limit: 100})
		if err != nil || len(page.Users) != 100 {
			b.Fatal(err, len(page.Users))
		}
		lat.add(time.Since(start))
	}
	lat.report(b)
}

// BenchmarkIntegrationFilterUserName100k runs the SCIM create check filter
// userName eq "…" as a listing among 100,000.
func BenchmarkIntegrationFilterUserName100k(b *testing.B) {
	d := bigDir(b)
	ctx := context.Background()
	var lat latencies
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		name := fmt.Sprintf("user%06d@acme.example", (i*7919)%bigN)
		start := time.Now()
		page, err := d.ListUsers(ctx, "acme", pbxusers.UserQuery{Filter: pbxusers.Eq(pbxusers.AttrUserName, name)})
		if err != nil || page.Total != 1 {
			b.Fatal(err, page.Total)
		}
		lat.add(time.Since(start))
	}
	lat.report(b)
}
