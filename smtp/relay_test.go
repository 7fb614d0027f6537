package smtp_test

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/smtp"
	"github.com/pbxgate/pbxgate/smtp/smtptest"
)

// These tests run against go-smtp's server in-process on 127.0.0.1 over
// real TCP (package smtptest); they need nothing installed and always run.
//
// TestRelayExternal also sends one message through a real relay when
// PBXGATE_SMTP_ADDR is set, e.g. with Mailpit:
//
//	docker run --rm -p 127.0.0.1:1025:1025 -p 127.0.0.1:8025:8025 axllent/mailpit
//	PBXGATE_SMTP_ADDR=127.0.0.1:1025 PBXGATE_SMTP_TLS=none go test ./smtp/ -run External
//
// PBXGATE_SMTP_TLS is starttls, implicit or none (default none);
// PBXGATE_SMTP_USERNAME and PBXGATE_SMTP_PASSWORD enable AUTH;
// PBXGATE_SMTP_TO is the recipient (default welcome-test@example.com).

func TestRelayExternal(t *testing.T) {
	addr := os.Getenv("PBXGATE_SMTP_ADDR")
	if addr == "" {
		t.Skipf("%s not set", "PBXGATE_SMTP_ADDR")
	}
	host, portStr, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	port, err := strconv.Atoi(portStr)
	require.NoError(t, err)
	cfg := smtp.RelayConfig{
		Host: host, Port: port, TLS: cmp.Or(os.Getenv("PBXGATE_SMTP_TLS"), smtp.TLSNone),
		Username: os.Getenv("PBXGATE_SMTP_USERNAME"), Password: os.Getenv("PBXGATE_SMTP_PASSWORD"),
		From: testFrom,
	}
	r := newRelay(t, cfg)
	content, err := mustTemplates(t, "").Welcome("", welcomeData("de-AT"))
	require.NoError(t, err)
	to := cmp.Or(os.Getenv("PBXGATE_SMTP_TO"), "welcome-test@example.com")
	mustSend(t, r, content.Message(smtp.Address{Name: "Jürgen Weiß", Address: to}))
}

// relayConfig returns a config for srv: STARTTLS with srv's certificate
// when it has one, plaintext otherwise.
func relayConfig(t *testing.T, srv *smtptest.Server) smtp.RelayConfig {
	cfg := smtp.RelayConfig{
		Host:           srv.Host(),
		Port:           srv.Port(),
		From:           testFrom,
		HeloName:       "pbxgate.test",
		DialTimeout:    5 * time.Second,
		CommandTimeout: 5 * time.Second,
	}
	if srv.CertPEM() != nil {
		cfg.RootCAFile = srv.CAFile(t)
	} else {
		cfg.TLS = smtp.TLSNone
	}
	return cfg
}

func newRelay(t testing.TB, cfg smtp.RelayConfig) *smtp.Relay {
	t.Helper()
	r, err := smtp.NewRelay(cfg, testLogger(t))
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	return r
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func simpleMessage(to string) smtp.Message {
	return smtp.Message{To: smtp.Address{Address: to}, Subject: "test", Text: "hello"}
}

// sendErr asserts that Send failed and returns the *smtp.Error.
func sendErr(t *testing.T, r smtp.Sender, msg smtp.Message, wantRetry bool) *smtp.Error {
	t.Helper()
	retry, err := r.Send(context.Background(), msg)
	require.Error(t, err)
	assert.Equal(t, wantRetry, retry, "retry for %v", err)
	assert.Equal(t, wantRetry, smtp.Retryable(err))
	var e *smtp.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, !wantRetry, e.Permanent)
	return e
}

func mustSend(t testing.TB, r smtp.Sender, msg smtp.Message) {
	t.Helper()
	retry, err := r.Send(context.Background(), msg)
	require.NoError(t, err)
	require.False(t, retry)
}

