package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pbxgate/pbxgate/internal/pbxfeed"
	"github.com/pbxgate/pbxgate/pbxusers"
	"github.com/pbxgate/pbxgate/pbxusers/sqlite"
)

// benchUserN is how many users (one device each) the PBX feed benchmarks
// look up among: issue 15's 100,000. Seeding them takes 30–70 s on
// two cores; benchmarks never run in "go test ./...".
const benchUserN = 100_000

// BenchmarkPBXFeed measures what a PBX sees of the real "pbxgate serve"
// (every middleware, the token check, SQLite in WAL mode) over HTTP on
// 127.0.0.1 with one client, with 100,000 users in the tenant:
//
//   - Credentials: GET /pbx/v1/credentials/{domain}/{sipUser}, p50 and
//     p99 in ms (issue 15's target: p99 ≤ 2 ms);
//   - Route: GET /pbx/v1/route for a user with a two-step plan, p50 and
//     p99 in ms (target: p99 ≤ 2 ms);
//   - Changes: /pbx/v1/changes read in pages of 1,000 from the start of
//     the log (two entries per user), one op per entry delivered, and
//     changes/s.
//
// Run it (one to two minutes, half of it seeding) with:
//
//	go test ./cmd/pbxgate/ -run '^$' -bench PBXFeed -benchtime 20000x
func BenchmarkPBXFeed(b *testing.B) {
	data := b.TempDir()
	const domain = "acme.sip.test"
	seedStart := time.Now()
	seedPBXUsers(b, filepath.Join(data, "pbxgate.db"), domain, benchUserN)
	b.Logf("seeded %d users with a device each in %s", benchUserN, time.Since(seedStart).Round(time.Second))
	g := startGateway(b, data, "")
	b.Cleanup(func() { _ = g.stop() })
	out, err := g.cli("token", "create", "--tenant", "default", "--name", "bench", "--scope", "pbx")
	if err != nil {
		b.Fatal(err)
	}
	token := strings.TrimSpace(out)
	client := &http.Client{}
	get := func(b *testing.B, url string) []byte {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			b.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("GET %s: %d %s", url, resp.StatusCode, body)
		}
		return body
	}
	latency := func(b *testing.B, path func(i int) string) {
		lat := make([]time.Duration, 0, b.N)
		for i := 0; b.Loop(); i++ {
			url := g.base + path(i*7919%benchUserN)
			start := time.Now()
			get(b, url)
			lat = append(lat, time.Since(start))
		}
		slices.Sort(lat)
		ms := func(q int) float64 { return float64(lat[len(lat)*q/100].Microseconds()) / 1000 }
		b.ReportMetric(ms(50), "p50-ms")
		b.ReportMetric(ms(99), "p99-ms")
	}

	b.Run("Credentials", func(b *testing.B) {
		latency(b, func(i int) string { return fmt.Sprintf("/pbx/v1/credentials/%s/dev%06d", domain, i) })
	})
	b.Run("Route", func(b *testing.B) {
		latency(b, func(i int) string {
			return fmt.Sprintf("/pbx/v1/route?domain=%s&to=%07d&from=%%2B4930999", domain, 1000000+i)
		})
	})
	b.Run("Changes", func(b *testing.B) {
		after, delivered := int64(0), 0
		start := time.Now()
		for delivered < b.N {
			var page pbxfeed.Changes
			if err := json.Unmarshal(get(b, fmt.Sprintf("%s/pbx/v1/changes?after=%d&limit=%d", g.base, after, pbxusers.MaxPageSize)), &page); err != nil {
				b.Fatal(err)
			}
			delivered += len(page.Changes)
			after = page.Next
			if !page.More {
				after = 0 // read the log again from the start
			}
		}
		b.ReportMetric(float64(delivered)/time.Since(start).Seconds(), "changes/s")
	})
}

// seedPBXUsers creates the database at path with tenant "default" on the
// SIP domain and n users, each with extension 1000000+i, a device
// dev%06d and backup routing, through the library in transactions of
// 2,000 users (a change log entry each for the user and the device).
func seedPBXUsers(b *testing.B, path, domain string, n int) {
	b.Helper()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	d := pbxusers.New(s, pbxusers.Options{})
	if _, err := d.CreateTenant(ctx, pbxusers.Tenant{ID: "default", SIPDomain: domain, DisableWelcomeMail: true}); err != nil {
		b.Fatal(err)
	}
	const perTx = 2000
	routing := pbxusers.BackupRouting("+4930555000", 20*time.Second, 30*time.Second)
	for start := 0; start < n; start += perTx {
		err := d.Batch(ctx, "default", func(bt *pbxusers.Batch) error {
			for i := start; i < min(start+perTx, n); i++ {
				u, err := bt.CreateUser(pbxusers.User{UserName: fmt.Sprintf("user%06d", i), Extension: fmt.Sprintf("%07d", 1000000+i), Routing: routing})
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
}
