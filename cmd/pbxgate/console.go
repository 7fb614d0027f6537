package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/pbxgate/pbxgate/internal/console"
	"github.com/pbxgate/pbxgate/pbxusers"
)

// consoleGroup is "pbxgate console".
func consoleGroup() *group {
	return &group{
		name:    "console",
		summary: "one-time sign-in links for the admin web console",
		intro: `The admin web console is served by "pbxgate serve" at /admin/. Admins and
owners of a tenant sign in there with their login and password; an
operator can sign in as any active user of a tenant with a one-time link.

Examples:
  pbxgate console link --tenant acme --user ada@acme.example`,
		leaves: []leaf{
			{name: "link", max: 0, summary: "print a one-time sign-in link (valid 10 minutes, usable once)", help: `
Prints the URL alone on stdout, so scripts can capture it. The address is
the gateway's publicURL (env PBXGATE_PUBLIC_URL), else its listen address.

Example:
  open "$(pbxgate console link --tenant acme --user ada@acme.example)"`,
				setup: func(c *CLI, fs *cmdFlags) func(context.Context, []string) error {
					g := c.commonFlags(fs, true)
					user := fs.String("user", "", "the `USER` to sign in as: userName, extension or id")
					return func(ctx context.Context, _ []string) error {
						if *user == "" {
							return usagef("pbxgate console link --tenant "+g.tenant+" --user ada@acme.example", "console link needs --user")
						}
						e, err := c.open(ctx, g)
						if err != nil {
							return err
						}
						defer e.Close()
						u, err := findUser(ctx, e.dir, g.tenant, *user)
						if err != nil {
							return err
						}
						if !u.Active() {
							return fmt.Errorf("user %s of tenant %s is inactive: activate it first (pbxgate users activate %s --tenant %s)",
								u.UserName, g.tenant, u.UserName, g.tenant)
						}
						public, err := publicURL(e.set.cfg, e.set.listen)
						if err != nil {
							return err
						}
						token, _, err := e.dir.IssueSignInLink(ctx, g.tenant, u.ID, pbxusers.DefaultSignInTTL)
						if err != nil {
							return err
						}
						fmt.Fprintln(c.Stdout, public+console.Prefix+"/link/"+url.PathEscape(token))
						return nil
					}
				}},
		},
	}
}

// mountConsole serves the admin console at /admin/ over the admin API
// handler api; its LDAP pages list the directories configured for the
// signed-in tenant and run them through the admin API.
func mountConsole(mux *http.ServeMux, dir *pbxusers.Directory, api http.Handler, public string, e *env) {
	mux.Handle(console.Prefix+"/", console.New(dir, api, console.Options{
		Logger: e.log.With("component", "console"),
		Secure: strings.HasPrefix(public, "https://"),
		LDAPDirectories: func(tenant string) []string {
			var names []string
			for _, dc := range e.set.cfg.LDAP.Directories {
				if dc.Tenant == tenant {
					names = append(names, dc.Name)
				}
			}
			return names
		},
	}))
}