func TestRelayDeliversWelcomeMail(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{TLS: true, Username: "pbxgate", Password: "s3cret pass"})
	cfg := relayConfig(t, srv)
	cfg.Username, cfg.Password = "pbxgate", "s3cret pass"
	r := newRelay(t, cfg)

	tpl := mustTemplates(t, "")
	content, err := tpl.Welcome("", welcomeData("de-AT"))
	require.NoError(t, err)
	msg := content.Message(smtp.Address{Name: "Jürgen Weiß", Address: "jweiss@mueller.example"})
	mustSend(t, r, msg)

	got := srv.Messages()
	require.Len(t, got, 1)
	m := got[0]
	assert.Equal(t, "pbx@example.net", m.From)
	assert.Equal(t, []string{"jweiss@mueller.example"}, m.To)
	assert.True(t, m.TLS, "delivered over STARTTLS")
	assert.Equal(t, "pbxgate", m.User)
	assert.Contains(t, string(m.Data), "To: =?utf-8?q?J=C3=BCrgen_Wei=C3=9F?= <jweiss@mueller.example>")
	assert.Contains(t, string(m.Data), "Subject: =?utf-8?q?")

	p := m.Parse(t)
	subject, err := p.Header.Subject()
	require.NoError(t, err)
	assert.Equal(t, "Ihr neues Konto für die Telefonanlage bei Müller & Söhne", subject)
	to, err := p.Header.AddressList("To")
	require.NoError(t, err)
	assert.Equal(t, "Jürgen Weiß", to[0].Name)
	from, err := p.Header.AddressList("From")
	require.NoError(t, err)
	assert.Equal(t, "Müller & Söhne PBX", from[0].Name)
	id, err := p.Header.MessageID()
	require.NoError(t, err)
	assert.True(t, strings.HasSuffix(id, "@example.net"), id)
	date, err := p.Header.Date()
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now(), date, time.Minute)
	assert.Equal(t, "de", p.Header.Get("Content-Language"))
	assert.Equal(t, []string{"text/plain", "text/html"}, p.PartTypes)
	assert.Contains(t, strings.ReplaceAll(p.Text, "\r\n", "\n"), "\n"+testLink+"\n")
	assert.Contains(t, p.HTML, `href="`+strings.ReplaceAll(testLink, "&", "&amp;")+`"`)
	assert.Contains(t, p.Text, "Hallo Jürgen,")
}

func TestRelayRequiresSTARTTLS(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{Username: "u", Password: "p", AllowInsecureAuth: true})
	cfg := relayConfig(t, srv)
	cfg.TLS = "" // the default: starttls, required
	cfg.Username, cfg.Password = "u", "p"
	r := newRelay(t, cfg)

	e := sendErr(t, r, simpleMessage("a@example.com"), false)
	assert.ErrorIs(t, e, smtp.ErrSTARTTLSUnavailable)
	assert.Equal(t, smtp.StageTLS, e.Stage)
	assert.Empty(t, srv.Messages())
	assert.Zero(t, srv.AuthFailures(), "no credentials sent")
}

func TestRelayRefusesPlaintextAuth(t *testing.T) {
	cfg := smtp.RelayConfig{Host: "127.0.0.1", TLS: smtp.TLSNone, Username: "u", Password: "p", From: testFrom}
	_, err := smtp.NewRelay(cfg, nil)
	assert.ErrorContains(t, err, "smtp.auth: credentials are never sent in plaintext")
}

func TestRelayUntrustedCertificate(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{TLS: true})
	cfg := relayConfig(t, srv)
	cfg.RootCAFile = "" // system pool: does not know the test CA
	r := newRelay(t, cfg)
	e := sendErr(t, r, simpleMessage("a@example.com"), false)
	assert.Equal(t, smtp.StageTLS, e.Stage)
	assert.Contains(t, e.Error(), "certificate")
	assert.Empty(t, srv.Messages())

	cfg.InsecureSkipVerify = true
	mustSend(t, newRelay(t, cfg), simpleMessage("a@example.com"))
	require.Len(t, srv.Messages(), 1)
	assert.True(t, srv.Messages()[0].TLS)
}

func TestRelayImplicitTLS(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{ImplicitTLS: true, Username: "u", Password: "p"})
	cfg := relayConfig(t, srv)
	cfg.TLS = smtp.TLSImplicit
	cfg.Username, cfg.Password = "u", "p"
	mustSend(t, newRelay(t, cfg), simpleMessage("a@example.com"))
	require.Len(t, srv.Messages(), 1)
	assert.True(t, srv.Messages()[0].TLS)
	assert.Equal(t, "u", srv.Messages()[0].User)
}

