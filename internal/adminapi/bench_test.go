package adminapi_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/pbxgate/pbxgate/internal/adminapi"
	"github.com/pbxgate/pbxgate/pbxusers"
	"github.com/pbxgate/pbxgate/pbxusers/sqlite"
)

// benchUsers is how many people the benchmark tenant holds: 100,000 as
// the issue asks, or PBXGATE_BENCH_API_USERS for a quicker run.
func benchUsers() int {
	if n, err := strconv.Atoi(os.Getenv("PBXGATE_BENCH_API_USERS")); err == nil && n > 0 {
		return n
	}
	return 100_000
}

// benchServer serves the API over a SQLite file holding n people of
// tenant acme and returns its base URL, an admin token and one user id.
func benchServer(b *testing.B, n int) (string, string, string) {
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
	var last string
	for done := 0; done < n; {
		err := dir.Batch(ctx, "acme", func(bt *pbxusers.Batch) error {
			for i := 0; i < 1000 && done < n; i, done = i+1, done+1 {
				u, err := bt.CreateUser(pbxusers.User{UserName: fmt.Sprintf("user%06d@acme.example", done)})
				if err != nil {
					return err
				}
				last = u.ID
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	tok, _, err := dir.CreateScopedToken(ctx, "acme", "bench", pbxusers.ScopeAdmin)
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(adminapi.New(dir, adminapi.Options{}))
	b.Cleanup(srv.Close)
	return srv.URL + "/api/v1/tenants/acme", tok, last
}

func benchDo(b *testing.B, method, url, token string, body []byte, want int) {
	req, _ := http.NewRequest(method, url, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != want {
		b.Fatalf("%s %s: %d", method, url, res.StatusCode)
	}
}

// BenchmarkAPI measures a page of 100 users deep in the list, one user,
// and a routing-policy write, over HTTP at benchUsers() people.
func BenchmarkAPI(b *testing.B) {
	n := benchUsers()
	base, tok, id := benchServer(b, n)
	b.Run("ListPage", func(b *testing.B) {
		url := fmt.Sprintf("%s/users?limit=100&sort=userName&offset=%d", base, n/2)
		for b.Loop() {
			benchDo(b, "GET", url, tok, nil, 200)
		}
	})
	b.Run("GetUser", func(b *testing.B) {
		for b.Loop() {
			benchDo(b, "GET", base+"/users/"+id, tok, nil, 200)
		}
	})
	b.Run("PutRouting", func(b *testing.B) {
		i := 0
		for b.Loop() {
			i++
			body := fmt.Appendf(nil, `{"ringTimeout":%d,"default":{"onNoAnswer":{"kind":"voicemail"}}}`, 10+i%50)
			benchDo(b, "PUT", base+"/users/"+id+"/routing", tok, body, 200)
		}
	})
}
