package ldapsync_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/pbxgate/pbxgate/ldapsync"
	"github.com/pbxgate/pbxgate/ldapsync/ldaptest"
	"github.com/pbxgate/pbxgate/pbxusers"
)

// BenchmarkIntegrationReadUsers100k slapadds 100,000 users in 10 groups
// (PBXGATE_BENCH_LDAP_USERS overrides the count) and times full reads:
//
//	PBXGATE_BENCH_LDAP=1 go test -run '^$' -bench IntegrationReadUsers100k -benchtime 3x ./ldapsync/
//
// Sub-benchmarks: ReadUsers with page sizes 500 and 1000 (streamed), and
// without the group read;
// go-ldap's SearchWithPaging, which buffers every entry, for the memory
// comparison; and ldapsearch -E pr=1000/noprompt, the C client, as the
// floor. Metrics: users/s and peak-heap-MB (the highest runtime HeapAlloc
// sampled every 500 users, garbage included, at the default GOGC) and
// live-heap-MB (HeapAlloc after a forced GC half way through a read).
func BenchmarkIntegrationReadUsers100k(b *testing.B) {
	if os.Getenv("PBXGATE_BENCH_LDAP") != "1" {
		b.Skip("set PBXGATE_BENCH_LDAP=1 to run (it slapadds 100,000 users)")
	}
	n := 100_000
	if v := os.Getenv("PBXGATE_BENCH_LDAP_USERS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("PBXGATE_BENCH_LDAP_USERS=%q is not a positive number", v)
		}
	}
	start := time.Now()
	s := ldaptest.Start(b, ldaptest.Options{UnlimitedSync: true, Bulk: bulkUsers(n)})
	b.Logf("slapadd and start of %d users and 11 groups: %s", n, time.Since(start).Round(time.Millisecond))

	for _, bc := range []struct {
		name     string
		pageSize int
		groups   bool
	}{
		{"pageSize=500", 500, true},
		{"pageSize=1000", 1000, true},
		{"pageSize=500/noGroups", 500, false},
	} {
		b.Run("ReadUsers/"+bc.name, func(b *testing.B) {
			cfg := newConfig(s)
			cfg.PageSize = bc.pageSize
			if !bc.groups {
				cfg.GroupFilter = ""
			}
			c := connect(b, cfg)
			peak := newPeakHeap()
			var live uint64
			for b.Loop() {
				count := 0
				res, err := c.ReadUsers(context.Background(), ldapsync.Full(), func(e ldapsync.Entry) error {
					if count++; count%500 == 0 {
						peak.sample()
					}
					if count == n/2 { // what the read keeps alive half way: group graph, one page
						b.StopTimer()
						live = liveHeap()
						b.StartTimer()
					}
					return nil
				})
				if err != nil || res.Entries != n {
					b.Fatalf("read %d of %d users: %v", res.Entries, n, err)
				}
			}
			report(b, n, peak)
			b.ReportMetric(float64(live)/(1<<20), "live-heap-MB")
		})
	}

	b.Run("SearchWithPaging/pageSize=1000", func(b *testing.B) {
		conn := s.Conn(b)
		if err := conn.Bind(s.SyncDN, s.SyncPassword); err != nil {
			b.Fatal(err)
		}
		peak := newPeakHeap()
		for b.Loop() {
			req := ldap.NewSearchRequest(s.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
				"(objectClass=inetOrgPerson)", searchAttrs(), nil)
			res, err := conn.SearchWithPaging(req, 1000)
			peak.sample()
			if err != nil || len(res.Entries) != n {
				b.Fatalf("read %d of %d users: %v", len(res.Entries), n, err)
			}
		}
		report(b, n, peak)
	})

	b.Run("ldapsearch/pr=1000", func(b *testing.B) {
		bin, err := exec.LookPath("ldapsearch")
		if err != nil {
			b.Skip("ldapsearch not installed (apt-get install -y ldap-utils)")
		}
		args := append([]string{"-x", "-LLL", "-H", s.URL, "-D", s.SyncDN, "-w", s.SyncPassword, "-b", s.BaseDN,
			"-E", "pr=1000/noprompt", "(objectClass=inetOrgPerson)"}, searchAttrs()...)
		for b.Loop() {
			var stderr bytes.Buffer
			cmd := exec.Command(bin, args...)
			cmd.Stdout, cmd.Stderr = io.Discard, &stderr
			if err := cmd.Run(); err != nil {
				b.Fatalf("ldapsearch: %v\n%s", err, stderr.Bytes())
			}
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "users/s")
	})
}

