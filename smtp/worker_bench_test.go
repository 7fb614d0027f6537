package smtp_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/smtp"
	"github.com/pbxgate/pbxgate/smtp/smtptest"
)

// BenchmarkWorkerDrain1000 queues 1,000 mails in a fresh SQLite outbox
// (welcome mails of 1,000 new users, or test mails) and times one Worker
// draining them through one relay connection to the in-process server:
// claim, load the user, issue the set-password link, render, send, record
// the attempt. It reports messages per second:
//
//	go test ./smtp/ -run '^$' -bench BenchmarkWorkerDrain1000 -benchtime 5x
func BenchmarkWorkerDrain1000(b *testing.B) {
	const n = 1000
	for _, bc := range []struct {
		name    string
		kind    string
		srvOpts smtptest.Options
	}{
		{"welcome/plain", "welcome", smtptest.Options{}},
		{"welcome/starttls+auth", "welcome", smtptest.Options{TLS: true, Username: "u", Password: "p"}},
		{"test/plain", "test", smtptest.Options{}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			srv := smtptest.Start(b, bc.srvOpts)
			cfg := smtp.RelayConfig{
				Host: srv.Host(), Port: srv.Port(), From: testFrom, HeloName: "pbxgate.test",
				TLS: smtp.TLSNone, MaxMessagesPerConnection: n,
			}
			if bc.srvOpts.TLS {
				cfg.TLS, cfg.RootCAFile = smtp.TLSStartTLS, srv.CAFile(b)
				cfg.Username, cfg.Password = "u", "p"
			}
			relay, err := smtp.NewRelay(cfg, nil)
			require.NoError(b, err)
			defer relay.Close()

			var sent int
			var took time.Duration
			conns := srv.Connections()
			for b.Loop() {
				b.StopTimer()
				srv.Reset()
				e := newWorkerEnv(b)
				if bc.kind == "welcome" {
					createInvitees(b, e, n)
				} else {
					for i := 0; i < n; i++ {
						_, err := e.dir.QueueTestMail(context.Background(), e.tenant.ID, fmt.Sprintf("ops%04d@mueller.example", i))
						require.NoError(b, err)
					}
				}
				opts := e.options(b)
				opts.Logger = slog.New(slog.DiscardHandler)
				w := e.worker(b, relay, opts)
				b.StartTimer()

				start := time.Now()
				st, err := w.Drain(context.Background())
				took += time.Since(start)
				require.NoError(b, err)
				require.Equal(b, n, st.Sent)
				require.Len(b, srv.Messages(), n)
				sent += st.Sent
			}
			b.ReportMetric(float64(sent)/took.Seconds(), "msgs/s")
			b.ReportMetric(float64(srv.Connections()-conns)/float64(sent/n), "conns/1000msgs")
		})
	}
}
