// Package smtptest runs a real SMTP server (go-smtp's) in-process on
// 127.0.0.1 for tests: it records what it receives, can require AUTH, offer
// STARTTLS or implicit TLS with a certificate generated at start, inject
// failures, and be stopped and restarted on the same port.
//
//	srv := smtptest.Start(t, smtptest.Options{TLS: true, Username: "u", Password: "p"})
//	// ... send to srv.Host(), srv.Port(), trusting srv.CAFile(t) ...
//	msgs := srv.Messages()
//	p := msgs[0].Parse(t) // headers, text and HTML parts, decoded
package smtptest

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"
)

// Options configure a Server. The zero value accepts every message without
// TLS or AUTH.
type Options struct {
	// Username and Password, when Username is set, make the server offer
	// AUTH (over TLS, or without it if AllowInsecureAuth) and answer MAIL
	// with 530 until the client has authenticated. A wrong password gets
	// 535 5.7.8.
	Username string
	Password string
	// Mechanisms are the AUTH mechanisms offered. Default PLAIN and LOGIN.
	Mechanisms []string
	// AllowInsecureAuth offers AUTH on a plaintext connection.
	AllowInsecureAuth bool

	// TLS offers STARTTLS with a self-signed certificate for 127.0.0.1,
	// ::1 and localhost generated at Start (see CertPEM, CAFile).
	TLS bool
	// ImplicitTLS speaks TLS from the first byte (SMTPS) with that
	// certificate.
	ImplicitTLS bool

	// TempFailN makes the first N MAIL commands fail with 421 4.3.0; later
	// ones succeed.
	TempFailN int
	// PermFail makes every message fail after its data with 550 5.7.1
	// PermFailReply.
	PermFail bool
	// DropDataN makes the server close the connection in the middle of the
	// data of the first N messages, without a reply.
	DropDataN int
	// RejectRcpt, when set, answers RCPT TO with 550 5.1.1 for the
	// addresses it returns true for.
	RejectRcpt func(addr string) bool
}

// Reply texts of injected failures, for assertions.
const (
	TempFailReply = "Service busy, try again later (smtptest)"
	PermFailReply = "Message rejected by policy (smtptest)"
	RejectReply   = "No such user here (smtptest)"
)

// Message is one message the server accepted.
type Message struct {
	// From is the envelope sender (MAIL FROM).
	From string
	// To are the envelope recipients (RCPT TO).
	To []string
	// Data is the message as received, CRLF line endings.
	Data []byte
	// TLS is whether the connection was encrypted.
	TLS bool
	// User is the authenticated user, "" without AUTH.
	User string
	// Conn is the number of the connection it came over, from 1.
	Conn int
}

// Server is a running in-process SMTP server. Its methods are safe for
// concurrent use.
type Server struct {
	tb      testing.TB
	opts    Options
	addr    string
	certPEM []byte
	tlsCfg  *tls.Config

	mu        sync.Mutex
	srv       *gosmtp.Server
	ln        net.Listener
	done      chan struct{}
	messages  []Message
	conns     int
	tempFails int
	drops     int
	authFails int
}

