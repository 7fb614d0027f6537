package pbxusers

import (
	"context"
	"time"
)

// UserKind says what a user is. People log in; the others are system users:
// call destinations that share the tenant's extension namespace and are
// hidden from ordinary listings unless asked for.
type UserKind string

// The kinds of user.
const (
	KindPerson           UserKind = "person"
	KindCallQueue        UserKind = "call_queue"
	KindAutoAttendant    UserKind = "auto_attendant"
	KindConferenceBridge UserKind = "conference_bridge"
)

// System reports whether the kind is a system user (not a person).
func (k UserKind) System() bool { return k != KindPerson && k != "" }

func (k UserKind) valid() bool {
	switch k {
	case KindPerson, KindCallQueue, KindAutoAttendant, KindConferenceBridge:
		return true
	}
	return false
}

// Status is whether a user may log in and receive calls. Inactive users keep
// everything (devices, routing, memberships) but cannot log in and never ring.
type Status string

// The user statuses.
const (
	StatusActive   Status = "active"
	StatusInactive Status = "inactive"
)

// Source names who owns a user: the admin by hand, an identity provider over
// SCIM, or an LDAP/AD directory sync. A source never silently changes a user
// owned by another one.
type Source string

// The sources.
const (
	SourceManual Source = "manual"
	SourceSCIM   Source = "scim"
	SourceLDAP   Source = "ldap"
)

func (s Source) valid() bool {
	return s == SourceManual || s == SourceSCIM || s == SourceLDAP
}

// Owner records which source owns a user and the source's stable id for it.
type Owner struct {
	// Source owns the user. Empty means SourceManual.
	Source Source `json:"source"`
	// ExternalID is the source's stable id: the SCIM externalId, the LDAP
	// entryUUID or the AD objectGUID. Unique per tenant and source when set.
	ExternalID string `json:"externalId,omitempty"`
	// Directory names the LDAP directory (its config name) for SourceLDAP.
	Directory string `json:"directory,omitempty"`
	// Synced holds, per field, the value the owning source last set (an
	// LDAP sync records what it read). A sync changes a field only when the
	// source's value changed since, so an admin's edit of another field, or
	// of the same field while the directory kept its value, is not undone.
	Synced map[string]string `json:"synced,omitempty"`
	// Hash is the owning source's fingerprint of the values it last set
	// (an LDAP sync compares it to skip unchanged entries cheaply).
	Hash string `json:"hash,omitempty"`
}

// Role is the access level a user has in the phone system's portals
// (Aloware admin/agent, Qaller administrator/user, NetSapiens scopes). Fine
// grained rights are permissions, see [Profile].
type Role string

// The roles, from least to most access.
const (
	RoleUser       Role = "user"
	RoleAgent      Role = "agent"
	RoleSupervisor Role = "supervisor"
	RoleAdmin      Role = "admin"
	RoleOwner      Role = "owner"
)

func (r Role) valid() bool {
	switch r {
	case RoleUser, RoleAgent, RoleSupervisor, RoleAdmin, RoleOwner:
		return true
	}
	return false
}

// RecordingMode says when a user's calls are recorded.
type RecordingMode string

// The recording modes.
const (
	RecordNever    RecordingMode = "never"
	RecordAlways   RecordingMode = "always"
	RecordOnDemand RecordingMode = "on_demand"
)

// PasswordMode says how a user gets a password: set by an admin (manual) or
// by the user through a set-password link sent by mail (invite).
type PasswordMode string

// The password modes.
const (
	PasswordManual PasswordMode = "manual"
	PasswordInvite PasswordMode = "invite"
)

// Name is a user's name, as SCIM's name attribute.
type Name struct {
	Formatted string `json:"formatted,omitempty"`
	Given     string `json:"given,omitempty"`
	Family    string `json:"family,omitempty"`
	Middle    string `json:"middle,omitempty"`
	Prefix    string `json:"prefix,omitempty"`
	Suffix    string `json:"suffix,omitempty"`
}

