package main

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/pbxgate/pbxgate/ldapsync"
	"github.com/pbxgate/pbxgate/pbxusers"
	"github.com/pbxgate/pbxgate/smtp"
)

// Defaults of the gateway configuration.
const (
	DefaultData   = "pbxgate-data"
	DefaultListen = "127.0.0.1:8080"
	DefaultTenant = "default"
)

// Config is the gateway's configuration file (YAML). Every field is optional;
// the zero value is the embedded default. ${VAR} in a string value is
// replaced by the environment variable VAR (an unset variable is an error;
// keys and comments are never expanded), so secrets need not be written
// into the file. Every scalar setting can also be set by an environment
// variable named PBXGATE_ and its YAML path in upper snake case
// (publicURL: PBXGATE_PUBLIC_URL, smtp.password: PBXGATE_SMTP_PASSWORD),
// which wins over the file; see envName and docs/configuration.md.
//
//	data: /var/lib/pbxgate
//	listen: 0.0.0.0:8443
//	publicURL: https://pbx-provisioning.example.com
//	tls: {certFile: /etc/pbxgate/tls.crt, keyFile: /etc/pbxgate/tls.key}
//	tenants:
//	  - id: acme
//	    name: Acme Inc.
//	    timeZone: Europe/Berlin
//	    region: DE
//	smtp:
//	  host: smtp.example.com
//	  username: pbxgate
//	  password: ${SMTP_PASSWORD}
//	  from: {name: Acme Phone System, address: phones@example.com}
//	ldap:
//	  directories:
//	    - name: corp-ad
//	      tenant: acme
//	      preset: ad
//	      url: ldaps://dc1.corp.example.com
//	      bindDN: CN=pbxgate,OU=Service,DC=corp,DC=example,DC=com
//	      bindPassword: ${AD_PASSWORD}
//	      baseDN: DC=corp,DC=example,DC=com
type Config struct {
	// Data is the directory for the database and the .eml mail folder.
	// Default ./pbxgate-data. Flag --data, env PBXGATE_DATA.
	Data string `yaml:"data"`
	// Database is the database to use: an SQLite file (a path or
	// sqlite:///path; the default, <data>/pbxgate.db) or a PostgreSQL URL
	// (postgres://user:${PGPASSWORD}@host/db) for several gateways sharing
	// one database. Flag --db, env PBXGATE_DB.
	Database string `yaml:"database"`
	// Listen is the address the gateway listens on. Default
	// 127.0.0.1:8080 (loopback only). Flag --listen, env PBXGATE_LISTEN.
	Listen string `yaml:"listen"`
	// PublicURL is the gateway's address as users and identity providers
	// reach it; set-password links and the SCIM base URL are built from it.
	// Default http://<listen>, or https:// with TLS.
	PublicURL string `yaml:"publicURL"`
	// TLS serves HTTPS when both files are set.
	TLS TLSConfig `yaml:"tls"`
	// HTTP tunes the server's timeouts.
	HTTP HTTPConfig `yaml:"http"`
	// Log configures logging.
	Log LogConfig `yaml:"log"`
	// Tenants are created on start when missing, and their settings are
	// kept in step with this file. With no tenants configured, tenant
	// "default" is created on first start.
	Tenants []TenantConfig `yaml:"tenants"`
	// SCIM configures the SCIM endpoint.
	SCIM SCIMConfig `yaml:"scim"`
	// LDAP lists the directories to sync.
	LDAP ldapsync.Section `yaml:"ldap"`
	// SMTP is the mail relay. Without it, mail is written as .eml files to
	// <data>/mail.
	SMTP *smtp.RelayConfig `yaml:"smtp"`
	// Mail configures welcome and password-reset mail.
	Mail MailConfig `yaml:"mail"`
	// Metrics configures where /metrics is served.
	Metrics MetricsConfig `yaml:"metrics"`
}

// TLSConfig names the certificate and key for HTTPS.
type TLSConfig struct {
	CertFile string `yaml:"certFile"`
	KeyFile  string `yaml:"keyFile"`
}

// HTTPConfig holds the HTTP server's timeouts. They bound how long a slow
// or stalled client (slow-loris) can hold a connection.
type HTTPConfig struct {
	// ReadHeaderTimeout bounds reading a request's headers; default 10s.
	ReadHeaderTimeout time.Duration `yaml:"readHeaderTimeout"`
	// ReadTimeout bounds reading a whole request; default 60s.
	ReadTimeout time.Duration `yaml:"readTimeout"`
	// WriteTimeout bounds writing a response; default 90s.
	WriteTimeout time.Duration `yaml:"writeTimeout"`
	// IdleTimeout closes idle keep-alive connections; default 2m.
	IdleTimeout time.Duration `yaml:"idleTimeout"`
	// ShutdownGrace is how long, after SIGINT or SIGTERM, in-flight
	// requests get to finish before their connections are closed; the
	// process then exits 0 either way. Default 10s.
	ShutdownGrace time.Duration `yaml:"shutdownGrace"`
}

