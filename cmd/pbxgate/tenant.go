package main

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/pbxgate/pbxgate/pbxusers"
)

func runTenant(ctx context.Context, c *CLI, args []string) error {
	fs := c.flagSet("tenant", "tenant create ID [flags] | tenant list [flags]", `
Create and list tenants: the customer organisations of the phone system.
Every user, profile and token belongs to exactly one tenant.

Examples:
  pbxgate tenant create acme --name "Acme Inc." --time-zone Europe/Berlin --region DE
  pbxgate tenant list --output json`)
	g := c.commonFlags(fs, false)
	name := fs.String("name", "", "display `NAME` of the tenant (create)")
	tz := fs.String("time-zone", "", "IANA time `ZONE` users inherit, e.g. Europe/Berlin (create)")
	region := fs.String("region", "", "ISO country `CODE` for national phone numbers, e.g. DE (create)")
	noWelcome := fs.Bool("no-welcome-mail", false, "do not send welcome mail to new users (create)")
	output := fs.String("output", "table", "output `FORMAT`: table or json (list)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("pbxgate tenant -h", "tenant needs a subcommand: create or list")
	}
	e, err := c.open(ctx, g)
	if err != nil {
		return err
	}
	defer e.Close()
	switch pos[0] {
	case "create":
		if len(pos) != 2 {
			return usagef("pbxgate tenant create acme", "tenant create needs exactly one tenant ID")
		}
		t, err := e.dir.CreateTenant(ctx, tenantFrom(pos[1], *name, *tz, *region, *noWelcome))
		if err != nil {
			return err
		}
		fmt.Fprintf(c.Stdout, "%s\n", t.ID)
		return nil
	case "list":
		list, err := e.dir.ListTenants(ctx)
		if err != nil {
			return err
		}
		if *output == "json" {
			enc := json.NewEncoder(c.Stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(list)
		}
		tw := tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tTIME ZONE\tREGION\tWELCOME MAIL")
		for _, t := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\n", t.ID, t.Name, dash(t.TimeZone), dash(t.Region), !t.DisableWelcomeMail)
		}
		return tw.Flush()
	}
	return usagef("pbxgate tenant -h", "unknown tenant subcommand %q", pos[0])
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