// Email is one of a user's addresses. Addresses are unique (case-insensitive)
// within a tenant.
type Email struct {
	Value   string `json:"value"`
	Type    string `json:"type,omitempty"` // work, home, other
	Primary bool   `json:"primary,omitempty"`
}

// PhoneType is the kind of a user's phone number.
type PhoneType string

// The phone number types.
const (
	PhoneWork   PhoneType = "work"
	PhoneMobile PhoneType = "mobile"
	PhoneHome   PhoneType = "home"
	PhoneFax    PhoneType = "fax"
	PhoneOther  PhoneType = "other"
)

// PhoneNumber is an E.164 number of a user (not an internal extension).
type PhoneNumber struct {
	// Number is in E.164 form, e.g. "+4930123456". Input in other forms
	// (national with the tenant's region, tel: URIs) is normalised; a
	// number that does not parse (a national number on a tenant without
	// a region) is kept as sent and marked NotDialable.
	Number string `json:"number"`
	// Ext is an extension suffix from a tel: URI (";ext=12"), if any.
	Ext     string    `json:"ext,omitempty"`
	Type    PhoneType `json:"type,omitempty"`
	Primary bool      `json:"primary,omitempty"`
	// NotDialable says Number is kept as sent because it is not a number
	// pbxgate can dial: shown, never rung. Set by the library.
	NotDialable bool `json:"notDialable,omitempty"`
}

// CallerID is what a user's outgoing calls show.
type CallerID struct {
	// Number is the E.164 number shown; empty uses the tenant's default.
	Number string `json:"number,omitempty"`
	// Name is the caller name shown.
	Name string `json:"name,omitempty"`
	// Anonymous hides the number on outgoing calls.
	Anonymous bool `json:"anonymous,omitempty"`
	// Allowed lists the E.164 numbers the user may pick from when the
	// MultipleCallerID feature is on.
	Allowed []string `json:"allowed,omitempty"`
	// Emergency is the E.164 number sent on emergency calls.
	Emergency string `json:"emergency,omitempty"`
}

// IPRestriction limits the addresses a user may log in from.
type IPRestriction struct {
	Enabled bool `json:"enabled,omitempty"`
	// Allowed holds IP addresses or CIDR prefixes, e.g. "192.168.1.1",
	// "10.0.0.0/8". Stored normalised.
	Allowed []string `json:"allowed,omitempty"`
}

// Notification is a topic a user can subscribe to by email.
type Notification string

// The notification topics.
const (
	NotifyCallStatistics  Notification = "call_statistics"
	NotifyQueueStatistics Notification = "queue_statistics"
	NotifyNewUser         Notification = "new_user"
	NotifyAdminChanges    Notification = "admin_changes"
	NotifySpeechFeatures  Notification = "speech_features"
	NotifyMissedCall      Notification = "missed_call"
	NotifyVoicemail       Notification = "voicemail"
)

// Notifications lists every notification topic.
var Notifications = []Notification{
	NotifyCallStatistics, NotifyQueueStatistics, NotifyNewUser, NotifyAdminChanges,
	NotifySpeechFeatures, NotifyMissedCall, NotifyVoicemail,
}

// Password holds how a user's password is handled. The password itself is
// never readable: only a bcrypt hash is stored.
type Password struct {
	// Mode is manual (set by an admin) or invite (set by the user through a
	// link). A person created with no password is invite-type.
	Mode PasswordMode `json:"mode,omitempty"`
	// MustChange forces a change at the next login.
	MustChange bool `json:"mustChange,omitempty"`
	// IsSet reports whether a password has been set. Read-only.
	IsSet bool `json:"isSet,omitempty"`
	// SetAt is when the password was last set. Read-only.
	SetAt *time.Time `json:"setAt,omitempty"`
	// New is write-only: when non-empty on create or update, it is checked
	// against the password policy, hashed and stored, and is never returned.
	New string `json:"-"`
}

