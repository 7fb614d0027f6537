package ldapsync

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/url"

	"github.com/go-ldap/ldap/v3"
)

// Client is a bound connection to one directory. It reads; it never writes.
// A Client runs one read at a time: callers must not call its methods
// concurrently. Cancelling the context of a call closes the connection, so
// after a cancelled call the Client can only be closed.
type Client struct {
	cfg    Config
	conn   *ldap.Conn
	logger *slog.Logger
	m      mapper
}

// Connect dials cfg.URL (TLS for ldaps://, StartTLS if cfg.StartTLS), binds
// as cfg.BindDN and returns the client. It validates cfg first and reads
// cfg.BindPasswordFile on every call. The password is never logged or put in
// an error. A nil logger discards logs.
func Connect(ctx context.Context, cfg Config, logger *slog.Logger) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("component", "ldapsync", "directory", cfg.Name, "tenant", cfg.Tenant)
	password, err := cfg.password()
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(cfg.URL)
	if err != nil { // Validate parsed it already
		return nil, fmt.Errorf("parse url: %w", err)
	}
	tc, err := cfg.tlsConfig(u.Hostname())
	if err != nil {
		return nil, err
	}
	conn, err := dial(ctx, &cfg, u, tc)
	if err != nil {
		return nil, err
	}
	conn.SetTimeout(cfg.RequestTimeout)
	// go-ldap's StartTLS and Bind take no context: closing the connection
	// is how a cancelled ctx interrupts them.
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	if cfg.StartTLS {
		if err := conn.StartTLS(tc); err != nil {
			stop()
			_ = conn.Close()
			return nil, fmt.Errorf("start TLS with %s: %w", u.Host, ctxErr(ctx, err))
		}
	}
	if u.Scheme == "ldap" && !cfg.StartTLS && !isLoopback(u.Hostname()) {
		logger.Warn("binding without TLS; the bind password crosses the network in clear text; use ldaps:// or startTLS",
			"url", cfg.URL)
	}
	if err := conn.Bind(cfg.BindDN, password); err != nil {
		stop()
		_ = conn.Close()
		return nil, fmt.Errorf("bind %q: %w", cfg.BindDN, ctxErr(ctx, err))
	}
	if !stop() { // ctx ended after the bind and closed the connection
		return nil, fmt.Errorf("bind %q: %w", cfg.BindDN, context.Cause(ctx))
	}
	_, tlsOn := conn.TLSConnectionState()
	logger.Info("connected", "url", cfg.URL, "bind_dn", cfg.BindDN, "tls", tlsOn)
	return &Client{cfg: cfg, conn: conn, logger: logger, m: mapper{attrs: cfg.Attributes}}, nil
}

// dial opens the TCP (and for ldaps:// the TLS) connection within
// cfg.DialTimeout and ctx, and starts go-ldap on it.
func dial(ctx context.Context, cfg *Config, u *url.URL, tc *tls.Config) (*ldap.Conn, error) {
	port := u.Port()
	if port == "" {
		port = ldap.DefaultLdapPort
		if u.Scheme == "ldaps" {
			port = ldap.DefaultLdapsPort
		}
	}
	addr := net.JoinHostPort(u.Hostname(), port)
	ctx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
	defer cancel()
	d := net.Dialer{}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connect to the directory: %w", err) // err names the address
	}
	if u.Scheme == "ldaps" {
		tlsConn := tls.Client(nc, tc)
		if err := tlsConn.HandshakeContext(ctx); err != nil {
			_ = nc.Close()
			return nil, fmt.Errorf("TLS handshake with %s: %w", addr, err)
		}
		nc = tlsConn
	}
	conn := ldap.NewConn(nc, u.Scheme == "ldaps")
	conn.Start()
	return conn, nil
}

// Close closes the connection. It is safe to call more than once.
func (c *Client) Close() error {
	return c.conn.Close()
}

// ctxErr prefers the context's error over the one a closed connection
// produced, so a cancelled call says "context canceled".
func ctxErr(ctx context.Context, err error) error {
	if cause := context.Cause(ctx); cause != nil {
		return cause
	}
	return err
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