// DefaultShutdownGrace is HTTPConfig.ShutdownGrace's default.
const DefaultShutdownGrace = 10 * time.Second

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// LogConfig configures logging.
type LogConfig struct {
	// Format is "text", "json" or "auto" (default: text on a terminal,
	// JSON otherwise).
	Format string `yaml:"format"`
	// Level is debug, info (default), warn or error.
	Level string `yaml:"level"`
}

// TenantConfig is a tenant declared in the configuration file.
type TenantConfig struct {
	ID       string `yaml:"id"`
	Name     string `yaml:"name"`
	TimeZone string `yaml:"timeZone"`
	Region   string `yaml:"region"`
	// SignInURL is where the tenant's users sign in to the phone system;
	// the welcome mail and the set-password page link to it.
	SignInURL string `yaml:"signInURL"`
	// SIPDomain is the tenant's SIP domain and digest realm, the domain
	// the phone system asks the PBX feed about; empty keeps what the API
	// or CLI set, else the tenant id (see pbxusers.Tenant.SIPDomain).
	SIPDomain string `yaml:"sipDomain"`
	// UniqueEmails refuses a second user with an address another user of
	// the tenant has; off by default (see pbxusers.Tenant.UniqueEmails).
	UniqueEmails bool `yaml:"uniqueEmails"`
	// WelcomeMail turns welcome mail for new users on (default) or off.
	WelcomeMail *bool `yaml:"welcomeMail"`
	// Extensions is the tenant's number plan.
	Extensions ExtensionsConfig `yaml:"extensions"`
}

// ExtensionsConfig is pbxusers.ExtensionPlan in the file's spelling.
type ExtensionsConfig struct {
	MinLength  int      `yaml:"minLength"`
	MaxLength  int      `yaml:"maxLength"`
	PrefixFree bool     `yaml:"prefixFree"`
	Users      string   `yaml:"users"`  // "200-299"
	System     string   `yaml:"system"` // "800-899"
	AutoAssign bool     `yaml:"autoAssign"`
	Reserved   []string `yaml:"reserved"`
}

// SCIMConfig configures the SCIM endpoint.
type SCIMConfig struct {
	// MaxBodyBytes caps a request body; default 1 MiB.
	MaxBodyBytes int64 `yaml:"maxBodyBytes"`
	// RateLimit is per token; zero values take the defaults.
	RateLimit RateLimitConfig `yaml:"rateLimit"`
}

// RateLimitConfig is a token bucket.
type RateLimitConfig struct {
	// PerSecond is the sustained request rate per token; default 50; a
	// negative value turns rate limiting off (for load tests).
	PerSecond float64 `yaml:"perSecond"`
	// Burst is how many requests may come at once; default 100.
	Burst int `yaml:"burst"`
}

// MetricsConfig configures the Prometheus endpoint.
type MetricsConfig struct {
	// Listen, when set, serves /metrics (and, on a loopback address, the
	// Go profiler under /debug/pprof/) on this address of its own, and no
	// longer on the main listener: for deployments where the SCIM port
	// faces the internet. Empty (the default) serves /metrics on the main
	// listener.
	Listen string `yaml:"listen"`
}

// MailConfig configures the mail the gateway sends.
type MailConfig struct {
	// From is the sender when no relay is configured (.eml files); with a
	// relay, smtp.from is used. Default pbxgate@localhost.
	From smtp.Address `yaml:"from"`
	// Templates is a directory of per-tenant template overrides
	// (<dir>/<tenant>/welcome.<lang>.{subject,txt,html}.tmpl).
	Templates string `yaml:"templates"`
	// LinkTTL is how long a set-password link works; default 24h, at most
	// 72h.
	LinkTTL time.Duration `yaml:"linkTTL"`
	// PollInterval is how often the outbox worker looks for due mail;
	// default 2s.
	PollInterval time.Duration `yaml:"pollInterval"`
	// MaxAttempts is how often a mail is tried before it is marked failed;
	// default 10.
	MaxAttempts int `yaml:"maxAttempts"`
	// Lease is how long a gateway keeps the mail it claimed from the outbox
	// to itself; a gateway that dies holding mail hands it over after it.
	// Default 2m, at least 30s.
	Lease time.Duration `yaml:"lease"`
	// FormKeyFile holds the key (32 bytes or more) that signs the
	// set-password forms. Default: a key generated in the data directory.
	// Gateways behind one load balancer need the same key, so that a form
	// opened on one can be posted to another.
	FormKeyFile string `yaml:"formKeyFile"`
}

// ConfigError is every problem of a configuration file, each with its
// place (a YAML path or line).
type ConfigError struct {
	File     string
	Problems []string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("%s: %s:\n  %s", e.File, plural(len(e.Problems), "problem", "problems"), strings.Join(e.Problems, "\n  "))
}

// LoadConfig reads and validates a configuration file (see loadConfig);
// path "" returns the embedded defaults with the environment applied.
func LoadConfig(path string, getenv func(string) string) (*Config, error) {
	cfg, _, err := loadConfig(path, getenv)
	return cfg, err
}