// searchAttrs are the attributes ReadUsers asks for with the OpenLDAP preset.
func searchAttrs() []string {
	return []string{"entryUUID", "uid", "givenName", "sn", "displayName", "mail", "AstExtension", "telephoneNumber",
		"mobile", "title", "departmentNumber", "l", "preferredLanguage", "manager", "modifyTimestamp"}
}

// liveHeap returns HeapAlloc right after a collection: the memory in use.
func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// peakHeap tracks the highest HeapAlloc seen.
type peakHeap struct{ max uint64 }

func newPeakHeap() *peakHeap {
	runtime.GC()
	p := &peakHeap{}
	p.sample()
	return p
}

func (p *peakHeap) sample() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	p.max = max(p.max, ms.HeapAlloc)
}

func report(b *testing.B, n int, peak *peakHeap) {
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "users/s")
	b.ReportMetric(float64(peak.max)/(1<<20), "peak-heap-MB")
}

// BenchmarkIntegrationSync100k slapadds 100,000 users in 10 groups
// (PBXGATE_BENCH_LDAP_USERS overrides the count) and measures the sync
// into SQLite:
//
//	PBXGATE_BENCH_LDAP=1 go test -run '^$' -bench IntegrationSync100k -benchtime 1x ./ldapsync/
//
// Sub-benchmarks, in order: full (into an empty store, every iteration a
// new one: 100,000 creates, welcome mails queued, "everyone" mapped to a
// profile and dept03 to a team), full-nochange (a full read of an unchanged
// directory), incremental-nochange, full-remapped (a full read after
// groupMappings changed: every user looked at again, a tenth updated), and
// ldapsearch -E pr=1000/noprompt of the same entries for comparison. Metrics: users/s, cpu-s (this process's
// user+system CPU time for the run), peak-RSS-MB (VmHWM of
// this process, reset before each iteration through /proc/self/clear_refs)
// and peak-heap-MB (live and garbage heap objects, sampled every 10 ms).
func BenchmarkIntegrationSync100k(b *testing.B) {
	if os.Getenv("PBXGATE_BENCH_LDAP") != "1" {
		b.Skip("set PBXGATE_BENCH_LDAP=1 to run (it slapadds 100,000 users)")
	}
	n := 100_000
	if v := os.Getenv("PBXGATE_BENCH_LDAP_USERS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("PBXGATE_BENCH_LDAP_USERS=%q is not a positive number", v)
		}
	}
	start := time.Now()
	s := ldaptest.Start(b, ldaptest.Options{UnlimitedSync: true, Bulk: bulkUsers(n)})
	b.Logf("slapadd and start of %d users and 11 groups: %s", n, time.Since(start).Round(time.Millisecond))
	// An incremental cursor is the newest modifyTimestamp minus the
	// duration of the read that saw it. Change one entry well after the
	// bulk load (longer than a full read takes), so that after a full run
	// the cursor lies between the two and an incremental read returns only
	// that entry, as in a directory whose entries changed over time.
	time.Sleep(20 * time.Second)
	marker := ldap.NewModifyRequest("uid=user000000,"+s.PeopleDN, nil)
	marker.Replace("title", []string{"marker"})
	if err := s.Conn(b).Modify(marker); err != nil {
		b.Fatal(err)
	}

	cfg := newConfig(s)
	cfg.FullEvery = time.Hour
	cfg.GroupMappings = []ldapsync.GroupMapping{
		{Group: "everyone", Profiles: []string{"agent"}},
		{Group: "dept03", Teams: []string{"Dept 3"}},
	}
	parent := b // stores live until the end: later sub-benchmarks use the last one
	newDir := func() *pbxusers.Directory {
		dir := newDirectory(parent)
		ctx := context.Background()
		if _, err := dir.CreateProfile(ctx, tenantID, pbxusers.Profile{Name: "agent"}); err != nil {
			b.Fatal(err)
		}
		if _, err := dir.CreateTeam(ctx, tenantID, pbxusers.Team{Name: "Dept 3"}, nil); err != nil {
			b.Fatal(err)
		}
		return dir
	}
	var dir *pbxusers.Directory
	run := func(b *testing.B, opts ldapsync.RunOptions, check func(ldapsync.Counts) bool) {
		b.Helper()
		sy := ldapsync.New(dir, cfg, ldapsync.Options{})
		peak := startPeakSampler()
		cpu0 := cpuTime()
		res, err := sy.Run(context.Background(), opts)
		b.ReportMetric((cpuTime() - cpu0).Seconds(), "cpu-s")
		peak.stop()
		if err != nil || !check(res.Plan.Counts) {
			b.Fatalf("run: %v, %s %+v", err, res.Run.Mode, res.Plan)
		}
		peak.report(b)
	}

	b.Run("full", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			dir = newDir()
			resetPeakRSS()
			b.StartTimer()
			run(b, ldapsync.RunOptions{}, func(c ldapsync.Counts) bool { return c.Created == n })
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "users/s")
	})
	b.Run("full-nochange", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			resetPeakRSS()
			b.StartTimer()
			run(b, ldapsync.RunOptions{Full: true}, func(c ldapsync.Counts) bool { return c.Unchanged == n && c.Read == n })
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "users/s")
	})
	b.Run("incremental-nochange", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			resetPeakRSS()
			b.StartTimer()
			run(b, ldapsync.RunOptions{}, func(c ldapsync.Counts) bool { return c.Read < 100 && c.Created+c.Updated == 0 })
		}
	})
	// groupMappings changed (dept03 now also gives the agent profile, every
	// iteration another team): every user is looked at again, dept03's
	// members are updated (issue 11).
	b.Run("full-remapped", func(b *testing.B) {
		teams := []string{"Dept 3", "Dept 3b"}
		if _, err := dir.CreateTeam(context.Background(), tenantID, pbxusers.Team{Name: "Dept 3b"}, nil); err != nil {
			b.Fatal(err)
		}
		for i := 0; b.Loop(); i++ {
			b.StopTimer()
			cfg.GroupMappings = []ldapsync.GroupMapping{
				{Group: "everyone", Profiles: []string{"agent"}},
				{Group: "dept03", Teams: []string{teams[(i+1)%2]}},
			}
			resetPeakRSS()
			b.StartTimer()
			run(b, ldapsync.RunOptions{Full: true}, func(c ldapsync.Counts) bool {
				return c.Remapped == n && c.Updated == n/10 && c.Unchanged == n-n/10
			})
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "users/s")
	})
	b.Run("ldapsearch/pr=1000", func(b *testing.B) {
		bin, err := exec.LookPath("ldapsearch")
		if err != nil {
			b.Skip("ldapsearch not installed (apt-get install -y ldap-utils)")
		}
		args := append([]string{"-x", "-LLL", "-H", s.URL, "-D", s.SyncDN, "-w", s.SyncPassword, "-b", s.BaseDN,
			"-E", "pr=1000/noprompt", "(objectClass=inetOrgPerson)"}, searchAttrs()...)
		for b.Loop() {
			var stderr bytes.Buffer
			cmd := exec.Command(bin, args...)
			cmd.Stdout, cmd.Stderr = io.Discard, &stderr
			if err := cmd.Run(); err != nil {
				b.Fatalf("ldapsearch: %v\n%s", err, stderr.Bytes())
			}
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "users/s")
	})
}

// cpuTime is the user and system CPU time this process used so far
// (slapd's is not included).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// resetPeakRSS resets the kernel's peak RSS (VmHWM) of this process.
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSS returns VmHWM in bytes, 0 if unknown.
func peakRSS() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// peakSampler samples the heap every 10 ms while a run goes on.
type peakSampler struct {
	stopc chan struct{}
	done  chan struct{}
	heap  uint64
}

func startPeakSampler() *peakSampler {
	p := &peakSampler{stopc: make(chan struct{}), done: make(chan struct{})}
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	go func() {
		defer close(p.done)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(sample)
			p.heap = max(p.heap, sample[0].Value.Uint64())
			select {
			case <-p.stopc:
				return
			case <-t.C:
			}
		}
	}()
	return p
}

func (p *peakSampler) stop() { close(p.stopc); <-p.done }

func (p *peakSampler) report(b *testing.B) {
	b.ReportMetric(float64(p.heap)/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(peakRSS())/(1<<20), "peak-RSS-MB")
}
