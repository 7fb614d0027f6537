package main

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// overrideLeaf is "users override": per-user permission values that beat
// every profile.
func overrideLeaf() leaf {
	return leaf{name: "override", args: "USER [PERMISSION=VALUE...]", min: 1, max: -1,
		summary: "set (PERMISSION=VALUE) or --unset a user's permission overrides", help: `
An override beats every profile of the user. VALUE is true/false, a number
or a list (a,b or JSON), by the permission's type; see "pbxgate profiles
catalogue". Every bad value is reported at once and then nothing is
written. "pbxgate profiles effective USER" shows the result.

Examples:
  pbxgate users override agent@acme.example calls.max_active=4 monitoring.live_calls=true --tenant acme
  pbxgate users override agent@acme.example --unset calls.max_active --tenant acme`,
		setup: func(c *CLI, fs *cmdFlags) func(context.Context, []string) error {
			g := c.commonFlags(fs, true)
			var unset stringList
			fs.Var(&unset, "unset", "`PERMISSION` whose override to remove (repeatable)")
			return func(ctx context.Context, args []string) error {
				set := pbxusers.PermissionSet{}
				var probs []string
				for _, a := range args[1:] {
					name, val, ok := strings.Cut(a, "=")
					if !ok {
						probs = append(probs, fmt.Sprintf("%q must be PERMISSION=VALUE", a))
						continue
					}
					v, err := pbxusers.ParseValue(pbxusers.Permission(name), []byte(val))
					if err != nil {
						probs = append(probs, fmt.Sprintf("%s: %s", a, err))
						continue
					}
					set[pbxusers.Permission(name)] = v
				}
				for _, p := range unset {
					if _, ok := set[pbxusers.Permission(p)]; ok {
						probs = append(probs, fmt.Sprintf("%s is both set and --unset", p))
					}
				}
				switch {
				case len(probs) == 1:
					return usagef("pbxgate profiles catalogue", "%s", probs[0])
				case len(probs) > 1:
					return usagef("pbxgate profiles catalogue", "%d bad overrides:\n  %s", len(probs), strings.Join(probs, "\n  "))
				case len(set) == 0 && len(unset) == 0:
					return usagef("pbxgate users override "+args[0]+" calls.max_active=4", "users override needs PERMISSION=VALUE arguments or --unset PERMISSION (see: pbxgate users override -h)")
				}
				e, err := c.open(ctx, g)
				if err != nil {
					return err
				}
				defer e.Close()
				u, err := findUser(ctx, e.dir, g.tenant, args[0])
				if err != nil {
					return err
				}
				var missing []string
				updated, err := e.dir.ModifyUser(ctx, g.tenant, u.ID, func(cur *pbxusers.User) error {
					next := cur.Overrides.Clone()
					if next == nil {
						next = pbxusers.PermissionSet{}
					}
					for p, v := range set {
						next[p] = v
					}
					for _, p := range unset {
						if _, ok := next[pbxusers.Permission(p)]; !ok {
							missing = append(missing, p)
						}
						delete(next, pbxusers.Permission(p))
					}
					if len(next) == 0 {
						next = nil
					}
					cur.Overrides = next
					return nil
				})
				if err != nil {
					return err
				}
				for _, p := range missing {
					fmt.Fprintf(c.Stderr, "%s had no override of %s\n", u.UserName, p)
				}
				if g.quiet {
					return nil
				}
				if updated.Version == u.Version {
					fmt.Fprintf(c.Stderr, "%s: nothing changed\n", u.UserName)
					return nil
				}
				var now []string
				for p, v := range updated.Overrides {
					now = append(now, fmt.Sprintf("%s=%s", p, v))
				}
				sort.Strings(now)
				if len(now) == 0 {
					now = []string{"none"}
				}
				fmt.Fprintf(c.Stderr, "%s overrides: %s\n", u.UserName, strings.Join(now, ", "))
				return nil
			}
		}}
}
