package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pbxgate/pbxgate/ldapsync"
	"github.com/pbxgate/pbxgate/pbxusers"
)

// ldapGroup is "pbxgate ldap".
func ldapGroup() *group {
	return &group{
		name:    "ldap",
		summary: "test, run and review LDAP / Active Directory syncs",
		intro: `The directories are those under ldap.directories in the configuration
file; DIRECTORY is a directory's name.

A sync never deactivates anyone when the read failed, was partial or empty,
or when more than maxDeactivateShare (default 10%) of the directory's users
would go at once: the run stops, says why, and --force is the explicit way
past the last two.

Examples:
  pbxgate ldap test corp-ad --config /etc/pbxgate/pbxgate.yaml
  pbxgate ldap sync corp-ad --dry-run --config /etc/pbxgate/pbxgate.yaml
  pbxgate ldap history --config /etc/pbxgate/pbxgate.yaml`,
		leaves: []leaf{
			{name: "test", args: "DIRECTORY", min: 1, max: 1, summary: "bind, read every user once, show counts and a sample; writes nothing", help: `
Example:
  pbxgate ldap test corp-ad --config /etc/pbxgate/pbxgate.yaml`,
				setup: func(c *CLI, fs *cmdFlags) func(context.Context, []string) error {
					g := c.commonFlags(fs, false)
					output := outputFlag(fs, "table", "json")
					return func(ctx context.Context, args []string) error {
						e, err := c.open(ctx, g)
						if err != nil {
							return err
						}
						defer e.Close()
						cfg, err := findDirectory(e, g, "test", args[0])
						if err != nil {
							return err
						}
						rep, err := ldapsync.New(e.dir, cfg, ldapsync.Options{Logger: e.log}).Test(ctx)
						if *output == "json" {
							enc := json.NewEncoder(c.Stdout)
							enc.SetIndent("", "  ")
							if jerr := enc.Encode(rep); jerr != nil {
								return jerr
							}
						} else if werr := rep.WriteText(c.Stdout); werr != nil {
							return werr
						}
						return err
					}
				}},
			{name: "sync", args: "DIRECTORY", min: 1, max: 1, summary: "run a sync now (incremental when one is due, else full)", help: `
Never overlaps a run of the same directory in serve.

Examples:
  pbxgate ldap sync corp-ad --dry-run --config /etc/pbxgate/pbxgate.yaml
  pbxgate ldap sync corp-ad --full --force --config /etc/pbxgate/pbxgate.yaml`,
				setup: func(c *CLI, fs *cmdFlags) func(context.Context, []string) error {
					g := c.commonFlags(fs, false)
					dry := fs.Bool("dry-run", false, "compute and print the plan, write nothing")
					full := fs.Bool("full", false, "read every user, not only changes")
					force := fs.Bool("force", false, "deactivate even past the share guard or after an empty read")
					output := outputFlag(fs, "table", "json")
					return func(ctx context.Context, args []string) error {
						e, err := c.open(ctx, g)
						if err != nil {
							return err
						}
						defer e.Close()
						cfg, err := findDirectory(e, g, "sync", args[0])
						if err != nil {
							return err
						}
						return c.ldapSync(ctx, e, g, cfg, *full, *dry, *force, *output)
					}
				}},
			{name: "history", args: "[DIRECTORY]", min: 0, max: 1, summary: "the latest runs, newest first", help: `
Example:
  pbxgate ldap history corp-ad --limit 5 --output json`,
				setup: func(c *CLI, fs *cmdFlags) func(context.Context, []string) error {
					g := c.commonFlags(fs, false)
					output := outputFlag(fs, "table", "json")
					limit := countFlag(fs, "limit", 20, "show `N` runs")
					return func(ctx context.Context, args []string) error {
						e, err := c.open(ctx, g)
						if err != nil {
							return err
						}
						defer e.Close()
						name := ""
						if len(args) == 1 {
							name = args[0]
						}
						return c.ldapHistory(ctx, e, name, *limit, *output)
					}
				}},
		},
	}
}

