package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
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
		var b strings.Builder
		fs.SetOutput(&b)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
		if b.Len() > 0 {
			fmt.Fprintf(c.Stdout, "\nFlags:\n%s", b.String())
		}
	}
	return cf
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
	tenant           string
	quiet            bool
}

func (c *CLI) commonFlags(fs *cmdFlags, withTenant bool) *common {
	g := &common{}
	fs.StringVar(&g.config, "config", c.Getenv("PBXGATE_CONFIG"), "configuration `FILE` (env PBXGATE_CONFIG)")
	fs.StringVar(&g.data, "data", "", "data `DIR` (env PBXGATE_DATA; default ./"+DefaultData+")")
	fs.StringVar(&g.db, "db", "", "database `FILE` instead of DIR/pbxgate.db (env PBXGATE_DB)")
	if withTenant {
		def := c.Getenv("PBXGATE_TENANT")
		if def == "" {
			def = DefaultTenant
		}
		fs.StringVar(&g.tenant, "tenant", def, "tenant `ID` (env PBXGATE_TENANT)")
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

// open loads the configuration and opens the database.
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
	return &env{set: set, store: store, dir: pbxusers.New(store, pbxusers.Options{Logger: log}), log: log}, nil
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