func TestRelayPlaintextWhenConfigured(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	mustSend(t, newRelay(t, relayConfig(t, srv)), simpleMessage("a@example.com"))
	require.Len(t, srv.Messages(), 1)
	assert.False(t, srv.Messages()[0].TLS)
}

func TestRelayAuth(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{TLS: true, Username: "pbxgate", Password: "right"})
	for _, mech := range []string{smtp.AuthPlain, smtp.AuthLogin} {
		t.Run(mech, func(t *testing.T) {
			cfg := relayConfig(t, srv)
			cfg.Auth, cfg.Username, cfg.Password = mech, "pbxgate", "right"
			mustSend(t, newRelay(t, cfg), simpleMessage(mech+"@example.com"))

			cfg.Password = "wrong"
			before := srv.AuthFailures()
			e := sendErr(t, newRelay(t, cfg), simpleMessage(mech+"@example.com"), false)
			assert.Equal(t, smtp.StageAuth, e.Stage)
			assert.Equal(t, 535, e.Code)
			assert.Equal(t, "5.7.8", e.EnhancedCode)
			assert.Equal(t, "Authentication failed", e.Reply)
			assert.Equal(t, before+1, srv.AuthFailures())
		})
	}
	var users []string
	for _, m := range srv.Messages() {
		users = append(users, m.User+" "+m.To[0])
	}
	assert.Equal(t, []string{"pbxgate plain@example.com", "pbxgate login@example.com"}, users)
}

func TestRelayAuthMechanismNotOffered(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{TLS: true, Username: "u", Password: "p", Mechanisms: []string{"PLAIN"}})
	cfg := relayConfig(t, srv)
	cfg.Auth, cfg.Username, cfg.Password = smtp.AuthLogin, "u", "p"
	e := sendErr(t, newRelay(t, cfg), simpleMessage("a@example.com"), false)
	assert.Equal(t, smtp.StageAuth, e.Stage)
	assert.ErrorContains(t, e, "relay does not offer AUTH LOGIN (offers PLAIN)")
}

func TestRelayPasswordFileAndNoSecretsInLogs(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{TLS: true, Username: "u", Password: "file-secret-42"})
	pwFile := filepath.Join(t.TempDir(), "pw")
	require.NoError(t, os.WriteFile(pwFile, []byte("file-secret-42\n"), 0o600))
	cfg := relayConfig(t, srv)
	cfg.Username, cfg.PasswordFile = "u", pwFile

	var logs bytes.Buffer
	r, err := smtp.NewRelay(cfg, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	require.NoError(t, err)
	mustSend(t, r, simpleMessage("a@example.com"))
	require.NoError(t, r.Close())

	// The file is read per connection: a rotated password is picked up.
	require.NoError(t, os.WriteFile(pwFile, []byte("rotated\n"), 0o600))
	r, err = smtp.NewRelay(cfg, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	require.NoError(t, err)
	_, err = r.Send(context.Background(), simpleMessage("b@example.com"))
	require.Error(t, err)
	require.NoError(t, r.Close())

	cfg.Password, cfg.PasswordFile = "inline-secret-43", ""
	slog.New(slog.NewTextHandler(&logs, nil)).Info("config", slog.Any("smtp", cfg))
	assert.Contains(t, logs.String(), "connected")
	assert.Contains(t, logs.String(), "password_set=true")
	assert.NotContains(t, logs.String(), "secret-4")
	assert.NotContains(t, logs.String(), "rotated")
}

func TestRelayTemporaryFailure(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{TempFailN: 2})
	r := newRelay(t, relayConfig(t, srv))
	for i := 0; i < 2; i++ {
		e := sendErr(t, r, simpleMessage("a@example.com"), true)
		assert.Equal(t, smtp.StageMail, e.Stage)
		assert.Equal(t, 421, e.Code)
		assert.Equal(t, "4.3.0", e.EnhancedCode)
		assert.Equal(t, smtptest.TempFailReply, e.Reply)
	}
	mustSend(t, r, simpleMessage("a@example.com"))
	assert.Len(t, srv.Messages(), 1)
	assert.Equal(t, 3, srv.Connections(), "421 closes the connection")
}

