package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pbxgate/pbxgate/pbxusers"
	"github.com/pbxgate/pbxgate/smtp"
)

// mailSender returns the configured relay, or the .eml directory in
// <data>/mail when none is configured, with a description for logs.
func mailSender(cfg *Config, set settings, log *slog.Logger) (smtp.Sender, io.Closer, string, error) {
	if cfg.SMTP != nil && cfg.SMTP.Host != "" {
		r, err := smtp.NewRelay(*cfg.SMTP, log.With("component", "smtp"))
		if err != nil {
			return nil, nil, "", fmt.Errorf("smtp relay: %w", err)
		}
		return r, r, r.String(), nil
	}
	from := cfg.Mail.From
	if from.Address == "" {
		from = smtp.Address{Name: "pbxgate", Address: "pbxgate@localhost"}
	}
	path := filepath.Join(set.data, "mail")
	d, err := smtp.NewDir(path, from, log.With("component", "mail"))
	if err != nil {
		return nil, nil, "", fmt.Errorf("mail directory: %w", err)
	}
	return d, io.NopCloser(nil), ".eml files in " + path, nil
}

// newWorker builds the outbox worker for the configuration.
func newWorker(e *env, cfg *Config, set settings, public string, reg prometheus.Registerer, log *slog.Logger) (*smtp.Worker, io.Closer, string, error) {
	sender, closer, via, err := mailSender(cfg, set, log)
	if err != nil {
		return nil, nil, "", err
	}
	tmpl, err := smtp.NewTemplates(cfg.Mail.Templates)
	if err != nil {
		closer.Close()
		return nil, nil, "", fmt.Errorf("mail templates: %w", err)
	}
	w, err := smtp.NewWorker(e.dir, sender, tmpl, smtp.WorkerOptions{
		PublicURL:    public,
		PollInterval: cfg.Mail.PollInterval,
		MaxAttempts:  cfg.Mail.MaxAttempts,
		Lease:        cfg.Mail.Lease,
		LinkTTL:      cfg.Mail.LinkTTL,
		Logger:       log,
		Registerer:   reg,
	})
	if err != nil {
		closer.Close()
		return nil, nil, "", err
	}
	return w, closer, via, nil
}

// setupKey returns the key that signs the set-password forms: the
// configured file's, or one kept in the data directory so a restart does not
// invalidate open forms.
func setupKey(data, file string) ([]byte, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("mail.formKeyFile: %w", err)
		}
		if len(b) < 32 {
			return nil, fmt.Errorf("mail.formKeyFile %s: the key must be at least 32 bytes", file)
		}
		return b, nil
	}
	path := filepath.Join(data, "setup-page.key")
	if b, err := os.ReadFile(path); err == nil && len(b) >= 32 {
		return b, nil
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(data, 0o750); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, key, 0o600); err != nil {
		return nil, fmt.Errorf("store set-password page key: %w", err)
	}
	return key, nil
}

