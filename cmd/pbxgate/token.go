package main

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/pbxgate/pbxgate/pbxusers"
)

func runToken(ctx context.Context, c *CLI, args []string) error {
	fs := c.flagSet("token", "token create|list|revoke [ID] --tenant T [flags]", `
Manage bearer tokens. A token belongs to one tenant and has a scope: scim
(the SCIM endpoint, for identity providers; the default), admin (the admin
API /api/v1 for its tenant) or operator (the admin API for every tenant).
Only its hash is stored: "create" prints the token once, on stdout alone,
so scripts can capture it.

Examples:
  TOKEN=$(pbxgate token create --tenant acme --name okta)
  TOKEN=$(pbxgate token create --tenant acme --name terraform --scope admin)
  pbxgate token list --tenant acme
  pbxgate token revoke --tenant acme k3j9x2m4p7qa`)
	g := c.commonFlags(fs, true)
	name := fs.String("name", "", "`LABEL` for the token, e.g. okta or entra (create)")
	output := fs.String("output", "table", "output `FORMAT`: table or json (list)")
	scope := fs.String("scope", "scim", "`SCOPE` of the token: scim, admin or operator (create)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("pbxgate token -h", "token needs a subcommand: create, list or revoke")
	}
	e, err := c.open(ctx, g)
	if err != nil {
		return err
	}
	defer e.Close()
	switch pos[0] {
	case "create":
		if len(pos) != 1 {
			return usagef("pbxgate token create --tenant acme --name okta", "token create takes no arguments")
		}
		secret, _, err := e.dir.CreateScopedToken(ctx, g.tenant, *name, pbxusers.TokenScope(*scope))
		if err != nil {
			return err
		}
		fmt.Fprintln(c.Stdout, secret)
		return nil
	case "list":
		list, err := e.dir.ListTokens(ctx, g.tenant)
		if err != nil {
			return err
		}
		if *output == "json" {
			enc := json.NewEncoder(c.Stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(list)
		}
		tw := tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tSCOPE\tCREATED\tLAST USED\tSTATUS")
		for _, t := range list {
			status := "active"
			if t.Revoked != nil {
				status = "revoked " + t.Revoked.Format(time.DateTime)
			}
			last := "never"
			if t.LastUsed != nil {
				last = t.LastUsed.Format(time.DateTime)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, dash(t.Name), t.Scope.OrDefault(), t.Created.Format(time.DateTime), last, status)
		}
		return tw.Flush()
	case "revoke":
		if len(pos) != 2 {
			return usagef("pbxgate token list --tenant "+g.tenant, "token revoke needs the token ID (see token list)")
		}
		if err := e.dir.RevokeToken(ctx, g.tenant, pos[1]); err != nil {
			return err
		}
		fmt.Fprintf(c.Stderr, "token %s revoked\n", pos[1])
		return nil
	}
	return usagef("pbxgate token -h", "unknown token subcommand %q", pos[0])
}
