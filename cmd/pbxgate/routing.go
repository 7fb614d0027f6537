package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// routingPolicyExample is a policy file the help texts show.
const routingPolicyExample = `{"ringTimeout": 20,
   "rules": [{"id": "after-hours", "enabled": true,
              "when": {"timeFrames": ["business-hours"], "notInTimeFrames": true},
              "always": {"kind": "voicemail"}}],
   "default": {"onNoAnswer": {"kind": "voicemail"}}}`

// routingGroup is "pbxgate routing": a user's routing policy (answering
// rules and ring plans). "pbxgate route explain" shows its effect on a call.
func routingGroup() *group {
	return &group{
		name:    "routing",
		summary: "show and set a user's routing policy (answering rules, ring plans)",
		intro: `A user's routing policy is JSON, as the admin API serves it at
/api/v1/tenants/{tenant}/users/{id}/routing: answer mode, ring timeout
(seconds), caller lists, answering rules over time frames, the default
rule. "pbxgate route explain USER" shows where a call would ring. USER is
an id, a userName, an email address or an extension.

Examples:
  pbxgate routing show ada@acme.example --tenant acme --output json > policy.json
  pbxgate routing set ada@acme.example --tenant acme --file policy.json`,
		leaves: []leaf{
			{name: "show", args: "USER", min: 1, max: 1, summary: "show a user's routing policy", help: `
The JSON output is what "routing set --file" reads.

Examples:
  pbxgate routing show 201 --tenant acme
  pbxgate routing show 201 --tenant acme --output json > policy.json`,
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
						if *output == "json" {
							enc := json.NewEncoder(c.Stdout)
							enc.SetIndent("", "  ")
							return enc.Encode(u.Routing)
						}
						return showRouting(c, u)
					}
				}},
			{name: "set", args: "USER", min: 1, max: 1, summary: "replace a user's routing policy with a JSON file", help: `
The whole policy is replaced. Every invalid field is reported at once and
then nothing is written. --file - reads standard input.

Example:
  pbxgate routing set ada@acme.example --tenant acme --file policy.json
with policy.json:
  ` + routingPolicyExample,
				setup: func(c *CLI, fs *cmdFlags) func(context.Context, []string) error {
					g := c.commonFlags(fs, true)
					file := fs.String("file", "", "routing policy JSON `FILE` (- for stdin)")
					return func(ctx context.Context, args []string) error {
						if *file == "" {
							return usagef("pbxgate routing set "+args[0]+" --file POLICY.json", "routing set needs --file with the policy as JSON (see: pbxgate routing set -h)")
						}
						var p pbxusers.RoutingPolicy
						if err := c.readJSONFile(*file, &p); err != nil {
							return err
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
						updated, err := e.dir.ModifyUser(ctx, g.tenant, u.ID, func(cur *pbxusers.User) error {
							cur.Routing = p
							return nil
						})
						if err != nil {
							return err
						}
						if updated.Version == u.Version {
							fmt.Fprintf(c.Stderr, "%s: nothing changed\n", u.UserName)
						} else if !g.quiet {
							fmt.Fprintf(c.Stderr, "%s: routing policy set (version %d); see: pbxgate route explain %s --tenant %s\n",
								updated.UserName, updated.Version, args[0], g.tenant)
						}
						return nil
					}
				}},
		},
	}
}

// showRouting prints the outline of a user's policy; --output json has all
// of it.
func showRouting(c *CLI, u pbxusers.User) error {
	p := u.Routing
	tw := tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s\t%s\n", k, dash(v)) }
	row("user", u.UserName)
	row("answer mode", string(p.AnswerMode))
	row("forward number", p.ForwardNumber)
	if p.RingTimeout != 0 {
		row("ring timeout", p.RingTimeout.String())
	} else {
		row("ring timeout", "")
	}
	row("busy policy", string(p.BusyPolicy))
	row("call waiting", fmt.Sprint(p.CallWaiting))
	row("allow callers", strings.Join(p.AllowCallers, ", "))
	row("reject callers", strings.Join(p.RejectCallers, ", "))
	row("reject anonymous", fmt.Sprint(p.RejectAnonymous))
	if p.Override != nil {
		o := p.Override.Rule
		if p.Override.Destination != nil {
			o = string(p.Override.Destination.Kind)
		}
		if p.Override.Until != nil {
			o += " until " + p.Override.Until.Format("2006-01-02 15:04 MST")
		}
		row("override", strings.TrimSpace(o+" "+p.Override.Reason))
	}
	for _, r := range p.Rules {
		state := "enabled"
		if !r.Enabled {
			state = "disabled"
		}
		when := "always"
		if len(r.When.TimeFrames) > 0 {
			when = "in " + strings.Join(r.When.TimeFrames, ", ")
			if r.When.NotInTimeFrames {
				when = "not " + when
			}
		}
		row("rule", fmt.Sprintf("%s (%s, %s)", r.ID, state, when))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(c.Stderr, "the whole policy: --output json")
	return nil
}
