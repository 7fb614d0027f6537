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

const usersHelp = `
Manage users: people and system users (call queues, auto attendants,
conference bridges). USER is an id, a userName, an email address or an
extension.

Subcommands:
  list                         list users (system users only with --include-system)
  show USER                    show one user with devices and effective permissions
  add USERNAME                 create a user; prints its id
  edit USER                    change the fields whose flags are given
  deactivate USER              set inactive (keeps everything; cannot log in)
  activate USER                set active again
  delete USER                  delete with devices and memberships, nothing dangling
  import FILE.csv              create users from CSV; all rows or none
  export                       write users as CSV (the import format)

Examples:
  pbxgate users list --tenant acme --search ada
  pbxgate users add ada@acme.example --given Ada --family Lovelace --email ada@acme.example --extension 201
  pbxgate users edit ada@acme.example --role supervisor --profile Supervisor --feature voicemail
  pbxgate users import staff.csv --tenant acme --dry-run
  pbxgate users export --tenant acme > staff.csv

The CSV header is: ` + "userName,givenName,familyName,displayName,nickname,email,extension,stationNumber,kind,role,status,title,department,location,language,timeZone,workPhone,mobilePhone,customId,externalId,profiles,teams,recording,features,notifications,callerId,anonymous,answerMode,backupNumber,password,mustChangePassword" + `
(any subset, userName required; lists separated by ";"). See examples/users.csv.`

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
				return fmt.Errorf("profile %q: %w", n, err)
			}
			u.Profiles = append(u.Profiles, p.ID)
		}
	}
	if set["team"] {
		u.Teams = nil
		for _, n := range *f.teams {
			t, err := e.dir.LookupTeam(ctx, tenant, pbxusers.TeamKeyName, n)
			if err != nil {
				return fmt.Errorf("team %q: %w", n, err)
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

func runUsers(ctx context.Context, c *CLI, args []string) error {
	fs := c.flagSet("users", "users <subcommand> [USER|FILE] [flags]", usersHelp)
	g := c.commonFlags(fs, true)
	output := fs.String("output", "table", "output `FORMAT`: table, json or csv")
	search := fs.String("search", "", "list users whose name, email or extension contains `TEXT`")
	includeSystem := fs.Bool("include-system", false, "include call queues, auto attendants and conference bridges")
	limit := fs.Int("limit", 0, "list at most `N` users (default all)")
	dryRun := fs.Bool("dry-run", false, "import: check every row and report, write nothing")
	update := fs.Bool("update", false, "import: update existing users (matched by userName) instead of rejecting them")
	uf := addUserFlags(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("pbxgate users -h", "users needs a subcommand: list, show, add, edit, deactivate, activate, delete, import or export")
	}
	sub, rest := pos[0], pos[1:]
	needOne := func(what string) error {
		if len(rest) != 1 {
			return usagef("pbxgate users "+sub+" "+what+" --tenant "+g.tenant, "users %s needs exactly one %s", sub, what)
		}
		return nil
	}
	switch sub {
	case "list", "export":
		if len(rest) != 0 {
			return usagef("pbxgate users "+sub+" --search TEXT", "users %s takes no arguments (did you mean --search %s?)", sub, rest[0])
		}
	case "show", "edit", "deactivate", "activate", "delete":
		if err := needOne("USER"); err != nil {
			return err
		}
	case "add":
		if err := needOne("USERNAME"); err != nil {
			return err
		}
	case "import":
		if err := needOne("FILE.csv"); err != nil {
			return err
		}
	default:
		return usagef("pbxgate users -h", "unknown users subcommand %q", sub)
	}
	if !map[string]bool{"table": true, "json": true, "csv": true}[*output] {
		return usagef("pbxgate users -h", "--output must be table, json or csv, not %q", *output)
	}
	e, err := c.open(ctx, g)
	if err != nil {
		return err
	}
	defer e.Close()
	if _, err := e.dir.GetTenant(ctx, g.tenant); err != nil {
		return fmt.Errorf("%w (create it with: pbxgate tenant create %s)", err, g.tenant)
	}
	switch sub {
	case "list":
		return c.listUsers(ctx, e, g.tenant, *search, *includeSystem, *limit, *output)
	case "export":
		q := pbxusers.UserQuery{Search: *search, IncludeSystem: *includeSystem}
		p := c.progress("export", g.quiet)
		n, err := e.dir.ExportCSV(ctx, g.tenant, c.Stdout, q, p.update)
		p.done()
		if err == nil && !g.quiet {
			fmt.Fprintf(c.Stderr, "exported %d users\n", n)
		}
		return err
	case "show":
		u, err := findUser(ctx, e.dir, g.tenant, rest[0])
		if err != nil {
			return err
		}
		return c.showUser(ctx, e, g.tenant, u, *output)
	case "add":
		u := pbxusers.User{UserName: rest[0]}
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
	case "edit":
		u, err := findUser(ctx, e.dir, g.tenant, rest[0])
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
	case "deactivate", "activate":
		u, err := findUser(ctx, e.dir, g.tenant, rest[0])
		if err != nil {
			return err
		}
		if sub == "deactivate" {
			_, err = e.dir.DeactivateUser(ctx, g.tenant, u.ID)
		} else {
			_, err = e.dir.ActivateUser(ctx, g.tenant, u.ID)
		}
		if err == nil && !g.quiet {
			fmt.Fprintf(c.Stderr, "%s %sd\n", u.UserName, sub)
		}
		return err
	case "delete":
		u, err := findUser(ctx, e.dir, g.tenant, rest[0])
		if err != nil {
			return err
		}
		if err := e.dir.DeleteUser(ctx, g.tenant, u.ID); err != nil {
			return err
		}
		if !g.quiet {
			fmt.Fprintf(c.Stderr, "%s deleted with its devices and memberships\n", u.UserName)
		}
		return nil
	case "import":
		f, err := os.Open(rest[0])
		if err != nil {
			return err
		}
		defer f.Close()
		p := c.progress("import", g.quiet)
		res, err := e.dir.ImportCSV(ctx, g.tenant, f, pbxusers.ImportOptions{DryRun: *dryRun, Update: *update, Progress: p.update})
		p.done()
		if err != nil {
			return fmt.Errorf("%s: %w", rest[0], err)
		}
		verb := "imported"
		if res.DryRun {
			verb = "dry run, nothing written: would import"
		}
		fmt.Fprintf(c.Stdout, "%s %d created, %d updated, %d unchanged\n", verb, res.Created, res.Updated, res.Unchanged)
		return nil
	}
	return nil
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
