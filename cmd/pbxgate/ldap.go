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

func runLDAP(ctx context.Context, c *CLI, args []string) error {
	fs := c.flagSet("ldap", "ldap test DIRECTORY | ldap sync DIRECTORY [--dry-run] [--full] [--force] | ldap history [DIRECTORY]", `
Test, run and review the LDAP / Active Directory syncs configured under
ldap.directories in the configuration file. DIRECTORY is a directory's name.

  test DIRECTORY     bind, read every user once, show counts and a sample of
                     how entries map to users; writes nothing
  sync DIRECTORY     run a sync now (incremental when one is due, else full);
                     never overlaps a run of the same directory in serve
  history            the latest runs, newest first

A sync never deactivates anyone when the read failed, was partial or empty,
or when more than maxDeactivateShare (default 10%) of the directory's users
would go at once: the run stops, says why, and --force is the explicit way
past the last two.

Examples:
  pbxgate ldap test corp-ad --config /etc/pbxgate/pbxgate.yaml
  pbxgate ldap sync corp-ad --dry-run --config /etc/pbxgate/pbxgate.yaml
  pbxgate ldap sync corp-ad --full --force --config /etc/pbxgate/pbxgate.yaml
  pbxgate ldap history --config /etc/pbxgate/pbxgate.yaml`)
	g := c.commonFlags(fs, false)
	dry := fs.Bool("dry-run", false, "sync: compute and print the plan, write nothing")
	full := fs.Bool("full", false, "sync: read every user, not only changes")
	force := fs.Bool("force", false, "sync: deactivate even past the share guard or after an empty read")
	output := fs.String("output", "table", "output `FORMAT`: table or json")
	limit := fs.Int("limit", 20, "history: show `N` runs")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("pbxgate ldap -h", "ldap needs a subcommand: test, sync or history")
	}
	sub, rest := pos[0], pos[1:]
	e, err := c.open(ctx, g)
	if err != nil {
		return err
	}
	defer e.Close()
	dirs := e.set.cfg.LDAP.Directories
	find := func() (ldapsync.Config, error) {
		if len(rest) != 1 {
			return ldapsync.Config{}, usagef("pbxgate ldap "+sub+" DIRECTORY --config FILE", "ldap %s needs exactly one DIRECTORY", sub)
		}
		var names []string
		for _, d := range dirs {
			if d.Name == rest[0] {
				return d, nil
			}
			names = append(names, d.Name)
		}
		if len(names) == 0 {
			return ldapsync.Config{}, usagef("pbxgate config check FILE", "no LDAP directories are configured (ldap.directories in --config %s)", dash(g.config))
		}
		return ldapsync.Config{}, usagef("pbxgate ldap -h", "no LDAP directory %q; configured: %s", rest[0], strings.Join(names, ", "))
	}
	switch sub {
	case "test":
		cfg, err := find()
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
	case "sync":
		cfg, err := find()
		if err != nil {
			return err
		}
		p := c.progress("sync "+cfg.Name, g.quiet)
		stage := ""
		res, err := ldapsync.New(e.dir, cfg, ldapsync.Options{Logger: e.log}).Run(ctx, ldapsync.RunOptions{
			Full: *full, DryRun: *dry, Force: *force,
			Progress: func(s string, done, total int) {
				if s != stage {
					if stage != "" {
						p.done()
					}
					stage = s
					p = c.progress("sync "+cfg.Name+": "+s, g.quiet)
				}
				p.update(done, total)
			},
		})
		p.done()
		if errors.Is(err, ldapsync.ErrBusy) {
			return fmt.Errorf("%w: another run of %s is going on (in serve or another pbxgate); try again when it ends", err, cfg.Name)
		}
		if res.Plan != nil {
			if *output == "json" {
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
	case "history":
		if len(rest) > 1 {
			return usagef("pbxgate ldap history [DIRECTORY]", "ldap history takes at most one DIRECTORY")
		}
		name := ""
		if len(rest) == 1 {
			name = rest[0]
		}
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
			r, err := e.dir.SyncRuns(ctx, tn, name, *limit)
			if err != nil {
				return err
			}
			runs = append(runs, r...)
		}
		if *output == "json" {
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
	return usagef("pbxgate ldap -h", "unknown ldap subcommand %q", sub)
}
