package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/pbxgate/pbxgate/pbxusers"
)

func runRoute(ctx context.Context, c *CLI, args []string) error {
	fs := c.flagSet("route", "route explain USER [--at TIME] [--from NUMBER] [--state STATE] [flags]", `
Explain where a call to USER rings right now (or at --at), for how long,
what happens then, and why: which answering rule applied and which time
frame matched, following forwards to other users.

TIME is RFC 3339 ("2026-12-24T18:30:00+01:00") or "YYYY-MM-DD HH:MM" in
the user's time zone. STATE is available, busy, offline, dnd or away.

Examples:
  pbxgate route explain ada@acme.example
  pbxgate route explain 201 --at "2026-12-24 18:30" --from +4930123456 --state busy`)
	g := c.commonFlags(fs, true)
	at := fs.String("at", "now", "`TIME` of the call")
	from := fs.String("from", "", "caller `NUMBER` (E.164 or extension; empty is anonymous)")
	state := fs.String("state", "available", "presence `STATE` of the called user")
	internal := fs.Bool("internal", false, "the call comes from another user of the tenant")
	output := outputFlag(fs, "text", "json")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 && pos[0] != "explain" {
		return subcommandError("route", pos[0], []string{"explain"}, "pbxgate route explain USER")
	}
	if len(pos) != 2 {
		return usagef("pbxgate route explain USER", "route explain needs exactly one USER")
	}
	switch pbxusers.PresenceState(*state) {
	case pbxusers.PresenceAvailable, pbxusers.PresenceBusy, pbxusers.PresenceOffline, pbxusers.PresenceDND, pbxusers.PresenceAway:
	default:
		return usagef("pbxgate route -h", "--state must be available, busy, offline, dnd or away, not %q", *state)
	}
	e, err := c.open(ctx, g)
	if err != nil {
		return err
	}
	defer e.Close()
	u, err := findUser(ctx, e.dir, g.tenant, pos[1])
	if err != nil {
		return err
	}
	tn, err := e.dir.GetTenant(ctx, g.tenant)
	if err != nil {
		return err
	}
	zone := u.TimeZone
	if zone == "" {
		zone = tn.TimeZone
	}
	loc, err := time.LoadLocation(pbxusers.CanonicalTimeZone(zone))
	if err != nil {
		loc = time.UTC
	}
	when, err := parseWhen(*at, loc)
	if err != nil {
		return usagef("pbxgate route -h", "%s", err)
	}
	plan, err := e.dir.Route(ctx, g.tenant, u.ID, pbxusers.Call{From: *from, Internal: *internal, At: when}, pbxusers.PresenceState(*state))
	if err != nil {
		return err
	}
	if *output == "json" {
		enc := json.NewEncoder(c.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(plan)
	}
	caller := *from
	if caller == "" {
		caller = "anonymous"
	}
	fmt.Fprintf(c.Stdout, "call to %s (ext %s) from %s at %s, user %s\n\n%s", u.Label(), dash(u.Extension), caller,
		when.In(loc).Format("Mon 2006-01-02 15:04 MST"), *state, plan)
	return nil
}

func parseWhen(s string, loc *time.Location) (time.Time, error) {
	if s == "" || s == "now" {
		return time.Now(), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02 15:04", "2006-01-02T15:04", "2006-01-02 15:04:05"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("--at %q is not RFC 3339 or YYYY-MM-DD HH:MM", s)
}
