package pbxusers

import "time"

// Team is a group of users (a SCIM group, an Alotech team, an LDAP group
// mapped to a team). Team members can see each other's status; a team can be
// bound to profiles so that every member gets their permissions.
type Team struct {
	// ID is assigned by the library.
	ID       string `json:"id"`
	TenantID string `json:"tenantId"`
	// Name is unique per tenant, case-insensitive.
	Name string `json:"name"`
	// Owner is the source that manages the team and its external id.
	Owner Owner `json:"owner"`
	// Profiles are profile ids granted to every member.
	Profiles []string `json:"profiles,omitempty"`
	// Members is the number of members. Read-only; list them with
	// Directory.ListTeamMembers.
	Members int       `json:"members"`
	Version int64     `json:"version"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

// Number is a phone number (DID) of the tenant's inventory, routed to one
// user or unassigned. Deleting a user unassigns its numbers in the same
// transaction.
type Number struct {
	TenantID string `json:"tenantId"`
	// E164 is the number, e.g. "+4930123456"; unique per tenant.
	E164 string `json:"e164"`
	// UserID is the user calls to the number reach; empty is unassigned.
	UserID string `json:"userId,omitempty"`
	// Label is a free description ("Sales hotline").
	Label   string    `json:"label,omitempty"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}
