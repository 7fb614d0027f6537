package pbxusers

import (
	"regexp"
	"time"
)

// Tenant is one customer organisation of the phone system. Every other
// object belongs to exactly one tenant.
type Tenant struct {
	// ID is chosen by the caller: lowercase letters, digits and hyphens,
	// 1–63 characters, e.g. "default" or "acme-gmbh". It cannot change.
	ID string `json:"id"`
	// Name is the organisation's display name.
	Name string `json:"name"`
	// TimeZone is the IANA zone users inherit when they have none.
	// Empty means UTC.
	TimeZone string `json:"timeZone,omitempty"`
	// Region is the ISO 3166-1 alpha-2 country used to read national phone
	// numbers (e.g. "DE" reads "030 123456" as +4930123456). Empty accepts
	// only international (E.164) input.
	Region string `json:"region,omitempty"`
	// Extensions configures the tenant's internal number plan.
	Extensions ExtensionPlan `json:"extensions"`
	// DisableWelcomeMail turns welcome mail off for users created in the
	// tenant, e.g. where users sign in with SSO.
	DisableWelcomeMail bool `json:"disableWelcomeMail,omitempty"`
	// Version increases on every change. Read-only.
	Version int64     `json:"version"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

var tenantIDPattern = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$`)

// Validate reports every problem with the tenant.
func (t *Tenant) Validate() error {
	var p Problems
	if !tenantIDPattern.MatchString(t.ID) {
		p.Add("id", "must be 1–63 lowercase letters, digits or hyphens, not starting or ending with a hyphen")
	}
	if len(t.Name) > 200 {
		p.Add("name", "must be at most 200 characters")
	}
	if t.TimeZone != "" {
		if _, err := loadLocation(t.TimeZone); err != nil {
			p.Add("timeZone", "unknown IANA time zone %q", t.TimeZone)
		}
	}
	if t.Region != "" && !validRegion(t.Region) {
		p.Add("region", "unknown ISO 3166 country code %q", t.Region)
	}
	p.Merge("extensions", t.Extensions.Validate())
	return p.Err()
}
