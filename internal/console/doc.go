// Package console is pbxgate's admin web console, served under /admin/:
// the seed products' Users page (a list with search as you type, filters,
// paging and bulk deactivation; "+ Add User"; a user's page with the tabs
// Profile, Phones, Numbers, Answering rules with the live "where does a
// call ring now, and why?" panel, Permissions with per-user overrides, and
// Advanced, where delete asks first and names what goes with the user;
// fields an identity provider or the LDAP sync owns are shown read-only),
// and the tenant pages under /admin/tenant: profiles with the permission
// catalogue, teams, time frames, numbers, call queues, auto attendants and
// conference bridges, CSV import with a dry run that shows every row's
// outcome, API tokens, LDAP directories with their runs, the mail outbox
// and the change log.
//
// Pages are server-rendered with html/template from files embedded in the
// binary; a small script of its own adds search as you type. Every write
// goes through the admin API's handlers (internal/adminapi) with the signed
// in user as the principal, so the console has no write path of its own.
//
// Admins and owners of a tenant sign in with their userName and password;
// operators get a one-time link from `pbxgate console link`. Sessions live
// in memory (a restart signs everyone out) in an HttpOnly, SameSite=Strict
// cookie, __Host- prefixed and Secure when the console is reached over
// https; every form carries a CSRF token and every POST must come from the
// console's own origin.
//
// The smallest use:
//
//	api := adminapi.New(dir, adminapi.Options{})
//	mux.Handle(console.Prefix+"/", console.New(dir, api, console.Options{}))
package console
