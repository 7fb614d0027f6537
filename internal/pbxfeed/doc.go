// Package pbxfeed serves pbxgate's directory to a phone system under
// /pbx/v1/: digest credentials a SIP proxy authenticates REGISTER and
// INVITE with, and the route plan of a call to an extension or number as
// JSON a proxy can execute step by step.
//
// The endpoints:
//
//	GET /pbx/v1/credentials/{domain}/{sipUser}
//	    200 with a Credentials document; 404 for an unknown domain or SIP
//	    user, and for a device of an inactive user (a deactivated user's
//	    phones stop authenticating at once).
//	GET /pbx/v1/route?domain=D&to=EXT_OR_NUMBER&from=NUMBER[&at=RFC3339&state=PRESENCE]
//	    200 with a Route document; 404 when no user has the extension or
//	    number; 400 naming the parameter for malformed input.
//	GET /pbx/v1/directory?domain=D[&after=SIPUSER&limit=N]
//	    200 with a Directory document: one page of the domain's SIP
//	    accounts with their HA1s, for a PBX that caches everything.
//	POST /pbx/v1/freeswitch/directory
//	    FreeSWITCH mod_xml_curl's directory binding (form fields section,
//	    user, domain): the user's XML with its a1-hash, or FreeSWITCH's
//	    "not found" result.
//	GET /pbx/v1/changes?after=SEQ[&wait=30s&limit=N&tenant=ID]
//	    200 with a Changes document: the tenant's change log after SEQ,
//	    oldest first; with wait, the request is held until there is
//	    something new or wait (at most MaxWait) elapses. tenant= is needed
//	    only with a token for all tenants.
//
// Every request must pass Config.Authorize, which says which tenant the
// caller may read (or all of them). A tenant the caller may not read looks
// exactly like an unknown one: 404. Errors are JSON objects
// {"status": 404, "error": "..."}.
package pbxfeed
