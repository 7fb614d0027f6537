package smtp

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"strings"
	"time"
)

// TLS modes of [RelayConfig.TLS].
const (
	// TLSStartTLS connects in plaintext and upgrades with STARTTLS before
	// anything else is sent. A relay that does not offer STARTTLS is refused.
	TLSStartTLS = "starttls"
	// TLSImplicit speaks TLS from the first byte (SMTPS, usually port 465).
	TLSImplicit = "implicit"
	// TLSNone sends everything, the message included, in plaintext. It is
	// only used when set explicitly and never carries credentials.
	TLSNone = "none"
)

// AUTH mechanisms of [RelayConfig.Auth].
const (
	// AuthPlain is SASL PLAIN (RFC 4616).
	AuthPlain = "plain"
	// AuthLogin is the obsolete but common LOGIN mechanism.
	AuthLogin = "login"
	// AuthNone sends no AUTH command.
	AuthNone = "none"
)

// Defaults of [RelayConfig], applied to zero fields.
const (
	DefaultPort                     = 587
	DefaultImplicitTLSPort          = 465
	DefaultDialTimeout              = 10 * time.Second
	DefaultCommandTimeout           = time.Minute
	DefaultMaxMessagesPerConnection = 100
	DefaultIdleTimeout              = 30 * time.Second
)

// Address is a mailbox: an addr-spec and an optional display name. Display
// names may hold any Unicode text except control characters; they are
// RFC 2047-encoded on the wire. Addresses must be ASCII (internationalised
// domains in their xn-- form).
type Address struct {
	// Name is the display name, e.g. "Anna Müller". Optional.
	Name string `yaml:"name"`
	// Address is the addr-spec, e.g. "anna@example.com". Required.
	Address string `yaml:"address"`
}

// String formats the address as an RFC 5322 mailbox with an encoded name.
func (a Address) String() string {
	return (&mail.Address{Name: a.Name, Address: a.Address}).String()
}

// Domain returns the part after the last "@", or "" when there is none.
func (a Address) Domain() string {
	i := strings.LastIndexByte(a.Address, '@')
	if i < 0 {
		return ""
	}
	return a.Address[i+1:]
}

// validate returns one problem per bad part; path names the YAML path of a.
func (a Address) validate(path string) []error {
	var errs []error
	if err := checkAddrSpec(a.Address); err != nil {
		errs = append(errs, fieldErr(path+".address", err.Error()))
	}
	if err := checkText(a.Name); err != nil {
		errs = append(errs, fieldErr(path+".name", err.Error()))
	}
	return errs
}