// Start starts a server on 127.0.0.1 on a free port and stops it when the
// test ends.
func Start(tb testing.TB, opts Options) *Server {
	tb.Helper()
	s := &Server{tb: tb, opts: opts}
	if opts.TLS || opts.ImplicitTLS {
		cert, certPEM, err := newCertificate()
		if err != nil {
			tb.Fatalf("smtptest: generate certificate: %v", err)
		}
		s.certPEM = certPEM
		s.tlsCfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	if err := s.listen("127.0.0.1:0"); err != nil {
		tb.Fatalf("smtptest: %v", err)
	}
	tb.Cleanup(s.Stop)
	return s
}

// listen starts serving on addr; the caller must not hold mu.
func (s *Server) listen(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	s.addr = l.Addr().String()
	var ln net.Listener = &countingListener{Listener: l, s: s}
	if s.opts.ImplicitTLS {
		ln = tls.NewListener(ln, s.tlsCfg)
	}

	srv := gosmtp.NewServer(gosmtp.BackendFunc(s.newSession))
	srv.Domain = "smtptest.localhost"
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.MaxMessageBytes = 10 << 20
	srv.AllowInsecureAuth = s.opts.AllowInsecureAuth
	srv.ErrorLog = log.New(io.Discard, "", 0)
	if s.opts.TLS {
		srv.TLSConfig = s.tlsCfg
	}
	done := make(chan struct{})
	s.mu.Lock()
	s.srv, s.ln, s.done = srv, ln, done
	s.mu.Unlock()
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	return nil
}

// Addr returns "127.0.0.1:port".
func (s *Server) Addr() string { return s.addr }

// Host returns "127.0.0.1".
func (s *Server) Host() string {
	h, _, _ := net.SplitHostPort(s.addr)
	return h
}

// Port returns the TCP port.
func (s *Server) Port() int {
	_, p, _ := net.SplitHostPort(s.addr)
	n, _ := strconv.Atoi(p)
	return n
}

// CertPEM returns the server's self-signed certificate in PEM, nil without
// TLS.
func (s *Server) CertPEM() []byte { return s.certPEM }

// CertPool returns a pool holding the server's certificate.
func (s *Server) CertPool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AppendCertsFromPEM(s.certPEM)
	return p
}

// CAFile writes the server's certificate to a PEM file in a temporary
// directory of tb and returns its path.
func (s *Server) CAFile(tb testing.TB) string {
	tb.Helper()
	if s.certPEM == nil {
		tb.Fatal("smtptest: CAFile: server has no TLS certificate")
	}
	name := filepath.Join(tb.TempDir(), "smtptest-ca.pem")
	if err := os.WriteFile(name, s.certPEM, 0o600); err != nil {
		tb.Fatalf("smtptest: write CA file: %v", err)
	}
	return name
}

// Messages returns the messages accepted so far, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Reset forgets the messages accepted so far.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.messages = nil
}

// Connections returns how many TCP connections the server has accepted
// (across restarts).
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

// AuthFailures returns how many AUTH attempts failed.
func (s *Server) AuthFailures() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.authFails
}

// Stop closes the listener and every connection, and waits for the server
// to stop accepting. Stop is idempotent; the port stays free for Restart.
func (s *Server) Stop() {
	s.mu.Lock()
	srv, ln, done := s.srv, s.ln, s.done
	s.srv = nil
	s.mu.Unlock()
	if srv == nil {
		return
	}
	_ = srv.Close()
	// go-smtp only closes listeners that Serve has registered; close ours
	// too in case Serve has not started yet.
	_ = ln.Close()
	<-done
}

