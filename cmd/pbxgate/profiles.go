package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// profilesGroup is "pbxgate profiles".
func profilesGroup() *group {
	return &group{
		name:    "profiles",
		summary: "list, show, create, change and delete permission profiles",
		intro: `Permission profiles are named bundles of typed permissions that users get
directly or through a team (SCIM group) bound to the profile.

Precedence (highest first): the user's override, the user's profiles in the
order listed, profiles bound to the user's teams (by priority), the default.

Examples:
  pbxgate profiles create Supervisor --role supervisor --grant monitoring.live_calls=true --grant chat.limit=10
  pbxgate profiles bind Supervisor --team Supervisors
  pbxgate profiles effective ada@acme.example`,
		leaves: []leaf{
			{name: "catalogue", max: 0, summary: "list every permission with its type and default", help: `
Example:
  pbxgate profiles catalogue --output json`,
				setup: func(c *CLI, fs *cmdFlags) func(context.Context, []string) error {
					output := outputFlag(fs, "table", "json")
					return func(ctx context.Context, _ []string) error {
						if *output == "json" {
							return writeJSON(c, pbxusers.Catalogue())
						}
						tw := tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
						fmt.Fprintln(tw, "PERMISSION\tTYPE\tDEFAULT\tDESCRIPTION")
						for _, d := range pbxusers.Catalogue() {
							fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", d.Name, d.Kind, d.Default, d.Description)
						}
						return tw.Flush()
					}
				}},
			{name: "list", max: 0, summary: "list the tenant's profiles", help: `
Example:
  pbxgate profiles list --tenant acme --output json`,
				setup: func(c *CLI, fs *cmdFlags) func(context.Context, []string) error {
					g := c.commonFlags(fs, true)
					output := outputFlag(fs, "table", "json")
					return func(ctx context.Context, _ []string) error {
						e, err := c.open(ctx, g)
						if err != nil {
							return err
						}
						defer e.Close()
						list, err := e.dir.ListProfiles(ctx, g.tenant)
						if err != nil {
							return err
						}
						if *output == "json" {
							return writeJSON(c, list)
						}
						tw := tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
						fmt.Fprintln(tw, "NAME\tROLE\tPRIORITY\tGRANTS\tDESCRIPTION")
						for _, p := range list {
							fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\n", p.Name, dash(string(p.Role)), p.Priority, len(p.Grants), dash(p.Description))
						}
						return tw.Flush()
					}
				}},
			{name: "show", args: "NAME", min: 1, max: 1, summary: "show a profile's grants", help: `
Example:
  pbxgate profiles show Supervisor --tenant acme`,
				setup: func(c *CLI, fs *cmdFlags) func(context.Context, []string) error {
					g := c.commonFlags(fs, true)
					output := outputFlag(fs, "table", "json")
					return func(ctx context.Context, args []string) error {
						e, err := c.open(ctx, g)
						if err != nil {
							return err
						}
						defer e.Close()
						p, err := e.dir.LookupProfile(ctx, g.tenant, args[0])
						if err != nil {
							return err
						}
						if *output == "json" {
							return json.NewEncoder(c.Stdout).Encode(p)
						}
						tw := tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
						fmt.Fprintf(tw, "name\t%s\nrole\t%s\npriority\t%d\ndescription\t%s\n", p.Name, dash(string(p.Role)), p.Priority, dash(p.Description))
						for _, d := range pbxusers.Catalogue() {
							if v, ok := p.Grants[d.Name]; ok {
								fmt.Fprintf(tw, "grant\t%s = %s\n", d.Name, v)
							}
						}
						return tw.Flush()
					}
				}},
			{name: "create", args: "NAME", min: 1, max: 1, summary: "create a profile; prints its id", help: `
Example:
  pbxgate profiles create Supervisor --role supervisor --grant monitoring.live_calls=true --grant chat.limit=10`,
				setup: func(c *CLI, fs *cmdFlags) func(context.Context, []string) error {
					g := c.commonFlags(fs, true)
					pf := addProfileFlags(fs, false)
					return func(ctx context.Context, args []string) error {
						p := pbxusers.Profile{Name: args[0], Role: pbxusers.Role(*pf.role), Priority: *pf.priority, Description: *pf.desc, Grants: pbxusers.PermissionSet{}}
						if err := pf.apply(p.Grants); err != nil {
							return err
						}
						e, err := c.open(ctx, g)
						if err != nil {
							return err
						}
						defer e.Close()
						created, err := e.dir.CreateProfile(ctx, g.tenant, p)
						if err != nil {
							return err
						}
						fmt.Fprintln(c.Stdout, created.ID)
						return nil
					}
				}},
			{name: "set", args: "NAME", min: 1, max: 1, summary: "change a profile (--grant adds or changes, --revoke removes)", help: `
Example:
  pbxgate profiles set Supervisor --grant locations.operation_manager='["London"]' --revoke chat.limit`,
				setup: func(c *CLI, fs *cmdFlags) func(context.Context, []string) error {
					g := c.commonFlags(fs, true)
					pf := addProfileFlags(fs, true)
					return func(ctx context.Context, args []string) error {
						probe := pbxusers.PermissionSet{}
						if err := pf.apply(probe); err != nil {
							return err
						}
						e, err := c.open(ctx, g)
						if err != nil {
							return err
						}
						defer e.Close()
						p, err := e.dir.LookupProfile(ctx, g.tenant, args[0])
						if err != nil {
							return err
						}
						if p.Grants == nil {
							p.Grants = pbxusers.PermissionSet{}
						}
						if err := pf.apply(p.Grants); err != nil {
							return err
						}
						fs.Visit(func(f *flag.Flag) {
							switch f.Name {
							case "role":
								p.Role = pbxusers.Role(*pf.role)
							case "priority":
								p.Priority = *pf.priority
							case "description":
								p.Description = *pf.desc
							}
						})
						_, err = e.dir.UpdateProfile(ctx, g.tenant, p)
						return err
					}
				}},
			{name: "delete", args: "NAME", min: 1, max: 1, summary: "delete a profile no user or team uses", help: `
A profile still granted to users or bound to teams is refused, naming
them, unless --cascade takes it from them too. Asks on a terminal;
elsewhere it needs --yes.

Example:
  pbxgate profiles delete Supervisor --tenant acme --yes`,
				setup: func(c *CLI, fs *cmdFlags) func(context.Context, []string) error {
					g := c.commonFlags(fs, true)
					yes := yesFlag(fs)
					cascade := fs.Bool("cascade", false, "also take it from the users and teams that have it instead of refusing")
					return func(ctx context.Context, args []string) error {
						e, err := c.open(ctx, g)
						if err != nil {
							return err
						}
						defer e.Close()
						p, err := e.dir.LookupProfile(ctx, g.tenant, args[0])
						if err != nil {
							return err
						}
						what := fmt.Sprintf("delete profile %s of tenant %s with its %s", p.Name, g.tenant, plural(len(p.Grants), "grant", "grants"))
						var opts []pbxusers.DeleteOption
						flags := " --tenant " + g.tenant
						if *cascade {
							what += "; the users and teams that have it lose it"
							opts = append(opts, pbxusers.Cascade())
							flags += " --cascade"
						}
						if err := c.confirm(*yes, what, "pbxgate profiles delete "+args[0]+flags+" --yes"); err != nil {
							return err
						}
						if err := e.dir.DeleteProfile(ctx, g.tenant, p.ID, opts...); err != nil {
							if errors.Is(err, pbxusers.ErrInUse) {
								return fmt.Errorf("%w; nothing was deleted. To delete it and take it from them: pbxgate profiles delete %s --tenant %s --cascade --yes", err, args[0], g.tenant)
							}
							return err
						}
						if !g.quiet {
							fmt.Fprintf(c.Stderr, "deleted profile %s\n", p.Name)
						}
						return nil
					}
				}},
			bindLeaf("bind", "grant the profile to every member of a team (SCIM group)"),
			bindLeaf("unbind", "stop granting the profile through a team"),
			{name: "effective", args: "USER", min: 1, max: 1, summary: "a user's effective permissions and where each comes from", help: `
Example:
  pbxgate profiles effective ada@acme.example --tenant acme`,
				setup: func(c *CLI, fs *cmdFlags) func(context.Context, []string) error {
					g := c.commonFlags(fs, true)
					output := outputFlag(fs, "table", "json")
					return func(ctx context.Context, args []string) error {
						e, err := c.open(ctx, g)
						if err != nil {
							return err
						}
						defer e.Close()
						u, err := findUser(ctx, e.dir, g.tenant, args[0])
						if err != nil {
							return err
						}
						eff, err := e.dir.Effective(ctx, g.tenant, u.ID)
						if err != nil {
							return err
						}
						if *output == "json" {
							return writeJSON(c, eff)
						}
						tw := tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
						fmt.Fprintln(tw, "PERMISSION\tVALUE\tFROM")
						for _, p := range eff {
							fmt.Fprintf(tw, "%s\t%s\t%s\n", p.Permission, p.Value, p.From)
						}
						return tw.Flush()
					}
				}},
		},
	}
}

