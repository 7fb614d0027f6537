package smtp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"
)

// Sender delivers messages.
type Sender interface {
	// Send delivers msg to msg.To, or fails without having delivered it
	// (except for the one ambiguity SMTP has: a connection lost after the
	// message data was sent but before the relay's reply, which is reported
	// as a temporary failure although the relay may have accepted it; the
	// fixed Message-ID lets duplicates be recognised downstream).
	//
	// retry reports whether a later attempt may succeed; it is false when
	// err is nil. A non-nil err is or wraps an *Error carrying the stage,
	// the relay's reply code and text. Send is safe for concurrent use; it
	// returns when ctx is done, with a temporary error.
	Send(ctx context.Context, msg Message) (retry bool, err error)
}

// ErrClosed is wrapped by the error of Send on a closed Relay.
var ErrClosed = errors.New("relay closed")

// Relay is a [Sender] that submits mail to an SMTP relay with go-smtp.
//
// Security: with TLS "starttls" (the default) nothing is sent before the
// STARTTLS upgrade, and a relay that does not offer it gets no message
// (ErrSTARTTLSUnavailable, permanent). Credentials are only sent over a
// verified TLS channel, never in plaintext, and are never logged; go-smtp's
// protocol trace (which would show them) is never enabled.
//
// Connection reuse: one connection is kept open between messages and
// reused for up to MaxMessagesPerConnection messages, with RSET before each
// reused transaction; a connection the relay has dropped is noticed at
// RSET and replaced by a new one. A connection unused for IdleTimeout is
// closed with QUIT. Sends are serialised over that one connection; run
// several Relays for parallel delivery.
//
// A Relay must be closed with Close.
type Relay struct {
	cfg       RelayConfig
	addr      string
	tlsConfig *tls.Config
	logger    *slog.Logger

	sem    chan struct{} // held while using conn; capacity 1
	conn   *relayConn    // guarded by sem
	idle   *time.Timer   // guarded by sem
	closed bool          // guarded by sem
	connN  atomic.Uint64 // connections opened, for logs
}

var _ Sender = (*Relay)(nil)

// relayConn is one open, greeted and (if configured) authenticated session.
type relayConn struct {
	client   *gosmtp.Client
	raw      net.Conn
	id       uint64
	sent     int
	lastUsed time.Time
}