// RelayConfig configures a [Relay]. Zero fields take the documented
// defaults, so a YAML document only needs host and from. Call Validate
// before NewRelay to report every problem at once.
//
//	smtp:
//	  host: mail.example.com
//	  port: 587               # default; 465 when tls is implicit
//	  tls: starttls           # starttls | implicit | none
//	  username: pbxgate
//	  passwordFile: /run/secrets/smtp-password
//	  auth: plain             # plain | login | none
//	  from:
//	    name: Example PBX
//	    address: pbx@example.com
type RelayConfig struct {
	// Host is the relay's host name or IP address, without port or scheme.
	// Required. It is also the name the relay's certificate is checked
	// against.
	Host string `yaml:"host"`

	// Port is the relay's TCP port. Default 587 (submission), or 465 when
	// TLS is "implicit".
	Port int `yaml:"port"`

	// TLS selects transport security: "starttls" (default; the relay must
	// offer STARTTLS or nothing is sent), "implicit" (TLS from the first
	// byte, SMTPS) or "none" (plaintext; only when set explicitly, and not
	// allowed together with credentials).
	TLS string `yaml:"tls"`

	// InsecureSkipVerify accepts any certificate the relay shows. Default
	// false. For tests only: it makes TLS worthless against an active
	// attacker.
	InsecureSkipVerify bool `yaml:"insecureSkipVerify"`

	// RootCAFile is a PEM file of CA certificates used, instead of the
	// system pool, to verify the relay's certificate. Default: the system
	// pool.
	RootCAFile string `yaml:"rootCAFile"`

	// Username is the AUTH user name. Default: none, no AUTH.
	Username string `yaml:"username"`

	// Password is the AUTH password. Prefer PasswordFile. It is never
	// logged. Exclusive with PasswordFile.
	Password string `yaml:"password"`

	// PasswordFile is a file holding the AUTH password; one trailing
	// newline is removed. It is read again for every new connection, so a
	// rotated secret is picked up without a restart. Exclusive with
	// Password.
	PasswordFile string `yaml:"passwordFile"`

	// Auth is the SASL mechanism: "plain", "login" or "none". Default
	// "plain" when Username is set, else "none". Credentials are only ever
	// sent over TLS.
	Auth string `yaml:"auth"`

	// From is the sender of every message, used for the From header and
	// the envelope (MAIL FROM). Required. Its domain is also the right-hand
	// side of generated Message-IDs.
	From Address `yaml:"from"`

	// HeloName is the name sent with EHLO. Default: the machine's host name,
	// "localhost" if it has none. With STARTTLS the EHLO before the upgrade
	// says "localhost" (go-smtp v0.25 sends that one itself); the EHLO on
	// the encrypted channel, the one the relay keeps, uses HeloName.
	HeloName string `yaml:"heloName"`

	// DialTimeout bounds connecting, including the TLS handshake for
	// implicit TLS. Default 10s.
	DialTimeout time.Duration `yaml:"dialTimeout"`

	// CommandTimeout bounds the wait for each reply of the relay, including
	// the greeting and the reply after the message data. Default 1m.
	CommandTimeout time.Duration `yaml:"commandTimeout"`

	// MaxMessagesPerConnection is how many messages are sent over one
	// connection before it is closed and a new one opened; bursts (a bulk
	// import's welcome mails) reuse the connection, with RSET between
	// messages. 1 disables reuse. Default 100.
	MaxMessagesPerConnection int `yaml:"maxMessagesPerConnection"`

	// IdleTimeout is how long an unused connection is kept open for the
	// next message before it is closed with QUIT. Default 30s.
	IdleTimeout time.Duration `yaml:"idleTimeout"`
}

// LogValue implements slog.LogValuer and leaves the password out, so a
// config that ends up in a log line never leaks it.
func (c RelayConfig) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("host", c.Host),
		slog.Int("port", c.Port),
		slog.String("tls", c.TLS),
		slog.String("username", c.Username),
		slog.Bool("password_set", c.Password != "" || c.PasswordFile != ""),
		slog.String("auth", c.Auth),
		slog.String("from", c.From.Address),
	)
}