// profileFlags are the flags of profiles create and set.
type profileFlags struct {
	grants, revokes stringList
	role, desc      *string
	priority        *int
}

func addProfileFlags(fs *cmdFlags, withRevoke bool) *profileFlags {
	pf := &profileFlags{}
	fs.Var(&pf.grants, "grant", "`PERMISSION=VALUE` to set (repeatable): true/false, a number or a JSON list")
	if withRevoke {
		fs.Var(&pf.revokes, "revoke", "`PERMISSION` to remove from the profile (repeatable)")
	}
	pf.role = fs.String("role", "", "`ROLE` the profile stands for: user, agent, supervisor, admin, owner")
	pf.priority = fs.Int("priority", 0, "`N`: lower wins among profiles granted through teams")
	pf.desc = fs.String("description", "", "`TEXT` describing the profile")
	return pf
}

// apply sets the --grant values and removes the --revoke ones, reporting
// every bad --grant at once.
func (pf *profileFlags) apply(into pbxusers.PermissionSet) error {
	var probs []string
	for _, gr := range pf.grants {
		name, val, ok := strings.Cut(gr, "=")
		if !ok {
			probs = append(probs, fmt.Sprintf("--grant %q must be PERMISSION=VALUE", gr))
			continue
		}
		v, err := pbxusers.ParseValue(pbxusers.Permission(name), []byte(val))
		if err != nil {
			probs = append(probs, fmt.Sprintf("--grant %s: %s", gr, err))
			continue
		}
		into[pbxusers.Permission(name)] = v
	}
	for _, r := range pf.revokes {
		delete(into, pbxusers.Permission(r))
	}
	switch len(probs) {
	case 0:
		return nil
	case 1:
		return usagef("pbxgate profiles catalogue", "%s", probs[0])
	}
	return usagef("pbxgate profiles catalogue", "%d bad --grant values:\n  %s", len(probs), strings.Join(probs, "\n  "))
}

