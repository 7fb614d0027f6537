package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string { return strings.Join(*s, ",") }

// Set adds a value; commas separate several values in one flag.
func (s *stringList) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*s = append(*s, p)
		}
	}
	return nil
}

// usersCSVHeader is every column "users import" reads and "users export"
// writes.
const usersCSVHeader = "userName,givenName,familyName,displayName,nickname,email,extension,stationNumber,kind,role,status,title,department,location,language,timeZone,workPhone,mobilePhone,customId,externalId,profiles,teams,recording,features,notifications,callerId,anonymous,answerMode,backupNumber,password,mustChangePassword"

// userFlags are the fields add and edit set.
type userFlags struct {
	given, family, display, email, extension, station, role, kind, location *string
	language, timeZone, title, department, answerMode, backup, recording    *string
	profiles, teams, features                                               *stringList
	passwordStdin, mustChange, anonymous                                    *bool
}

func addUserFlags(fs *cmdFlags) *userFlags {
	f := &userFlags{profiles: &stringList{}, teams: &stringList{}, features: &stringList{}}
	f.given = fs.String("given", "", "given `NAME`")
	f.family = fs.String("family", "", "family `NAME`")
	f.display = fs.String("display-name", "", "display `NAME`")
	f.email = fs.String("email", "", "work email `ADDRESS` (gets the welcome mail)")
	f.extension = fs.String("extension", "", "internal `NUMBER` (digits)")
	f.station = fs.String("station", "", "station `NUMBER` for third-party phones")
	f.role = fs.String("role", "", "`ROLE`: user, agent, supervisor, admin or owner")
	f.kind = fs.String("kind", "", "`KIND`: person (default), call_queue, auto_attendant or conference_bridge")
	f.location = fs.String("location", "", "location / site `NAME`")
	f.language = fs.String("language", "", "language `TAG`, e.g. de or en-GB")
	f.timeZone = fs.String("time-zone", "", "IANA time `ZONE`, e.g. Europe/Berlin")
	f.title = fs.String("title", "", "job `TITLE`")
	f.department = fs.String("department", "", "`DEPARTMENT`")
	f.answerMode = fs.String("answer-mode", "", "`MODE`: apps, phone_number, ip_phone or will_not_answer")
	f.backup = fs.String("backup-number", "", "E.164 `NUMBER` rung when the user does not answer or is unavailable")
	f.recording = fs.String("recording", "", "call recording `MODE`: never, always or on_demand")
	fs.Var(f.profiles, "profile", "permission profile `NAME` (repeatable; replaces the list)")
	fs.Var(f.teams, "team", "team `NAME` (repeatable; replaces the list)")
	fs.Var(f.features, "feature", "feature `NAME` to turn on: mobileApp, webCalls, operatorConsole, voicemail, fixedMobileSim, hotDesking, multipleCallerId, busyReject, textMessages (repeatable; replaces the set; textMessages sets the texts.answer override)")
	f.passwordStdin = fs.Bool("password-stdin", false, "read a password from stdin (else the user gets a set-password link by mail)")
	f.mustChange = fs.Bool("must-change-password", false, "force a password change at the next login")
	f.anonymous = fs.Bool("anonymous", false, "hide the caller ID on outgoing calls")
	return f
}

