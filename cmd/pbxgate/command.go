package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

// A group is a command with subcommands ("pbxgate users"); each of its
// leaves ("users list", "users import") has a FlagSet and help of its own,
// so a leaf accepts only its own flags and its -h shows only them.
type group struct {
	name    string
	summary string
	// intro is the group's help text above the list of subcommands; it
	// ends with examples.
	intro  string
	leaves []leaf
}

// leaf is one runnable subcommand.
type leaf struct {
	name string
	// args is the synopsis of its positional arguments ("USER",
	// "[DIRECTORY]"); min and max bound their count (max -1: any).
	args     string
	min, max int
	summary  string
	// help is the leaf's own text below the summary: details and examples.
	help string
	// setup registers the leaf's flags on fs and returns the function that
	// runs it with the positional arguments, once the flags are parsed.
	setup func(c *CLI, fs *cmdFlags) func(ctx context.Context, args []string) error
}

// valueFlags are the flags of the group's leaves that take a value; the
// scanner skips their values when it looks for the subcommand, so that
// "users --tenant acme list" works.
func (g *group) valueFlags() map[string]bool {
	out := map[string]bool{}
	quiet := &CLI{Getenv: func(string) string { return "" }}
	for _, l := range g.leaves {
		fs := quiet.flagSet("x", "", "")
		l.setup(quiet, fs)
		fs.VisitAll(func(f *flag.Flag) {
			if b, ok := f.Value.(interface{ IsBoolFlag() bool }); !ok || !b.IsBoolFlag() {
				out[f.Name] = true
			}
		})
	}
	return out
}

// run dispatches "pbxgate <group> <leaf> [args] [flags]".
func (g *group) run(ctx context.Context, c *CLI, args []string) error {
	hint := "pbxgate " + g.name + " -h"
	i := subcommandIndex(args, g.valueFlags())
	if i < 0 {
		for _, a := range args {
			if isHelpFlag(a) {
				g.usage(c.Stdout)
				return errHelp
			}
		}
		return usagef(hint, "%s needs a subcommand: %s", g.name, g.names())
	}
	name := args[i]
	if name == "help" {
		g.usage(c.Stdout)
		return errHelp
	}
	l := g.find(name)
	if l == nil {
		msg := fmt.Sprintf("unknown %s subcommand %q", g.name, name)
		if s := closest(name, g.nameList()); s != "" {
			return usagef("pbxgate "+g.name+" "+s+" -h", "%s; did you mean %q?", msg, s)
		}
		return usagef(hint, "%s; the subcommands are %s", msg, g.names())
	}
	rest := append(append([]string{}, args[:i]...), args[i+1:]...)
	full := g.name + " " + l.name
	synopsis := full
	if l.args != "" {
		synopsis += " " + l.args
	}
	text := strings.ToUpper(l.summary[:1]) + l.summary[1:] + "."
	if l.help != "" {
		text += "\n\n" + strings.TrimSpace(l.help)
	}
	fs := c.flagSet(full, synopsis+" [flags]", text)
	runLeaf := l.setup(c, fs)
	pos, err := parse(fs, rest)
	if err != nil {
		if u, ok := err.(usageError); ok {
			err = g.flagHint(fs, l, u)
		}
		return err
	}
	if len(pos) < l.min || (l.max >= 0 && len(pos) > l.max) {
		return argCountError(full, l, pos)
	}
	return runLeaf(ctx, pos)
}

// argCountError says what a leaf takes when it got the wrong number of
// positional arguments.
func argCountError(full string, l *leaf, pos []string) error {
	hint := "pbxgate " + full + " -h"
	switch {
	case l.max == 0:
		return usagef(hint, "%s takes no arguments, got %q", full, strings.Join(pos, " "))
	case l.min == l.max && l.min == 1:
		return usagef(hint, "%s needs exactly one %s", full, l.args)
	case l.min == l.max:
		return usagef(hint, "%s needs %d arguments: %s", full, l.min, l.args)
	case len(pos) < l.min:
		return usagef(hint, "%s needs %s", full, l.args)
	case l.max == 1:
		return usagef(hint, "%s takes at most one %s", full, strings.Trim(l.args, "[]"))
	default:
		return usagef(hint, "%s takes at most %d arguments: %s", full, l.max, l.args)
	}
}