// findDirectory returns the configured LDAP directory called name.
func findDirectory(e *env, g *common, sub, name string) (ldapsync.Config, error) {
	var names []string
	for _, d := range e.set.cfg.LDAP.Directories {
		if d.Name == name {
			return d, nil
		}
		names = append(names, d.Name)
	}
	if len(names) == 0 {
		return ldapsync.Config{}, usagef("pbxgate config check FILE", "no LDAP directories are configured (ldap.directories in --config %s)", dash(g.config))
	}
	if s := closest(name, names); s != "" {
		return ldapsync.Config{}, usagef("pbxgate ldap "+sub+" "+s, "no LDAP directory %q; did you mean %q?", name, s)
	}
	return ldapsync.Config{}, usagef("pbxgate ldap -h", "no LDAP directory %q; configured: %s", name, strings.Join(names, ", "))
}

func (c *CLI) ldapSync(ctx context.Context, e *env, g *common, cfg ldapsync.Config, full, dry, force bool, output string) error {
	var p *progress
	stage := ""
	res, err := ldapsync.New(e.dir, cfg, ldapsync.Options{Logger: e.log}).Run(ctx, ldapsync.RunOptions{
		Full: full, DryRun: dry, Force: force,
		Progress: func(s string, done, total int) {
			if s != stage || p == nil {
				if p != nil {
					p.done()
				}
				stage = s
				p = c.progress("sync "+cfg.Name+": "+s, g.quiet)
			}
			p.update(done, total)
		},
	})
	if p != nil {
		p.done()
	}
	if errors.Is(err, ldapsync.ErrBusy) {
		return fmt.Errorf("%w: another run of %s is going on (in serve or another pbxgate); try again when it ends", err, cfg.Name)
	}
	if res.Plan != nil {
		if output == "json" {
			enc := json.NewEncoder(c.Stdout)
			enc.SetIndent("", "  ")
			if jerr := enc.Encode(res); jerr != nil {
				return jerr
			}
		} else if werr := res.Plan.WriteTable(c.Stdout); werr != nil {
			return werr
		}
	}
	return err
}

func (c *CLI) ldapHistory(ctx context.Context, e *env, name string, limit int, output string) error {
	dirs := e.set.cfg.LDAP.Directories
	var runs []pbxusers.SyncRun
	tenants := map[string]bool{}
	for _, d := range dirs {
		if name == "" || d.Name == name {
			tenants[d.Tenant] = true
		}
	}
	if len(tenants) == 0 {
		list, err := e.dir.ListTenants(ctx)
		if err != nil {
			return err
		}
		for _, t := range list {
			tenants[t.ID] = true
		}
	}
	for tn := range tenants {
		r, err := e.dir.SyncRuns(ctx, tn, name, limit)
		if err != nil {
			return err
		}
		runs = append(runs, r...)
	}
	if output == "json" {
		if runs == nil {
			runs = []pbxusers.SyncRun{}
		}
		enc := json.NewEncoder(c.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(runs)
	}
	tw := tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tDIRECTORY\tMODE\tSTATUS\tSTARTED\tTOOK\tREAD\tCREATED\tUPDATED\tDEACTIVATED\tREACTIVATED\tCONFLICTS\tMESSAGE")
	for _, r := range runs {
		took := "-"
		if r.Finished != nil {
			took = r.Finished.Sub(r.Started).Round(time.Millisecond).String()
		}
		mode := r.Mode
		if r.DryRun {
			mode += " (dry run)"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\n", r.ID, r.Directory, mode, r.Status,
			r.Started.Format(time.DateTime), took, r.Read, r.Created, r.Updated, r.Deactivated, r.Reactivated, len(r.Conflicts), dash(r.Message))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(runs) == 0 {
		fmt.Fprintln(c.Stderr, "no sync runs yet")
	}
	return nil
}
