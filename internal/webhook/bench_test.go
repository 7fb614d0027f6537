package webhook_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/internal/webhook"
	"github.com/pbxgate/pbxgate/pbxusers"
)

// BenchmarkDelivery measures how many change-log entries per second the
// worker delivers to one loopback receiver that acknowledges at once,
// through a real SQLite file: each iteration queues 2,000 user creates
// for a new webhook and drains them.
//
//	go test ./internal/webhook/ -run '^$' -bench Delivery -benchtime 3x
func BenchmarkDelivery(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("changesN=%d", n), func(b *testing.B) {
			ctx := context.Background()
			dir, _ := setup(b, nil)
			rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) }))
			defer rcv.Close()
			w, err := webhook.New(dir, webhook.Options{ChangesN: n})
			require.NoError(b, err)
			const perIter = 2000
			var total time.Duration
			next := 0
			for b.Loop() {
				b.StopTimer()
				hook, _, err := dir.CreateWebhook(ctx, "acme", pbxusers.WebhookInput{URL: rcv.URL})
				require.NoError(b, err)
				require.NoError(b, dir.Batch(ctx, "acme", func(bt *pbxusers.Batch) error {
					for i := 0; i < perIter; i++ {
						if _, err := bt.CreateUser(pbxusers.User{UserName: fmt.Sprintf("u%07d", next)}); err != nil {
							return err
						}
						next++
					}
					return nil
				}))
				b.StartTimer()
				start := time.Now()
				for {
					st, err := w.Deliver(ctx)
					require.NoError(b, err)
					if st.Claimed == 0 {
						break
					}
				}
				total += time.Since(start)
				b.StopTimer()
				require.NoError(b, dir.DeleteWebhook(ctx, "acme", hook.ID))
				b.StartTimer()
			}
			b.ReportMetric(float64(perIter*b.N)/total.Seconds(), "changes/s")
		})
	}
}
