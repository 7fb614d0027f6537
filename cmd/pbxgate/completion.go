package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
)

// completionNode is a command or subcommand as shell completion sees it.
type completionNode struct {
	name, summary string
	flags         []string // "--tenant"
	children      []completionNode
}

// fixedSubcommands are the subcommands of commands that are not groups.
var fixedSubcommands = map[string][]string{
	"route": {"explain"}, "config": {"check"}, "db": {"copy"}, "completion": {"bash", "zsh", "fish"},
}

var helpFlagLine = regexp.MustCompile(`(?m)^  (--[a-z0-9-]+)`)

// completionTree lists every command with its subcommands and flags. A
// group's leaves are read from their FlagSets; a plain command's flags from
// its -h text, which flagLines writes one a line.
func completionTree() []completionNode {
	var out []completionNode
	groupsByName := map[string]*group{}
	for _, g := range groups() {
		groupsByName[g.name] = g
	}
	quiet := &CLI{Stdin: strings.NewReader(""), Stderr: io.Discard, Getenv: func(string) string { return "" }}
	for _, cmd := range commands() {
		n := completionNode{name: cmd.name, summary: cmd.summary}
		if g := groupsByName[cmd.name]; g != nil {
			for _, l := range g.leaves {
				fs := quiet.flagSet(g.name+" "+l.name, "", "")
				l.setup(quiet, fs)
				n.children = append(n.children, completionNode{name: l.name, summary: l.summary, flags: flagNames(fs)})
			}
		} else {
			var b bytes.Buffer
			help := &CLI{Stdin: strings.NewReader(""), Stdout: &b, Stderr: io.Discard, Getenv: quiet.Getenv}
			help.Run(context.Background(), []string{cmd.name, "-h"})
			for _, m := range helpFlagLine.FindAllStringSubmatch(b.String(), -1) {
				n.flags = append(n.flags, m[1])
			}
			sort.Strings(n.flags)
			for _, s := range fixedSubcommands[cmd.name] {
				n.children = append(n.children, completionNode{name: s, flags: n.flags})
			}
		}
		out = append(out, n)
	}
	return out
}

func runCompletion(ctx context.Context, c *CLI, args []string) error {
	fs := c.flagSet("completion", "completion bash|zsh|fish", `
Print a shell completion script for commands, subcommands and flags.

Examples:
  source <(pbxgate completion bash)                       # bash, this shell
  pbxgate completion bash > /etc/bash_completion.d/pbxgate
  pbxgate completion zsh > "${fpath[1]}/_pbxgate"           # zsh
  pbxgate completion fish > ~/.config/fish/completions/pbxgate.fish`)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("pbxgate completion bash", "completion needs one shell: bash, zsh or fish")
	}
	tree := completionTree()
	switch pos[0] {
	case "bash":
		writeBash(c.Stdout, tree)
	case "zsh":
		fmt.Fprint(c.Stdout, "#compdef pbxgate\n# zsh completion for pbxgate: the bash script through bashcompinit.\nautoload -U +X bashcompinit && bashcompinit\n")
		writeBash(c.Stdout, tree)
	case "fish":
		writeFish(c.Stdout, tree)
	default:
		if s := closest(pos[0], []string{"bash", "zsh", "fish"}); s != "" {
			return usagef("pbxgate completion "+s, "unknown shell %q; did you mean %q?", pos[0], s)
		}
		return usagef("pbxgate completion bash", "unknown shell %q: bash, zsh or fish", pos[0])
	}
	return nil
}

func writeBash(w io.Writer, tree []completionNode) {
	var names []string
	for _, n := range tree {
		names = append(names, n.name)
	}
	fmt.Fprintf(w, `# bash completion for pbxgate
_pbxgate() {
  local cur=${COMP_WORDS[COMP_CWORD]} cmd=${COMP_WORDS[1]} sub=${COMP_WORDS[2]} subs="" opts=""
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W %q -- "$cur")); return
  fi
  case "$cmd" in
`, strings.Join(names, " "))
	for _, n := range tree {
		fmt.Fprintf(w, "    %s)\n", n.name)
		if len(n.children) > 0 {
			var subs []string
			for _, ch := range n.children {
				subs = append(subs, ch.name)
			}
			fmt.Fprintf(w, "      subs=%q\n      case \"$sub\" in\n", strings.Join(subs, " "))
			for _, ch := range n.children {
				fmt.Fprintf(w, "        %s) opts=%q ;;\n", ch.name, strings.Join(ch.flags, " "))
			}
			fmt.Fprintf(w, "      esac ;;\n")
		} else {
			fmt.Fprintf(w, "      opts=%q ;;\n", strings.Join(n.flags, " "))
		}
	}
	fmt.Fprint(w, `  esac
  if [ "$COMP_CWORD" -eq 2 ] && [ -n "$subs" ]; then
    COMPREPLY=($(compgen -W "$subs" -- "$cur")); return
  fi
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
  else
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}
complete -F _pbxgate pbxgate
`)
}

func writeFish(w io.Writer, tree []completionNode) {
	fmt.Fprintln(w, "# fish completion for pbxgate")
	fmt.Fprintln(w, "complete -c pbxgate -f")
	for _, n := range tree {
		fmt.Fprintf(w, "complete -c pbxgate -n __fish_use_subcommand -a %s -d %s\n", n.name, fishQuote(n.summary))
		var subs []string
		for _, ch := range n.children {
			subs = append(subs, ch.name)
		}
		for _, ch := range n.children {
			fmt.Fprintf(w, "complete -c pbxgate -n '__fish_seen_subcommand_from %s; and not __fish_seen_subcommand_from %s' -a %s -d %s\n",
				n.name, strings.Join(subs, " "), ch.name, fishQuote(ch.summary))
			for _, f := range ch.flags {
				fmt.Fprintf(w, "complete -c pbxgate -n '__fish_seen_subcommand_from %s; and __fish_seen_subcommand_from %s' -l %s\n",
					n.name, ch.name, strings.TrimPrefix(f, "--"))
			}
		}
		if len(n.children) == 0 {
			for _, f := range n.flags {
				fmt.Fprintf(w, "complete -c pbxgate -n '__fish_seen_subcommand_from %s' -l %s\n", n.name, strings.TrimPrefix(f, "--"))
			}
		}
	}
}

func fishQuote(s string) string {
	return "'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", `\'`) + "'"
}
