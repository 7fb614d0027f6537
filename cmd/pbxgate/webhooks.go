package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// webhooksGroup is "pbxgate webhooks".
func webhooksGroup() *group {
	return &group{
		name:    "webhooks",
		summary: "create, list and delete webhooks that receive the change log",
		intro: `A webhook gets every change-log entry of its tenant (the entries of GET
/pbx/v1/changes), in order, as POSTs signed with HMAC-SHA256. The running
gateway (pbxgate serve) delivers them; a failed delivery is retried with
backoff and nothing is lost on a restart. "create" prints the signing
secret once, on stdout alone, so scripts can capture it.

Examples:
  SECRET=$(pbxgate webhooks create --tenant acme --url https://pbx.example.com/pbxgate)
  pbxgate webhooks list --tenant acme
  pbxgate webhooks delete wh_k3j9x2m4p7qa --tenant acme --yes`,
		leaves: []leaf{
			{name: "create", max: 0, summary: "create a webhook; prints its signing secret, once", help: `
The URL must start with https:// (http:// only to a loopback address). The
webhook gets the changes made from now on.

Example:
  SECRET=$(pbxgate webhooks create --tenant acme --url https://pbx.example.com/pbxgate)`,
				setup: func(c *CLI, fs *cmdFlags) func(context.Context, []string) error {
					g := c.commonFlags(fs, true)
					url := fs.String("url", "", "`URL` that receives the POSTs, e.g. https://pbx.example.com/pbxgate")
					return func(ctx context.Context, _ []string) error {
						e, err := c.open(ctx, g)
						if err != nil {
							return err
						}
						defer e.Close()
						w, secret, err := e.dir.CreateWebhook(ctx, g.tenant, pbxusers.WebhookInput{URL: *url})
						if err != nil {
							return err
						}
						fmt.Fprintln(c.Stdout, secret)
						fmt.Fprintf(c.Stderr, "webhook %s created; the secret above is shown only this once\n", w.ID)
						return nil
					}
				}},
			{name: "list", max: 0, summary: "list the tenant's webhooks and how their deliveries go (never their secrets)", help: `
Example:
  pbxgate webhooks list --tenant acme --output json`,
				setup: func(c *CLI, fs *cmdFlags) func(context.Context, []string) error {
					g := c.commonFlags(fs, true)
					output := outputFlag(fs, "table", "json")
					return func(ctx context.Context, _ []string) error {
						e, err := c.open(ctx, g)
						if err != nil {
							return err
						}
						defer e.Close()
						list, err := e.dir.ListWebhooks(ctx, g.tenant)
						if err != nil {
							return err
						}
						if *output == "json" {
							return writeJSON(c, list)
						}
						tw := tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
						fmt.Fprintln(tw, "ID\tURL\tACTIVE\tDELIVERED SEQ\tFAILED ATTEMPTS\tNEXT ATTEMPT\tLAST ERROR")
						for _, w := range list {
							next := "-"
							if w.Attempts > 0 {
								next = w.NextAttempt.Format(time.DateTime)
							}
							fmt.Fprintf(tw, "%s\t%s\t%t\t%d\t%d\t%s\t%s\n", w.ID, w.URL, w.Active, w.DeliveredSeq, w.Attempts, next, dash(w.LastError))
						}
						return tw.Flush()
					}
				}},
			{name: "delete", args: "ID", min: 1, max: 1, summary: "delete a webhook (see webhooks list for its ID)", help: `
No delivery starts after it. Asks on a terminal; elsewhere it needs --yes.

Example:
  pbxgate webhooks delete wh_k3j9x2m4p7qa --tenant acme --yes`,
				setup: func(c *CLI, fs *cmdFlags) func(context.Context, []string) error {
					g := c.commonFlags(fs, true)
					yes := yesFlag(fs)
					return func(ctx context.Context, args []string) error {
						e, err := c.open(ctx, g)
						if err != nil {
							return err
						}
						defer e.Close()
						w, err := e.dir.GetWebhook(ctx, g.tenant, args[0])
						if err != nil {
							return fmt.Errorf("%w (see: pbxgate webhooks list --tenant %s)", err, g.tenant)
						}
						if err := c.confirm(*yes, fmt.Sprintf("delete webhook %s (%s) of tenant %s: it gets no more deliveries",
							w.ID, w.URL, g.tenant), "pbxgate webhooks delete "+w.ID+" --tenant "+g.tenant+" --yes"); err != nil {
							return err
						}
						if err := e.dir.DeleteWebhook(ctx, g.tenant, w.ID); err != nil {
							return err
						}
						fmt.Fprintf(c.Stderr, "webhook %s deleted\n", w.ID)
						return nil
					}
				}},
		},
	}
}