// flagHint adds "did you mean" to an unknown flag: the closest of the
// leaf's own flags, or the leaves that do have it.
func (g *group) flagHint(fs *cmdFlags, l *leaf, u usageError) error {
	const prefix = "flag provided but not defined: -"
	if !strings.HasPrefix(u.msg, prefix) {
		return u
	}
	bad := strings.TrimPrefix(u.msg, prefix)
	var own []string
	fs.VisitAll(func(f *flag.Flag) { own = append(own, f.Name) })
	if s := closest(bad, own); s != "" {
		u.msg += fmt.Sprintf(" (did you mean --%s?)", s)
		return u
	}
	var others []string
	for i := range g.leaves {
		o := &g.leaves[i]
		if o.name == l.name {
			continue
		}
		quiet := &CLI{Getenv: func(string) string { return "" }}
		ofs := quiet.flagSet("x", "", "")
		o.setup(quiet, ofs)
		if ofs.Lookup(bad) != nil {
			others = append(others, g.name+" "+o.name)
		}
	}
	if len(others) > 0 {
		u.msg += fmt.Sprintf(" (--%s is a flag of %s, not of %s %s)", bad, strings.Join(others, ", "), g.name, l.name)
	}
	return u
}

func (g *group) find(name string) *leaf {
	for i := range g.leaves {
		if g.leaves[i].name == name {
			return &g.leaves[i]
		}
	}
	return nil
}

func (g *group) nameList() []string {
	out := make([]string, len(g.leaves))
	for i, l := range g.leaves {
		out[i] = l.name
	}
	return out
}

func (g *group) names() string {
	n := g.nameList()
	if len(n) == 1 {
		return n[0]
	}
	return strings.Join(n[:len(n)-1], ", ") + " or " + n[len(n)-1]
}

// usage prints the group's help: what it is for and its subcommands, no
// flags (each subcommand's -h lists its own).
func (g *group) usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: pbxgate %s <subcommand> [arguments] [flags]\n\n%s\n\nSubcommands:\n", g.name, g.summaryLine())
	width := 0
	for _, l := range g.leaves {
		width = max(width, len(l.name)+1+len(l.args))
	}
	for _, l := range g.leaves {
		fmt.Fprintf(w, "  %-*s  %s\n", width, strings.TrimSpace(l.name+" "+l.args), l.summary)
	}
	if g.intro != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(g.intro))
	}
	fmt.Fprintf(w, "\nRun \"pbxgate %s <subcommand> -h\" for its flags.\n", g.name)
}

func (g *group) summaryLine() string {
	if g.summary == "" {
		return ""
	}
	return strings.ToUpper(g.summary[:1]) + g.summary[1:] + "."
}

// subcommandIndex returns the index of the first argument that is not a
// flag or a flag's value, or -1.
func subcommandIndex(args []string, valueFlags map[string]bool) int {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			if i+1 < len(args) {
				return i + 1
			}
			return -1
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			return i
		}
		name := strings.TrimLeft(a, "-")
		if !strings.Contains(name, "=") && valueFlags[name] {
			i++
		}
	}
	return -1
}

func isHelpFlag(a string) bool {
	return a == "-h" || a == "--help" || a == "-help" || a == "--h"
}

// closest returns the candidate nearest to word (by edit distance, or the
// one it is a prefix or plural of), or "" when none is close.
func closest(word string, candidates []string) string {
	w := strings.ToLower(word)
	best, bestD := "", 1<<30
	for _, c := range candidates {
		lc := strings.ToLower(c)
		d := editDistance(w, lc)
		if strings.HasPrefix(lc, w) && len(w) >= 3 {
			d = min(d, 1)
		}
		if d < bestD {
			best, bestD = c, d
		}
	}
	limit := max(1, min(3, len(w)/3))
	if bestD <= limit {
		return best
	}
	return ""
}

// editDistance is the Levenshtein distance, counting a swap of two
// neighbouring letters as one edit.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

// subcommandError is the mistake of a command with a fixed subcommand
// ("route explain", "config check", "db copy").
func subcommandError(cmd, got string, subs []string, hint string) error {
	if s := closest(got, subs); s != "" {
		return usagef(hint, "unknown %s subcommand %q; did you mean %q?", cmd, got, s)
	}
	return usagef(hint, "unknown %s subcommand %q; the subcommands are %s", cmd, got, orList(subs))
}

// flagNames lists a FlagSet's flags, sorted, for completion.
func flagNames(fs *cmdFlags) []string {
	var out []string
	fs.VisitAll(func(f *flag.Flag) { out = append(out, "--"+f.Name) })
	sort.Strings(out)
	return out
}
