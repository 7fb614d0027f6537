package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// timeFrameExample is a frame file the help texts show.
const timeFrameExample = `{"name": "Business hours", "timeZone": "Europe/Berlin",
   "entries": [{"weekly": {"days": [1,2,3,4,5], "from": "09:00", "to": "17:00"}}],
   "except":  [{"holiday": {"name": "Christmas Day", "fixed": "12-25"}}]}`

// timeframesGroup is "pbxgate timeframes": the tenant's named time frames
// that answering rules refer to.
func timeframesGroup() *group {
	return &group{
		name:    "timeframes",
		summary: "create, list and delete the time frames answering rules use",
		intro: `A time frame is a named set of times (business hours, holidays) that
answering rules refer to by its id. NAME is that id. A frame is JSON:

  ` + timeFrameExample + `

Examples:
  pbxgate timeframes create business-hours --tenant acme --file hours.json
  pbxgate timeframes list --tenant acme
  pbxgate timeframes delete business-hours --tenant acme --yes`,
		leaves: []leaf{
			{name: "create", args: "NAME", min: 1, max: 1, summary: "create a time frame from a JSON file", help: `
NAME becomes the frame's id (what routing rules name) and, when the file
has no "name", its name too. --file - reads standard input. Every problem
of the frame is reported at once.

A simple weekly schedule can be given with --weekly instead: DAYS is a
comma list of days or ranges (mon-fri,sat), the window HH:MM-HH:MM (a window
ending at or before it starts runs past midnight).

Examples:
  pbxgate timeframes create support-hours --tenant acme --weekly "mon-fri 08:00-18:00" --weekly "sat 10:00-14:00" --time-zone Europe/Berlin
  pbxgate timeframes create business-hours --tenant acme --file hours.json
with hours.json:
  ` + timeFrameExample,
				setup: func(c *CLI, fs *cmdFlags) func(context.Context, []string) error {
					g := c.commonFlags(fs, true)
					file := fs.String("file", "", "time frame JSON `FILE` (- for stdin)")
					var weekly stringList
					fs.Var(&weekly, "weekly", "`WINDOW` instead of --file, e.g. \"mon-fri 09:00-17:00\" (repeatable; ORed)")
					zone := fs.String("time-zone", "", "IANA time `ZONE` of --weekly (default: each user's own)")
					return func(ctx context.Context, args []string) error {
						var tf pbxusers.TimeFrame
						switch {
						case *file != "" && (len(weekly) > 0 || *zone != ""):
							return usagef("pbxgate timeframes create -h", "timeframes create takes --file or --weekly (with --time-zone), not both")
						case *file != "":
							if err := c.readJSONFile(*file, &tf); err != nil {
								return err
							}
						case len(weekly) > 0:
							tf.TimeZone = *zone
							for _, w := range weekly {
								wk, err := parseWeekly(w)
								if err != nil {
									return usagef("pbxgate timeframes create "+args[0]+" --weekly \"mon-fri 09:00-17:00\"", "--weekly %q: %s", w, err)
								}
								tf.Entries = append(tf.Entries, pbxusers.TimeFrameEntry{Weekly: wk})
							}
						default:
							return usagef("pbxgate timeframes create "+args[0]+" --file FRAME.json", "timeframes create needs --file with the frame as JSON, or --weekly (see: pbxgate timeframes create -h)")
						}
						if tf.ID != "" && tf.ID != args[0] {
							return usagef("pbxgate timeframes create "+tf.ID+" --file "+*file, "%s has id %q but the command names %q; leave the id out of the file or name the same", *file, tf.ID, args[0])
						}
						tf.ID = args[0]
						if tf.Name == "" {
							tf.Name = args[0]
						}
						e, err := c.open(ctx, g)
						if err != nil {
							return err
						}
						defer e.Close()
						s, err := e.dir.CreateTimeFrame(ctx, g.tenant, tf)
						if err != nil {
							return err
						}
						fmt.Fprintln(c.Stdout, s.ID)
						return nil
					}
				}},
			{name: "list", max: 0, summary: "list the tenant's time frames", help: `
Example:
  pbxgate timeframes list --tenant acme --output json`,
				setup: func(c *CLI, fs *cmdFlags) func(context.Context, []string) error {
					g := c.commonFlags(fs, true)
					output := outputFlag(fs, "table", "json")
					return func(ctx context.Context, _ []string) error {
						e, err := c.open(ctx, g)
						if err != nil {
							return err
						}
						defer e.Close()
						list, err := e.dir.ListTimeFrames(ctx, g.tenant)
						if err != nil {
							return err
						}
						if *output == "json" {
							return writeJSON(c, list)
						}
						tw := tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
						fmt.Fprintln(tw, "ID\tNAME\tTIME ZONE\tENTRIES\tEXCEPT")
						for _, f := range list {
							fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\n", f.ID, dash(f.Name), dash(f.TimeZone), len(f.Entries), len(f.Except))
						}
						if err := tw.Flush(); err != nil {
							return err
						}
						if len(list) == 0 {
							fmt.Fprintln(c.Stderr, "no time frames")
						}
						return nil
					}
				}},
			{name: "delete", args: "NAME", min: 1, max: 1, summary: "delete a time frame no answering rule uses", help: `
A frame still named by answering rules is refused, naming the users,
unless --cascade drops it from those rules (a rule left with no time frame
is removed, never made unconditional). Asks on a terminal; elsewhere it
needs --yes.

Example:
  pbxgate timeframes delete business-hours --tenant acme --yes`,
				setup: func(c *CLI, fs *cmdFlags) func(context.Context, []string) error {
					g := c.commonFlags(fs, true)
					yes := yesFlag(fs)
					cascade := fs.Bool("cascade", false, "also drop the frame from the answering rules that name it instead of refusing")
					return func(ctx context.Context, args []string) error {
						e, err := c.open(ctx, g)
						if err != nil {
							return err
						}
						defer e.Close()
						tf, err := lookupTimeFrame(ctx, e.dir, g.tenant, args[0])
						if err != nil {
							return err
						}
						what := fmt.Sprintf("delete time frame %s (%s) of tenant %s", tf.ID, dash(tf.Name), g.tenant)
						var opts []pbxusers.DeleteOption
						flags := " --tenant " + g.tenant
						if *cascade {
							what += "; the answering rules that name it lose it (a rule left with none is removed)"
							opts = append(opts, pbxusers.Cascade())
							flags += " --cascade"
						}
						if err := c.confirm(*yes, what, "pbxgate timeframes delete "+args[0]+flags+" --yes"); err != nil {
							return err
						}
						if err := e.dir.DeleteTimeFrame(ctx, g.tenant, tf.ID, opts...); err != nil {
							if errors.Is(err, pbxusers.ErrInUse) {
								return fmt.Errorf("%w; nothing was deleted. To delete it and drop it from those rules: pbxgate timeframes delete %s --tenant %s --cascade --yes", err, args[0], g.tenant)
							}
							return err
						}
						if !g.quiet {
							fmt.Fprintf(c.Stderr, "deleted time frame %s\n", tf.ID)
						}
						return nil
					}
				}},
		},
	}
}