// bindLeaf is "profiles bind" or "profiles unbind".
func bindLeaf(name, summary string) leaf {
	return leaf{name: name, args: "NAME", min: 1, max: 1, summary: summary, help: `
Pushing a user into the team's Okta/Entra group then grants the profile.

Example:
  pbxgate profiles ` + name + ` Supervisor --team Supervisors --tenant acme`,
		setup: func(c *CLI, fs *cmdFlags) func(context.Context, []string) error {
			g := c.commonFlags(fs, true)
			team := fs.String("team", "", "team (SCIM group) `NAME`")
			return func(ctx context.Context, args []string) error {
				if *team == "" {
					return usagef("pbxgate profiles "+name+" "+args[0]+" --team TEAM", "profiles %s needs --team", name)
				}
				e, err := c.open(ctx, g)
				if err != nil {
					return err
				}
				defer e.Close()
				p, err := e.dir.LookupProfile(ctx, g.tenant, args[0])
				if err != nil {
					return err
				}
				tm, err := e.dir.LookupTeam(ctx, g.tenant, pbxusers.TeamKeyName, *team)
				if err != nil {
					return err // its message names the team
				}
				_, err = e.dir.ModifyTeam(ctx, g.tenant, tm.ID, func(t *pbxusers.Team) error {
					var keep []string
					for _, id := range t.Profiles {
						if id != p.ID {
							keep = append(keep, id)
						}
					}
					if name == "bind" {
						keep = append(keep, p.ID)
					}
					t.Profiles = keep
					return nil
				})
				if err != nil {
					return err
				}
				if name == "bind" {
					fmt.Fprintf(c.Stderr, "profile %s bound to team %s: granted to its %s\n", p.Name, tm.Name, plural(tm.Members, "member", "members"))
				} else {
					fmt.Fprintf(c.Stderr, "profile %s unbound from team %s: no longer granted to its %s through it\n", p.Name, tm.Name, plural(tm.Members, "member", "members"))
				}
				return nil
			}
		}}
}