func TestRelayPermanentFailure(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{PermFail: true})
	r := newRelay(t, relayConfig(t, srv))
	e := sendErr(t, r, simpleMessage("a@example.com"), false)
	assert.Equal(t, smtp.StageData, e.Stage)
	assert.Equal(t, 550, e.Code)
	assert.Equal(t, "5.7.1", e.EnhancedCode)
	assert.Equal(t, smtptest.PermFailReply, e.Reply)
	assert.Equal(t, "finish message data: relay replied 550 5.7.1 "+smtptest.PermFailReply+" (permanent)", e.Error())
	assert.Empty(t, srv.Messages())
}

func TestRelayRejectedRecipientKeepsConnection(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{RejectRcpt: func(a string) bool { return strings.HasPrefix(a, "gone@") }})
	r := newRelay(t, relayConfig(t, srv))
	e := sendErr(t, r, simpleMessage("gone@example.com"), false)
	assert.Equal(t, smtp.StageRcpt, e.Stage)
	assert.Equal(t, 550, e.Code)
	assert.Equal(t, "5.1.1", e.EnhancedCode)
	assert.Equal(t, smtptest.RejectReply, e.Reply)
	assert.ErrorContains(t, e, "send RCPT command")

	mustSend(t, r, simpleMessage("here@example.com"))
	require.Len(t, srv.Messages(), 1)
	assert.Equal(t, []string{"here@example.com"}, srv.Messages()[0].To, "RSET cleared the rejected transaction")
	assert.Equal(t, 1, srv.Connections())
}

func TestRelayDownThenUp(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{TLS: true})
	r := newRelay(t, relayConfig(t, srv))
	mustSend(t, r, simpleMessage("before@example.com"))

	srv.Stop() // also drops the relay's open connection
	e := sendErr(t, r, simpleMessage("down@example.com"), true)
	assert.Equal(t, smtp.StageConnect, e.Stage)
	assert.ErrorContains(t, e, "connection refused")
	assert.Zero(t, e.Code)

	srv.Restart()
	mustSend(t, r, simpleMessage("after@example.com"))
	msgs := srv.Messages()
	require.Len(t, msgs, 2)
	assert.Equal(t, []string{"after@example.com"}, msgs[1].To)
	assert.Equal(t, 2, srv.Connections())
}

func TestRelayReconnectsWhenReusedConnectionIsGone(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{TLS: true})
	r := newRelay(t, relayConfig(t, srv))
	mustSend(t, r, simpleMessage("one@example.com"))
	srv.Stop()
	srv.Restart()
	// The kept connection fails at RSET; the relay dials again and the
	// message goes through in this one Send.
	mustSend(t, r, simpleMessage("two@example.com"))
	assert.Len(t, srv.Messages(), 2)
	assert.Equal(t, 2, srv.Connections())
}

func TestRelayConnectionDroppedMidData(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{DropDataN: 1})
	r := newRelay(t, relayConfig(t, srv))
	msg := simpleMessage("a@example.com")
	msg.Text = strings.Repeat("long line of text that goes on\n", 2000)
	e := sendErr(t, r, msg, true)
	assert.Equal(t, smtp.StageData, e.Stage)
	assert.Empty(t, srv.Messages())

	mustSend(t, r, msg)
	assert.Len(t, srv.Messages(), 1)
}

func TestRelayConnectionReuse(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{TLS: true, Username: "u", Password: "p"})
	cfg := relayConfig(t, srv)
	cfg.Username, cfg.Password = "u", "p"
	r := newRelay(t, cfg)
	for i := 0; i < 25; i++ {
		mustSend(t, r, simpleMessage(fmt.Sprintf("user%d@example.com", i)))
	}
	assert.Len(t, srv.Messages(), 25)
	assert.Equal(t, 1, srv.Connections(), "one connection for the burst")
	for _, m := range srv.Messages() {
		assert.Len(t, m.To, 1, "RSET/new transaction per message")
		assert.Equal(t, 1, m.Conn)
	}

	srv2 := smtptest.Start(t, smtptest.Options{})
	cfg = relayConfig(t, srv2)
	cfg.MaxMessagesPerConnection = 10
	r = newRelay(t, cfg)
	for i := 0; i < 25; i++ {
		mustSend(t, r, simpleMessage(fmt.Sprintf("user%d@example.com", i)))
	}
	assert.Equal(t, 3, srv2.Connections(), "10 + 10 + 5")
}