// Validate reports every problem with its YAML path.
func (c *Config) Validate(file string) error {
	var probs []string
	add := func(path, msg string, args ...any) {
		probs = append(probs, path+": "+fmt.Sprintf(msg, args...))
	}
	if c.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Listen); err != nil {
			add("listen", "%q is not host:port (e.g. 127.0.0.1:8080)", c.Listen)
		}
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add("publicURL", "%q is not an http(s) URL", c.PublicURL)
		}
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		add("tls", "certFile and keyFile go together")
	}
	switch c.Log.Format {
	case "", "auto", "text", "json":
	default:
		add("log.format", "must be auto, text or json")
	}
	switch c.Log.Level {
	case "", "debug", "info", "warn", "error":
	default:
		add("log.level", "must be debug, info, warn or error")
	}
	seen := map[string]bool{}
	for i, t := range c.Tenants {
		path := fmt.Sprintf("tenants[%d]", i)
		if seen[t.ID] {
			add(path+".id", "tenant %q is listed twice", t.ID)
		}
		seen[t.ID] = true
		tn, err := t.tenant()
		if err != nil {
			add(path+".extensions", "%s", err)
			continue
		}
		var ve *pbxusers.ValidationError
		if err := tn.Validate(); errors.As(err, &ve) {
			for _, f := range ve.Fields {
				add(path+"."+f.Field, "%s", f.Reason)
			}
		}
	}
	if c.SCIM.MaxBodyBytes < 0 {
		add("scim.maxBodyBytes", "must not be negative")
	}
	if c.SCIM.RateLimit.Burst < 0 {
		add("scim.rateLimit.burst", "must not be negative")
	}
	if err := c.LDAP.Validate(); err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			if line = strings.TrimSpace(line); line != "" {
				probs = append(probs, line)
			}
		}
	}
	for i, d := range c.LDAP.Directories {
		if len(c.Tenants) > 0 && !seen[d.Tenant] {
			add(fmt.Sprintf("ldap.directories[%d].tenant", i), "tenant %q is not in tenants", d.Tenant)
		}
	}
	if c.SMTP != nil {
		if err := c.SMTP.Validate(); err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				if line = strings.TrimSpace(line); line != "" {
					probs = append(probs, line)
				}
			}
		}
	}
	if c.Mail.LinkTTL < 0 || c.Mail.LinkTTL > 72*time.Hour {
		add("mail.linkTTL", "must be between 0 (24h default) and 72h")
	}
	if c.Mail.MaxAttempts < 0 {
		add("mail.maxAttempts", "must not be negative")
	}
	if len(probs) == 0 {
		return nil
	}
	if file == "" {
		file = "configuration"
	}
	return &ConfigError{File: file, Problems: probs}
}

// tenant returns the pbxusers tenant a TenantConfig declares.
func (t TenantConfig) tenant() (pbxusers.Tenant, error) {
	users, err := parseRange(t.Extensions.Users)
	if err != nil {
		return pbxusers.Tenant{}, fmt.Errorf("users: %w", err)
	}
	system, err := parseRange(t.Extensions.System)
	if err != nil {
		return pbxusers.Tenant{}, fmt.Errorf("system: %w", err)
	}
	return pbxusers.Tenant{
		ID: t.ID, Name: t.Name, TimeZone: t.TimeZone, Region: t.Region, SignInURL: t.SignInURL, SIPDomain: t.SIPDomain, UniqueEmails: t.UniqueEmails,
		DisableWelcomeMail: t.WelcomeMail != nil && !*t.WelcomeMail,
		Extensions: pbxusers.ExtensionPlan{MinLength: t.Extensions.MinLength, MaxLength: t.Extensions.MaxLength,
			PrefixFree: t.Extensions.PrefixFree, Users: users, System: system, AutoAssign: t.Extensions.AutoAssign,
			Reserved: t.Extensions.Reserved},
	}, nil
}

func parseRange(s string) (pbxusers.Range, error) {
	if s == "" {
		return pbxusers.Range{}, nil
	}
	from, to, ok := strings.Cut(s, "-")
	if !ok {
		return pbxusers.Range{}, fmt.Errorf("%q is not a range such as 200-299", s)
	}
	return pbxusers.Range{From: strings.TrimSpace(from), To: strings.TrimSpace(to)}, nil
}

// settings are the values that flags, the environment and the file decide,
// in that order of precedence.
type settings struct {
	cfg      *Config
	cfgPath  string
	data     string
	database string
	listen   string
}

// resolve applies flag and environment values over the file's.
func resolve(cfg *Config, cfgPath, dataFlag, dbFlag, listenFlag string, getenv func(string) string) settings {
	s := settings{cfg: cfg, cfgPath: cfgPath}
	s.data = first(dataFlag, getenv("PBXGATE_DATA"), cfg.Data, DefaultData)
	s.database = first(dbFlag, getenv("PBXGATE_DB"), cfg.Database, filepath.Join(s.data, "pbxgate.db"))
	s.listen = first(listenFlag, getenv("PBXGATE_LISTEN"), cfg.Listen, DefaultListen)
	return s
}

func first(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