// withDefaults returns c with every zero field set to its default.
func (c RelayConfig) withDefaults(hostname func() (string, error)) RelayConfig {
	if c.TLS == "" {
		c.TLS = TLSStartTLS
	}
	if c.Port == 0 {
		c.Port = DefaultPort
		if c.TLS == TLSImplicit {
			c.Port = DefaultImplicitTLSPort
		}
	}
	if c.Auth == "" {
		c.Auth = AuthNone
		if c.Username != "" {
			c.Auth = AuthPlain
		}
	}
	if c.HeloName == "" {
		c.HeloName = "localhost"
		if h, err := hostname(); err == nil && checkHeloName(h) == nil {
			c.HeloName = h
		}
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.CommandTimeout == 0 {
		c.CommandTimeout = DefaultCommandTimeout
	}
	if c.MaxMessagesPerConnection == 0 {
		c.MaxMessagesPerConnection = DefaultMaxMessagesPerConnection
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	return c
}

// FieldError is one configuration problem, located by its YAML path.
type FieldError struct {
	// Path is the YAML path, e.g. "smtp.host".
	Path string
	// Problem says what is wrong, e.g. "required".
	Problem string
}

// Error formats the problem as "path: problem".
func (e *FieldError) Error() string { return e.Path + ": " + e.Problem }

func fieldErr(path, problem string) error { return &FieldError{Path: path, Problem: problem} }

// Validate reports every problem of the configuration at once, each as a
// *FieldError naming the YAML path under "smtp.", joined with errors.Join
// (one problem per line). It does not read files or touch the network;
// NewRelay does that.
func (c RelayConfig) Validate() error {
	var errs []error
	add := func(path, format string, args ...any) {
		errs = append(errs, fieldErr("smtp."+path, fmt.Sprintf(format, args...)))
	}

	switch {
	case c.Host == "":
		add("host", "required when smtp is configured (leave the smtp section out to write mail to a directory instead)")
	case strings.ContainsAny(c.Host, "/: \t\r\n") && net.ParseIP(c.Host) == nil:
		add("host", "%q must be a host name or IP address, without scheme or port (use smtp.port)", c.Host)
	}
	if c.Port < 0 || c.Port > 65535 {
		add("port", "%d is not a TCP port (1-65535; 0 means the default)", c.Port)
	}

	tlsMode := c.TLS
	switch tlsMode {
	case "", TLSStartTLS, TLSImplicit, TLSNone:
	default:
		add("tls", "%q is not one of starttls, implicit, none", c.TLS)
	}
	if tlsMode == TLSNone {
		if c.InsecureSkipVerify {
			add("insecureSkipVerify", "has no effect with smtp.tls none")
		}
		if c.RootCAFile != "" {
			add("rootCAFile", "has no effect with smtp.tls none")
		}
	}

	switch c.Auth {
	case "", AuthPlain, AuthLogin, AuthNone:
	default:
		add("auth", "%q is not one of plain, login, none", c.Auth)
	}
	wantsAuth := c.Auth == AuthPlain || c.Auth == AuthLogin || (c.Auth == "" && c.Username != "")
	switch {
	case wantsAuth && c.Username == "":
		add("username", "required when smtp.auth is %s", c.Auth)
	case c.Auth == AuthNone && c.Username != "":
		add("auth", "is none but smtp.username is set; remove one of them")
	}
	if wantsAuth && tlsMode == TLSNone {
		add("auth", "credentials are never sent in plaintext; set smtp.tls to starttls or implicit, or remove smtp.username")
	}
	switch {
	case c.Password != "" && c.PasswordFile != "":
		add("password", "set only one of smtp.password and smtp.passwordFile")
	case c.Username != "" && c.Password == "" && c.PasswordFile == "":
		add("passwordFile", "required when smtp.username is set (or smtp.password)")
	case c.Username == "" && (c.Password != "" || c.PasswordFile != ""):
		add("username", "required when a password is set")
	}

	errs = append(errs, c.From.validate("smtp.from")...)
	if c.HeloName != "" {
		if err := checkHeloName(c.HeloName); err != nil {
			add("heloName", "%v", err)
		}
	}
	for _, d := range []struct {
		path string
		v    time.Duration
	}{
		{"dialTimeout", c.DialTimeout},
		{"commandTimeout", c.CommandTimeout},
		{"idleTimeout", c.IdleTimeout},
	} {
		if d.v < 0 {
			add(d.path, "%s is negative (0 means the default)", d.v)
		}
	}
	if c.MaxMessagesPerConnection < 0 {
		add("maxMessagesPerConnection", "%d is negative (0 means the default %d)", c.MaxMessagesPerConnection, DefaultMaxMessagesPerConnection)
	}
	return errors.Join(errs...)
}

// checkHeloName accepts a domain name or an address literal like [192.0.2.1].
func checkHeloName(s string) error {
	if s == "" {
		return errors.New("empty")
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		if net.ParseIP(strings.TrimPrefix(s[1:len(s)-1], "IPv6:")) == nil {
			return fmt.Errorf("%q is not an address literal", s)
		}
		return nil
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.') {
			return fmt.Errorf("%q is not a domain name (letters, digits, '-' and '.' only)", s)
		}
	}
	return nil
}
