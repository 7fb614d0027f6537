package main

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// devicesGroup is "pbxgate devices": a user's phones and softphones with
// their SIP credentials.
func devicesGroup() *group {
	return &group{
		name:    "devices",
		summary: "add, list, rotate and remove phones and their SIP credentials",
		intro: `A device is a desk phone, softphone, WebRTC client or mobile app of a
user, with a SIP id and a generated SIP secret. The secret is printed once,
by "add" and by "rotate", on stdout alone so scripts can capture it;
"list" never shows it. USER is an id, a userName, an email address or an
extension; DEVICE is a device id or a SIP id, as "devices list" shows.

Examples:
  SECRET=$(pbxgate devices add ada@acme.example --tenant acme --kind desk_phone --mac 00:1a:2b:3c:4d:5e)
  pbxgate devices list --tenant acme --user ada@acme.example
  pbxgate devices rotate 0b6f... --tenant acme
  pbxgate devices remove 0b6f... --tenant acme --yes`,
		leaves: []leaf{
			{name: "add", args: "USER", min: 1, max: 1, summary: "add a device to a user; prints its SIP secret, once", help: `
The SIP id (generated from the extension unless --sip-id is given) and the
device id go to stderr, the secret alone to stdout.

Example:
  SECRET=$(pbxgate devices add ada@acme.example --tenant acme --kind desk_phone --mac 00:1a:2b:3c:4d:5e --model "Yealink T54W")`,
				setup: func(c *CLI, fs *cmdFlags) func(context.Context, []string) error {
					g := c.commonFlags(fs, true)
					kind := fs.String("kind", string(pbxusers.DeviceDeskPhone), "`KIND`: desk_phone, softphone, webrtc or mobile_app")
					mac := fs.String("mac", "", "hardware `ADDRESS` for provisioning, e.g. 00:1a:2b:3c:4d:5e")
					model := fs.String("model", "", "phone `MODEL`")
					label := fs.String("label", "", "free `TEXT`, e.g. \"Reception desk\"")
					sipID := fs.String("sip-id", "", "SIP authentication user `NAME` (default: from the extension)")
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
						d, err := e.dir.AddDevice(ctx, g.tenant, pbxusers.Device{UserID: u.ID, Kind: pbxusers.DeviceKind(*kind),
							MAC: *mac, Model: *model, Label: *label, SIPID: *sipID})
						if err != nil {
							return err
						}
						if !g.quiet {
							fmt.Fprintf(c.Stderr, "device %s of %s: SIP id %s; the secret below is shown only now\n", d.ID, u.UserName, d.SIPID)
						}
						fmt.Fprintln(c.Stdout, d.Secret)
						return nil
					}
				}},
			{name: "list", max: 0, summary: "list the tenant's devices, or a user's (never their secrets)", help: `
Examples:
  pbxgate devices list --tenant acme
  pbxgate devices list --tenant acme --user 201 --output json`,
				setup: func(c *CLI, fs *cmdFlags) func(context.Context, []string) error {
					g := c.commonFlags(fs, true)
					user := fs.String("user", "", "only the devices of `USER`")
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
						list, err := e.dir.ListDevices(ctx, g.tenant, userID)
						if err != nil {
							return err
						}
						for i := range list {
							list[i].Secret, list[i].Digest = "", nil // shown once, never listed
						}
						if *output == "json" {
							return writeJSON(c, list)
						}
						tw := tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
						fmt.Fprintln(tw, "ID\tUSER\tKIND\tSIP ID\tMAC\tMODEL\tLABEL")
						for _, d := range list {
							fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.ID, dash(userName(ctx, e, g.tenant, d.UserID, names)), d.Kind,
								d.SIPID, dash(d.MAC), dash(d.Model), dash(d.Label))
						}
						if err := tw.Flush(); err != nil {
							return err
						}
						if len(list) == 0 {
							fmt.Fprintln(c.Stderr, "no devices")
						}
						return nil
					}
				}},
			{name: "rotate", args: "DEVICE", min: 1, max: 1, summary: "generate a new SIP secret; prints it, once", help: `
The old secret stops working at once: the phone needs the new one.

Example:
  SECRET=$(pbxgate devices rotate 0b6f... --tenant acme)`,
				setup: func(c *CLI, fs *cmdFlags) func(context.Context, []string) error {
					g := c.commonFlags(fs, true)
					return func(ctx context.Context, args []string) error {
						e, err := c.open(ctx, g)
						if err != nil {
							return err
						}
						defer e.Close()
						d, err := findDevice(ctx, e.dir, g.tenant, args[0])
						if err != nil {
							return err
						}
						d, err = e.dir.UpdateDevice(ctx, g.tenant, d, true)
						if err != nil {
							return err
						}
						if !g.quiet {
							fmt.Fprintf(c.Stderr, "device %s (SIP id %s): new secret below, shown only now\n", d.ID, d.SIPID)
						}
						fmt.Fprintln(c.Stdout, d.Secret)
						return nil
					}
				}},
			{name: "remove", args: "DEVICE", min: 1, max: 1, summary: "remove a device; its SIP credentials stop working", help: `
Asks on a terminal; elsewhere it needs --yes.

Example:
  pbxgate devices remove 0b6f... --tenant acme --yes`,
				setup: func(c *CLI, fs *cmdFlags) func(context.Context, []string) error {
					g := c.commonFlags(fs, true)
					yes := yesFlag(fs)
					return func(ctx context.Context, args []string) error {
						e, err := c.open(ctx, g)
						if err != nil {
							return err
						}
						defer e.Close()
						d, err := findDevice(ctx, e.dir, g.tenant, args[0])
						if err != nil {
							return err
						}
						what := fmt.Sprintf("remove device %s (%s, SIP id %s) of tenant %s: the phone can no longer register", d.ID, d.Kind, d.SIPID, g.tenant)
						if err := c.confirm(*yes, what, "pbxgate devices remove "+args[0]+" --tenant "+g.tenant+" --yes"); err != nil {
							return err
						}
						if err := e.dir.RemoveDevice(ctx, g.tenant, d.ID); err != nil {
							return err
						}
						if !g.quiet {
							fmt.Fprintf(c.Stderr, "device %s removed\n", d.ID)
						}
						return nil
					}
				}},
		},
	}
}

// findDevice resolves DEVICE: a device id or a SIP id.
func findDevice(ctx context.Context, dir *pbxusers.Directory, tenant, ref string) (pbxusers.Device, error) {
	d, err := dir.GetDevice(ctx, tenant, ref)
	if err == nil || !errors.Is(err, pbxusers.ErrNotFound) {
		return d, err
	}
	all, lerr := dir.ListDevices(ctx, tenant, "")
	if lerr != nil {
		return d, lerr
	}
	for _, x := range all {
		if x.SIPID == ref {
			return x, nil
		}
	}
	return d, fmt.Errorf("%w (looked for a device id and a SIP id; see: pbxgate devices list --tenant %s)", err, tenant)
}

// userName is the userName of the user id, looked up once; "" for none.
func userName(ctx context.Context, e *env, tenant, id string, cache map[string]string) string {
	if id == "" {
		return ""
	}
	if n, ok := cache[id]; ok {
		return n
	}
	n := id
	if u, err := e.dir.GetUser(ctx, tenant, id); err == nil {
		n = u.UserName
	}
	cache[id] = n
	return n
}
