package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/pbxgate/pbxgate/pbxusers"
)

func runProfiles(ctx context.Context, c *CLI, args []string) error {
	fs := c.flagSet("profiles", "profiles list|show NAME|create NAME|set NAME|delete NAME|catalogue|effective USER [flags]", `
Manage permission profiles: named bundles of typed permissions that users
get directly or through a team (SCIM group) bound to the profile.

Subcommands:
  catalogue          list every permission with its type and default
  list               list the tenant's profiles
  show NAME          show a profile's grants
  create NAME        create a profile (with --grant, --role, --priority)
  set NAME           change a profile's grants (--grant adds or changes, --revoke removes)
  delete NAME        delete a profile no user or team uses
  bind NAME --team T grant the profile to every member of team (SCIM group) T
  unbind NAME --team T
                     stop granting it through the team
  effective USER     a user's effective permissions and where each comes from

Precedence (highest first): the user's override, the user's profiles in the
order listed, profiles bound to the user's teams (by priority), the default.

Examples:
  pbxgate profiles create Supervisor --role supervisor --grant monitoring.live_calls=true --grant chat.limit=10
  pbxgate profiles set Supervisor --grant locations.operation_manager='["London"]'
  pbxgate profiles bind Supervisor --team Supervisors   # pushing a user into the Okta/Entra group grants it
  pbxgate profiles effective ada@acme.example`)
	g := c.commonFlags(fs, true)
	var grants, revokes stringList
	fs.Var(&grants, "grant", "`PERMISSION=VALUE` to set (repeatable); values are true/false, a number or a JSON list")
	fs.Var(&revokes, "revoke", "`PERMISSION` to remove from the profile (repeatable)")
	role := fs.String("role", "", "`ROLE` the profile stands for: user, agent, supervisor, admin, owner")
	priority := fs.Int("priority", 0, "`N`: lower wins among profiles granted through teams")
	desc := fs.String("description", "", "`TEXT` describing the profile")
	team := fs.String("team", "", "team (SCIM group) `NAME` for bind and unbind")
	output := fs.String("output", "table", "output `FORMAT`: table or json")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("pbxgate profiles -h", "profiles needs a subcommand: catalogue, list, show, create, set, delete, bind, unbind or effective")
	}
	sub, rest := pos[0], pos[1:]
	if sub == "catalogue" {
		tw := tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "PERMISSION\tTYPE\tDEFAULT\tDESCRIPTION")
		for _, d := range pbxusers.Catalogue() {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", d.Name, d.Kind, d.Default, d.Description)
		}
		return tw.Flush()
	}
	e, err := c.open(ctx, g)
	if err != nil {
		return err
	}
	defer e.Close()
	parseGrants := func(into pbxusers.PermissionSet) error {
		for _, gr := range grants {
			name, val, ok := strings.Cut(gr, "=")
			if !ok {
				return usagef("pbxgate profiles -h", "--grant %q must be PERMISSION=VALUE", gr)
			}
			v, err := pbxusers.ParseValue(pbxusers.Permission(name), []byte(val))
			if err != nil {
				return usagef("pbxgate profiles catalogue", "%s", err)
			}
			into[pbxusers.Permission(name)] = v
		}
		for _, r := range revokes {
			delete(into, pbxusers.Permission(r))
		}
		return nil
	}
	one := func() error {
		if len(rest) != 1 {
			return usagef("pbxgate profiles "+sub+" NAME", "profiles %s needs exactly one NAME", sub)
		}
		return nil
	}
	switch sub {
	case "list":
		list, err := e.dir.ListProfiles(ctx, g.tenant)
		if err != nil {
			return err
		}
		if *output == "json" {
			return json.NewEncoder(c.Stdout).Encode(list)
		}
		tw := tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tROLE\tPRIORITY\tGRANTS\tDESCRIPTION")
		for _, p := range list {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\n", p.Name, dash(string(p.Role)), p.Priority, len(p.Grants), dash(p.Description))
		}
		return tw.Flush()
	case "show":
		if err := one(); err != nil {
			return err
		}
		p, err := e.dir.LookupProfile(ctx, g.tenant, rest[0])
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
	case "create":
		if err := one(); err != nil {
			return err
		}
		p := pbxusers.Profile{Name: rest[0], Role: pbxusers.Role(*role), Priority: *priority, Description: *desc, Grants: pbxusers.PermissionSet{}}
		if err := parseGrants(p.Grants); err != nil {
			return err
		}
		created, err := e.dir.CreateProfile(ctx, g.tenant, p)
		if err != nil {
			return err
		}
		fmt.Fprintln(c.Stdout, created.ID)
		return nil
	case "set":
		if err := one(); err != nil {
			return err
		}
		p, err := e.dir.LookupProfile(ctx, g.tenant, rest[0])
		if err != nil {
			return err
		}
		if p.Grants == nil {
			p.Grants = pbxusers.PermissionSet{}
		}
		if err := parseGrants(p.Grants); err != nil {
			return err
		}
		fs.Visit(func(f *flag.Flag) {
			switch f.Name {
			case "role":
				p.Role = pbxusers.Role(*role)
			case "priority":
				p.Priority = *priority
			case "description":
				p.Description = *desc
			}
		})
		_, err = e.dir.UpdateProfile(ctx, g.tenant, p)
		return err
	case "delete":
		if err := one(); err != nil {
			return err
		}
		p, err := e.dir.LookupProfile(ctx, g.tenant, rest[0])
		if err != nil {
			return err
		}
		return e.dir.DeleteProfile(ctx, g.tenant, p.ID)
	case "bind", "unbind":
		if err := one(); err != nil {
			return err
		}
		if *team == "" {
			return usagef("pbxgate profiles "+sub+" "+rest[0]+" --team TEAM", "profiles %s needs --team", sub)
		}
		p, err := e.dir.LookupProfile(ctx, g.tenant, rest[0])
		if err != nil {
			return err
		}
		tm, err := e.dir.LookupTeam(ctx, g.tenant, pbxusers.TeamKeyName, *team)
		if err != nil {
			return fmt.Errorf("team %q: %w", *team, err)
		}
		_, err = e.dir.ModifyTeam(ctx, g.tenant, tm.ID, func(t *pbxusers.Team) error {
			var keep []string
			for _, id := range t.Profiles {
				if id != p.ID {
					keep = append(keep, id)
				}
			}
			if sub == "bind" {
				keep = append(keep, p.ID)
			}
			t.Profiles = keep
			return nil
		})
		if err == nil {
			fmt.Fprintf(c.Stderr, "profile %s %sed %s team %s (%d members)\n", p.Name, sub, map[string]string{"bind": "to", "unbind": "from"}[sub], tm.Name, tm.Members)
		}
		return err
	case "effective":
		if len(rest) != 1 {
			return usagef("pbxgate profiles effective USER", "profiles effective needs exactly one USER")
		}
		u, err := findUser(ctx, e.dir, g.tenant, rest[0])
		if err != nil {
			return err
		}
		eff, err := e.dir.Effective(ctx, g.tenant, u.ID)
		if err != nil {
			return err
		}
		if *output == "json" {
			return json.NewEncoder(c.Stdout).Encode(eff)
		}
		tw := tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "PERMISSION\tVALUE\tFROM")
		for _, p := range eff {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", p.Permission, p.Value, p.From)
		}
		return tw.Flush()
	}
	return usagef("pbxgate profiles -h", "unknown profiles subcommand %q", sub)
}
