package pbxusers_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/pbxgate/pbxgate/pbxusers"
	"github.com/pbxgate/pbxgate/pbxusers/sqlite"
)

// Benchmarks of the library over the real SQLite store. Reproduce the
// README figures with:
//
//	go test ./pbxusers/ -run '^$' -bench . -benchtime 2s
//
// The 100k-user database is built once per run (about half a minute).

const bigN = 100_000

var big struct {
	once sync.Once
	dir  *pbxusers.Directory
	tmp  string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if big.tmp != "" {
		os.RemoveAll(big.tmp)
	}
	os.Exit(code)
}

// bigDir returns a Directory whose tenant "acme" holds 100,000 people.
func bigDir(b *testing.B) *pbxusers.Directory {
	big.once.Do(func() {
		ctx := context.Background()
		big.tmp, big.err = os.MkdirTemp("", "pbxusers-bench-")
		if big.err != nil {
			return
		}
		s, err := sqlite.Open(ctx, filepath.Join(big.tmp, "pbx.db"))
		if err != nil {
			big.err = err
			return
		}
		d := pbxusers.New(s, pbxusers.Options{})
		if _, big.err = d.CreateTenant(ctx, pbxusers.Tenant{ID: "acme", DisableWelcomeMail: true}); big.err != nil {
			return
		}
		const perTx = 1000
		for start := 0; start < bigN && big.err == nil; start += perTx {
			big.err = d.Batch(ctx, "acme", func(bt *pbxusers.Batch) error {
				for i := start; i < start+perTx; i++ {
					if _, err := bt.CreateUser(benchUser(i)); err != nil {
						return err
					}
				}
				return nil
			})
		}
		big.dir = d
	})
	if big.err != nil {
		b.Fatal(big.err)
	}
	return big.dir
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

// BenchmarkCreateUser creates users one call at a time from parallel
// goroutines (the group commit's case), each a full validated create with
// its change log entry and welcome mail.
func BenchmarkCreateUser(b *testing.B) {
	d := mustDir(b)
	ctx := context.Background()
	var mu sync.Mutex
	n := 0
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			mu.Lock()
			i := n
			n++
			mu.Unlock()
			if _, err := d.CreateUser(ctx, "acme", benchUser(i)); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkModifyUser deactivates and reactivates users one call at a
// time from parallel goroutines (a SCIM PATCH of active): each call reads
// the user, writes it with the expected version and logs the change, and
// concurrent calls share the group commit.
func BenchmarkModifyUser(b *testing.B) {
	d := mustDir(b)
	ctx := context.Background()
	const usersN = 1000
	ids := make([]string, usersN)
	for i := range ids {
		u, err := d.CreateUser(ctx, "acme", benchUser(i))
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = u.ID
	}
	var mu sync.Mutex
	n := 0
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			mu.Lock()
			i := n
			n++
			mu.Unlock()
			status := pbxusers.StatusInactive
			if (i/usersN)%2 == 1 {
				status = pbxusers.StatusActive
			}
			if _, err := d.ModifyUser(ctx, "acme", ids[i%usersN], func(u *pbxusers.User) error {
				u.Status = status
				return nil
			}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkGetByUserName100k looks a user up by userName among 100,000.
func BenchmarkGetByUserName100k(b *testing.B) {
	d := bigDir(b)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		name := fmt.Sprintf("USER%06d@acme.example", (i*7919)%bigN)
		if _, err := d.LookupUser(ctx, "acme", pbxusers.KeyUserName, name); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkListPage100k lists a page of 100 users (with the total) at
// random offsets among 100,000, in id order.
func BenchmarkListPage100k(b *testing.B) {
	d := bigDir(b)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		off := (i * 7919) % (bigN - 100)
		page, err := d.ListUsers(ctx, "acme", pbxusers.UserQuery{Offset: off, Limit: 100})
		if err != nil || len(page.Users) != 100 {
			b.Fatal(err, len(page.Users))
		}
	}
}

// BenchmarkFilterUserName100k runs the SCIM create check filter
// userName eq "…" as a listing among 100,000.
func BenchmarkFilterUserName100k(b *testing.B) {
	d := bigDir(b)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		name := fmt.Sprintf("user%06d@acme.example", (i*7919)%bigN)
		page, err := d.ListUsers(ctx, "acme", pbxusers.UserQuery{Filter: pbxusers.Eq(pbxusers.AttrUserName, name)})
		if err != nil || page.Total != 1 {
			b.Fatal(err, page.Total)
		}
	}
}
