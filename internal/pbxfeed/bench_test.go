package pbxfeed_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/pbxgate/pbxgate/internal/pbxfeed"
	"github.com/pbxgate/pbxgate/pbxusers"
	"github.com/pbxgate/pbxgate/pbxusers/sqlite"
)

// Benchmarks of the feed over real HTTP on 127.0.0.1 and the real SQLite
// store, one client, reporting p99 per request. The database holds 10,000
// users with one device each, or 100,000 with PBXGATE_BENCH_FEED=1 (about
// a minute to build):
//
//	PBXGATE_BENCH_FEED=1 go test ./internal/pbxfeed/ -run '^$' -bench . -benchtime 5000x

// benchFeed builds the database and serves the feed; it returns the server
// URL, a token and the number of users.
func benchFeed(b *testing.B) (string, string, int) {
	b.Helper()
	n := 10_000
	if os.Getenv("PBXGATE_BENCH_FEED") == "1" {
		n = 100_000
	}
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "pbx.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	d := pbxusers.New(s, pbxusers.Options{})
	if _, err := d.CreateTenant(ctx, pbxusers.Tenant{ID: "acme", SIPDomain: "acme.sip.test", DisableWelcomeMail: true}); err != nil {
		b.Fatal(err)
	}
	const perTx = 1000
	for start := 0; start < n; start += perTx {
		err := d.Batch(ctx, "acme", func(bt *pbxusers.Batch) error {
			for i := start; i < start+perTx; i++ {
				u, err := bt.CreateUser(pbxusers.User{UserName: fmt.Sprintf("user%06d", i), Extension: fmt.Sprintf("%07d", 1000000+i),
					Routing: pbxusers.BackupRouting("+4930555000", 20*time.Second, 30*time.Second)})
				if err != nil {
					return err
				}
				if _, err := bt.AddDevice(pbxusers.Device{UserID: u.ID, SIPID: fmt.Sprintf("dev%06d", i)}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	token, _, err := d.CreateToken(ctx, "acme", "bench")
	if err != nil {
		b.Fatal(err)
	}
	h, err := pbxfeed.New(pbxfeed.Config{Directory: d, Authorize: tokenAuthorize(d)})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(h)
	b.Cleanup(srv.Close)
	return srv.URL, token, n
}

// benchGet requests path(i) b.N times from one client and reports p99.
func benchGet(b *testing.B, path func(i int) string) {
	base, token, n := benchFeed(b)
	client := &http.Client{}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req, _ := http.NewRequest(http.MethodGet, base+path(i*7919%n), nil)
		req.Header.Set("Authorization", "Bearer "+token)
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		lat = append(lat, time.Since(start))
		if resp.StatusCode != 200 {
			b.Fatalf("GET %s: %d", path(i), resp.StatusCode)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(n), "users")
}

// BenchmarkCredentials looks up one device's credentials per request.
func BenchmarkCredentials(b *testing.B) {
	benchGet(b, func(i int) string { return fmt.Sprintf("/pbx/v1/credentials/acme.sip.test/dev%06d", i) })
}

// BenchmarkRoute asks for the plan of a call to one extension per request.
func BenchmarkRoute(b *testing.B) {
	benchGet(b, func(i int) string {
		return fmt.Sprintf("/pbx/v1/route?domain=acme.sip.test&to=%07d&from=%%2B4930999", 1000000+i)
	})
}

// BenchmarkChangesFeed reads the whole change log of the benchmark
// database (two entries per user: the user and its device) through
// /pbx/v1/changes in pages of 1,000, as a PBX catching up would, and
// reports the entries delivered per second.
func BenchmarkChangesFeed(b *testing.B) {
	base, token, n := benchFeed(b)
	client := &http.Client{}
	total := 0
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		after := int64(0)
		for {
			req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/pbx/v1/changes?after=%d&limit=1000", base, after), nil)
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			var page pbxfeed.Changes
			err = json.NewDecoder(resp.Body).Decode(&page)
			resp.Body.Close()
			if err != nil {
				b.Fatal(err)
			}
			total += len(page.Changes)
			after = page.Next
			if !page.More {
				break
			}
		}
	}
	b.StopTimer()
	if total < 2*n*b.N {
		b.Fatalf("read %d entries, want at least %d", total, 2*n*b.N)
	}
	b.ReportMetric(float64(total)/time.Since(start).Seconds(), "changes/s")
}
