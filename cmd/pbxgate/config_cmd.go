package main

import (
	"context"
	"fmt"
)

func runConfig(ctx context.Context, c *CLI, args []string) error {
	fs := c.flagSet("config", "config check FILE", `
Check a configuration file: YAML syntax, unknown keys (with the closest
known key), ${VAR} references that are not set, PBXGATE_* variables, and
every setting's value. All problems are listed at once, each with its YAML
path (ldap.directories[0].bindDN) and line. Warnings (secrets written in
the file, ldap:// without TLS) do not fail the check.

${VAR} is expanded in string values only; a value that is exactly ${VAR}
is the variable's text as it is. Every setting can also come from the
environment: PBXGATE_ and its YAML path in upper snake case, e.g.
PBXGATE_PUBLIC_URL, PBXGATE_SMTP_PASSWORD (see docs/configuration.md).

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
	cfg, warnings, err := loadConfig(pos[1], c.Getenv)
	for _, w := range warnings {
		fmt.Fprintf(c.Stderr, "warning: %s\n", w)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "%s: ok (%s, %s, mail via %s)\n", pos[1], plural(len(cfg.Tenants), "tenant", "tenants"),
		plural(len(cfg.LDAP.Directories), "LDAP directory", "LDAP directories"), mailVia(cfg))
	return nil
}

func mailVia(cfg *Config) string {
	if cfg.SMTP != nil && cfg.SMTP.Host != "" {
		return fmt.Sprintf("relay %s", cfg.SMTP.Host)
	}
	return ".eml files in <data>/mail"
}
