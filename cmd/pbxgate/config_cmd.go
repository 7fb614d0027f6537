package main

import (
	"context"
	"fmt"
)

func runConfig(ctx context.Context, c *CLI, args []string) error {
	fs := c.flagSet("config", "config check FILE", `
Check a configuration file: YAML syntax, unknown keys, ${VAR} references
that are not set, and every setting's value. All problems are listed at
once with their place in the file (a YAML path such as
ldap.directories[0].bindDN, or a line number).

Examples:
  pbxgate config check /etc/pbxgate/pbxgate.yaml
  SMTP_PASSWORD=x pbxgate config check examples/openldap.yaml`)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 && pos[0] != "check" {
		return subcommandError("config", pos[0], []string{"check"}, "pbxgate config check FILE")
	}
	if len(pos) != 2 {
		return usagef("pbxgate config check FILE", "usage: config check FILE")
	}
	cfg, err := LoadConfig(pos[1], c.Getenv)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "%s: ok (%d tenants, %d LDAP directories, mail via %s)\n", pos[1], len(cfg.Tenants),
		len(cfg.LDAP.Directories), mailVia(cfg))
	return nil
}

func mailVia(cfg *Config) string {
	if cfg.SMTP != nil && cfg.SMTP.Host != "" {
		return fmt.Sprintf("relay %s", cfg.SMTP.Host)
	}
	return ".eml files in <data>/mail"
}