// apply sets the fields of u whose flags were given on the command line.
func (f *userFlags) apply(ctx context.Context, c *CLI, e *env, tenant string, fs *cmdFlags, u *pbxusers.User) error {
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	str := func(name string, dst *string, v *string) {
		if set[name] {
			*dst = *v
		}
	}
	str("given", &u.Name.Given, f.given)
	str("family", &u.Name.Family, f.family)
	str("display-name", &u.DisplayName, f.display)
	str("extension", &u.Extension, f.extension)
	str("station", &u.StationNumber, f.station)
	str("location", &u.Location, f.location)
	str("language", &u.Language, f.language)
	str("time-zone", &u.TimeZone, f.timeZone)
	str("title", &u.Title, f.title)
	str("department", &u.Enterprise.Department, f.department)
	if set["email"] {
		u.Emails = nil
		if *f.email != "" {
			u.Emails = []pbxusers.Email{{Value: *f.email, Type: "work", Primary: true}}
		}
	}
	if set["role"] {
		u.Role = pbxusers.Role(*f.role)
	}
	if set["kind"] {
		u.Kind = pbxusers.UserKind(*f.kind)
	}
	if set["recording"] {
		u.Recording = pbxusers.RecordingMode(*f.recording)
	}
	if set["answer-mode"] {
		u.Routing.AnswerMode = pbxusers.AnswerMode(*f.answerMode)
	}
	if set["backup-number"] {
		u.Routing = u.Routing.WithBackupNumber(*f.backup)
	}
	if set["must-change-password"] {
		u.Password.MustChange = *f.mustChange
	}
	if set["anonymous"] {
		u.CallerID.Anonymous = *f.anonymous
	}
	if set["feature"] {
		if unknown := u.SetFeatureNames(*f.features); len(unknown) > 0 {
			return usagef("pbxgate users -h", "unknown feature %q (known: %s)", unknown[0], strings.Join(pbxusers.FeatureNames(), ", "))
		}
	}
	if set["profile"] {
		u.Profiles = nil
		for _, n := range *f.profiles {
			p, err := e.dir.LookupProfile(ctx, tenant, n)
			if err != nil {
				return err // its message names the profile
			}
			u.Profiles = append(u.Profiles, p.ID)
		}
	}
	if set["team"] {
		u.Teams = nil
		for _, n := range *f.teams {
			t, err := e.dir.LookupTeam(ctx, tenant, pbxusers.TeamKeyName, n)
			if err != nil {
				return err // its message names the team
			}
			u.Teams = append(u.Teams, t.ID)
		}
	}
	if *f.passwordStdin {
		pw, err := bufio.NewReader(c.Stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read password from stdin: %w", err)
		}
		u.Password.New = strings.TrimRight(pw, "\r\n")
		u.Password.Mode = pbxusers.PasswordManual
	}
	return nil
}

// findUser resolves USER: an id, userName, email or extension.
func findUser(ctx context.Context, dir *pbxusers.Directory, tenant, ref string) (pbxusers.User, error) {
	if u, err := dir.GetUser(ctx, tenant, ref); err == nil {
		return u, nil
	} else if !errors.Is(err, pbxusers.ErrNotFound) {
		return u, err
	}
	for _, k := range []pbxusers.UserKey{pbxusers.KeyUserName, pbxusers.KeyEmail, pbxusers.KeyExtension} {
		u, err := dir.LookupUser(ctx, tenant, k, ref)
		if err == nil {
			return u, nil
		}
		if !errors.Is(err, pbxusers.ErrNotFound) {
			return u, err
		}
	}
	return pbxusers.User{}, fmt.Errorf("no user %q in tenant %q (looked for an id, userName, email and extension): %w", ref, tenant, pbxusers.ErrNotFound)
}

