package main

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// teamsGroup is "pbxgate teams".
func teamsGroup() *group {
	return &group{
		name:    "teams",
		summary: "list, create and delete teams (SCIM groups); list members",
		intro: `Teams are what SCIM groups (Okta, Entra) and mapped LDAP groups become;
members see each other's status, and a team bound to a profile
("pbxgate profiles bind") grants it to every member.

Examples:
  pbxgate teams create Support --tenant acme
  pbxgate teams members Support --tenant acme
  pbxgate teams list --tenant acme --output json`,
		leaves: []leaf{
			{name: "list", max: 0, summary: "list the tenant's teams", help: `
Example:
  pbxgate teams list --tenant acme --output json`,
				setup: func(c *CLI, fs *cmdFlags) func(context.Context, []string) error {
					g := c.commonFlags(fs, true)
					output := outputFlag(fs, "table", "json")
					return func(ctx context.Context, _ []string) error {
						e, err := c.open(ctx, g)
						if err != nil {
							return err
						}
						defer e.Close()
						var all []pbxusers.Team
						q := pbxusers.TeamQuery{SortBy: pbxusers.AttrDisplayName, Limit: pbxusers.MaxPageSize}
						for {
							page, err := e.dir.ListTeams(ctx, g.tenant, q)
							if err != nil {
								return err
							}
							all = append(all, page.Teams...)
							if len(page.Teams) < q.Limit {
								break
							}
							q.Offset += len(page.Teams)
						}
						if *output == "json" {
							return writeJSON(c, all)
						}
						tw := tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
						fmt.Fprintln(tw, "NAME\tMEMBERS\tPROFILES\tSOURCE\tID")
						for _, t := range all {
							fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\n", t.Name, t.Members, len(t.Profiles), dash(string(t.Owner.Source)), t.ID)
						}
						return tw.Flush()
					}
				}},
			{name: "create", args: "NAME", min: 1, max: 1, summary: "create a team; prints its id", help: `
Example:
  pbxgate teams create Support --tenant acme`,
				setup: func(c *CLI, fs *cmdFlags) func(context.Context, []string) error {
					g := c.commonFlags(fs, true)
					return func(ctx context.Context, args []string) error {
						e, err := c.open(ctx, g)
						if err != nil {
							return err
						}
						defer e.Close()
						t, err := e.dir.CreateTeam(ctx, g.tenant, pbxusers.Team{Name: args[0]}, nil)
						if err != nil {
							return err
						}
						fmt.Fprintln(c.Stdout, t.ID)
						return nil
					}
				}},
			{name: "delete", args: "NAME", min: 1, max: 1, summary: "delete a team (its members stay; they lose what it granted)", help: `
Asks on a terminal; elsewhere it needs --yes. A team owned by an identity
provider or an LDAP sync comes back with the next push or sync.

Example:
  pbxgate teams delete Support --tenant acme --yes`,
				setup: func(c *CLI, fs *cmdFlags) func(context.Context, []string) error {
					g := c.commonFlags(fs, true)
					yes := yesFlag(fs)
					return func(ctx context.Context, args []string) error {
						e, err := c.open(ctx, g)
						if err != nil {
							return err
						}
						defer e.Close()
						t, err := e.dir.LookupTeam(ctx, g.tenant, pbxusers.TeamKeyName, args[0])
						if err != nil {
							return err // its message names the team
						}
						what := fmt.Sprintf("delete team %s of tenant %s: its %s stay users but lose its %s", t.Name, g.tenant,
							plural(t.Members, "member", "members"), plural(len(t.Profiles), "profile binding", "profile bindings"))
						if src := t.Owner.Source; src != "" && src != pbxusers.SourceManual {
							what += "; the team is owned by " + string(src) + ", which may create it again"
						}
						if err := c.confirm(*yes, what, "pbxgate teams delete "+args[0]+" --tenant "+g.tenant+" --yes"); err != nil {
							return err
						}
						if err := e.dir.DeleteTeam(ctx, g.tenant, t.ID); err != nil {
							return err
						}
						if !g.quiet {
							fmt.Fprintf(c.Stderr, "deleted team %s; its %s stay users\n", t.Name, plural(t.Members, "member", "members"))
						}
						return nil
					}
				}},
			{name: "members", args: "NAME", min: 1, max: 1, summary: "list a team's members", help: `
Example:
  pbxgate teams members Support --tenant acme --output json`,
				setup: func(c *CLI, fs *cmdFlags) func(context.Context, []string) error {
					g := c.commonFlags(fs, true)
					output := outputFlag(fs, "table", "json")
					return func(ctx context.Context, args []string) error {
						e, err := c.open(ctx, g)
						if err != nil {
							return err
						}
						defer e.Close()
						t, err := e.dir.LookupTeam(ctx, g.tenant, pbxusers.TeamKeyName, args[0])
						if err != nil {
							return err // its message names the team
						}
						var members []pbxusers.User
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
								members = append(members, u)
							}
							if len(ids) < chunk {
								break
							}
						}
						if *output == "json" {
							return writeJSON(c, members)
						}
						tw := tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
						fmt.Fprintln(tw, "USERNAME\tNAME\tEXTENSION")
						for _, u := range members {
							fmt.Fprintf(tw, "%s\t%s\t%s\n", u.UserName, u.Label(), dash(u.Extension))
						}
						return tw.Flush()
					}
				}},
		},
	}
}

// writeJSON writes v as indented JSON; a nil slice becomes [].
func writeJSON[T any](c *CLI, v []T) error {
	if v == nil {
		v = []T{}
	}
	enc := json.NewEncoder(c.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
