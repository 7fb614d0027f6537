package scim_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/pbxusers"
	"github.com/pbxgate/pbxgate/pbxusers/sqlite"
	"github.com/pbxgate/pbxgate/scim"
	"github.com/pbxgate/pbxgate/scim/scimtest"
)

// Benchmarks run against one SQLite database holding benchUsers() people
// of tenant scimtest.DefaultTenant and a group with benchGroupN of them as
// members. The database is built once per process, by the first benchmark
// that needs it, so plain `go test` (no -bench) never builds it:
//
//	go test ./scim -run '^$' -bench . -benchtime 2s
//
// PBXGATE_SCIM_BENCH_USERS sets the number of users (default 100000;
// -short uses 2000, with a group of 1000).

const benchGroupN = 10000

// groupN is the size of the big group: benchGroupN, or half the users
// when there are fewer.
func groupN() int { return min(benchGroupN, benchUsers()/2) }

var (
	benchOnce  sync.Once
	benchDir   string
	benchPath  string
	benchIDs   []string
	benchGroup string
	benchErr   error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

func benchUsers() int {
	if v := os.Getenv("PBXGATE_SCIM_BENCH_USERS"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n >= 100 {
			return n
		}
	}
	if testing.Short() {
		return 2000
	}
	return 100000
}

// benchServer returns the endpoint over the shared database.
func benchServer(b *testing.B) *scimtest.Server {
	b.Helper()
	benchOnce.Do(func() { benchErr = buildBenchDB() })
	require.NoError(b, benchErr)
	return scimtest.MustStartAt(b, benchPath, scim.Options{})
}

func buildBenchDB() error {
	ctx := context.Background()
	var err error
	if benchDir, err = os.MkdirTemp("", "scim-bench-"); err != nil {
		return err
	}
	benchPath = filepath.Join(benchDir, "pbx.db")
	store, err := sqlite.Open(ctx, benchPath)
	if err != nil {
		return err
	}
	defer store.Close()
	dir := pbxusers.New(store, pbxusers.Options{PasswordCost: 4})
	if _, err := dir.CreateTenant(ctx, pbxusers.Tenant{ID: scimtest.DefaultTenant, Region: "DE"}); err != nil {
		return err
	}
	n := benchUsers()
	benchIDs = make([]string, n)
	// Many writers at once: the SQLite store commits them together.
	const workers = 64
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += workers {
				u, err := dir.CreateUser(ctx, scimtest.DefaultTenant, pbxusers.User{
					UserName:    fmt.Sprintf("user%06d@example.com", i),
					Name:        pbxusers.Name{Given: fmt.Sprintf("Given%d", i), Family: fmt.Sprintf("Family%d", i%997)},
					DisplayName: fmt.Sprintf("User %d", i),
					Emails:      []pbxusers.Email{{Value: fmt.Sprintf("user%06d@example.com", i), Type: "work", Primary: true}},
					Extension:   strconv.Itoa(100000 + i),
				})
				if err != nil {
					errs <- err
					return
				}
				benchIDs[i] = u.ID
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	// The group is the IdP's (owned by scim), as one it pushed.
	scimCtx := pbxusers.WithActor(ctx, pbxusers.Actor{Source: pbxusers.SourceSCIM, Name: "idp"})
	tm, err := dir.CreateTeam(scimCtx, scimtest.DefaultTenant, pbxusers.Team{Name: "Big"}, benchIDs[:groupN()])
	benchGroup = tm.ID
	return err
}

func BenchmarkCreateUser(b *testing.B) {
	s := benchServer(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := s.Serve(scimtest.Request{Method: "POST", Path: "/Users", Body: map[string]any{
			"schemas":  []string{userSchemaURN},
			"userName": fmt.Sprintf("bench-create-%d-%d@example.com", b.N, i),
			"name":     map[string]any{"givenName": "Bench", "familyName": "Create"},
			"emails":   []any{map[string]any{"value": fmt.Sprintf("bench-create-%d-%d@example.com", b.N, i), "type": "work", "primary": true}},
		}})
		if r.Status != 201 {
			b.Fatalf("%d %s", r.Status, r.Body)
		}
	}
}

func BenchmarkGetUser(b *testing.B) {
	s := benchServer(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := s.Serve(scimtest.Request{Method: "GET", Path: "/Users/" + benchIDs[(i*7919)%len(benchIDs)]})
		if r.Status != 200 {
			b.Fatalf("%d %s", r.Status, r.Body)
		}
	}
}

// BenchmarkPatchActive sets active on users one PATCH each from 16
// parallel clients (the IdP's deactivation and reactivation), false on the
// first pass over the users and true on the next, so every PATCH changes
// the user; concurrent PATCHes share the store's group commit.
func BenchmarkPatchActive(b *testing.B) {
	s := benchServer(b)
	var next atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(next.Add(1) - 1)
			n := len(benchIDs)
			r := s.Serve(scimtest.Request{Method: "PATCH", Path: "/Users/" + benchIDs[i%n], Body: patchBody(
				op("replace", "active", (i/n)%2 == 1),
			)})
			if r.Status != 200 {
				b.Errorf("%d %s", r.Status, r.Body)
				return
			}
		}
	})
}