// usersGroup is "pbxgate users".
func usersGroup() *group {
	return &group{
		name:    "users",
		summary: "list, show, add, edit, (de)activate, delete, import and export users",
		intro: `Users are people and system users (call queues, auto attendants,
conference bridges). USER is an id, a userName, an email address or an
extension.

Examples:
  pbxgate users list --tenant acme --search ada
  pbxgate users add ada@acme.example --given Ada --family Lovelace --email ada@acme.example --extension 201
  pbxgate users import staff.csv --tenant acme --dry-run
  pbxgate users delete ada@acme.example --tenant acme --yes`,
		leaves: []leaf{
			{name: "list", max: 0, summary: "list users (system users only with --include-system)", help: `
Examples:
  pbxgate users list --tenant acme --search ada
  pbxgate users list --tenant acme --include-system --output json`,
				setup: func(c *CLI, fs *cmdFlags) func(context.Context, []string) error {
					g := c.commonFlags(fs, true)
					output := outputFlag(fs, "table", "json", "csv")
					search := fs.String("search", "", "list users whose name, email or extension contains `TEXT`")
					includeSystem := fs.Bool("include-system", false, "include call queues, auto attendants and conference bridges")
					limit := countFlag(fs, "limit", 0, "list at most `N` users (0: all)")
					return func(ctx context.Context, _ []string) error {
						e, err := c.open(ctx, g)
						if err != nil {
							return err
						}
						defer e.Close()
						return c.listUsers(ctx, e, g.tenant, *search, *includeSystem, *limit, *output)
					}
				}},
			{name: "show", args: "USER", min: 1, max: 1, summary: "show one user with devices and effective permissions", help: `
Example:
  pbxgate users show 201 --tenant acme`,
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
						return c.showUser(ctx, e, g.tenant, u, *output)
					}
				}},
			{name: "add", args: "USERNAME", min: 1, max: 1, summary: "create a user; prints its id", help: `
Without --password-stdin the user gets a welcome mail with a set-password link.

Example:
  pbxgate users add ada@acme.example --given Ada --family Lovelace --email ada@acme.example --extension 201`,
				setup: func(c *CLI, fs *cmdFlags) func(context.Context, []string) error {
					g := c.commonFlags(fs, true)
					uf := addUserFlags(fs)
					return func(ctx context.Context, args []string) error {
						e, err := c.open(ctx, g)
						if err != nil {
							return err
						}
						defer e.Close()
						u := pbxusers.User{UserName: args[0]}
						if err := uf.apply(ctx, c, e, g.tenant, fs, &u); err != nil {
							return err
						}
						created, err := e.dir.CreateUser(ctx, g.tenant, u)
						if err != nil {
							return err
						}
						fmt.Fprintln(c.Stdout, created.ID)
						if !g.quiet {
							fmt.Fprintf(c.Stderr, "created %s (extension %s)\n", created.UserName, dash(created.Extension))
						}
						return nil
					}
				}},
			{name: "edit", args: "USER", min: 1, max: 1, summary: "change the fields whose flags are given", help: `
List flags (--profile, --team, --feature) replace the whole list.

Example:
  pbxgate users edit ada@acme.example --role supervisor --profile Supervisor --feature voicemail`,
				setup: func(c *CLI, fs *cmdFlags) func(context.Context, []string) error {
					g := c.commonFlags(fs, true)
					uf := addUserFlags(fs)
					return func(ctx context.Context, args []string) error {
						fields := 0
						fs.Visit(func(f *flag.Flag) {
							if !map[string]bool{"config": true, "data": true, "db": true, "tenant": true, "quiet": true}[f.Name] {
								fields++
							}
						})
						if fields == 0 {
							return usagef("pbxgate users edit "+args[0]+" --title Analyst", "users edit changes the fields given as flags, and none was given (see: pbxgate users edit -h)")
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
							return uf.apply(ctx, c, e, g.tenant, fs, cur)
						})
						if err != nil {
							return err
						}
						if updated.Version == u.Version {
							fmt.Fprintf(c.Stderr, "%s: nothing changed\n", u.UserName)
						} else if !g.quiet {
							fmt.Fprintf(c.Stderr, "%s updated (version %d)\n", updated.UserName, updated.Version)
						}
						return nil
					}
				}},
			overrideLeaf(),
			activationLeaf("deactivate", "set inactive (keeps everything; cannot log in)"),
			activationLeaf("activate", "set active again"),
			{name: "delete", args: "USER", min: 1, max: 1, summary: "delete with devices and memberships, nothing dangling", help: `
Asks on a terminal; elsewhere it needs --yes. A user other users refer to
(forwards, manager, queue membership, numbers) is refused, naming them,
unless --cascade rewrites those too. A user owned by an LDAP sync
or an identity provider (SCIM) comes back with the next sync or push unless
it is removed there: deactivate it there instead.

Example:
  pbxgate users delete ada@acme.example --tenant acme --yes`,
				setup: func(c *CLI, fs *cmdFlags) func(context.Context, []string) error {
					g := c.commonFlags(fs, true)
					yes := yesFlag(fs)
					cascade := fs.Bool("cascade", false, "also rewrite what refers to the user (forwards, managers, queue members, numbers) instead of refusing")
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
						devices, err := e.dir.ListDevices(ctx, g.tenant, u.ID)
						if err != nil {
							return err
						}
						goes := plural(len(devices), "device", "devices") + " and " + plural(len(u.Teams), "team membership", "team memberships")
						what := fmt.Sprintf("delete user %s of tenant %s with its %s", u.UserName, g.tenant, goes)
						if src := u.Owner.Source; src != "" && src != pbxusers.SourceManual {
							owner := string(src)
							if u.Owner.Directory != "" {
								owner += " directory " + u.Owner.Directory
							}
							what += "; the user is owned by " + owner + ", which may create it again"
						}
						var opts []pbxusers.DeleteOption
						flags := " --tenant " + g.tenant
						if *cascade {
							what += "; every reference to it elsewhere is rewritten"
							opts = append(opts, pbxusers.Cascade())
							flags += " --cascade"
						}
						if err := c.confirm(*yes, what, "pbxgate users delete "+args[0]+flags+" --yes"); err != nil {
							return err
						}
						if err := e.dir.DeleteUser(ctx, g.tenant, u.ID, opts...); err != nil {
							if errors.Is(err, pbxusers.ErrInUse) {
								return fmt.Errorf("%w; nothing was deleted. To delete it and rewrite those: pbxgate users delete %s --tenant %s --cascade --yes", err, args[0], g.tenant)
							}
							return err
						}
						if !g.quiet {
							fmt.Fprintf(c.Stderr, "deleted %s with its %s\n", u.UserName, goes)
						}
						return nil
					}
				}},
			{name: "import", args: "FILE.csv", min: 1, max: 1, summary: "create (or --update) users from CSV; all rows or none", help: `
Every problem of every row is reported at once with its line and column;
then nothing is written. New users get a welcome mail unless
--no-welcome-mail is given or their row has a password.

The CSV header is any subset of (userName required; lists separated by ";"):
  ` + usersCSVHeader + `
See examples/users.csv.

Examples:
  pbxgate users import staff.csv --tenant acme --dry-run
  pbxgate users import staff.csv --tenant acme --update --no-welcome-mail`,
				setup: func(c *CLI, fs *cmdFlags) func(context.Context, []string) error {
					g := c.commonFlags(fs, true)
					dryRun := fs.Bool("dry-run", false, "check every row and report, write nothing")
					update := fs.Bool("update", false, "update existing users (matched by id or userName) instead of rejecting them")
					noMail := fs.Bool("no-welcome-mail", false, "create the users without queueing welcome mail")
					return func(ctx context.Context, args []string) error {
						f, err := os.Open(args[0])
						if err != nil {
							return err
						}
						defer f.Close()
						e, err := c.open(ctx, g)
						if err != nil {
							return err
						}
						defer e.Close()
						p := c.progress("import", g.quiet)
						res, err := e.dir.ImportCSV(ctx, g.tenant, f, pbxusers.ImportOptions{DryRun: *dryRun, Update: *update,
							NoWelcomeMail: *noMail, Progress: p.update})
						p.done()
						if err != nil {
							return fmt.Errorf("%s: %w", args[0], err)
						}
						mails := plural(res.MailQueued, "welcome mail", "welcome mails")
						if res.DryRun {
							fmt.Fprintf(c.Stdout, "dry run, nothing written: %d to create, %d to update, %d unchanged; %s to queue\n",
								res.Created, res.Updated, res.Unchanged, mails)
						} else {
							fmt.Fprintf(c.Stdout, "imported: %d created, %d updated, %d unchanged; %s queued\n",
								res.Created, res.Updated, res.Unchanged, mails)
						}
						return nil
					}
				}},
			{name: "export", max: 0, summary: "write users as CSV (the import format) to stdout", help: `
Example:
  pbxgate users export --tenant acme > staff.csv`,
				setup: func(c *CLI, fs *cmdFlags) func(context.Context, []string) error {
					g := c.commonFlags(fs, true)
					search := fs.String("search", "", "export users whose name, email or extension contains `TEXT`")
					includeSystem := fs.Bool("include-system", false, "include call queues, auto attendants and conference bridges")
					return func(ctx context.Context, _ []string) error {
						e, err := c.open(ctx, g)
						if err != nil {
							return err
						}
						defer e.Close()
						q := pbxusers.UserQuery{Search: *search, IncludeSystem: *includeSystem}
						p := c.progress("export", g.quiet)
						n, err := e.dir.ExportCSV(ctx, g.tenant, c.Stdout, q, p.update)
						p.done()
						if err == nil && !g.quiet {
							fmt.Fprintf(c.Stderr, "exported %s\n", plural(n, "user", "users"))
						}
						return err
					}
				}},
		},
	}
}

