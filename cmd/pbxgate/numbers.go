package main

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// numbersGroup is "pbxgate numbers": the tenant's phone numbers (DIDs).
func numbersGroup() *group {
	return &group{
		name:    "numbers",
		summary: "assign, list and release phone numbers (DIDs)",
		intro: `The tenant's phone numbers in E.164 form (+4930123456), each routed to
one user or unassigned. "assign" adds a number to the inventory or changes
it; without --user it is kept unassigned. USER is an id, a userName, an
email address or an extension.

Examples:
  pbxgate numbers assign +4930123456 --tenant acme --user ada@acme.example --label "Ada direct"
  pbxgate numbers list --tenant acme
  pbxgate numbers release +4930123456 --tenant acme --yes`,
		leaves: []leaf{
			{name: "assign", args: "+E164", min: 1, max: 1, summary: "add a number, or route it to another user", help: `
Examples:
  pbxgate numbers assign +4930123456 --tenant acme --user ada@acme.example --label "Ada direct"
  pbxgate numbers assign +4930123499 --tenant acme          # in the inventory, unassigned`,
				setup: func(c *CLI, fs *cmdFlags) func(context.Context, []string) error {
					g := c.commonFlags(fs, true)
					user := fs.String("user", "", "`USER` calls to the number reach (empty: unassigned)")
					label := fs.String("label", "", "free `TEXT`, e.g. \"Sales hotline\"")
					return func(ctx context.Context, args []string) error {
						e, err := c.open(ctx, g)
						if err != nil {
							return err
						}
						defer e.Close()
						userID, who := "", "unassigned"
						if *user != "" {
							u, err := findUser(ctx, e.dir, g.tenant, *user)
							if err != nil {
								return err
							}
							userID, who = u.ID, "routed to "+u.UserName
						}
						n, err := e.dir.AssignNumber(ctx, g.tenant, args[0], userID, *label)
						if err != nil {
							return err
						}
						if !g.quiet {
							fmt.Fprintf(c.Stderr, "number %s %s\n", n.E164, who)
						}
						return nil
					}
				}},
			{name: "list", max: 0, summary: "list the tenant's numbers, or a user's", help: `
Examples:
  pbxgate numbers list --tenant acme
  pbxgate numbers list --tenant acme --user 201 --output json`,
				setup: func(c *CLI, fs *cmdFlags) func(context.Context, []string) error {
					g := c.commonFlags(fs, true)
					user := fs.String("user", "", "only the numbers routed to `USER`")
					output := outputFlag(fs, "table", "json")
					return func(ctx context.Context, _ []string) error {
						e, err := c.open(ctx, g)
						if err != nil {
							return err
						}
						defer e.Close()
						names := map[string]string{}
						userID := ""
						if *user != "" {
							u, err := findUser(ctx, e.dir, g.tenant, *user)
							if err != nil {
								return err
							}
							userID = u.ID
							names[u.ID] = u.UserName
						}
						list, err := e.dir.ListNumbers(ctx, g.tenant, userID)
						if err != nil {
							return err
						}
						if *output == "json" {
							return writeJSON(c, list)
						}
						tw := tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
						fmt.Fprintln(tw, "NUMBER\tUSER\tLABEL")
						for _, n := range list {
							fmt.Fprintf(tw, "%s\t%s\t%s\n", n.E164, dash(userName(ctx, e, g.tenant, n.UserID, names)), dash(n.Label))
						}
						if err := tw.Flush(); err != nil {
							return err
						}
						if len(list) == 0 {
							fmt.Fprintln(c.Stderr, "no numbers")
						}
						return nil
					}
				}},
			{name: "release", args: "+E164", min: 1, max: 1, summary: "remove a number from the tenant's inventory", help: `
Calls to the number stop reaching anyone. Asks on a terminal; elsewhere it
needs --yes.

Example:
  pbxgate numbers release +4930123456 --tenant acme --yes`,
				setup: func(c *CLI, fs *cmdFlags) func(context.Context, []string) error {
					g := c.commonFlags(fs, true)
					yes := yesFlag(fs)
					cascade := fs.Bool("cascade", false, "also take the number out of the caller IDs that show or list it")
					return func(ctx context.Context, args []string) error {
						e, err := c.open(ctx, g)
						if err != nil {
							return err
						}
						defer e.Close()
						list, err := e.dir.ListNumbers(ctx, g.tenant, "")
						if err != nil {
							return err
						}
						// The library normalises national forms (030 123456 in a DE
						// tenant); an exact match names the user in the question.
						what := fmt.Sprintf("release number %s of tenant %s", args[0], g.tenant)
						for _, n := range list {
							if n.E164 == args[0] && n.UserID != "" {
								what += " (routed to " + userName(ctx, e, g.tenant, n.UserID, map[string]string{}) + "): calls to it stop reaching anyone"
							}
						}
						var opts []pbxusers.DeleteOption
						flags := " --tenant " + g.tenant
						if *cascade {
							what += "; caller IDs that show or list it lose it"
							opts = append(opts, pbxusers.Cascade())
							flags += " --cascade"
						}
						if err := c.confirm(*yes, what, "pbxgate numbers release "+args[0]+flags+" --yes"); err != nil {
							return err
						}
						if err := e.dir.ReleaseNumber(ctx, g.tenant, args[0], opts...); err != nil {
							switch {
							case errors.Is(err, pbxusers.ErrNotFound):
								return fmt.Errorf("%w (see: pbxgate numbers list --tenant %s)", err, g.tenant)
							case errors.Is(err, pbxusers.ErrInUse):
								return fmt.Errorf("%w; nothing was released. To release it and take it from them: pbxgate numbers release %s --tenant %s --cascade --yes", err, args[0], g.tenant)
							}
							return err
						}
						if !g.quiet {
							fmt.Fprintf(c.Stderr, "number %s released\n", args[0])
						}
						return nil
					}
				}},
		},
	}
}
