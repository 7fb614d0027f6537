package main

import (
	"context"
	"log/slog"
	"strings"

	"github.com/pbxgate/pbxgate/internal/webhook"
	"github.com/pbxgate/pbxgate/ldapsync"
	"github.com/pbxgate/pbxgate/smtp/passwordpage"

	"github.com/prometheus/client_golang/prometheus"
)

// startBackground starts the LDAP schedules, the mail outbox worker and the
// webhook worker.
// Without a usable public address (sendMail false) no mail worker runs:
// mail with links to nowhere is worse than mail that waits in the outbox.
func startBackground(ctx context.Context, e *env, cfg *Config, set settings, public string, sendMail bool, reg prometheus.Registerer, log *slog.Logger) (*background, error) {
	bg := &background{mailVia: "nothing (publicURL is not set)"}
	if sendMail {
		w, closer, via, err := newWorker(e, cfg, set, public, reg, log)
		if err != nil {
			return nil, err
		}
		bg.mailVia = via
		bg.wg.Add(1)
		go func() {
			defer bg.wg.Done()
			defer closer.Close()
			if err := w.Run(ctx); err != nil {
				log.Error("mail worker stopped", "err", err)
			}
		}()
	}
	// Webhooks need no setting: a tenant without webhooks costs one
	// claim query per poll. Leases let several gateways share a database.
	hooks, err := webhook.New(e.dir, webhook.Options{Logger: log, Registerer: reg})
	if err != nil {
		return nil, err
	}
	bg.wg.Add(1)
	go func() {
		defer bg.wg.Done()
		if err := hooks.Run(ctx); err != nil {
			log.Error("webhook worker stopped", "err", err)
		}
	}()

	key, err := setupKey(set.data, cfg.Mail.FormKeyFile)
	if err != nil {
		return nil, err
	}
	page, err := passwordpage.New(e.dir, passwordpage.Options{Key: key, SecureCookie: strings.HasPrefix(public, "https://"),
		Logger: log.With("component", "setup-page")})
	if err != nil {
		return nil, err
	}
	bg.setupPage = page

	if len(cfg.LDAP.Directories) > 0 {
		sched, err := ldapsync.NewScheduler(e.dir, cfg.LDAP.Directories, ldapsync.Options{
			Logger: log, Registerer: reg})
		if err != nil {
			return nil, err
		}
		bg.wg.Add(1)
		go func() {
			defer bg.wg.Done()
			if err := sched.Run(ctx); err != nil && ctx.Err() == nil {
				log.Error("ldap scheduler stopped", "err", err)
			}
		}()
	}
	return bg, nil
}
