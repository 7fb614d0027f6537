package main

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/pbxgate/pbxgate/pbxusers"
)

func runTeams(ctx context.Context, c *CLI, args []string) error {
	fs := c.flagSet("teams", "teams list | create NAME | delete NAME | members NAME [flags]", `
Manage teams. Teams are what SCIM groups (Okta, Entra) and mapped LDAP groups
become; members see each other's status, and a team bound to a profile
("pbxgate profiles bind") grants it to every member.

Examples:
  pbxgate teams create Support --tenant acme
  pbxgate teams members Support --tenant acme
  pbxgate teams list --tenant acme --output json`)
	g := c.commonFlags(fs, true)
	output := fs.String("output", "table", "output `FORMAT`: table or json")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("pbxgate teams -h", "teams needs a subcommand: list, create, delete or members")
	}
	sub, rest := pos[0], pos[1:]
	if (sub == "list") != (len(rest) == 0) || len(rest) > 1 {
		return usagef("pbxgate teams -h", "usage: teams list | create NAME | delete NAME | members NAME")
	}
	e, err := c.open(ctx, g)
	if err != nil {
		return err
	}
	defer e.Close()
	switch sub {
	case "list":
		page, err := e.dir.ListTeams(ctx, g.tenant, pbxusers.TeamQuery{SortBy: pbxusers.AttrDisplayName, Limit: pbxusers.MaxPageSize})
		if err != nil {
			return err
		}
		if *output == "json" {
			return json.NewEncoder(c.Stdout).Encode(page.Teams)
		}
		tw := tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tMEMBERS\tPROFILES\tSOURCE\tID")
		for _, t := range page.Teams {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\n", t.Name, t.Members, len(t.Profiles), t.Owner.Source, t.ID)
		}
		return tw.Flush()
	case "create":
		t, err := e.dir.CreateTeam(ctx, g.tenant, pbxusers.Team{Name: rest[0]}, nil)
		if err != nil {
			return err
		}
		fmt.Fprintln(c.Stdout, t.ID)
		return nil
	case "delete", "members":
		t, err := e.dir.LookupTeam(ctx, g.tenant, pbxusers.TeamKeyName, rest[0])
		if err != nil {
			return fmt.Errorf("team %q: %w", rest[0], err)
		}
		if sub == "delete" {
			return e.dir.DeleteTeam(ctx, g.tenant, t.ID)
		}
		tw := tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "USERNAME\tNAME\tEXTENSION")
		const chunk = 1000
		for off := 0; ; off += chunk {
			ids, _, err := e.dir.ListTeamMembers(ctx, g.tenant, t.ID, off, chunk)
			if err != nil {
				return err
			}
			for _, id := range ids {
				u, err := e.dir.GetUser(ctx, g.tenant, id)
				if err != nil {
					return err
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\n", u.UserName, u.Label(), dash(u.Extension))
			}
			if len(ids) < chunk {
				break
			}
		}
		return tw.Flush()
	}
	return usagef("pbxgate teams -h", "unknown teams subcommand %q", sub)
}