// Restart starts the server again on the same port with the same options
// and certificate, after Stop. Recorded messages are kept.
func (s *Server) Restart() {
	s.tb.Helper()
	s.mu.Lock()
	running := s.srv != nil
	s.mu.Unlock()
	if running {
		s.tb.Fatal("smtptest: Restart: server is running; Stop it first")
	}
	var err error
	// The port was ours a moment ago; retry briefly in case the kernel
	// has not released it yet.
	for i := 0; i < 50; i++ {
		if err = s.listen(s.addr); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.tb.Fatalf("smtptest: restart: %v", err)
}

// countingListener numbers accepted connections.
type countingListener struct {
	net.Listener
	s *Server
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.s.mu.Lock()
	l.s.conns++
	n := l.s.conns
	l.s.mu.Unlock()
	return &numberedConn{Conn: c, n: n}, nil
}

type numberedConn struct {
	net.Conn
	n int
}

// connNumber finds the number of c's underlying TCP connection.
func connNumber(c net.Conn) int {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	if nc, ok := c.(*numberedConn); ok {
		return nc.n
	}
	return 0
}

func (s *Server) newSession(c *gosmtp.Conn) (gosmtp.Session, error) {
	return &session{s: s, c: c}, nil
}

// session is one SMTP session; go-smtp starts a new one after STARTTLS.
type session struct {
	s    *Server
	c    *gosmtp.Conn
	user string
	from string
	to   []string
}

var _ gosmtp.AuthSession = (*session)(nil)

func (ss *session) AuthMechanisms() []string {
	if ss.s.opts.Username == "" {
		return nil
	}
	if len(ss.s.opts.Mechanisms) > 0 {
		return ss.s.opts.Mechanisms
	}
	return []string{sasl.Plain, sasl.Login}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	check := func(user, pass string) error {
		if user != ss.s.opts.Username || pass != ss.s.opts.Password {
			ss.s.mu.Lock()
			ss.s.authFails++
			ss.s.mu.Unlock()
			return gosmtp.ErrAuthFailed
		}
		ss.user = user
		return nil
	}
	offered := false
	for _, m := range ss.AuthMechanisms() {
		offered = offered || strings.EqualFold(m, mech)
	}
	if !offered {
		return nil, gosmtp.ErrAuthUnknownMechanism
	}
	switch strings.ToUpper(mech) {
	case sasl.Plain:
		return sasl.NewPlainServer(func(identity, user, pass string) error {
			if identity != "" && identity != user {
				return gosmtp.ErrAuthFailed
			}
			return check(user, pass)
		}), nil
	case sasl.Login:
		return &loginServer{check: check}, nil
	}
	return nil, gosmtp.ErrAuthUnknownMechanism
}

func (ss *session) Mail(from string, _ *gosmtp.MailOptions) error {
	if ss.s.opts.Username != "" && ss.user == "" {
		return &gosmtp.SMTPError{Code: 530, EnhancedCode: gosmtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}
	}
	ss.s.mu.Lock()
	fail := ss.s.tempFails < ss.s.opts.TempFailN
	if fail {
		ss.s.tempFails++
	}
	ss.s.mu.Unlock()
	if fail {
		return &gosmtp.SMTPError{Code: 421, EnhancedCode: gosmtp.EnhancedCode{4, 3, 0}, Message: TempFailReply}
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	if ss.s.opts.RejectRcpt != nil && ss.s.opts.RejectRcpt(to) {
		return &gosmtp.SMTPError{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 1, 1}, Message: RejectReply}
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	ss.s.mu.Lock()
	drop := ss.s.drops < ss.s.opts.DropDataN
	if drop {
		ss.s.drops++
	}
	ss.s.mu.Unlock()
	if drop {
		_, _ = io.CopyN(io.Discard, r, 64)
		_ = ss.c.Conn().Close()
		return errors.New("smtptest: connection dropped mid-DATA")
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if ss.s.opts.PermFail {
		return &gosmtp.SMTPError{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 7, 1}, Message: PermFailReply}
	}
	_, isTLS := ss.c.TLSConnectionState()
	m := Message{
		From: ss.from,
		To:   append([]string(nil), ss.to...),
		Data: bytes.Clone(data),
		TLS:  isTLS,
		User: ss.user,
		Conn: connNumber(ss.c.Conn()),
	}
	ss.s.mu.Lock()
	ss.s.messages = append(ss.s.messages, m)
	ss.s.mu.Unlock()
	return nil
}

func (ss *session) Reset() {
	ss.from = ""
	ss.to = nil
}

func (ss *session) Logout() error { return nil }

// loginServer is the server side of the LOGIN mechanism, which go-sasl
// only implements for clients.
type loginServer struct {
	step  int
	user  string
	check func(user, pass string) error
}

func (l *loginServer) Next(response []byte) ([]byte, bool, error) {
	switch l.step {
	case 0:
		if len(response) == 0 {
			l.step = 1
			return []byte("Username:"), false, nil
		}
		l.user, l.step = string(response), 2
		return []byte("Password:"), false, nil
	case 1:
		l.user, l.step = string(response), 2
		return []byte("Password:"), false, nil
	default:
		return nil, true, l.check(l.user, string(response))
	}
}
