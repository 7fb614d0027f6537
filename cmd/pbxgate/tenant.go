package main

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// tenantGroup is "pbxgate tenant".
func tenantGroup() *group {
	return &group{
		name:    "tenant",
		summary: "create and list tenants",
		intro: `Tenants are the customer organisations of the phone system. Every user,
profile and token belongs to exactly one tenant.

Examples:
  pbxgate tenant create acme --name "Acme Inc." --time-zone Europe/Berlin --region DE
  pbxgate tenant list --output json`,
		leaves: []leaf{
			{name: "create", args: "ID", min: 1, max: 1, summary: "create a tenant; prints its id", help: `
ID is 1-63 lowercase letters, digits and dashes.

Example:
  pbxgate tenant create acme --name "Acme Inc." --time-zone Europe/Berlin --region DE --sip-domain acme.pbx.example`,
				setup: func(c *CLI, fs *cmdFlags) func(context.Context, []string) error {
					g := c.commonFlags(fs, false)
					name := fs.String("name", "", "display `NAME` of the tenant")
					tz := fs.String("time-zone", "", "IANA time `ZONE` users inherit, e.g. Europe/Berlin")
					region := fs.String("region", "", "ISO country `CODE` for national phone numbers, e.g. DE")
					noWelcome := fs.Bool("no-welcome-mail", false, "do not send welcome mail to new users")
					signIn := fs.String("sign-in-url", "", "`URL` where the tenant's users sign in; linked from the welcome mail and the set-password page")
					sipDomain := fs.String("sip-domain", "", "the tenant's SIP `DOMAIN` (and digest realm) that phones register to; default: the tenant id")
					uniqueEmails := fs.Bool("unique-emails", false, "refuse a second user with an email address another user has (default: users may share one)")
					return func(ctx context.Context, args []string) error {
						e, err := c.open(ctx, g)
						if err != nil {
							return err
						}
						defer e.Close()
						tn := tenantFrom(args[0], *name, *tz, *region, *noWelcome)
						tn.SignInURL, tn.SIPDomain, tn.UniqueEmails = *signIn, *sipDomain, *uniqueEmails
						t, err := e.dir.CreateTenant(ctx, tn)
						if err != nil {
							return err
						}
						fmt.Fprintf(c.Stdout, "%s\n", t.ID)
						if !g.quiet {
							fmt.Fprintf(c.Stderr, "created tenant %s; give its identity provider a token with: pbxgate token create --tenant %s --name okta\n", t.ID, t.ID)
						}
						return nil
					}
				}},
			{name: "list", max: 0, summary: "list tenants", help: `
Example:
  pbxgate tenant list --output json`,
				setup: func(c *CLI, fs *cmdFlags) func(context.Context, []string) error {
					g := c.commonFlags(fs, false)
					output := outputFlag(fs, "table", "json")
					return func(ctx context.Context, _ []string) error {
						e, err := c.open(ctx, g)
						if err != nil {
							return err
						}
						defer e.Close()
						list, err := e.dir.ListTenants(ctx)
						if err != nil {
							return err
						}
						if *output == "json" {
							return writeJSON(c, list)
						}
						tw := tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
						fmt.Fprintln(tw, "ID\tNAME\tTIME ZONE\tREGION\tSIP DOMAIN\tWELCOME MAIL")
						for _, t := range list {
							fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%v\n", t.ID, dash(t.Name), dash(t.TimeZone), dash(t.Region), t.SIPRealm(), !t.DisableWelcomeMail)
						}
						return tw.Flush()
					}
				}},
		},
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func tenantFrom(id, name, tz, region string, noWelcome bool) pbxusers.Tenant {
	return pbxusers.Tenant{ID: id, Name: name, TimeZone: tz, Region: region, DisableWelcomeMail: noWelcome}
}