func runMail(ctx context.Context, c *CLI, args []string) error {
	fs := c.flagSet("mail", "mail outbox [--failed] | retry ID | send-welcome USER | reset-password USER | test ADDRESS [flags]", `
Inspect and drive the mail outbox. Welcome mail is queued automatically when
a user is created with no password; the running gateway's worker sends it.

Subcommands:
  outbox             list queued, sent and failed mail (newest first)
  retry ID           queue a failed message again
  send-welcome USER  send USER a new welcome mail (revokes earlier links)
  reset-password USER
                     force a password change and mail a reset link
  test ADDRESS       send a test mail through the configured relay and report
                     the relay's answer (through the outbox; --direct skips it)

Examples:
  pbxgate mail outbox --tenant acme --failed
  pbxgate mail retry 42 --tenant acme
  pbxgate mail send-welcome ada@acme.example --tenant acme
  pbxgate mail test it@acme.example --config /etc/pbxgate/pbxgate.yaml`)
	g := c.commonFlags(fs, true)
	failed := fs.Bool("failed", false, "outbox: only failed messages")
	output := fs.String("output", "table", "outbox: output `FORMAT`, table or json")
	direct := fs.Bool("direct", false, "test: send straight to the relay, without the outbox")
	wait := fs.Duration("wait", 30*time.Second, "test: how long to wait for the mail to be sent")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("pbxgate mail -h", "mail needs a subcommand: outbox, retry, send-welcome, reset-password or test")
	}
	sub, rest := pos[0], pos[1:]
	want := map[string]int{"outbox": 0, "retry": 1, "send-welcome": 1, "reset-password": 1, "test": 1}
	n, ok := want[sub]
	if !ok {
		return usagef("pbxgate mail -h", "unknown mail subcommand %q", sub)
	}
	if len(rest) != n {
		return usagef("pbxgate mail -h", "mail %s takes %d argument(s)", sub, n)
	}
	if sub == "test" && *direct {
		return c.mailTestDirect(ctx, g, rest[0])
	}
	e, err := c.open(ctx, g)
	if err != nil {
		return err
	}
	defer e.Close()
	switch sub {
	case "outbox":
		q := pbxusers.MailQuery{Limit: pbxusers.MaxPageSize}
		if *failed {
			q.Status = pbxusers.MailFailed
		}
		list, err := e.dir.ListMail(ctx, g.tenant, q)
		if err != nil {
			return err
		}
		if *output == "json" {
			enc := json.NewEncoder(c.Stdout)
			enc.SetIndent("", "  ")
			if list == nil {
				list = []pbxusers.OutboxMessage{}
			}
			return enc.Encode(list)
		}
		tw := tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tKIND\tTO\tSTATUS\tATTEMPTS\tQUEUED\tLAST ERROR")
		for _, m := range list {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\t%s\n", m.ID, m.Kind, m.To, m.Status, m.Attempts,
				m.Created.Format(time.DateTime), dash(m.LastError))
		}
		return tw.Flush()
	case "retry":
		id, err := strconv.ParseInt(rest[0], 10, 64)
		if err != nil {
			return usagef("pbxgate mail outbox --failed", "mail retry needs a message ID (a number), not %q", rest[0])
		}
		if err := e.dir.RetryMail(ctx, g.tenant, id); err != nil {
			return err
		}
		fmt.Fprintf(c.Stderr, "message %d queued again\n", id)
		return nil
	case "send-welcome", "reset-password":
		u, err := findUser(ctx, e.dir, g.tenant, rest[0])
		if err != nil {
			return err
		}
		var m pbxusers.OutboxMessage
		if sub == "send-welcome" {
			m, err = e.dir.SendWelcome(ctx, g.tenant, u.ID)
		} else {
			m, err = e.dir.ForcePasswordReset(ctx, g.tenant, u.ID)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(c.Stdout, "%d\n", m.ID)
		fmt.Fprintf(c.Stderr, "queued message %d to %s; the gateway sends it (see: pbxgate mail outbox)\n", m.ID, m.To)
		return nil
	case "test":
		m, err := e.dir.QueueTestMail(ctx, g.tenant, rest[0])
		if err != nil {
			return err
		}
		wctx, cancel := context.WithTimeout(ctx, *wait)
		defer cancel()
		// Send it here when no gateway is running; a running gateway's
		// worker may take it first, which is as good.
		w, closer, via, err := newWorker(e, e.set.cfg, e.set, "http://"+first(e.set.listen, DefaultListen), nil, e.log)
		if err != nil {
			return err
		}
		defer closer.Close()
		if _, err := w.Drain(wctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("send test mail via %s: %w", via, err)
		}
		got, attempts, err := smtp.WaitMail(wctx, e.dir, g.tenant, m.ID, 0)
		if err != nil {
			return fmt.Errorf("test mail %d still %s after %s (last error: %s)", m.ID, got.Status, *wait, dash(got.LastError))
		}
		if got.Status != pbxusers.MailSent {
			return fmt.Errorf("test mail %d %s: %s", m.ID, got.Status, got.LastError)
		}
		fmt.Fprintf(c.Stdout, "sent test mail %d to %s via %s (%d attempt(s))\n", m.ID, rest[0], via, len(attempts))
		return nil
	}
	return nil
}

func (c *CLI) mailTestDirect(ctx context.Context, g *common, to string) error {
	cfg, err := LoadConfig(g.config, c.Getenv)
	if err != nil {
		return err
	}
	set := resolve(cfg, g.config, g.data, g.db, "", c.Getenv)
	log := c.logger(cfg.Log)
	sender, closer, via, err := mailSender(cfg, set, log)
	if err != nil {
		return err
	}
	defer closer.Close()
	tmpl, err := smtp.NewTemplates(cfg.Mail.Templates)
	if err != nil {
		return err
	}
	msg, err := smtp.SendTest(ctx, sender, tmpl, g.tenant, smtp.Address{Address: to}, smtp.TestData{Tenant: g.tenant, Via: via, SentAt: time.Now()})
	if err != nil {
		return fmt.Errorf("send test mail via %s: %w", via, err)
	}
	fmt.Fprintf(c.Stdout, "sent test mail %s to %s via %s\n", msg.MessageID, to, via)
	return nil
}