func BenchmarkFilterUserNameEq(b *testing.B) {
	s := benchServer(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := (i * 7919) % len(benchIDs)
		r := s.Serve(scimtest.Request{Method: "GET", Path: withFilter("/Users", fmt.Sprintf(`userName eq "USER%06d@example.com"`, k), "startIndex=1", "count=100")})
		if r.Status != 200 || r.JSON(b)["totalResults"] != float64(1) {
			b.Fatalf("%d %s", r.Status, r.Body)
		}
	}
}

func BenchmarkListPage100(b *testing.B) {
	s := benchServer(b)
	pages := len(benchIDs) / 100
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := 1 + ((i*7919)%pages)*100
		r := s.Serve(scimtest.Request{Method: "GET", Path: fmt.Sprintf("/Users?startIndex=%d&count=100", start)})
		if r.Status != 200 {
			b.Fatalf("%d %s", r.Status, r.Body)
		}
	}
}

// BenchmarkPatchAddMemberTo10kGroup adds one member (a different user each
// time) to a group of 10,000, as Okta and Entra do on every assignment.
func BenchmarkPatchAddMemberTo10kGroup(b *testing.B) {
	s := benchServer(b)
	free := benchIDs[groupN():]
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		uid := free[i%len(free)]
		r := s.Serve(scimtest.Request{Method: "PATCH", Path: "/Groups/" + benchGroup, Body: patchBody(
			op("add", "members", []any{map[string]any{"value": uid}}),
		)})
		if r.Status != 204 {
			b.Fatalf("%d %s", r.Status, r.Body)
		}
	}
}

// BenchmarkOtherTenantCreateDuringOversizedPatch measures how long tenant
// B's user creates take while tenant A keeps sending the largest PATCH the
// limits let through (10,000 email values, refused by the library's
// attribute limit), over real HTTP. It reports B's slowest create
// (max-ms) and median (p50-ms) next to a run without A (alone-p50-ms).
//
//	go test ./scim -run '^$' -bench OtherTenantCreate -benchtime 200x
func BenchmarkOtherTenantCreateDuringOversizedPatch(b *testing.B) {
	s := scimtest.MustStart(b, scim.Options{RateLimit: scim.RateLimit{PerSecond: -1}, MaxBodyBytes: 4 << 20})
	other := s.MustTenant("other")
	victim := s.MustCreateUser("victim@example.com")
	emails := make([]any, scim.MaxPatchValues)
	for i := range emails {
		emails[i] = map[string]any{"value": fmt.Sprintf("e%05d@example.com", i), "type": "work"}
	}
	big := map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []any{map[string]any{"op": "add", "path": "emails", "value": emails}}}
	create := func(i int, tag string) time.Duration {
		start := time.Now()
		r := s.Do(scimtest.Request{Method: "POST", Path: "/Users", Token: other, Body: map[string]any{
			"schemas": []string{userSchemaURN}, "userName": fmt.Sprintf("%s-%d-%d@example.com", tag, b.N, i)}})
		if r.Status != 201 {
			b.Fatalf("%d %s", r.Status, r.Body)
		}
		return time.Since(start)
	}
	pct := func(d []time.Duration, p float64) float64 {
		slices.Sort(d)
		return float64(d[int(p*float64(len(d)-1))]) / float64(time.Millisecond)
	}
	alone := make([]time.Duration, b.N)
	for i := range alone {
		alone[i] = create(i, "alone")
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			r := s.Do(scimtest.Request{Method: "PATCH", Path: "/Users/" + victim, Body: big})
			if r.Status != 400 {
				b.Errorf("oversized PATCH: %d %s", r.Status, r.Body)
				return
			}
		}
	}()
	b.ResetTimer()
	during := make([]time.Duration, b.N)
	for i := range during {
		during[i] = create(i, "during")
	}
	b.StopTimer()
	close(stop)
	<-done
	b.ReportMetric(pct(during, 1), "max-ms")
	b.ReportMetric(pct(during, 0.5), "p50-ms")
	b.ReportMetric(pct(alone, 0.5), "alone-p50-ms")
	b.ReportMetric(pct(alone, 1), "alone-max-ms")
}