// QueueMembership puts a user into a call queue (a user of kind call_queue).
type QueueMembership struct {
	QueueID string `json:"queueId"`
	// Priority orders agents in tiered dispatch; lower rings first.
	Priority int `json:"priority,omitempty"`
	// DefaultOutbound marks the queue used for outbound calls made with no
	// queue selected. At most one membership has it.
	DefaultOutbound bool `json:"defaultOutbound,omitempty"`
}

// Enterprise holds the SCIM enterprise extension's attributes.
type Enterprise struct {
	EmployeeNumber string `json:"employeeNumber,omitempty"`
	CostCenter     string `json:"costCenter,omitempty"`
	Organization   string `json:"organization,omitempty"`
	Division       string `json:"division,omitempty"`
	Department     string `json:"department,omitempty"`
}

// Attribute is one value of a multi-valued attribute that an identity
// provider keeps for a user and the phone system stores without acting on
// it: SCIM's photos (Value is a URL), roles and entitlements. It is kept as
// sent and returned as stored.
type Attribute struct {
	Value   string `json:"value"`
	Display string `json:"display,omitempty"`
	Type    string `json:"type,omitempty"`
	Primary bool   `json:"primary,omitempty"`
}

// Address is a postal address of a user (SCIM addresses).
type Address struct {
	Formatted     string `json:"formatted,omitempty"`
	StreetAddress string `json:"streetAddress,omitempty"`
	Locality      string `json:"locality,omitempty"`
	Region        string `json:"region,omitempty"`
	PostalCode    string `json:"postalCode,omitempty"`
	// Country is an ISO 3166-1 alpha-2 code as SCIM specifies, though it is
	// stored as sent.
	Country string `json:"country,omitempty"`
	// Type is work, home or other.
	Type    string `json:"type,omitempty"`
	Primary bool   `json:"primary,omitempty"`
}

// QueueSettings configures a user of kind call_queue.
type QueueSettings struct {
	// Dispatch is ring_all, round_robin, linear_hunt or longest_idle.
	Dispatch string `json:"dispatch,omitempty"`
	// MaxWaitSeconds is how long a caller waits, in seconds, before the
	// queue's no-answer route; 0 means the PBX default.
	MaxWaitSeconds int `json:"maxWaitSeconds,omitempty"`
}