func TestRelayConcurrentSends(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	r := newRelay(t, relayConfig(t, srv))
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Go(func() { mustSend(t, r, simpleMessage(fmt.Sprintf("c%d@example.com", i))) })
	}
	wg.Wait()
	assert.Len(t, srv.Messages(), 20)
	assert.Equal(t, 1, srv.Connections())
}

func TestRelayIdleTimeout(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	cfg := relayConfig(t, srv)
	cfg.IdleTimeout = 50 * time.Millisecond
	r := newRelay(t, cfg)
	mustSend(t, r, simpleMessage("a@example.com"))
	time.Sleep(200 * time.Millisecond)
	mustSend(t, r, simpleMessage("b@example.com"))
	assert.Equal(t, 2, srv.Connections())
}

func TestRelayContextCanceled(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	r := newRelay(t, relayConfig(t, srv))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	retry, err := r.Send(ctx, simpleMessage("a@example.com"))
	require.Error(t, err)
	assert.True(t, retry)
	assert.True(t, errors.Is(err, context.Canceled), err)
}

func TestRelayClosed(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	r := newRelay(t, relayConfig(t, srv))
	mustSend(t, r, simpleMessage("a@example.com"))
	require.NoError(t, r.Close())
	require.NoError(t, r.Close())
	_, err := r.Send(context.Background(), simpleMessage("a@example.com"))
	assert.ErrorIs(t, err, smtp.ErrClosed)
}

func TestRelayComposeErrorIsPermanent(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	r := newRelay(t, relayConfig(t, srv))
	msg := simpleMessage("a@example.com")
	msg.Subject = "x\r\nBcc: evil@example.org"
	e := sendErr(t, r, msg, false)
	assert.Equal(t, smtp.StageCompose, e.Stage)
	assert.Zero(t, srv.Connections(), "nothing sent")
}

// BenchmarkRelaySend1000 sends 1,000 messages through one Relay to the
// in-process server (connection reuse, default 100 messages per
// connection) and reports messages per second:
//
//	go test ./smtp/ -run '^$' -bench BenchmarkRelaySend1000 -benchtime 5x
func BenchmarkRelaySend1000(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts smtptest.Options
	}{
		{"plain", smtptest.Options{}},
		{"starttls+auth", smtptest.Options{TLS: true, Username: "u", Password: "p"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			srv := smtptest.Start(b, bc.opts)
			cfg := smtp.RelayConfig{
				Host: srv.Host(), Port: srv.Port(), From: testFrom, HeloName: "pbxgate.test",
				TLS: smtp.TLSNone,
			}
			if bc.opts.TLS {
				cfg.TLS, cfg.RootCAFile = smtp.TLSStartTLS, srv.CAFile(b)
				cfg.Username, cfg.Password = "u", "p"
			}
			r, err := smtp.NewRelay(cfg, nil)
			require.NoError(b, err)
			defer r.Close()
			tpl, err := smtp.NewTemplates("")
			require.NoError(b, err)
			content, err := tpl.Welcome("", welcomeData("de"))
			require.NoError(b, err)
			msg := content.Message(smtp.Address{Name: "Jürgen Weiß", Address: "jweiss@example.com"})

			conns := srv.Connections()
			var sent int
			start := time.Now()
			for b.Loop() {
				srv.Reset()
				for i := 0; i < 1000; i++ {
					if _, err := r.Send(context.Background(), msg); err != nil {
						b.Fatal(err)
					}
					sent++
				}
			}
			b.ReportMetric(float64(sent)/time.Since(start).Seconds(), "msgs/s")
			b.ReportMetric(float64(srv.Connections()-conns)/float64(sent/1000), "conns/1000msgs")
		})
	}
}
