package scim

import (
	"strings"

	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// Schema URNs served by the endpoint. The core and enterprise URNs are the
// RFC 7643 ones; the two extensions are pbxgate's own and carry the phone
// system's fields.
const (
	UserSchema           = "urn:ietf:params:scim:schemas:core:2.0:User"
	GroupSchema          = "urn:ietf:params:scim:schemas:core:2.0:Group"
	EnterpriseUserSchema = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	// UserExtensionSchema holds a user's PBX fields: extension, station
	// number, profiles, routing, caller ID, features and so on.
	UserExtensionSchema = "urn:pbxgate:params:scim:schemas:extension:pbx:2.0:User"
	// GroupExtensionSchema holds the profiles a group grants its members.
	GroupExtensionSchema = "urn:pbxgate:params:scim:schemas:extension:pbx:2.0:Group"
)

// Message URNs of RFC 7644.
const (
	errorMessage     = "urn:ietf:params:scim:api:messages:2.0:Error"
	listMessage      = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	patchMessage     = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	searchMessage    = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
	spcSchema        = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
	resourceTypeURN  = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
	schemaSchemaURN  = "urn:ietf:params:scim:schemas:core:2.0:Schema"
	enterpriseMgrRef = "User"
)

func desc(s string) optional.String { return optional.NewString(s) }

func str(name, description string) schema.SimpleParams {
	return schema.SimpleStringParams(schema.StringParams{Name: name, Description: desc(description)})
}

func boolean(name, description string) schema.SimpleParams {
	return schema.SimpleBooleanParams(schema.BooleanParams{Name: name, Description: desc(description)})
}

func canonical(name, description string, values ...string) schema.SimpleParams {
	return schema.SimpleStringParams(schema.StringParams{Name: name, Description: desc(description), CanonicalValues: values})
}

func simple(p schema.SimpleParams) schema.CoreAttribute { return schema.SimpleCoreAttribute(p) }

// plainMulti is a multi-valued attribute with RFC 7643's value, display,
// type and primary sub-attributes (photos, roles, entitlements), stored as
// a []pbxusers.Attribute.
func plainMulti(name, description string, types ...string) schema.CoreAttribute {
	value := str("value", "The value.")
	if name == "photos" {
		value = schema.SimpleReferenceParams(schema.ReferenceParams{Name: "value", ReferenceTypes: []schema.AttributeReferenceType{schema.AttributeReferenceTypeExternal}, Description: desc("The URL of the picture.")})
	}
	return schema.ComplexCoreAttribute(schema.ComplexParams{
		Name: name, MultiValued: true, Description: desc(description),
		SubAttributes: []schema.SimpleParams{
			value,
			str("display", "A label for display."),
			canonical("type", "The kind of value.", types...),
			boolean("primary", "Whether this is the primary value."),
		},
	})
}

func notificationNames() []string {
	out := make([]string, len(pbxusers.Notifications))
	for i, n := range pbxusers.Notifications {
		out[i] = string(n)
	}
	return out
}

// userSchema is the subset of the RFC 7643 User schema that pbxusers stores.
// Attributes of the RFC that are not listed (ims, x509Certificates,
// profileUrl, userType) are refused on input with 400 invalidValue (or
// invalidPath in a PATCH), naming them, rather than dropped.
func userSchema() schema.Schema {
	return schema.Schema{
		ID:          UserSchema,
		Name:        desc("User"),
		Description: desc("User Account"),
		Attributes: []schema.CoreAttribute{
			simple(schema.SimpleStringParams(schema.StringParams{
				Name: "userName", Required: true, Uniqueness: schema.AttributeUniquenessServer(),
				Description: desc("Unique login of the user, case-insensitive. REQUIRED. It identifies the user: a missing or taken userName refuses the request (400, 409 uniqueness)."),
			})),
			schema.ComplexCoreAttribute(schema.ComplexParams{
				Name:        "name",
				Description: desc("The components of the user's name."),
				SubAttributes: []schema.SimpleParams{
					str("formatted", "The full name."),
					str("familyName", "The family name."),
					str("givenName", "The given name."),
					str("middleName", "The middle name(s)."),
					str("honorificPrefix", "The honorific prefix(es), e.g. 'Ms.'."),
					str("honorificSuffix", "The honorific suffix(es), e.g. 'III'."),
				},
			}),
			simple(str("displayName", "The name of the user, suitable for display.")),
			simple(str("nickName", "The casual way to address the user.")),
			simple(str("title", "The user's title, e.g. 'Vice President'.")),
			simple(str("preferredLanguage", "The user's language as a BCP 47 tag, e.g. 'en-US'. Same value as locale. A value that is not a tag is skipped (logged) and the stored language stays.")),
			simple(str("locale", "The user's locale as a BCP 47 tag, e.g. 'en-US'. Same value as preferredLanguage. A value that is not a tag is skipped (logged) and the stored language stays.")),
			simple(str("timezone", "The user's IANA time zone, e.g. 'Europe/Berlin'. An unknown zone is skipped (logged) and the stored zone stays.")),
			simple(schema.SimpleBooleanParams(schema.BooleanParams{
				Name: "active", Description: desc("Whether the user may log in and receive calls. Inactive users keep everything. The strings \"True\" and \"False\" are accepted."),
			})),
			simple(schema.SimpleStringParams(schema.StringParams{
				Name: "password", Mutability: schema.AttributeMutabilityWriteOnly(), Returned: schema.AttributeReturnedNever(),
				Description: desc("The user's new password. Checked against the password policy, stored as a hash, never returned."),
			})),
			schema.ComplexCoreAttribute(schema.ComplexParams{
				Name: "emails", MultiValued: true,
				Description: desc("Email addresses, unique within the tenant (case-insensitive). A value that is not an address, a repeated address or a second primary is skipped (logged); an address with non-ASCII characters is refused with 400 because mail to it cannot be sent."),
				SubAttributes: []schema.SimpleParams{
					schema.SimpleStringParams(schema.StringParams{Name: "value", Description: desc("The address."), Uniqueness: schema.AttributeUniquenessServer()}),
					canonical("type", "The kind of address.", "work", "home", "other"),
					boolean("primary", "Whether this is the primary address."),
				},
			}),
			schema.ComplexCoreAttribute(schema.ComplexParams{
				Name: "phoneNumbers", MultiValued: true,
				Description: desc("Phone numbers, stored in E.164 form; national numbers are read with the tenant's region and tel: URIs are accepted. A number that does not parse (a national number on a tenant without a region) is skipped as not dialable (logged), never a reason to refuse the request."),
				SubAttributes: []schema.SimpleParams{
					str("value", "The number."),
					canonical("type", "The kind of number.", "work", "mobile", "home", "fax", "other"),
					boolean("primary", "Whether this is the primary number."),
				},
			}),
			schema.ComplexCoreAttribute(schema.ComplexParams{
				Name: "addresses", MultiValued: true,
				Description: desc("Postal addresses, stored as sent. At most one is primary."),
				SubAttributes: []schema.SimpleParams{
					str("formatted", "The full address, for display."),
					str("streetAddress", "The street, house number and so on."),
					str("locality", "The city or locality."),
					str("region", "The state or region."),
					str("postalCode", "The postal code."),
					str("country", "The country, an ISO 3166-1 alpha-2 code such as 'DE' (stored as sent)."),
					canonical("type", "The kind of address.", "work", "home", "other"),
					boolean("primary", "Whether this is the primary address."),
				},
			}),
			plainMulti("photos", "URLs of pictures of the user, stored as sent; the phone system does not fetch them.", "photo", "thumbnail"),
			plainMulti("entitlements", "The identity provider's entitlements of the user, stored as sent; they grant nothing in the phone system."),
			plainMulti("roles", "The identity provider's roles of the user, stored as sent; they grant nothing in the phone system (its access level is the PBX extension's role, rights come from profiles)."),
			schema.ComplexCoreAttribute(schema.ComplexParams{
				Name: "groups", MultiValued: true, Mutability: schema.AttributeMutabilityReadOnly(),
				Description: desc("The groups (teams) the user belongs to. Change membership through /Groups."),
				SubAttributes: []schema.SimpleParams{
					schema.SimpleStringParams(schema.StringParams{Name: "value", CaseExact: true, Mutability: schema.AttributeMutabilityReadOnly(), Description: desc("The group's id.")}),
					schema.SimpleReferenceParams(schema.ReferenceParams{Name: "$ref", Mutability: schema.AttributeMutabilityReadOnly(), ReferenceTypes: []schema.AttributeReferenceType{"Group"}, Description: desc("The group's URI.")}),
					schema.SimpleStringParams(schema.StringParams{Name: "display", Mutability: schema.AttributeMutabilityReadOnly(), Description: desc("The group's name.")}),
					schema.SimpleStringParams(schema.StringParams{Name: "type", Mutability: schema.AttributeMutabilityReadOnly(), CanonicalValues: []string{"direct"}, Description: desc("Always 'direct'.")}),
				},
			}),
		},
	}
}

// enterpriseSchema is the RFC 7643 enterprise extension without the
// manager's displayName, which pbxgate does not return.
func enterpriseSchema() schema.Schema {
	return schema.Schema{
		ID:          EnterpriseUserSchema,
		Name:        desc("EnterpriseUser"),
		Description: desc("Enterprise User"),
		Attributes: []schema.CoreAttribute{
			simple(str("employeeNumber", "Identifier assigned to the person by the organisation.")),
			simple(str("costCenter", "The name of a cost center.")),
			simple(str("organization", "The name of an organization.")),
			simple(str("division", "The name of a division.")),
			simple(str("department", "The name of a department.")),
			schema.ComplexCoreAttribute(schema.ComplexParams{
				Name:        "manager",
				Description: desc("The user's manager, a user of the same tenant, by id or externalId (Entra sends a plain string). A manager that names nobody (yet) is skipped (logged) and the stored manager stays."),
				SubAttributes: []schema.SimpleParams{
					schema.SimpleStringParams(schema.StringParams{Name: "value", CaseExact: true, Description: desc("The id of the manager's User resource.")}),
					schema.SimpleReferenceParams(schema.ReferenceParams{Name: "$ref", ReferenceTypes: []schema.AttributeReferenceType{enterpriseMgrRef}, Description: desc("The URI of the manager's User resource.")}),
				},
			}),
		},
	}
}

// userExtensionSchema describes the PBX fields of a user.
func userExtensionSchema() schema.Schema {
	return schema.Schema{
		ID:          UserExtensionSchema,
		Name:        desc("PBXUser"),
		Description: desc("The phone system fields of a user (pbxgate)."),
		Attributes: []schema.CoreAttribute{
			simple(schema.SimpleStringParams(schema.StringParams{
				Name: "kind", Mutability: schema.AttributeMutabilityImmutable(), CanonicalValues: []string{"person"},
				Description: desc("The kind of user. SCIM provisions people only; cannot change after creation."),
			})),
			simple(schema.SimpleStringParams(schema.StringParams{
				Name: "source", Mutability: schema.AttributeMutabilityReadOnly(), CanonicalValues: []string{"manual", "scim", "ldap"},
				Description: desc("The identity source that owns the user. SCIM clients can change only users owned by scim (or by nobody)."),
			})),
			simple(schema.SimpleStringParams(schema.StringParams{
				Name: "extension", Uniqueness: schema.AttributeUniquenessServer(),
				Description: desc("The internal number, digits only, unique in the tenant."),
			})),
			simple(schema.SimpleStringParams(schema.StringParams{
				Name: "stationNumber", Uniqueness: schema.AttributeUniquenessServer(),
				Description: desc("The number used to log in to softphones and IP phones, digits only, unique in the tenant."),
			})),
			simple(str("location", "The user's site or office.")),
			simple(str("customId", "A free identifier of the user in another system.")),
			simple(canonical("role", "The access level in the phone system's portals.", "user", "agent", "supervisor", "admin", "owner")),
			simple(schema.SimpleStringParams(schema.StringParams{
				Name: "profiles", MultiValued: true,
				Description: desc("Permission profiles by name (case-insensitive), highest precedence first. A name that is no profile of the tenant refuses the request (400): it is a reference pbxgate cannot keep."),
			})),
			simple(canonical("recording", "When the user's calls are recorded.", "never", "always", "on_demand")),
			schema.ComplexCoreAttribute(schema.ComplexParams{
				Name:        "callerId",
				Description: desc("What the user's outgoing calls show."),
				SubAttributes: []schema.SimpleParams{
					str("number", "The E.164 number shown; empty uses the tenant's default."),
					str("name", "The caller name shown."),
					boolean("anonymous", "Hide the number on outgoing calls."),
				},
			}),
			schema.ComplexCoreAttribute(schema.ComplexParams{
				Name:        "features",
				Description: desc("Per-user feature toggles."),
				SubAttributes: []schema.SimpleParams{
					boolean("mobileApp", "The mobile app."),
					boolean("webCalls", "Calls in the web app."),
					boolean("operatorConsole", "The operator console."),
					boolean("voicemail", "A voicemail box."),
					boolean("fixedMobileSim", "Fixed-mobile convergence SIM."),
					boolean("hotDesking", "Logging in on shared desk phones."),
					boolean("multipleCallerId", "Choosing among several caller IDs."),
					boolean("busyReject", "Rejecting further calls on other devices while on a call."),
					boolean("textMessages", "Being assigned text messages: the user's override of the texts.answer permission; absent when the user has none."),
				},
			}),
			schema.ComplexCoreAttribute(schema.ComplexParams{
				Name: "customFields", MultiValued: true,
				Description: desc("Free named fields of the user (at most 50; names of 1–64 characters, values up to 1000), one element per name."),
				SubAttributes: []schema.SimpleParams{
					schema.SimpleStringParams(schema.StringParams{Name: "name", CaseExact: true, Description: desc("The field's name, unique within the user.")}),
					str("value", "The field's value."),
				},
			}),
			schema.ComplexCoreAttribute(schema.ComplexParams{
				Name:        "ipRestriction",
				Description: desc("The addresses the user may log in from."),
				SubAttributes: []schema.SimpleParams{
					boolean("enabled", "Whether logins are limited to the allowed addresses; needs at least one."),
					schema.SimpleStringParams(schema.StringParams{Name: "allowed", MultiValued: true, Description: desc("IP addresses or CIDR prefixes, e.g. '10.0.0.0/8', stored normalised.")}),
				},
			}),
			simple(schema.SimpleStringParams(schema.StringParams{
				Name: "notifications", MultiValued: true, CanonicalValues: notificationNames(),
				Description: desc("The notification topics the user gets by email."),
			})),
			schema.ComplexCoreAttribute(schema.ComplexParams{
				Name: "queues", MultiValued: true,
				Description: desc("The call queues the user answers for. An id that is no call queue of the tenant refuses the request (400)."),
				SubAttributes: []schema.SimpleParams{
					schema.SimpleStringParams(schema.StringParams{Name: "value", CaseExact: true, Description: desc("The id of the call queue (a system user of the tenant).")}),
					schema.SimpleNumberParams(schema.NumberParams{Name: "priority", Type: schema.AttributeTypeInteger(), Description: desc("The tier in the queue's dispatch, 0 or more; lower rings first.")}),
					boolean("defaultOutbound", "The queue used for outbound calls made with no queue selected; at most one."),
				},
			}),
			simple(boolean("mustChangePassword", "Whether the user must change the password at the next login. Left unchanged when not sent.")),
			schema.ComplexCoreAttribute(schema.ComplexParams{
				Name:        "routing",
				Description: desc("How calls to the user are answered."),
				SubAttributes: []schema.SimpleParams{
					canonical("answerMode", "How the user answers calls.", "apps", "phone_number", "ip_phone", "will_not_answer"),
					str("forwardNumber", "The E.164 number rung in phone_number answer mode."),
					str("backupNumber", "An E.164 number rung when the user's apps and devices do not answer, are busy or unavailable (the backup routing preset). Empty removes the preset."),
				},
			}),
		},
	}
}

// groupSchema is the RFC 7643 Group schema with User members only.
func groupSchema() schema.Schema {
	immutable := schema.AttributeMutabilityImmutable()
	return schema.Schema{
		ID:          GroupSchema,
		Name:        desc("Group"),
		Description: desc("Group (a pbxgate team)"),
		Attributes: []schema.CoreAttribute{
			simple(schema.SimpleStringParams(schema.StringParams{
				Name: "displayName", Required: true, Uniqueness: schema.AttributeUniquenessServer(),
				Description: desc("The group's name, unique in the tenant (case-insensitive). REQUIRED."),
			})),
			schema.ComplexCoreAttribute(schema.ComplexParams{
				Name: "members", MultiValued: true,
				Description: desc("The users in the group. Nested groups are not supported. A member that is no user of the tenant refuses the request (400) and nothing of it is saved."),
				SubAttributes: []schema.SimpleParams{
					schema.SimpleStringParams(schema.StringParams{Name: "value", CaseExact: true, Mutability: immutable, Description: desc("The member's user id.")}),
					schema.SimpleReferenceParams(schema.ReferenceParams{Name: "$ref", Mutability: immutable, ReferenceTypes: []schema.AttributeReferenceType{"User"}, Description: desc("The member's URI.")}),
					schema.SimpleStringParams(schema.StringParams{Name: "display", Mutability: schema.AttributeMutabilityReadOnly(), Description: desc("The member's display name (its displayName, else given and family name, else nickName, else userName). Ignored on input.")}),
					schema.SimpleStringParams(schema.StringParams{Name: "type", Mutability: immutable, CanonicalValues: []string{"User"}, Description: desc("Always 'User'.")}),
				},
			}),
		},
	}
}

// groupExtensionSchema describes what a group grants its members.
func groupExtensionSchema() schema.Schema {
	return schema.Schema{
		ID:          GroupExtensionSchema,
		Name:        desc("PBXGroup"),
		Description: desc("The phone system fields of a group (pbxgate)."),
		Attributes: []schema.CoreAttribute{
			simple(schema.SimpleStringParams(schema.StringParams{
				Name: "profiles", MultiValued: true,
				Description: desc("Permission profiles (by name, case-insensitive) granted to every member, e.g. 'Supervisor'. Usually set by an admin; an IdP that does not send this extension leaves it unchanged."),
			})),
		},
	}
}

// unsupportedUserAttrs are RFC 7643 User attributes pbxgate does not store.
// Input for them is refused, naming them (see refuseUnstored).
var unsupportedUserAttrs = map[string]bool{
	"ims": true, "x509certificates": true, "profileurl": true, "usertype": true,
}

// attrDef is an attribute of a schema as the PATCH engine, the filter
// translator and the IdP normaliser need it.
type attrDef struct {
	urn       string
	name      string // canonical spelling
	typ       string // string, boolean, complex, reference, ...
	multi     bool
	mut       string // readWrite, readOnly, immutable, writeOnly
	caseExact bool
	subs      map[string]*attrDef // lower-cased name → sub-attribute
	subList   []*attrDef
}

func (a *attrDef) sub(name string) *attrDef {
	if a == nil || a.subs == nil {
		return nil
	}
	return a.subs[strings.ToLower(name)]
}

// resourceSchema indexes a resource type's core schema and extensions.
type resourceSchema struct {
	core    string
	schemas []schema.Schema
	attrs   map[string]map[string]*attrDef // lower-cased urn → lower-cased name → def
	order   map[string][]*attrDef          // lower-cased urn → attributes in schema order
	urns    map[string]string              // lower-cased urn → canonical urn
	exts    []string
	unknown map[string]bool // lower-cased core attribute names ignored on input
}

func newResourceSchema(core schema.Schema, exts []schema.Schema, unknown map[string]bool) *resourceSchema {
	rs := &resourceSchema{
		core: core.ID, attrs: map[string]map[string]*attrDef{}, order: map[string][]*attrDef{},
		urns: map[string]string{}, unknown: unknown,
	}
	for _, s := range append([]schema.Schema{core}, exts...) {
		rs.schemas = append(rs.schemas, s)
		key := strings.ToLower(s.ID)
		rs.urns[key] = s.ID
		m := map[string]*attrDef{}
		for _, a := range s.Attributes {
			d := defOf(s.ID, a)
			m[strings.ToLower(d.name)] = d
			rs.order[key] = append(rs.order[key], d)
		}
		if s.ID == core.ID {
			// externalId is a common attribute (RFC 7643 §3.1): not listed
			// in the schema, but patchable like a core attribute.
			m["externalid"] = &attrDef{urn: s.ID, name: "externalId", typ: "string", mut: "readWrite", caseExact: true}
		}
		rs.attrs[key] = m
		if s.ID != core.ID {
			rs.exts = append(rs.exts, s.ID)
		}
	}
	return rs
}

func defOf(urn string, a schema.CoreAttribute) *attrDef {
	d := &attrDef{urn: urn, name: a.Name(), typ: a.AttributeType(), multi: a.MultiValued(), mut: a.Mutability(), caseExact: a.CaseExact()}
	if a.HasSubAttributes() {
		d.subs = map[string]*attrDef{}
		for _, s := range a.SubAttributes() {
			sd := defOf(urn, s)
			d.subs[strings.ToLower(sd.name)] = sd
			d.subList = append(d.subList, sd)
		}
	}
	return d
}

// schemaURN returns the canonical spelling of a schema URN of the resource,
// or "".
func (rs *resourceSchema) schemaURN(urn string) string { return rs.urns[strings.ToLower(urn)] }

// lookup resolves an attribute name in a schema ("" means the core schema).
func (rs *resourceSchema) lookup(urn, name string) *attrDef {
	if urn == "" {
		urn = rs.core
	}
	m := rs.attrs[strings.ToLower(urn)]
	if m == nil {
		return nil
	}
	return m[strings.ToLower(name)]
}

// inExtension finds an attribute of an extension by its bare name (Entra
// sends "manager" and "department" without the enterprise URN).
func (rs *resourceSchema) inExtension(name string) (string, *attrDef) {
	for _, ext := range rs.exts {
		if d := rs.lookup(ext, name); d != nil {
			return ext, d
		}
	}
	return "", nil
}

// splitURNKey splits a key such as
// "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"
// into a schema URN of the resource and the rest. Keys without a known URN
// prefix come back unchanged with urn "".
func (rs *resourceSchema) splitURNKey(key string) (urn, rest string) {
	lower := strings.ToLower(key)
	for k, canon := range rs.urns {
		if strings.HasPrefix(lower, k+":") {
			return canon, key[len(k)+1:]
		}
	}
	return "", key
}

var (
	usersSchema  = newResourceSchema(userSchema(), []schema.Schema{enterpriseSchema(), userExtensionSchema()}, unsupportedUserAttrs)
	groupsSchema = newResourceSchema(groupSchema(), []schema.Schema{groupExtensionSchema()}, nil)
)