// activationLeaf is "users activate" or "users deactivate".
func activationLeaf(name, summary string) leaf {
	return leaf{name: name, args: "USER", min: 1, max: 1, summary: summary, help: `
Example:
  pbxgate users ` + name + ` ada@acme.example --tenant acme`,
		setup: func(c *CLI, fs *cmdFlags) func(context.Context, []string) error {
			g := c.commonFlags(fs, true)
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
				if name == "deactivate" {
					_, err = e.dir.DeactivateUser(ctx, g.tenant, u.ID)
				} else {
					_, err = e.dir.ActivateUser(ctx, g.tenant, u.ID)
				}
				if err == nil && !g.quiet {
					fmt.Fprintf(c.Stderr, "%s %sd\n", u.UserName, name)
				}
				return err
			}
		}}
}

func (c *CLI) listUsers(ctx context.Context, e *env, tenant, search string, includeSystem bool, limit int, output string) error {
	q := pbxusers.UserQuery{Search: search, IncludeSystem: includeSystem, SortBy: pbxusers.AttrUserName, Limit: pbxusers.MaxPageSize}
	var all []pbxusers.User
	for {
		page, err := e.dir.ListUsers(ctx, tenant, q)
		if err != nil {
			return err
		}
		all = append(all, page.Users...)
		if limit > 0 && len(all) >= limit {
			all = all[:limit]
			break
		}
		if len(page.Users) < q.Limit {
			break
		}
		q.Offset += len(page.Users)
	}
	switch output {
	case "json":
		enc := json.NewEncoder(c.Stdout)
		enc.SetIndent("", "  ")
		if all == nil {
			all = []pbxusers.User{}
		}
		return enc.Encode(all)
	case "csv":
		w := csv.NewWriter(c.Stdout)
		w.Write([]string{"id", "userName", "displayName", "email", "extension", "kind", "role", "status", "source"})
		for _, u := range all {
			w.Write([]string{u.ID, u.UserName, u.Label(), u.PrimaryEmail(), u.Extension, string(u.Kind), string(u.Role), string(u.Status), string(u.Owner.Source)})
		}
		w.Flush()
		return w.Error()
	}
	tw := tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "USERNAME\tNAME\tEMAIL\tEXTENSION\tKIND\tROLE\tSTATUS\tSOURCE")
	for _, u := range all {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", u.UserName, u.Label(), dash(u.PrimaryEmail()), dash(u.Extension),
			u.Kind, u.Role, u.Status, u.Owner.Source)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(all) == 0 {
		fmt.Fprintln(c.Stderr, "no users match")
	}
	return nil
}

