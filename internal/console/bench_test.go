package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pbxgate/pbxgate/internal/adminapi"
	"github.com/pbxgate/pbxgate/internal/console"
	"github.com/pbxgate/pbxgate/pbxusers"
	"github.com/pbxgate/pbxgate/pbxusers/sqlite"
)

// benchUsers is how many people the benchmark tenant holds: 100,000 as
// the issue asks, or PBXGATE_BENCH_CONSOLE_USERS for a quicker run.
func benchUsers() int {
	if n, err := strconv.Atoi(os.Getenv("PBXGATE_BENCH_CONSOLE_USERS")); err == nil && n > 0 {
		return n
	}
	return 100_000
}

// benchConsole returns the console over a SQLite file whose tenant acme
// holds n people, written through the store in large transactions (the
// directory's per-user validation and change log would take minutes),
// and the session cookie of a signed-in admin.
func benchConsole(b *testing.B, n int) (*console.Handler, *http.Cookie) {
	b.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	dir := pbxusers.New(store, pbxusers.Options{PasswordCost: 4})
	if _, err := dir.CreateTenant(ctx, pbxusers.Tenant{ID: "acme", Name: "Acme", DisableWelcomeMail: true}); err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC()
	for start := 0; start < n; start += 10_000 {
		err := store.Update(ctx, func(tx pbxusers.Tx) error {
			for i := start; i < min(n, start+10_000); i++ {
				name := fmt.Sprintf("user%06d", i)
				u := pbxusers.User{ID: fmt.Sprintf("00000000-0000-7000-8000-%012d", i), TenantID: "acme", Kind: pbxusers.KindPerson,
					Status: pbxusers.StatusActive, Owner: pbxusers.Owner{Source: pbxusers.SourceManual}, UserName: name + "@acme.example",
					Name: pbxusers.Name{Given: "Given", Family: fmt.Sprintf("Family%06d", i)}, Role: pbxusers.RoleAgent,
					Emails:    []pbxusers.Email{{Value: name + "@acme.example", Type: "work", Primary: true}},
					Extension: strconv.Itoa(1_000_000 + i), Password: pbxusers.Password{Mode: pbxusers.PasswordInvite},
					Version: 1, Created: now, Updated: now}
				if err := tx.CreateUser(ctx, &u); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	admin, err := dir.CreateUser(ctx, "acme", pbxusers.User{UserName: "ada", Role: pbxusers.RoleAdmin})
	if err != nil {
		b.Fatal(err)
	}
	token, _, err := dir.IssueSignInLink(ctx, "acme", admin.ID, 0)
	if err != nil {
		b.Fatal(err)
	}
	h := console.New(dir, adminapi.New(dir, adminapi.Options{}), console.Options{})
	req := httptest.NewRequest(http.MethodPost, "http://localhost"+console.Prefix+"/link/"+token, nil)
	req.Header.Set("Origin", "http://localhost")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	cookies := rec.Result().Cookies()
	if len(cookies) == 0 {
		b.Fatalf("sign-in link: %d %s", rec.Code, rec.Body)
	}
	return h, cookies[0]
}

// BenchmarkUsersPage measures the Users page's server time at
// benchUsers() people: the first page, a page deep in the list, a search
// as you type (just the results) and a filtered page. The target is at
// most 100 ms each. Measured on the 2-core CI machine at 100,000 users:
// First 1.9 ms, Deep 9.0 ms, Search 57 ms, Filtered 37 ms.
func BenchmarkUsersPage(b *testing.B) {
	n := benchUsers()
	h, cookie := benchConsole(b, n)
	for _, c := range []struct{ name, query string }{
		{"First", ""},
		{"Deep", "?offset=" + strconv.Itoa(n/2)},
		{"Search", "?q=user0999&partial=1"},
		{"Filtered", "?status=active&source=manual&kind=person&offset=" + strconv.Itoa(n/2)},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				req := httptest.NewRequest(http.MethodGet, "http://localhost"+console.Prefix+"/users"+c.query, nil)
				req.AddCookie(cookie)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "user0") {
					b.Fatalf("%s: %d %.300s", c.query, rec.Code, rec.Body)
				}
			}
		})
	}
}
