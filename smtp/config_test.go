package smtp_test

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/pbxgate/pbxgate/smtp"
)

func TestRelayConfigYAML(t *testing.T) {
	const doc = `
host: mail.example.com
port: 2525
tls: implicit
insecureSkipVerify: true
rootCAFile: /etc/ca.pem
username: pbxgate
passwordFile: /run/secrets/smtp
auth: login
from:
  name: Example PBX
  address: pbx@example.com
heloName: pbx.example.com
dialTimeout: 3s
commandTimeout: 45s
maxMessagesPerConnection: 20
idleTimeout: 1m
`
	var cfg smtp.RelayConfig
	dec := yaml.NewDecoder(bytes.NewBufferString(doc))
	dec.KnownFields(true)
	require.NoError(t, dec.Decode(&cfg))
	assert.Equal(t, smtp.RelayConfig{
		Host:                     "mail.example.com",
		Port:                     2525,
		TLS:                      smtp.TLSImplicit,
		InsecureSkipVerify:       true,
		RootCAFile:               "/etc/ca.pem",
		Username:                 "pbxgate",
		PasswordFile:             "/run/secrets/smtp",
		Auth:                     smtp.AuthLogin,
		From:                     smtp.Address{Name: "Example PBX", Address: "pbx@example.com"},
		HeloName:                 "pbx.example.com",
		DialTimeout:              3 * time.Second,
		CommandTimeout:           45 * time.Second,
		MaxMessagesPerConnection: 20,
		IdleTimeout:              time.Minute,
	}, cfg)
	assert.NoError(t, cfg.Validate())
}

func TestRelayConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     smtp.RelayConfig
		wantErr string
	}{
		{
			name: "minimal",
			cfg:  smtp.RelayConfig{Host: "mail.example.com", From: smtp.Address{Address: "pbx@example.com"}},
		},
		{
			name: "empty",
			cfg:  smtp.RelayConfig{},
			wantErr: "smtp.host: required when smtp is configured (leave the smtp section out to write mail to a directory instead)\n" +
				"smtp.from.address: required",
		},
		{
			name: "everything wrong",
			cfg: smtp.RelayConfig{
				Host:                     "smtp://mail.example.com:25",
				Port:                     70000,
				TLS:                      "STARTTLS",
				Auth:                     "cram-md5",
				Password:                 "x",
				PasswordFile:             "/f",
				From:                     smtp.Address{Name: "PBX\r\nBcc: x@example.org", Address: "PBX <pbx@example.com>"},
				HeloName:                 "my host",
				DialTimeout:              -time.Second,
				MaxMessagesPerConnection: -1,
			},
			wantErr: `smtp.host: "smtp://mail.example.com:25" must be a host name or IP address, without scheme or port (use smtp.port)` + "\n" +
				"smtp.port: 70000 is not a TCP port (1-65535; 0 means the default)\n" +
				`smtp.tls: "STARTTLS" is not one of starttls, implicit, none` + "\n" +
				`smtp.auth: "cram-md5" is not one of plain, login, none` + "\n" +
				"smtp.password: set only one of smtp.password and smtp.passwordFile\n" +
				`smtp.from.address: "PBX <pbx@example.com>" must be an ASCII addr-spec (IDN domains in xn-- form)` + "\n" +
				"smtp.from.name: contains a line break at byte 3\n" +
				`smtp.heloName: "my host" is not a domain name (letters, digits, '-' and '.' only)` + "\n" +
				"smtp.dialTimeout: -1s is negative (0 means the default)\n" +
				"smtp.maxMessagesPerConnection: -1 is negative (0 means the default 100)",
		},
		{
			name: "plaintext credentials",
			cfg: smtp.RelayConfig{
				Host: "mail.example.com", TLS: smtp.TLSNone, Username: "u", Password: "p",
				InsecureSkipVerify: true, From: smtp.Address{Address: "pbx@example.com"},
			},
			wantErr: "smtp.insecureSkipVerify: has no effect with smtp.tls none\n" +
				"smtp.auth: credentials are never sent in plaintext; set smtp.tls to starttls or implicit, or remove smtp.username",
		},
		{
			name:    "auth without username",
			cfg:     smtp.RelayConfig{Host: "10.0.0.1", Auth: smtp.AuthPlain, From: smtp.Address{Address: "pbx@example.com"}},
			wantErr: "smtp.username: required when smtp.auth is plain",
		},
		{
			name:    "username without password",
			cfg:     smtp.RelayConfig{Host: "::1", Username: "u", From: smtp.Address{Address: "pbx@example.com"}},
			wantErr: "smtp.passwordFile: required when smtp.username is set (or smtp.password)",
		},
		{
			name:    "auth none with username",
			cfg:     smtp.RelayConfig{Host: "h", Auth: smtp.AuthNone, Username: "u", Password: "p", From: smtp.Address{Address: "pbx@example.com"}},
			wantErr: "smtp.auth: is none but smtp.username is set; remove one of them",
		},
		{
			name:    "password without username",
			cfg:     smtp.RelayConfig{Host: "h", Password: "p", From: smtp.Address{Address: "pbx@example.com"}},
			wantErr: "smtp.username: required when a password is set",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Equal(t, tt.wantErr, err.Error())
			var fe *smtp.FieldError
			assert.ErrorAs(t, err, &fe)
		})
	}
}

func TestNewRelayFiles(t *testing.T) {
	base := smtp.RelayConfig{Host: "mail.example.com", From: smtp.Address{Address: "pbx@example.com"}}

	cfg := base
	cfg.RootCAFile = filepath.Join(t.TempDir(), "missing.pem")
	_, err := smtp.NewRelay(cfg, nil)
	assert.ErrorContains(t, err, "read smtp.rootCAFile:")

	cfg = base
	cfg.RootCAFile = filepath.Join(t.TempDir(), "empty.pem")
	require.NoError(t, os.WriteFile(cfg.RootCAFile, []byte("not pem"), 0o600))
	_, err = smtp.NewRelay(cfg, nil)
	assert.ErrorContains(t, err, "smtp.rootCAFile: no PEM certificate in")

	cfg = base
	cfg.Username, cfg.PasswordFile = "u", filepath.Join(t.TempDir(), "missing")
	_, err = smtp.NewRelay(cfg, nil)
	assert.ErrorContains(t, err, "read smtp.passwordFile:")

	r, err := smtp.NewRelay(base, nil)
	require.NoError(t, err)
	assert.Equal(t, "mail.example.com:587 (starttls)", r.String())
	require.NoError(t, r.Close())

	cfg = base
	cfg.TLS = smtp.TLSImplicit
	r, err = smtp.NewRelay(cfg, nil)
	require.NoError(t, err)
	assert.Equal(t, "mail.example.com:465 (implicit)", r.String())
	require.NoError(t, r.Close())
}

func TestRelayConfigLogValue(t *testing.T) {
	var buf bytes.Buffer
	cfg := smtp.RelayConfig{Host: "h", Username: "u", Password: "hunter2", From: smtp.Address{Address: "pbx@example.com"}}
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("loaded", "smtp", cfg)
	assert.NotContains(t, buf.String(), "hunter2")
	assert.Contains(t, buf.String(), `"password_set":true`)
}
