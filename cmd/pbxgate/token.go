package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// tokenGroup is "pbxgate token".
func tokenGroup() *group {
	return &group{
		name:    "token",
		summary: "create, list and revoke bearer tokens",
		intro: `A bearer token belongs to one tenant and has a scope: scim (the SCIM
endpoint, for identity providers; the default), admin (the admin API
/api/v1 for its tenant), operator (the admin API and PBX feed for every
tenant) or pbx (the PBX feed /pbx/v1 for its tenant, for a phone system).
Only its hash is stored: "create" prints the token once, on stdout alone,
so scripts can capture it.

Examples:
  TOKEN=$(pbxgate token create --tenant acme --name okta)
  TOKEN=$(pbxgate token create --tenant acme --name terraform --scope admin)
  pbxgate token list --tenant acme
  pbxgate token revoke k3j9x2m4p7qa --tenant acme --yes`,
		leaves: []leaf{
			{name: "create", max: 0, summary: "create a token; prints it, once", help: `
Examples:
  TOKEN=$(pbxgate token create --tenant acme --name okta)
  TOKEN=$(pbxgate token create --tenant acme --name terraform --scope admin)`,
				setup: func(c *CLI, fs *cmdFlags) func(context.Context, []string) error {
					g := c.commonFlags(fs, true)
					name := fs.String("name", "", "`LABEL` for the token, e.g. okta or entra")
					scope := fs.String("scope", "scim", "`SCOPE` of the token: scim, admin, operator or pbx")
					return func(ctx context.Context, _ []string) error {
						e, err := c.open(ctx, g)
						if err != nil {
							return err
						}
						defer e.Close()
						secret, _, err := e.dir.CreateScopedToken(ctx, g.tenant, *name, pbxusers.TokenScope(*scope))
						if err != nil {
							return err
						}
						fmt.Fprintln(c.Stdout, secret)
						return nil
					}
				}},
			{name: "list", max: 0, summary: "list the tenant's tokens (never their secrets)", help: `
Example:
  pbxgate token list --tenant acme --output json`,
				setup: func(c *CLI, fs *cmdFlags) func(context.Context, []string) error {
					g := c.commonFlags(fs, true)
					output := outputFlag(fs, "table", "json")
					return func(ctx context.Context, _ []string) error {
						e, err := c.open(ctx, g)
						if err != nil {
							return err
						}
						defer e.Close()
						list, err := e.dir.ListTokens(ctx, g.tenant)
						if err != nil {
							return err
						}
						if *output == "json" {
							return writeJSON(c, list)
						}
						tw := tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
						fmt.Fprintln(tw, "ID\tNAME\tSCOPE\tCREATED\tLAST USED\tSTATUS")
						for _, t := range list {
							status := "active"
							if t.Revoked != nil {
								status = "revoked " + t.Revoked.Format(time.DateTime)
							}
							fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, dash(t.Name), t.Scope.OrDefault(), t.Created.Format(time.DateTime), lastUsed(t), status)
						}
						return tw.Flush()
					}
				}},
			{name: "revoke", args: "ID", min: 1, max: 1, summary: "revoke a token (see token list for its ID)", help: `
The identity provider using the token gets 401 from then on. Asks on a
terminal; elsewhere it needs --yes.

Example:
  pbxgate token revoke k3j9x2m4p7qa --tenant acme --yes`,
				setup: func(c *CLI, fs *cmdFlags) func(context.Context, []string) error {
					g := c.commonFlags(fs, true)
					yes := yesFlag(fs)
					return func(ctx context.Context, args []string) error {
						e, err := c.open(ctx, g)
						if err != nil {
							return err
						}
						defer e.Close()
						list, err := e.dir.ListTokens(ctx, g.tenant)
						if err != nil {
							return err
						}
						var tok *pbxusers.APIToken
						for i := range list {
							if list[i].ID == args[0] {
								tok = &list[i]
							}
						}
						if tok == nil {
							return fmt.Errorf("token %q of tenant %s: %w (see: pbxgate token list --tenant %s)", args[0], g.tenant, pbxusers.ErrNotFound, g.tenant)
						}
						if err := c.confirm(*yes, fmt.Sprintf("revoke token %s (%s, last used %s) of tenant %s: whatever uses it gets 401 from then on",
							tok.ID, dash(tok.Name), lastUsed(*tok), g.tenant), "pbxgate token revoke "+args[0]+" --tenant "+g.tenant+" --yes"); err != nil {
							return err
						}
						if err := e.dir.RevokeToken(ctx, g.tenant, tok.ID); err != nil {
							return err
						}
						fmt.Fprintf(c.Stderr, "token %s revoked\n", tok.ID)
						return nil
					}
				}},
		},
	}
}

func lastUsed(t pbxusers.APIToken) string {
	if t.LastUsed == nil {
		return "never"
	}
	return t.LastUsed.Format(time.DateTime)
}
