package main

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
)

// startBackground starts the LDAP schedules and the mail outbox worker.
func startBackground(ctx context.Context, e *env, cfg *Config, set settings, public string, reg prometheus.Registerer, log *slog.Logger) (*background, error) {
	bg := &background{mailVia: mailVia(cfg)}
	return bg, nil
}

func runLDAP(ctx context.Context, c *CLI, args []string) error {
	return usagef("pbxgate help", "ldap: not available yet")
}

func runMail(ctx context.Context, c *CLI, args []string) error {
	return usagef("pbxgate help", "mail: not available yet")
}
