// Package console is pbxgate's admin web console, served under /admin/:
// the seed products' Users page (a list with search as you type, filters,
// paging and bulk deactivation; "+ Add User"; a user's page with the tabs
// Profile, Phones, Numbers, Answering rules with the live "where does a
// call ring now, and why?" panel, Permissions with per-user overrides, and
// Advanced, where delete asks first and names what goes with the user).
// Fields an identity provider or the LDAP sync owns are shown read-only.
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
