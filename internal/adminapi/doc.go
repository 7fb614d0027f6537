// Package adminapi serves pbxgate's admin API under /api/v1: every part of
// the phone-system model (users with their routing, devices, numbers and
// permission overrides, time frames, profiles, teams, queues, tokens,
// webhooks, the change log, the outbox and CSV imports) as JSON over HTTP,
// described by the OpenAPI 3.1 document served at GET /api/v1/openapi.json.
//
// Callers authenticate with a bearer token of scope admin (one tenant) or
// operator (every tenant); SCIM tokens are refused with 403. Errors are RFC
// 9457 problem documents listing every invalid field. Mutable resources
// carry an ETag (their version) and honour If-Match (412 when stale).
// Fields an identity provider or directory owns are read-only here (409
// naming the owner and the fields); PBX-side fields stay editable.
//
// The package depends on pbxusers and never the other way round: all
// validation, ownership and change-log recording happens in the library,
// with the token's name as the actor of every write.
package adminapi