func (c *CLI) showUser(ctx context.Context, e *env, tenant string, u pbxusers.User, output string) error {
	devices, err := e.dir.ListDevices(ctx, tenant, u.ID)
	if err != nil {
		return err
	}
	eff, err := e.dir.Effective(ctx, tenant, u.ID)
	if err != nil {
		return err
	}
	if output == "json" {
		for i := range devices {
			devices[i].Secret = "" // SIP secrets are for the PBX, not for terminals and logs
		}
		enc := json.NewEncoder(c.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			User        pbxusers.User        `json:"user"`
			Devices     []pbxusers.Device    `json:"devices"`
			Permissions []pbxusers.Effective `json:"permissions"`
		}{u, devices, eff})
	}
	tw := tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s\t%s\n", k, dash(v)) }
	row("id", u.ID)
	row("userName", u.UserName)
	row("name", u.Label())
	row("email", u.PrimaryEmail())
	row("extension", u.Extension)
	row("station number", u.StationNumber)
	row("kind", string(u.Kind))
	row("role", string(u.Role))
	row("status", string(u.Status))
	row("owner", string(u.Owner.Source)+" "+u.Owner.ExternalID)
	row("location", u.Location)
	row("language", u.Language)
	row("time zone", u.TimeZone)
	row("features", strings.Join(u.Features.Names(), ", "))
	row("recording", string(u.Recording))
	row("answer mode", string(u.Routing.AnswerMode))
	row("backup number", u.Routing.BackupNumber())
	row("password", fmt.Sprintf("%s, set: %v, must change: %v", u.Password.Mode, u.Password.IsSet, u.Password.MustChange))
	row("version", fmt.Sprint(u.Version))
	row("updated", u.Updated.Format("2006-01-02 15:04:05 MST"))
	for _, d := range devices {
		row("device", fmt.Sprintf("%s %s %s", d.SIPID, d.Kind, d.MAC))
	}
	for _, p := range eff {
		if p.From.Kind != "default" {
			row("permission", fmt.Sprintf("%s = %s (%s)", p.Permission, p.Value, p.From))
		}
	}
	return tw.Flush()
}