// weekdays are the day names --weekly reads, by their first three letters.
var weekdays = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

// parseWeekly reads "mon-fri 09:00-17:00": days (names, ranges, commas)
// and a window. The library validates the result with the frame.
func parseWeekly(s string) (*pbxusers.Weekly, error) {
	f := strings.Fields(s)
	if len(f) != 2 {
		return nil, errors.New(`must be DAYS HH:MM-HH:MM, e.g. "mon-fri 09:00-17:00"`)
	}
	day := func(name string) (time.Weekday, error) {
		n := strings.ToLower(name)
		if len(n) >= 3 {
			if d, ok := weekdays[n[:3]]; ok {
				return d, nil
			}
		}
		return 0, fmt.Errorf("unknown day %q (mon, tue, wed, thu, fri, sat, sun)", name)
	}
	w := &pbxusers.Weekly{}
	seen := map[time.Weekday]bool{}
	for _, part := range strings.Split(f[0], ",") {
		a, b, isRange := strings.Cut(part, "-")
		from, err := day(a)
		if err != nil {
			return nil, err
		}
		to := from
		if isRange {
			if to, err = day(b); err != nil {
				return nil, err
			}
		}
		for d := from; ; d = (d + 1) % 7 {
			if !seen[d] {
				seen[d] = true
				w.Days = append(w.Days, d)
			}
			if d == to {
				break
			}
		}
	}
	open, closing, ok := strings.Cut(f[1], "-")
	if !ok {
		return nil, fmt.Errorf("window %q must be HH:MM-HH:MM", f[1])
	}
	if err := w.From.UnmarshalText([]byte(open)); err != nil {
		return nil, err
	}
	if err := w.To.UnmarshalText([]byte(closing)); err != nil {
		return nil, err
	}
	return w, nil
}

// lookupTimeFrame finds a time frame by id, else by name.
func lookupTimeFrame(ctx context.Context, dir *pbxusers.Directory, tenant, ref string) (pbxusers.StoredTimeFrame, error) {
	tf, err := dir.GetTimeFrame(ctx, tenant, ref)
	if err == nil || !errors.Is(err, pbxusers.ErrNotFound) {
		return tf, err
	}
	list, lerr := dir.ListTimeFrames(ctx, tenant)
	if lerr != nil {
		return tf, lerr
	}
	for _, f := range list {
		if strings.EqualFold(f.Name, ref) {
			return f, nil
		}
	}
	return tf, fmt.Errorf("%w (see: pbxgate timeframes list --tenant %s)", err, tenant)
}

// readJSONFile decodes the JSON in path ("-": stdin) into v, refusing
// unknown fields and trailing data, and naming the file in every error.
func (c *CLI) readJSONFile(path string, v any) error {
	var b []byte
	var err error
	if path == "-" {
		b, err = io.ReadAll(c.Stdin)
		path = "stdin"
	} else {
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if dec.More() {
		return fmt.Errorf("%s: more than one JSON value", path)
	}
	return nil
}