// User is a person or a system user (call queue, auto attendant, conference
// bridge) of one tenant. Its zero value is not valid: a user needs at least a
// userName. Fields marked read-only are set by the library.
type User struct {
	// ID is assigned by the library (a UUID), stable and case-sensitive.
	ID string `json:"id"`
	// TenantID is the tenant the user belongs to. Read-only.
	TenantID string `json:"tenantId"`
	// Kind defaults to person.
	Kind UserKind `json:"kind"`
	// Status defaults to active.
	Status Status `json:"status"`
	// Owner is the source that owns the user and its external id.
	Owner Owner `json:"owner"`
	// DeactivatedBy is the source that last deactivated the user. Read-only.
	// An LDAP sync reactivates only users it deactivated itself.
	DeactivatedBy Source `json:"deactivatedBy,omitempty"`

	// UserName is the login; unique per tenant, case-insensitive.
	UserName    string  `json:"userName"`
	Name        Name    `json:"name"`
	DisplayName string  `json:"displayName,omitempty"`
	Nickname    string  `json:"nickname,omitempty"`
	Title       string  `json:"title,omitempty"`
	Emails      []Email `json:"emails,omitempty"`
	Role        Role    `json:"role,omitempty"`

	// Extension is the internal number, digits only, unique per tenant
	// across people and system users.
	Extension string `json:"extension,omitempty"`
	// StationNumber is the number used to log in to third-party softphones
	// and IP phones (Alotech); digits only, unique per tenant.
	StationNumber string        `json:"stationNumber,omitempty"`
	PhoneNumbers  []PhoneNumber `json:"phoneNumbers,omitempty"`
	CallerID      CallerID      `json:"callerId"`

	// Language is a BCP 47 tag, e.g. "en-US", "de".
	Language string `json:"language,omitempty"`
	// TimeZone is an IANA zone name, e.g. "Europe/Berlin"; empty inherits
	// the tenant's. Aliases such as "US/Eastern" are stored canonical.
	TimeZone     string            `json:"timeZone,omitempty"`
	CustomID     string            `json:"customId,omitempty"`
	CustomFields map[string]string `json:"customFields,omitempty"`
	// Addresses are postal addresses.
	Addresses []Address `json:"addresses,omitempty"`
	// Photos are URLs of pictures of the user.
	Photos []Attribute `json:"photos,omitempty"`
	// Roles are the identity provider's role values (SCIM roles), kept as
	// sent. They grant nothing in the phone system: its access level is
	// Role, and fine-grained rights are Profiles and Overrides.
	Roles []Attribute `json:"roles,omitempty"`
	// Entitlements are the identity provider's entitlement values (SCIM
	// entitlements), kept as sent.
	Entitlements []Attribute `json:"entitlements,omitempty"`
	Location     string      `json:"location,omitempty"`
	Enterprise   Enterprise  `json:"enterprise"`
	// ManagerID is the id of the user's manager in the same tenant. Cleared
	// when the manager is deleted.
	ManagerID string `json:"managerId,omitempty"`
	// ManagerRef is a manager named before they are a user of the tenant:
	// the id or externalId an identity provider sent (Entra provisions users
	// in any order). It is kept, shown as unresolved, and turned into
	// ManagerID in the same transaction as the user with that externalId is
	// created or given it (ids are made at creation, so an id no user has
	// never becomes one). Cleared when ManagerID is set.
	ManagerRef string `json:"managerRef,omitempty"`

	// Profiles are permission profile ids, highest precedence first.
	Profiles []string `json:"profiles,omitempty"`
	// Overrides are per-user permission values that beat every profile.
	Overrides PermissionSet `json:"overrides,omitempty"`
	// Teams are team ids (SCIM groups). Read from memberships; writing it
	// replaces the user's memberships.
	Teams []string `json:"teams,omitempty"`
	// Queues are call-queue memberships.
	Queues []QueueMembership `json:"queues,omitempty"`

	Recording     RecordingMode  `json:"recording,omitempty"`
	Features      Features       `json:"features"`
	IPRestriction IPRestriction  `json:"ipRestriction"`
	Notifications []Notification `json:"notifications,omitempty"`
	Password      Password       `json:"password"`
	Routing       RoutingPolicy  `json:"routing"`
	// Queue configures a call queue; nil for other kinds.
	Queue *QueueSettings `json:"queue,omitempty"`

	// Version increases by one on every change; the SCIM ETag. Read-only.
	Version int64 `json:"version"`
	// Created and Updated are UTC. Read-only.
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

// Active reports whether the user's status is active.
func (u *User) Active() bool { return u.Status == StatusActive }

// PrimaryEmail returns the primary address, else the first one, else "".
func (u *User) PrimaryEmail() string {
	for _, e := range u.Emails {
		if e.Primary {
			return e.Value
		}
	}
	if len(u.Emails) > 0 {
		return u.Emails[0].Value
	}
	return ""
}

// Label is the best human name for the user: display name, else given and
// family name, else nickname, else userName.
func (u *User) Label() string {
	switch {
	case u.DisplayName != "":
		return u.DisplayName
	case u.Name.Given != "" || u.Name.Family != "":
		if u.Name.Given == "" {
			return u.Name.Family
		}
		if u.Name.Family == "" {
			return u.Name.Given
		}
		return u.Name.Given + " " + u.Name.Family
	case u.Nickname != "":
		return u.Nickname
	}
	return u.UserName
}

// Clone returns a deep copy of the user, so a caller can change it without
// touching the original.
func (u User) Clone() User {
	c := u
	c.Emails = append([]Email(nil), u.Emails...)
	c.PhoneNumbers = append([]PhoneNumber(nil), u.PhoneNumbers...)
	c.CallerID.Allowed = append([]string(nil), u.CallerID.Allowed...)
	if u.CustomFields != nil {
		c.CustomFields = make(map[string]string, len(u.CustomFields))
		for k, v := range u.CustomFields {
			c.CustomFields[k] = v
		}
	}
	c.Addresses = append([]Address(nil), u.Addresses...)
	c.Photos = append([]Attribute(nil), u.Photos...)
	c.Roles = append([]Attribute(nil), u.Roles...)
	c.Entitlements = append([]Attribute(nil), u.Entitlements...)
	c.Profiles = append([]string(nil), u.Profiles...)
	c.Overrides = u.Overrides.Clone()
	c.Teams = append([]string(nil), u.Teams...)
	c.Queues = append([]QueueMembership(nil), u.Queues...)
	c.IPRestriction.Allowed = append([]string(nil), u.IPRestriction.Allowed...)
	c.Notifications = append([]Notification(nil), u.Notifications...)
	if u.Password.SetAt != nil {
		t := *u.Password.SetAt
		c.Password.SetAt = &t
	}
	c.Routing = cloneRouting(u.Routing)
	if u.Owner.Synced != nil {
		c.Owner.Synced = make(map[string]string, len(u.Owner.Synced))
		for k, v := range u.Owner.Synced {
			c.Owner.Synced[k] = v
		}
	}
	if u.Queue != nil {
		q := *u.Queue
		c.Queue = &q
	}
	return c
}

// GetUser returns a user of the tenant.
func (d *Directory) GetUser(ctx context.Context, tenant, id string) (User, error) {
	return read(d, ctx, func(t *txn) (User, error) { return t.tx.GetUser(t.ctx, tenant, id) })
}

// LookupUser finds a user by userName, email, extension, station number or
// external id (case-insensitively for userName and email).
func (d *Directory) LookupUser(ctx context.Context, tenant string, key UserKey, value string) (User, error) {
	return read(d, ctx, func(t *txn) (User, error) { return t.tx.LookupUser(t.ctx, tenant, key, value) })
}

// ListUsers returns one page of the tenant's users. System users are left
// out unless q.IncludeSystem is set.
func (d *Directory) ListUsers(ctx context.Context, tenant string, q UserQuery) (UserPage, error) {
	if err := ValidateUserFilter(q.Filter); err != nil {
		return UserPage{}, err
	}
	q = clampQuery(q)
	var page UserPage
	err := d.view(ctx, func(t *txn) error {
		if _, err := t.tenant(tenant); err != nil {
			return err
		}
		var err error
		page, err = t.tx.ListUsers(t.ctx, tenant, q)
		return err
	})
	return page, err
}

func clampQuery(q UserQuery) UserQuery {
	if q.Offset < 0 {
		q.Offset = 0
	}
	switch {
	case q.Limit == 0:
		q.Limit = DefaultPageSize
	case q.Limit > MaxPageSize:
		q.Limit = MaxPageSize
	case q.Limit < -1:
		q.Limit = -1
	}
	return q
}

// UserQuery selects, sorts and pages users. The zero value lists the first
// DefaultPageSize people (no system users) in id order.
type UserQuery struct {
	// Filter selects users; nil selects all.
	Filter Filter
	// Search matches users whose names, userName, emails or extension
	// contain the text, case-insensitively (the portals' search bar).
	Search string
	// IncludeSystem includes call queues, auto attendants and conference
	// bridges.
	IncludeSystem bool
	// SortBy orders the result; ties are broken by id so pages are stable.
	SortBy     Attr
	Descending bool
	// Offset skips that many users (0-based).
	Offset int
	// Limit is the page size: 0 means DefaultPageSize, larger than
	// MaxPageSize means MaxPageSize; -1 returns no users, only the total.
	Limit int
}

// UserPage is one page of a user listing.
type UserPage struct {
	Users []User
	// Total is the number of users the query selects, over all pages.
	Total int
}