// NewRelay validates cfg, applies its defaults and loads its CA and
// password files. It does not connect: the first Send does.
// A nil logger discards logs.
func NewRelay(cfg RelayConfig, logger *slog.Logger) (*Relay, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults(os.Hostname)
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r := &Relay{
		cfg:    cfg,
		addr:   net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)),
		logger: logger.With(slog.String("component", "smtp"), slog.String("relay", net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)))),
		sem:    make(chan struct{}, 1),
	}
	if cfg.TLS != TLSNone {
		r.tlsConfig = &tls.Config{
			ServerName:         cfg.Host,
			MinVersion:         tls.VersionTLS12,
			InsecureSkipVerify: cfg.InsecureSkipVerify, //nolint:gosec // opt-in, documented as test-only
		}
		if cfg.RootCAFile != "" {
			pem, err := os.ReadFile(cfg.RootCAFile)
			if err != nil {
				return nil, fmt.Errorf("read smtp.rootCAFile: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("smtp.rootCAFile: no PEM certificate in %s", cfg.RootCAFile)
			}
			r.tlsConfig.RootCAs = pool
		}
	}
	if cfg.Auth != AuthNone {
		if _, err := r.password(); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// From returns the sender of every message (RelayConfig.From).
func (r *Relay) From() Address { return r.cfg.From }

// String describes the relay for humans, e.g. "mail.example.com:587 (starttls)".
func (r *Relay) String() string { return r.addr + " (" + r.cfg.TLS + ")" }

// Send implements [Sender].
func (r *Relay) Send(ctx context.Context, msg Message) (bool, error) {
	msg, data, err := composeBytes(r.cfg.From, msg)
	if err != nil {
		return false, classify(StageCompose, "compose message", err)
	}
	select {
	case r.sem <- struct{}{}:
	case <-ctx.Done():
		return true, classify(StageConnect, "wait for connection", ctx.Err())
	}
	defer func() { <-r.sem }()
	if r.closed {
		return true, &Error{Stage: StageConnect, Err: ErrClosed}
	}
	if r.idle != nil {
		r.idle.Stop()
	}
	err = r.send(ctx, msg, data)
	if r.conn != nil {
		r.idle = time.AfterFunc(r.cfg.IdleTimeout, r.closeIdle)
	}
	if err != nil {
		e := classify(StageConnect, "send", err)
		r.logger.DebugContext(ctx, "send failed", slog.String("message_id", msg.MessageID),
			slog.String("stage", string(e.Stage)), slog.Bool("permanent", e.Permanent), slog.Any("error", err))
		return !e.Permanent, err
	}
	return false, nil
}

// Check connects to the relay (or checks the open connection with RSET),
// including STARTTLS and AUTH, without sending a message, and keeps the
// connection for the next Send. Its error is an *Error like Send's. The
// outbox Worker calls it while the relay is failing, so that no
// set-password link is issued for a message that cannot be sent.
func (r *Relay) Check(ctx context.Context) error {
	select {
	case r.sem <- struct{}{}:
	case <-ctx.Done():
		return classify(StageConnect, "wait for connection", ctx.Err())
	}
	defer func() { <-r.sem }()
	if r.closed {
		return &Error{Stage: StageConnect, Err: ErrClosed}
	}
	if r.idle != nil {
		r.idle.Stop()
	}
	_, err := r.ready(ctx)
	if r.conn != nil {
		r.idle = time.AfterFunc(r.cfg.IdleTimeout, r.closeIdle)
	}
	if err != nil {
		return classify(StageConnect, "check relay", err)
	}
	return nil
}

// send runs one transaction, over the open connection or a new one.
// The caller holds sem.
func (r *Relay) send(ctx context.Context, msg Message, data []byte) error {
	c, err := r.ready(ctx)
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { c.raw.Close() })
	defer stop()

	stage, action := StageMail, "send MAIL command"
	err = c.client.Mail(r.cfg.From.Address, nil)
	if err == nil {
		stage, action = StageRcpt, "send RCPT command"
		err = c.client.Rcpt(msg.To.Address, nil)
	}
	var reply *gosmtp.DataResponse
	if err == nil {
		stage, action = StageData, "send DATA command"
		var w *gosmtp.DataCommand
		if w, err = c.client.Data(); err == nil {
			action = "write message data"
			if _, err = w.Write(data); err == nil {
				action = "finish message data"
				reply, err = w.CloseWithResponse()
			}
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			r.drop()
			return classify(stage, action, fmt.Errorf("%w (%v)", ctx.Err(), err))
		}
		var smtpErr *gosmtp.SMTPError
		if !errors.As(err, &smtpErr) || smtpErr.Code == 421 {
			// The session is unusable (I/O error, or the relay is closing
			// it); a reply like 550 leaves it fine for the next message.
			r.drop()
		}
		return classify(stage, action, err)
	}
	c.sent++
	c.lastUsed = time.Now()
	r.logger.DebugContext(ctx, "message accepted", slog.String("message_id", msg.MessageID),
		slog.Uint64("conn", c.id), slog.String("reply", reply.StatusText))
	if c.sent >= r.cfg.MaxMessagesPerConnection {
		r.quit()
	}
	return nil
}

// ready returns a session for the next transaction: the open one after a
// successful RSET, or a new one. The caller holds sem.
func (r *Relay) ready(ctx context.Context) (*relayConn, error) {
	if c := r.conn; c != nil {
		switch {
		case c.sent >= r.cfg.MaxMessagesPerConnection, time.Since(c.lastUsed) >= r.cfg.IdleTimeout:
			r.quit()
		default:
			stop := context.AfterFunc(ctx, func() { c.raw.Close() })
			err := c.client.Reset()
			stop()
			if err == nil {
				return c, nil
			}
			r.logger.DebugContext(ctx, "reused connection failed RSET, reconnecting", slog.Uint64("conn", c.id), slog.Any("error", err))
			r.drop()
		}
	}
	c, err := r.dial(ctx)
	if err != nil {
		return nil, err
	}
	r.conn = c
	return c, nil
}

// dial opens, greets, secures and authenticates a new session.
func (r *Relay) dial(ctx context.Context) (*relayConn, error) {
	d := &net.Dialer{Timeout: r.cfg.DialTimeout}
	var raw net.Conn
	var err error
	if r.cfg.TLS == TLSImplicit {
		td := &tls.Dialer{NetDialer: d, Config: r.tlsConfig}
		raw, err = td.DialContext(ctx, "tcp", r.addr)
		if err != nil {
			var opErr *net.OpError
			if errors.As(err, &opErr) && opErr.Op == "dial" {
				return nil, classify(StageConnect, "connect to the relay", err) // err names the address
			}
			return nil, classify(StageTLS, "TLS handshake with "+r.addr, err)
		}
	} else if raw, err = d.DialContext(ctx, "tcp", r.addr); err != nil {
		return nil, classify(StageConnect, "connect to the relay", err) // err names the address
	}
	c := &relayConn{raw: raw, id: r.connN.Add(1), lastUsed: time.Now()}
	ok := false
	defer func() {
		if !ok {
			raw.Close()
		}
	}()
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	defer stop()
	fail := func(stage Stage, action string, err error) (*relayConn, error) {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		return nil, classify(stage, action, err)
	}

	if r.cfg.TLS == TLSStartTLS {
		// go-smtp's STARTTLS client runs greeting, EHLO and STARTTLS with
		// its own 5-minute timeouts; bound the three by ours.
		timer := time.AfterFunc(3*r.cfg.CommandTimeout, func() { raw.Close() })
		c.client, err = gosmtp.NewClientStartTLS(raw, r.tlsConfig)
		timedOut := !timer.Stop()
		if err != nil {
			var smtpErr *gosmtp.SMTPError
			switch {
			case errors.As(err, &smtpErr):
			case strings.Contains(err.Error(), "support STARTTLS"):
				// go-smtp v0.25 returns a plain error for this case.
				err = fmt.Errorf("%w: %w", ErrSTARTTLSUnavailable, err)
			case timedOut:
				err = fmt.Errorf("%w: %w", os.ErrDeadlineExceeded, err)
			}
			return fail(StageTLS, "start TLS", err)
		}
	} else {
		c.client = gosmtp.NewClient(raw)
	}
	c.client.CommandTimeout = r.cfg.CommandTimeout
	c.client.SubmissionTimeout = r.cfg.CommandTimeout

	stage := StageConnect
	if r.cfg.TLS == TLSStartTLS {
		stage = StageTLS // the handshake runs with this EHLO
	}
	if err := c.client.Hello(r.cfg.HeloName); err != nil {
		return fail(stage, "send EHLO command", err)
	}
	state, secure := c.client.TLSConnectionState()
	secure = secure && state.HandshakeComplete
	if r.cfg.TLS != TLSNone && !secure {
		return nil, &Error{Stage: StageTLS, Permanent: true, Err: errors.New("check TLS: connection is not encrypted")}
	}

	if r.cfg.Auth != AuthNone {
		if !secure {
			return nil, &Error{Stage: StageAuth, Permanent: true, Err: errors.New("authenticate: refusing to send credentials without TLS")}
		}
		if err := r.auth(c.client); err != nil {
			return nil, err
		}
	}
	ok = true
	r.logger.DebugContext(ctx, "connected", slog.Uint64("conn", c.id), slog.Bool("tls", secure),
		slog.String("tls_version", tls.VersionName(state.Version)), slog.String("auth", r.cfg.Auth))
	return c, nil
}

// auth sends AUTH with the configured mechanism.
func (r *Relay) auth(client *gosmtp.Client) error {
	mech := strings.ToUpper(r.cfg.Auth)
	if ok, offered := client.Extension("AUTH"); !ok {
		return &Error{Stage: StageAuth, Permanent: true, Err: errors.New("authenticate: relay does not offer AUTH")}
	} else if !client.SupportsAuth(mech) {
		return &Error{Stage: StageAuth, Permanent: true, Err: fmt.Errorf("authenticate: relay does not offer AUTH %s (offers %s)", mech, offered)}
	}
	password, err := r.password()
	if err != nil {
		return &Error{Stage: StageAuth, Err: err}
	}
	var sc sasl.Client
	switch r.cfg.Auth {
	case AuthLogin:
		sc = sasl.NewLoginClient(r.cfg.Username, password)
	default:
		sc = sasl.NewPlainClient("", r.cfg.Username, password)
	}
	if err := client.Auth(sc); err != nil {
		e := classify(StageAuth, "send AUTH command", err)
		var smtpErr *gosmtp.SMTPError
		if !errors.As(err, &smtpErr) {
			// A SASL exchange the client does not understand will not
			// change by itself.
			e.Permanent = true
		}
		return e
	}
	return nil
}

// password returns the configured password, reading PasswordFile afresh.
func (r *Relay) password() (string, error) {
	if r.cfg.PasswordFile == "" {
		return r.cfg.Password, nil
	}
	b, err := os.ReadFile(r.cfg.PasswordFile)
	if err != nil {
		return "", fmt.Errorf("read smtp.passwordFile: %w", err)
	}
	s := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if s == "" {
		return "", fmt.Errorf("smtp.passwordFile: %s is empty", r.cfg.PasswordFile)
	}
	return s, nil
}

// quit ends the open session politely. The caller holds sem.
func (r *Relay) quit() {
	c := r.conn
	if c == nil {
		return
	}
	r.conn = nil
	if err := c.client.Quit(); err != nil {
		c.client.Close()
	}
	r.logger.Debug("disconnected", slog.Uint64("conn", c.id), slog.Int("sent", c.sent))
}

// drop closes the open session without QUIT. The caller holds sem.
func (r *Relay) drop() {
	if c := r.conn; c != nil {
		r.conn = nil
		c.client.Close()
		r.logger.Debug("connection dropped", slog.Uint64("conn", c.id), slog.Int("sent", c.sent))
	}
}

// closeIdle closes the session if it has been idle for IdleTimeout. It
// runs on a timer and skips when a Send holds the connection.
func (r *Relay) closeIdle() {
	select {
	case r.sem <- struct{}{}:
	default:
		return
	}
	defer func() { <-r.sem }()
	if r.conn != nil && time.Since(r.conn.lastUsed) >= r.cfg.IdleTimeout {
		r.quit()
	}
}

// Close ends the open session with QUIT, waiting for a Send in progress.
// Later Sends fail with ErrClosed. Close is idempotent.
func (r *Relay) Close() error {
	r.sem <- struct{}{}
	defer func() { <-r.sem }()
	r.closed = true
	if r.idle != nil {
		r.idle.Stop()
	}
	r.quit()
	return nil
}
