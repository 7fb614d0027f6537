// Package authguard throttles failed authentications, per client address
// and per token id, for every endpoint that takes a bearer token (SCIM,
// the admin API). A client that keeps presenting bad tokens is answered
// 429 with Retry-After before its next token is even checked, every
// failure is logged at WARN with the address and token id (never the
// secret) and counted in pbxgate_auth_failures_total.
//
// The smallest use:
//
//	g := authguard.New(authguard.Options{})
//	if blocked, wait := g.Blocked(r, bearer); blocked { /* 429, Retry-After */ }
//	if tokenIsBad { g.Failed(r, bearer, "scim") }
package authguard
