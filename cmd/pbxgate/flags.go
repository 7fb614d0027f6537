package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"

	"golang.org/x/term"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// errHelp ends a command that printed its help on request (exit 0).
var errHelp = errors.New("help shown")

// usageError is a mistake in the command line (exit 2), with a hint.
type usageError struct{ msg, hint string }

func (e usageError) Error() string { return e.msg }

func usagef(hint, format string, args ...any) error {
	return usageError{msg: fmt.Sprintf(format, args...), hint: hint}
}

// cmdFlags is a command's FlagSet with its help text.
type cmdFlags struct {
	*flag.FlagSet
	help func()
}

// flagSet makes the flags of "pbxgate <name>". Its help goes to stdout on
// -h; parse errors are reported once, on stderr, with a hint.
func (c *CLI) flagSet(name, synopsis, help string) *cmdFlags {
	fs := flag.NewFlagSet("pbxgate "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {} // parse prints the help itself, once
	cf := &cmdFlags{FlagSet: fs}
	cf.help = func() {
		fmt.Fprintf(c.Stdout, "Usage: pbxgate %s\n\n%s\n", synopsis, strings.TrimSpace(help))
		if b := flagLines(fs); b != "" {
			fmt.Fprintf(c.Stdout, "\nFlags:\n%s", b)
		}
	}
	return cf
}

// flagLines lists a FlagSet's flags one a line: "--name ARG  usage
// (default x)", so that a command's help fits on one screen.
func flagLines(fs *flag.FlagSet) string {
	type row struct{ left, right string }
	var rows []row
	width := 0
	fs.VisitAll(func(f *flag.Flag) {
		arg, usage := flag.UnquoteUsage(f)
		left := "--" + f.Name
		if arg != "" {
			left += " " + arg
		}
		switch f.DefValue {
		case "", "0", "false", "[]", "0s":
		default:
			usage += " (default " + f.DefValue + ")"
		}
		rows = append(rows, row{left, usage})
		width = max(width, len(left))
	})
	width = min(width, 24)
	var b strings.Builder
	for _, r := range rows {
		if len(r.left) > width {
			fmt.Fprintf(&b, "  %s\n  %-*s  %s\n", r.left, width, "", r.right)
			continue
		}
		fmt.Fprintf(&b, "  %-*s  %s\n", width, r.left, r.right)
	}
	return b.String()
}

// parse parses flags anywhere among the arguments ("users show ada
// --tenant acme" works as well as "users show --tenant acme ada") and
// returns the positional arguments.
func parse(fs *cmdFlags, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.help()
				return nil, errHelp
			}
			return nil, usagef(fs.Name()+" -h", "%s", err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// common holds the flags every data command takes.
type common struct {
	config, data, db string
	// tenant is --tenant (or PBXGATE_TENANT); open fills it in when the
	// database has exactly one tenant.
	tenant     string
	withTenant bool
	quiet      bool
}

func (c *CLI) commonFlags(fs *cmdFlags, withTenant bool) *common {
	g := &common{withTenant: withTenant}
	fs.StringVar(&g.config, "config", c.Getenv("PBXGATE_CONFIG"), "configuration `FILE` (env PBXGATE_CONFIG)")
	fs.StringVar(&g.data, "data", "", "data `DIR` (env PBXGATE_DATA; default ./"+DefaultData+")")
	fs.StringVar(&g.db, "db", "", "database `FILE` or postgres:// URL (env PBXGATE_DB)")
	if withTenant {
		fs.StringVar(&g.tenant, "tenant", c.Getenv("PBXGATE_TENANT"), "tenant `ID` (env PBXGATE_TENANT); needed once there are several")
	}
	fs.BoolVar(&g.quiet, "quiet", false, "no progress output")
	return g
}

// env is an opened data directory: the configuration, the store and the
// library over it.
type env struct {
	set   settings
	store pbxusers.Store
	dir   *pbxusers.Directory
	log   *slog.Logger
}

func (e *env) Close() error { return e.store.Close() }

// open loads the configuration and opens the database. For a command that
// takes --tenant it also settles the tenant: the flag's, else the only
// one there is; with several tenants and no --tenant it refuses to guess.
func (c *CLI) open(ctx context.Context, g *common) (*env, error) {
	cfg, err := LoadConfig(g.config, c.Getenv)
	if err != nil {
		return nil, err
	}
	set := resolve(cfg, g.config, g.data, g.db, "", c.Getenv)
	log := c.logger(cfg.Log)
	store, err := openStore(ctx, set.database, log)
	if err != nil {
		return nil, err
	}
	e := &env{set: set, store: store, dir: pbxusers.New(store, pbxusers.Options{Logger: log}), log: log}
	if g.withTenant {
		if err := e.settleTenant(ctx, g); err != nil {
			e.Close()
			return nil, err
		}
	}
	return e, nil
}

// settleTenant checks --tenant, or picks the only tenant when it is empty.
func (e *env) settleTenant(ctx context.Context, g *common) error {
	if g.tenant != "" {
		if _, err := e.dir.GetTenant(ctx, g.tenant); err != nil {
			if errors.Is(err, pbxusers.ErrNotFound) {
				// Directory's message names the tenant twice; say it once.
				return fmt.Errorf("tenant %q: %w (see: pbxgate tenant list; create it with: pbxgate tenant create %s)", g.tenant, pbxusers.ErrNotFound, g.tenant)
			}
			return err
		}
		return nil
	}
	list, err := e.dir.ListTenants(ctx)
	if err != nil {
		return err
	}
	switch len(list) {
	case 0:
		return usagef("pbxgate tenant create ID", "there are no tenants yet: create one with \"pbxgate tenant create ID\", or start \"pbxgate serve\", which creates tenant %q", DefaultTenant)
	case 1:
		g.tenant = list[0].ID
		return nil
	}
	ids := make([]string, len(list))
	for i, t := range list {
		ids[i] = t.ID
	}
	return usagef("--tenant "+ids[0]+" (or set PBXGATE_TENANT)", "there are %d tenants (%s): say which with --tenant", len(list), strings.Join(ids, ", "))
}

// logger builds the slog logger: text on a terminal, JSON otherwise.
func (c *CLI) logger(lc LogConfig) *slog.Logger {
	level := slog.LevelInfo
	switch lc.Level {
	case "debug":
		level = slog.LevelDebug
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	}
	opts := &slog.HandlerOptions{Level: level}
	format := lc.Format
	if format == "" || format == "auto" {
		format = "json"
		if isTerminal(c.Stderr) {
			format = "text"
		}
	}
	opts.ReplaceAttr = durationAttr(format != "text")
	if format == "text" {
		return slog.New(slog.NewTextHandler(c.Stderr, opts))
	}
	return slog.New(slog.NewJSONHandler(c.Stderr, opts))
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// progress reports progress of long work on stderr: a bar on a terminal,
// plain lines otherwise, nothing with --quiet.
type progress struct {
	w     io.Writer
	label string
	tty   bool
	quiet bool
	last  int
}

func (c *CLI) progress(label string, quiet bool) *progress {
	return &progress{w: c.Stderr, label: label, tty: isTerminal(c.Stderr), quiet: quiet, last: -1}
}

// update shows done of total (total 0: unknown).
func (p *progress) update(done, total int) {
	if p.quiet {
		return
	}
	if p.tty {
		if total > 0 {
			const width = 30
			n := done * width / total
			fmt.Fprintf(p.w, "\r%s [%s%s] %d/%d", p.label, strings.Repeat("=", n), strings.Repeat(" ", width-n), done, total)
		} else {
			fmt.Fprintf(p.w, "\r%s %d", p.label, done)
		}
		return
	}
	// Plain lines: every 10% (or every 1000 when the total is unknown).
	step := 1000
	if total > 0 {
		step = max(1, total/10)
	}
	if done == p.last {
		return // the same count again: printed already
	}
	if done == total || done/step != p.last/step {
		if total > 0 {
			fmt.Fprintf(p.w, "%s: %d/%d\n", p.label, done, total)
		} else {
			fmt.Fprintf(p.w, "%s: %d\n", p.label, done)
		}
	}
	p.last = done
}

// done ends the progress display.
func (p *progress) done() {
	if !p.quiet && p.tty {
		fmt.Fprintln(p.w)
	}
}

// choice is a string flag that takes one of a fixed set of values; any
// other is refused when the flags are parsed.
type choice struct {
	value   string
	allowed []string
}

func (f *choice) String() string { return f.value }

// Set accepts one of the allowed values.
func (f *choice) Set(v string) error {
	for _, a := range f.allowed {
		if v == a {
			f.value = v
			return nil
		}
	}
	return fmt.Errorf("must be %s", orList(f.allowed))
}

// outputFlag adds --output; the first format is the default.
func outputFlag(fs *cmdFlags, formats ...string) *string {
	f := &choice{value: formats[0], allowed: formats}
	fs.Var(f, "output", "output `FORMAT`: "+orList(formats))
	return &f.value
}

// count is an int flag that refuses negative values.
type count int

func (n *count) String() string { return strconv.Itoa(int(*n)) }

// Set accepts a whole number, 0 or more.
func (n *count) Set(v string) error {
	i, err := strconv.Atoi(v)
	if err != nil {
		return errors.New("must be a whole number")
	}
	if i < 0 {
		return errors.New("must be 0 or more")
	}
	*n = count(i)
	return nil
}

// countFlag adds an int flag that must be 0 or more.
func countFlag(fs *cmdFlags, name string, def int, usage string) *int {
	n := count(def)
	fs.Var(&n, name, usage)
	return (*int)(&n)
}

// yesFlag adds --yes to a destructive command.
func yesFlag(fs *cmdFlags) *bool {
	return fs.Bool("yes", false, "do it without asking (needed when stdin is not a terminal)")
}

// confirm asks before a destructive action. what says what goes ("delete
// team Support with 12 members"); with --yes it goes ahead, on a terminal it
// asks, elsewhere it refuses and shows the command with --yes.
func (c *CLI) confirm(yes bool, what, withYes string) error {
	if yes {
		return nil
	}
	if !c.interactive() {
		return usagef(withYes, "this would %s; confirm with --yes", what)
	}
	fmt.Fprintf(c.Stderr, "This will %s.\nContinue? [y/N] ", what)
	line, err := bufio.NewReader(c.Stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read the answer: %w", err)
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return nil
	}
	return errCancelled
}

// errCancelled is the answer "no" to a confirmation.
var errCancelled = errors.New("cancelled; nothing changed")

// interactive reports whether a person can answer on stdin.
func (c *CLI) interactive() bool {
	if c.forceInteractive {
		return true
	}
	f, ok := c.Stdin.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func orList(s []string) string {
	switch len(s) {
	case 0:
		return ""
	case 1:
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

// plural is "1 user", "2 users".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
