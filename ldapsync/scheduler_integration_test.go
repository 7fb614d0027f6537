package ldapsync

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pbxgate/pbxgate/ldapsync/ldaptest"
	"github.com/pbxgate/pbxgate/pbxusers"
	"github.com/pbxgate/pbxgate/pbxusers/sqlite"
)

// schedulerFixture is a slapd with n users and an empty store.
func schedulerFixture(t *testing.T, n int) (*pbxusers.Directory, Config) {
	t.Helper()
	s := ldaptest.Start(t, ldaptest.Options{UnlimitedSync: true, Bulk: func(w io.Writer, base string) error {
		for i := range n {
			if _, err := fmt.Fprintf(w, "dn: uid=u%05d,ou=people,%s\nobjectClass: inetOrgPerson\nuid: u%05d\ncn: U\nsn: U\n\n", i, base, i); err != nil {
				return err
			}
		}
		return nil
	}})
	cfg := PresetOpenLDAP()
	cfg.Name, cfg.Tenant = "corp", "acme"
	cfg.URL, cfg.BindDN, cfg.BindPassword, cfg.BaseDN = s.URL, s.SyncDN, Secret(s.SyncPassword), s.BaseDN
	cfg.Schedule = "*/5 * * * *"
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "pbx.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	dir := pbxusers.New(store, pbxusers.Options{PasswordCost: 4})
	if _, err := dir.CreateTenant(ctx, pbxusers.Tenant{ID: "acme", DisableWelcomeMail: true}); err != nil {
		t.Fatal(err)
	}
	return dir, cfg
}

func TestIntegrationSchedulerRunsAndStops(t *testing.T) {
	dir, cfg := schedulerFixture(t, 10)
	now := time.Date(2026, 11, 23, 10, 2, 30, 0, time.UTC)
	s, err := NewScheduler(dir, []Config{cfg}, Options{Now: func() time.Time { return now },
		Logger: slog.New(slog.NewTextHandler(t.Output(), nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var waits []time.Duration
	s.sleep = func(ctx context.Context, d time.Duration) bool {
		waits = append(waits, d)
		if len(waits) == 3 {
			cancel()
			return false
		}
		now = now.Add(d)
		return true
	}
	if err := s.Run(ctx); err != nil {
		t.Fatal(err)
	}
	// 10:02:30 → 10:05, then 10:10.
	if len(waits) != 3 || waits[0] != 150*time.Second || waits[1] != 5*time.Minute {
		t.Errorf("waits %v", waits)
	}
	runs, err := s.Syncer("corp").History(context.Background(), 10)
	if err != nil || len(runs) != 2 || runs[0].Status != pbxusers.SyncOK || runs[1].Created != 10 {
		t.Fatalf("history %+v, %v", runs, err)
	}

	// The gateway was down past a scheduled time: the run is made up at
	// start.
	now = now.Add(time.Hour)
	if got := s.first(context.Background(), s.syncers[0], s.schedules[0]); !got.Equal(now) {
		t.Errorf("first run at %s, want now (%s)", got, now)
	}
	if s.Syncer("nope") != nil || len(s.Syncers()) != 1 {
		t.Error("Syncer lookup")
	}
}

func TestIntegrationSchedulerSkipsWhileBusy(t *testing.T) {
	dir, cfg := schedulerFixture(t, 5)
	s, err := NewScheduler(dir, []Config{cfg}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The CLI holds the directory.
	ok, err := dir.AcquireLease(context.Background(), s.Syncer("corp").LeaseName(), "cli", time.Minute)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	s.sleep = func(ctx context.Context, d time.Duration) bool {
		if calls++; calls == 2 {
			cancel()
			return false
		}
		return true
	}
	if err := s.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if runs, _ := s.Syncer("corp").History(context.Background(), 10); len(runs) != 0 {
		t.Errorf("a run went ahead while the lease was held: %+v", runs)
	}
}

func TestIntegrationSchedulerGracefulStop(t *testing.T) {
	const n = 3000
	dir, cfg := schedulerFixture(t, n)
	cfg.PageSize = 100
	ctx, cancel := context.WithCancel(context.Background())
	s, err := NewScheduler(dir, []Config{cfg}, Options{BatchN: 100})
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	s.sleep = func(ctx context.Context, d time.Duration) bool { return ctx.Err() == nil }
	// Stop while the first run writes: the Progress hook is not reachable
	// from the scheduler, so watch the store.
	go func() {
		for ctx.Err() == nil {
			page, err := dir.ListUsers(context.Background(), "acme", pbxusers.UserQuery{Limit: -1})
			if err == nil && page.Total >= 500 {
				once.Do(cancel)
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	runs, err := s.Syncer("corp").History(context.Background(), 10)
	if err != nil || len(runs) != 1 {
		t.Fatalf("history %+v %v", runs, err)
	}
	r := runs[0]
	page, _ := dir.ListUsers(context.Background(), "acme", pbxusers.UserQuery{Limit: -1})
	if r.Status != pbxusers.SyncFailed || !strings.Contains(r.Message, "stopped before the end") || r.Created%100 != 0 ||
		page.Total != r.Created || r.Created >= n {
		t.Errorf("stopped run %+v; %d users stored", r, page.Total)
	}
	// The lease was released at once: a new run starts and finishes the job.
	res, err := s.Syncer("corp").Run(context.Background(), RunOptions{})
	if err != nil || res.Plan.Counts.Created != n-r.Created {
		t.Errorf("next run: %v %+v", err, res.Plan.Counts)
	}
}
