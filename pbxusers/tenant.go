package pbxusers

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strings"
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
	// SIPDomain is the tenant's SIP domain, a host name such as
	// "acme.sip.example.com" (stored lowercase). It is also the digest realm
	// of every device's credentials, and the domain the PBX feed finds the
	// tenant by, so no two tenants may answer to the same one. Empty means
	// the tenant id (see SIPRealm). Changing it recomputes every device's
	// digest in the same transaction: phones must then register to the new
	// domain.
	SIPDomain string `json:"sipDomain,omitempty"`
	// SignInURL is where the tenant's users sign in to the phone system
	// (its app or web portal), an absolute http(s) URL. The welcome mail
	// and the set-password page link to it; empty links nowhere.
	SignInURL string `json:"signInUrl,omitempty"`
	// Extensions configures the tenant's internal number plan.
	Extensions ExtensionPlan `json:"extensions"`
	// UniqueEmails refuses a user whose email address another user of the
	// tenant has (409 on SCIM). Off by default: RFC 7643 gives
	// emails.value the uniqueness "none", and Entra and Active Directory
	// share an address between shared mailboxes and service accounts.
	// Checked by the library in the write's transaction; on PostgreSQL with
	// several gateways writing at once, two concurrent writes can still
	// both take one address.
	UniqueEmails bool `json:"uniqueEmails,omitempty"`
	// DisableWelcomeMail turns welcome mail off for users created in the
	// tenant, e.g. where users sign in with SSO.
	DisableWelcomeMail bool `json:"disableWelcomeMail,omitempty"`
	// DisableWelcomeOnActivation keeps a user who never got a welcome mail
	// (created inactive, or without an address) from getting one when they
	// are activated or given an address. Off by default: they get one.
	DisableWelcomeOnActivation bool `json:"disableWelcomeOnActivation,omitempty"`
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
	checkSIPDomain(&p, t.SIPDomain)
	if t.SignInURL != "" {
		if u, err := url.Parse(t.SignInURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			p.Add("signInUrl", "%q is not an absolute http(s) URL", t.SignInURL)
		}
	}
	p.Merge("extensions", t.Extensions.Validate())
	return p.Err()
}

// CreateTenant creates a tenant. Its ID is the caller's choice.
func (d *Directory) CreateTenant(ctx context.Context, tn Tenant) (Tenant, error) {
	tn.TimeZone = CanonicalTimeZone(tn.TimeZone)
	tn.Region = strings.ToUpper(tn.Region)
	tn.SIPDomain = strings.ToLower(strings.TrimSpace(tn.SIPDomain))
	if tn.Name == "" {
		tn.Name = tn.ID
	}
	if err := tn.Validate(); err != nil {
		return Tenant{}, err
	}
	defer d.cache.drop("tenant:" + tn.ID)
	err := d.update(ctx, func(t *txn) error {
		if _, err := t.tx.GetTenant(t.ctx, tn.ID); err == nil {
			return &ConflictError{Kind: "tenant", Field: "id", Value: tn.ID, ExistingID: tn.ID}
		} else if !isNotFound(err) {
			return err
		}
		if err := t.checkSIPDomainUnique(tn); err != nil {
			return err
		}
		tn.Version, tn.Created, tn.Updated = 1, t.now, t.now
		if err := t.tx.CreateTenant(t.ctx, &tn); err != nil {
			return err
		}
		return t.record(Change{TenantID: tn.ID, Entity: EntityTenant, EntityID: tn.ID, Action: ActionCreate,
			Summary: tn.Name, Fields: Diff(nil, tn), Version: tn.Version})
	})
	return tn, err
}

// GetTenant returns a tenant.
func (d *Directory) GetTenant(ctx context.Context, id string) (Tenant, error) {
	return read(d, ctx, func(t *txn) (Tenant, error) { return t.tenant(id) })
}

// ListTenants returns every tenant, ordered by id.
func (d *Directory) ListTenants(ctx context.Context) ([]Tenant, error) {
	return read(d, ctx, func(t *txn) ([]Tenant, error) { return t.tx.ListTenants(t.ctx) })
}

// UpdateTenant replaces a tenant's settings. When tn.Version is not zero it
// must be the current version.
func (d *Directory) UpdateTenant(ctx context.Context, tn Tenant) (Tenant, error) {
	tn.TimeZone = CanonicalTimeZone(tn.TimeZone)
	tn.Region = strings.ToUpper(tn.Region)
	tn.SIPDomain = strings.ToLower(strings.TrimSpace(tn.SIPDomain))
	if err := tn.Validate(); err != nil {
		return Tenant{}, err
	}
	defer d.cache.drop("tenant:" + tn.ID)
	err := d.update(ctx, func(t *txn) error {
		old, err := t.tx.GetTenant(t.ctx, tn.ID) // not the cache: the version must be current
		if err != nil {
			return fmt.Errorf("tenant %q: %w", tn.ID, err)
		}
		t.tenants = map[string]Tenant{}
		if tn.Version != 0 && tn.Version != old.Version {
			return versionConflict("tenant", tn.ID)
		}
		tn.Version, tn.Created, tn.Updated = old.Version+1, old.Created, t.now
		fields := Diff(old, tn)
		if len(fields) == 0 {
			tn = old
			return nil
		}
		if err := t.tx.UpdateTenant(t.ctx, &tn, old.Version); err != nil {
			return err
		}
		t.tenants[tn.ID] = tn
		if err := t.record(Change{TenantID: tn.ID, Entity: EntityTenant, EntityID: tn.ID, Action: ActionUpdate,
			Summary: tn.Name, Fields: fields, Version: tn.Version}); err != nil {
			return err
		}
		if tn.SIPRealm() == old.SIPRealm() {
			return nil
		}
		if err := t.checkSIPDomainUnique(tn); err != nil {
			return err
		}
		return t.redigestDevices(tn)
	})
	return tn, err
}
