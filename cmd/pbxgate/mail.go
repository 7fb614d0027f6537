package main

import (
	"context"
	"crypto/rand"
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

// mailGroup is "pbxgate mail".
func mailGroup() *group {
	return &group{
		name:    "mail",
		summary: "inspect and retry the mail outbox, send welcome and test mail",
		intro: `Welcome mail is queued automatically when a user is created with no
password; the running gateway's worker sends it.

Examples:
  pbxgate mail outbox --tenant acme --failed
  pbxgate mail send-welcome ada@acme.example --tenant acme
  pbxgate mail test it@acme.example --config /etc/pbxgate/pbxgate.yaml`,
		leaves: []leaf{
			{name: "outbox", max: 0, summary: "list queued, sent and failed mail (newest first)", help: `
Example:
  pbxgate mail outbox --tenant acme --failed --output json`,
				setup: func(c *CLI, fs *cmdFlags) func(context.Context, []string) error {
					g := c.commonFlags(fs, true)
					failed := fs.Bool("failed", false, "only failed messages")
					output := outputFlag(fs, "table", "json")
					return func(ctx context.Context, _ []string) error {
						e, err := c.open(ctx, g)
						if err != nil {
							return err
						}
						defer e.Close()
						q := pbxusers.MailQuery{Limit: pbxusers.MaxPageSize}
						if *failed {
							q.Status = pbxusers.MailFailed
						}
						list, err := e.dir.ListMail(ctx, g.tenant, q)
						if err != nil {
							return err
						}
						if *output == "json" {
							return writeJSON(c, list)
						}
						tw := tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
						fmt.Fprintln(tw, "ID\tKIND\tTO\tSTATUS\tATTEMPTS\tQUEUED\tLAST ERROR")
						for _, m := range list {
							fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\t%s\n", m.ID, m.Kind, m.To, m.Status, m.Attempts,
								m.Created.Format(time.DateTime), dash(m.LastError))
						}
						if err := tw.Flush(); err != nil {
							return err
						}
						if len(list) == 0 {
							fmt.Fprintln(c.Stderr, "the outbox is empty")
						}
						return nil
					}
				}},
			{name: "retry", args: "ID", min: 1, max: 1, summary: "queue a failed message again", help: `
Example:
  pbxgate mail retry 42 --tenant acme`,
				setup: func(c *CLI, fs *cmdFlags) func(context.Context, []string) error {
					g := c.commonFlags(fs, true)
					return func(ctx context.Context, args []string) error {
						id, err := strconv.ParseInt(args[0], 10, 64)
						if err != nil {
							return usagef("pbxgate mail outbox --failed", "mail retry needs a message ID (a number), not %q", args[0])
						}
						e, err := c.open(ctx, g)
						if err != nil {
							return err
						}
						defer e.Close()
						if err := e.dir.RetryMail(ctx, g.tenant, id); err != nil {
							if errors.Is(err, pbxusers.ErrNotFound) {
								return fmt.Errorf("no mail %d in tenant %s's outbox: %w (see: pbxgate mail outbox --failed --tenant %s)", id, g.tenant, pbxusers.ErrNotFound, g.tenant)
							}
							return err
						}
						fmt.Fprintf(c.Stderr, "message %d queued again\n", id)
						return nil
					}
				}},
			welcomeLeaf("send-welcome", "send USER a new welcome mail (revokes earlier links)"),
			welcomeLeaf("reset-password", "force a password change and mail a reset link"),
			{name: "test", args: "ADDRESS", min: 1, max: 1, summary: "send a test mail and report the relay's answer", help: `
The mail goes through the outbox, as welcome mail does; --direct hands it
straight to the configured relay instead.

Example:
  pbxgate mail test it@acme.example --config /etc/pbxgate/pbxgate.yaml`,
				setup: func(c *CLI, fs *cmdFlags) func(context.Context, []string) error {
					g := c.commonFlags(fs, true)
					direct := fs.Bool("direct", false, "send straight to the relay, without the outbox")
					wait := fs.Duration("wait", 30*time.Second, "how long to wait for the mail to be sent")
					return func(ctx context.Context, args []string) error {
						if *wait <= 0 {
							return usagef("pbxgate mail test "+args[0]+" --wait 30s", "--wait must be positive, not %s", *wait)
						}
						if *direct {
							return c.mailTestDirect(ctx, g, args[0])
						}
						e, err := c.open(ctx, g)
						if err != nil {
							return err
						}
						defer e.Close()
						m, err := e.dir.QueueTestMail(ctx, g.tenant, args[0])
						if err != nil {
							return err
						}
						wctx, cancel := context.WithTimeout(ctx, *wait)
						defer cancel()
						// Send it here when no gateway is running; a running gateway's
						// worker may take it first, which is as good.
						// The worker also sends any welcome mail that is due, whose
						// links need the public address.
						public, err := publicURL(e.set.cfg, e.set.listen)
						if err != nil {
							return err
						}
						w, closer, via, err := newWorker(e, e.set.cfg, e.set, public, nil, e.log)
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
						fmt.Fprintf(c.Stdout, "sent test mail %d to %s via %s (%s)\n", m.ID, args[0], via, plural(len(attempts), "attempt", "attempts"))
						return nil
					}
				}},
		},
	}
}

// welcomeLeaf is "mail send-welcome" or "mail reset-password".
func welcomeLeaf(name, summary string) leaf {
	return leaf{name: name, args: "USER", min: 1, max: 1, summary: summary, help: `
Example:
  pbxgate mail ` + name + ` ada@acme.example --tenant acme`,
		setup: func(c *CLI, fs *cmdFlags) func(context.Context, []string) error {
			g := c.commonFlags(fs, true)
			return func(ctx context.Context, args []string) error {
				e, err := c.open(ctx, g)
				if err != nil {
					return err
				}
				defer e.Close()
				u, err := findUser(ctx, e.dir, g.tenant, args[0])
				if err != nil {
					return err
				}
				var m pbxusers.OutboxMessage
				if name == "send-welcome" {
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
			}
		}}
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
	// No database is opened here: the tenant only picks the templates.
	tenant := first(g.tenant, DefaultTenant)
	msg, err := smtp.SendTest(ctx, sender, tmpl, tenant, smtp.Address{Address: to}, smtp.TestData{Tenant: tenant, Via: via, SentAt: time.Now()})
	if err != nil {
		return fmt.Errorf("send test mail via %s: %w", via, err)
	}
	fmt.Fprintf(c.Stdout, "sent test mail %s to %s via %s\n", msg.MessageID, to, via)
	return nil
}
