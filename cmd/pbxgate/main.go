// Command pbxgate keeps a hosted phone system's users in step with the
// identity systems a company runs: it serves a SCIM 2.0 endpoint for Okta and
// Microsoft Entra ID, syncs users from Active Directory or OpenLDAP on a
// schedule, sends welcome mail with set-password links, and has admin
// commands for tenants, tokens, users, profiles, devices, numbers, time
// frames and routing.
//
//	pbxgate serve                       # embedded defaults: ./pbxgate-data, 127.0.0.1:8080
//	pbxgate token create --tenant default
//	pbxgate users list --tenant default
//
// Run "pbxgate help" for every command.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"sort"
	"strings"
	"syscall"
)

// defaultMemoryLimit is the Go runtime's soft memory limit when GOMEMLIMIT
// is not set: the garbage collector works harder near it instead of letting
// the heap double (an LDAP read of 100,000 entries produces a lot of
// short-lived garbage). It is a soft limit: the process can go past it.
const defaultMemoryLimit = 128 << 20

func main() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := (&CLI{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}).Run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

// CLI is the pbxgate command line: everything main does, with its streams
// and environment injected so tests can run it in-process.
type CLI struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Getenv reads the environment (PBXGATE_* settings, ${VAR} in config).
	Getenv func(string) string

	// forceInteractive makes confirmations ask on Stdin even when it is not
	// a terminal (tests).
	forceInteractive bool
}

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, c *CLI, args []string) error
}

// groups are the commands with subcommands, each leaf with its own flags.
func groups() []*group {
	return []*group{consoleGroup(), devicesGroup(), ldapGroup(), mailGroup(), numbersGroup(), profilesGroup(), routingGroup(), teamsGroup(), tenantGroup(), timeframesGroup(), tokenGroup(), usersGroup(), webhooksGroup()}
}

func commands() []command {
	cmds := []command{
		{"completion", "print a shell completion script: bash, zsh or fish", runCompletion},
		{"config", "check a configuration file", runConfig},
		{"health", "check that a running gateway answers (for health checks)", runHealth},
		{"db", "copy an installation to another database (SQLite to PostgreSQL)", runDB},
		{"migrate", "apply the database migrations explicitly", runMigrate},
		{"route", "explain where a call to a user rings and why", runRoute},
		{"serve", "run the gateway: SCIM, set-password pages, LDAP schedule, mail", runServe},
		{"version", "print the version", runVersion},
	}
	for _, g := range groups() {
		cmds = append(cmds, command{g.name, g.summary, g.run})
	}
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].name < cmds[j].name })
	return cmds
}

func (c *CLI) usage(w io.Writer) {
	fmt.Fprintf(w, `pbxgate keeps a phone system's users in step with Okta, Entra ID, AD and LDAP.

Usage:
  pbxgate <command> [arguments]

Commands:
`)
	for _, cmd := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", cmd.name, cmd.summary)
	}
	fmt.Fprintf(w, `
Every command takes --config FILE and --data DIR (or --db FILE), also set by
PBXGATE_CONFIG, PBXGATE_DATA and PBXGATE_DB. With no configuration at all
pbxgate keeps its data in ./pbxgate-data.

Run "pbxgate <command> -h" for a command's flags and examples.
`)
}

// Run runs the command line and returns the process exit code: 0 for
// success, 1 for a failure, 2 for a usage mistake.
func (c *CLI) Run(ctx context.Context, args []string) int {
	if c.Getenv == nil {
		c.Getenv = func(string) string { return "" }
	}
	if len(args) == 0 {
		c.usage(c.Stderr)
		return 2
	}
	name := args[0]
	switch name {
	case "help", "-h", "--help", "-help":
		if len(args) > 1 && !isHelpFlag(args[1]) && args[1] != "help" {
			return c.Run(ctx, append(append([]string{}, args[1:]...), "-h"))
		}
		c.usage(c.Stdout)
		return 0
	case "--version", "-version":
		name = "version"
	}
	for _, cmd := range commands() {
		if cmd.name == name {
			return c.exit(cmd.run(ctx, c, args[1:]))
		}
	}
	var names []string
	for _, cmd := range commands() {
		names = append(names, cmd.name)
	}
	if s := closest(name, names); s != "" {
		try := strings.Join(append([]string{"pbxgate", s}, args[1:]...), " ")
		return c.exit(usagef(try, "unknown command %q; did you mean %q?", name, s))
	}
	return c.exit(usagef("pbxgate help", "unknown command %q", name))
}

// exit prints an error the way users read it and picks the exit code.
func (c *CLI) exit(err error) int {
	if err == nil {
		return 0
	}
	if err == errHelp {
		return 0
	}
	if err == errCancelled {
		fmt.Fprintf(c.Stderr, "pbxgate: %s\n", err)
		return 1
	}
	if u, ok := err.(usageError); ok {
		fmt.Fprintf(c.Stderr, "pbxgate: %s\n", u.msg)
		if u.hint != "" {
			fmt.Fprintf(c.Stderr, "Try: %s\n", u.hint)
		}
		return 2
	}
	fmt.Fprintf(c.Stderr, "pbxgate: %s\n", err)
	return 1
}
