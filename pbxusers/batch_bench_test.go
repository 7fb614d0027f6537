package pbxusers_test

import (
	"context"
	"testing"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// BenchmarkBatchCreate creates users 500 per transaction, as an LDAP sync
// or a CSV import does.
func BenchmarkBatchCreate(b *testing.B) {
	d := mustDir(b)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i += 500 {
		err := d.Batch(ctx, "acme", func(bt *pbxusers.Batch) error {
			for j := i; j < i+500 && j < b.N; j++ {
				if _, err := bt.CreateUser(benchUser(j)); err != nil {
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
