package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version is the release version, set at build time with
// -ldflags "-X main.Version=v1.2.3". Builds from a checkout show the VCS
// revision instead.
var Version = ""

func version() string {
	if Version != "" {
		return Version
	}
	v := "devel"
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		var rev, dirty string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					dirty = "+dirty"
				}
			}
		}
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if rev != "" {
			v += " " + rev + dirty
		}
	}
	return v
}

func runVersion(ctx context.Context, c *CLI, args []string) error {
	fs := c.flagSet("version", "version", `
Print the version of pbxgate (a release tag, or the VCS revision it was
built from) and of Go it was built with.

Example:
  pbxgate version`)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("pbxgate version", "version takes no arguments")
	}
	fmt.Fprintf(c.Stdout, "pbxgate %s (%s %s/%s)\n", version(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}
