// Package scim is pbxgate's SCIM 2.0 endpoint (RFC 7643, RFC 7644): it
// lets identity providers such as Okta and Microsoft Entra ID create,
// update, deactivate and delete the users and groups (teams) of a tenant in
// the pbxusers library. It uses github.com/elimity-com/scim for the
// resource types, the schemas and their validation, /Schemas and
// /ResourceTypes, and serves /Users, /Groups, /Bulk and
// /ServiceProviderConfig itself, because elimity's server cannot express
// what they need (statuses and headers it does not allow, itemsPerPage,
// the IdPs' request forms; see resources.go). It adds bearer-token
// authentication per tenant, rate limiting, body limits, filters
// translated to the library's SQL-backed queries, sorting, PATCH
// semantics, ETags, conditional requests and SCIM-formatted errors for
// every status. Nothing is patched behind a reader's back: handlers
// return their real errors, responses are written once, request bodies
// are decoded once.
//
// The smallest use:
//
//	dir := pbxusers.New(store, pbxusers.Options{})
//	token, _, err := dir.CreateToken(ctx, "acme", "okta") // give token to the IdP
//	h, err := scim.New(dir, scim.Options{BaseURL: "https://pbx.example.com/scim/v2"})
//	mux.Handle(scim.Prefix+"/", h)
//
// Resources: /Users (core User, the enterprise extension and the PBX
// extension UserExtensionSchema), /Groups (core Group and
// GroupExtensionSchema, which binds a group to permission profiles), and
// the discovery endpoints /ServiceProviderConfig, /Schemas and
// /ResourceTypes. /Schemas lists exactly the attributes that are stored.
// /Bulk (RFC 7644 §3.7) runs each operation as the request it describes,
// resolving bulkId references, within Options.BulkMaxOperations and
// Options.BulkMaxPayloadBytes (see bulk.go).
//
// Mapping of users: id = User.ID; externalId = Owner.ExternalID; userName,
// name.*, displayName, nickName, title, emails, phoneNumbers (E.164, tel:
// URIs accepted), timezone, addresses, photos, roles and entitlements map
// to the fields of the same meaning (roles and entitlements are kept as
// sent and grant nothing);
// preferredLanguage and locale both carry User.Language; active is
// Status; password sets Password.New and is never returned; groups
// (read-only) lists User.Teams with names. The enterprise extension maps
// to User.Enterprise and manager.value to ManagerID. The PBX extension
// carries kind (immutable, person only), source (read-only), extension,
// stationNumber, location, customId, role, profiles (by name), recording,
// callerId{number,name,anonymous}, features{...}, customFields[{name,value}],
// ipRestriction{enabled,allowed}, notifications, queues[{value,priority,
// defaultOutbound}], mustChangePassword (Password.MustChange; kept when not
// sent) and routing{answerMode,forwardNumber,backupNumber}, where
// backupNumber changes only the backup number
// (pbxusers.RoutingPolicy.WithBackupNumber): rules, caller lists and
// timeouts stay.
//
// The path of a request, e.g. a PATCH of a user: server.ServeHTTP
// (recovery) → serve (bearer token → tenant, rate limit) → route (classify
// the path, method, body limit) → serveResource in resources.go (decode
// the body once, rewrite the IdP's forms in normalize.go, validate against
// the schemas with elimity's validators) → usersHandler.Patch in users.go
// (one pbxusers.Directory.ModifyUser transaction: If-Match, the stored
// user as an attribute map, patcher in patch.go, userMapper.fromAttrs in
// usermap.go, the library's validation) → the resource or a SCIM error
// written once. A Group PATCH takes groupsHandler.Patch and
// Directory.ModifyTeamAndMembers; /Bulk runs each operation through route.
//
// Tolerant where it must be, strict where it matters. A refused request is
// worse than a naive server's acceptance: Entra marks the user as failed,
// retries, and the other changes of that request (a deactivation, say) are
// lost. So a provisioning request fails only for what identifies or
// connects the user — userName and its uniqueness, externalId, an
// extension or station number clash, a reference pbxgate cannot keep (a
// group member that is not a user, an unknown permission profile or call
// queue), an address the welcome mail could not be sent to — and for
// malformed protocol. Any other value pbxgate cannot use is skipped and
// reported: logged as a warning with the attribute and the reason (never
// the value) and counted in pbxgate_scim_skipped_values_total. Per
// attribute (each also says so in its /Schemas description):
//
//   - active and other booleans: "True"/"False" strings are accepted.
//   - emails: a value that is not an address, a repeated address or a
//     second primary is skipped; an address with non-ASCII characters is
//     refused with 400 (pbxgate mails ASCII addresses only, and a 201
//     followed by a welcome mail that cannot be sent helps nobody).
//   - phoneNumbers: stored in E.164 (tenant region, tel: URIs, +); a
//     number that does not parse (a national number on a tenant without a
//     region) is skipped as not dialable.
//   - email and phone types other than the RFC's are stored as other; a
//     second primary is not primary.
//   - timezone, preferredLanguage, locale: a value that is not an IANA
//     zone or a BCP 47 tag is skipped and the stored value stays.
//   - manager: an id or an externalId; one that names nobody yet is
//     skipped and the stored manager stays (Entra provisions in any order).
//   - group members: display is returned and ignored on input.
//   - attributes of extensions this endpoint does not serve
//     (urn:okta:...) are ignored and reported; attributes of the served
//     schemas that are not stored are refused (see below).
//
// Choices where RFC 7644 leaves room: a PUT clears core attributes it
// leaves out, but keeps active, externalId, password and any extension
// whose object it leaves out (so an IdP that does not know the PBX
// extension never wipes extensions and profiles); input for extensions
// this endpoint does not serve (urn:okta:...) is ignored; an attribute of
// a served schema that is not stored (ims, x509Certificates, profileUrl,
// userType, or a name the schema does not have) is refused with 400
// invalidValue (invalidPath in a PATCH) naming it, so nothing is silently
// dropped; see patcher for PATCH details. System users (call queues and
// the like) are not SCIM resources.
package scim
