package pbxusers_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// BenchmarkImportCSV imports a file of new users (100,000 rows unless
// PBXGATE_BENCH_CSV_ROWS says otherwise) into an empty tenant of a SQLite
// file: one transaction, every row validated, change-logged and given a
// welcome mail. Metrics: rows/s and peak-RSS-MB (VmHWM of the process,
// reset before the import).
//
//	go test ./pbxusers/ -run '^$' -bench ImportCSV -benchtime 1x
func BenchmarkImportCSV(b *testing.B) {
	n := 100_000
	if v := os.Getenv("PBXGATE_BENCH_CSV_ROWS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("PBXGATE_BENCH_CSV_ROWS=%q is not a positive number", v)
		}
	}
	var file bytes.Buffer
	file.WriteString("userName,givenName,familyName,displayName,email,extension,workPhone,title,department,language\n")
	for i := range n {
		fmt.Fprintf(&file, "user%06d@acme.example,Given,Family%06d,User %06d,user%06d@acme.example,%07d,+49 30 %07d,Agent,Dept %02d,de-DE\n",
			i, i, i, i, 1000000+i, 2000000+i, i%20)
	}
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		d := mustDir(b)
		_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
		b.StartTimer()
		res, err := d.ImportCSV(ctx, "acme", bytes.NewReader(file.Bytes()), pbxusers.ImportOptions{MaxRows: n})
		if err != nil {
			b.Fatal(err)
		}
		if res.Created != n || res.MailQueued != n {
			b.Fatalf("created %d, queued %d mails of %d rows", res.Created, res.MailQueued, n)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(peakRSS())/(1<<20), "peak-RSS-MB")
}

// BenchmarkCreateUsers creates users 500 per CreateUsers call, as the LDAP
// sync's first run does (BenchmarkBatchCreate is the same row by row).
func BenchmarkCreateUsers(b *testing.B) {
	d := mustDir(b)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i += 500 {
		users := make([]pbxusers.User, 0, 500)
		for j := i; j < i+500 && j < b.N; j++ {
			users = append(users, benchUser(j))
		}
		err := d.Batch(ctx, "acme", func(bt *pbxusers.Batch) error {
			_, errs, err := bt.CreateUsers(users, nil)
			for _, e := range errs {
				if e != nil {
					return e
				}
			}
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// peakRSS returns VmHWM in bytes, 0 if unknown.
func peakRSS() uint64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
