package pbxusers

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// SIPDigest is a device's SIP digest credentials for its tenant's realm,
// computed from the device's SIP id, the tenant's SIP domain (which is also
// the realm) and the device's secret. A proxy that stores these never needs
// the secret: it checks a digest response against HA1 (RFC 2617 / RFC 8760),
// the way Kamailio's subscriber table does with calculate_ha1 off.
//
// The Directory recomputes the digest in the same transaction as every
// write that changes one of its inputs: a new device, a rotated secret, a
// changed SIP id, and a change of the tenant's SIP domain (which rewrites
// every device of the tenant). HA1 values are password equivalents for the
// realm: like the secret, they are never written to the change log and
// never logged.
type SIPDigest struct {
	// Realm is the digest realm, the tenant's SIP domain (Tenant.SIPRealm).
	Realm string `json:"realm"`
	// HA1 is hex MD5(sipId ":" realm ":" secret).
	HA1 string `json:"ha1"`
	// HA1B is hex MD5(sipId "@" domain ":" realm ":" secret), for user
	// agents that send user@domain as the digest user name.
	HA1B string `json:"ha1b"`
	// HA1SHA256 is hex SHA-256(sipId ":" realm ":" secret), for
	// algorithm=SHA-256 (RFC 8760).
	HA1SHA256 string `json:"ha1Sha256"`
	// HA1BSHA256 is the SHA-256 variant of HA1B.
	HA1BSHA256 string `json:"ha1bSha256"`
}

// NewSIPDigest computes the digest credentials of user name sipID with the
// secret in domain, which is also the realm.
func NewSIPDigest(sipID, domain, secret string) SIPDigest {
	a1 := sipID + ":" + domain + ":" + secret
	a1b := sipID + "@" + domain + ":" + domain + ":" + secret
	m1, m1b := md5.Sum([]byte(a1)), md5.Sum([]byte(a1b))
	s1, s1b := sha256.Sum256([]byte(a1)), sha256.Sum256([]byte(a1b))
	return SIPDigest{
		Realm:      domain,
		HA1:        hex.EncodeToString(m1[:]),
		HA1B:       hex.EncodeToString(m1b[:]),
		HA1SHA256:  hex.EncodeToString(s1[:]),
		HA1BSHA256: hex.EncodeToString(s1b[:]),
	}
}

// sipDomainPattern is a DNS host name: dot-separated labels of letters,
// digits and hyphens, not starting or ending with a hyphen.
var sipDomainPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$`)

// checkSIPDomain reports a problem with a SIP domain (already lowercased).
func checkSIPDomain(p *Problems, domain string) {
	if domain == "" {
		return
	}
	if len(domain) > 253 || !sipDomainPattern.MatchString(domain) {
		p.Add("sipDomain", "must be a host name such as sip.example.com (letters, digits, hyphens and dots, at most 253 characters)")
	}
}

// SIPRealm returns the tenant's SIP domain, which is also its digest realm:
// SIPDomain, or the tenant id when that is empty.
func (t *Tenant) SIPRealm() string {
	if t.SIPDomain != "" {
		return t.SIPDomain
	}
	return t.ID
}

// setDigest computes dev's digest for realm; a device without a secret
// (never the case for devices the Directory created) gets none.
func setDigest(dev *Device, realm string) {
	if dev.Secret == "" {
		dev.Digest = nil
		return
	}
	dg := NewSIPDigest(dev.SIPID, realm, dev.Secret)
	dev.Digest = &dg
}

// checkSIPDomainUnique refuses a SIP domain another tenant already answers
// to (its SIPDomain, or its id when it has none): the PBX feed finds the
// tenant by domain.
func (t *txn) checkSIPDomainUnique(tn Tenant) error {
	all, err := t.tx.ListTenants(t.ctx)
	if err != nil {
		return err
	}
	realm := tn.SIPRealm()
	for _, o := range all {
		if o.ID != tn.ID && o.SIPRealm() == realm {
			return &ConflictError{Kind: "tenant", Field: "sipDomain", Value: realm, ExistingID: o.ID}
		}
	}
	return nil
}

// redigestDevices recomputes the digest of every device of the tenant for
// its new realm, in the transaction.
func (t *txn) redigestDevices(tn Tenant) error {
	devs, err := t.tx.ListDevices(t.ctx, tn.ID, "")
	if err != nil {
		return err
	}
	for _, old := range devs {
		dev := old
		if _, err := t.saveDeviceIn(tn, old, dev); err != nil {
			return fmt.Errorf("device %s: %w", old.SIPID, err)
		}
	}
	return nil
}

// SIPCredentials is what a SIP proxy needs to authenticate one device: the
// digest for the realm and who the device belongs to.
type SIPCredentials struct {
	// TenantID is the tenant the domain belongs to.
	TenantID string `json:"tenantId"`
	// Domain is the tenant's SIP domain (also the realm).
	Domain string `json:"domain"`
	// SIPUser is the device's SIP id, the digest user name.
	SIPUser string `json:"sipUser"`
	// DeviceID is the device's id.
	DeviceID string `json:"deviceId"`
	// UserID is the user the device is assigned to; empty for an unassigned
	// (hot-desk) device.
	UserID string `json:"userId,omitempty"`
	// Extension is the user's extension, if any.
	Extension string `json:"extension,omitempty"`
	// Active is true: credentials of inactive users' devices are not
	// returned at all (ErrNotFound). It is part of the answer so a proxy
	// that caches answers can say why it refuses.
	Active bool `json:"active"`
	// Digest holds the HA1 values.
	Digest SIPDigest `json:"digest"`
}

// LookupSIPCredentials finds the device with SIP id sipUser in the tenant
// whose SIP domain is domain (case-insensitive; a tenant without a SIP
// domain answers to its id). It returns ErrNotFound for an unknown domain or
// device, for a device without credentials, and for a device whose user is
// not active: a deactivated user's devices stop authenticating as soon as
// the deactivation is committed. The device and user are read from the
// store on every call; only the domain → tenant and SIP id → device id
// mappings are kept in memory (see sipIndex), and are re-read at most every
// cacheTTL when a lookup misses.
func (d *Directory) LookupSIPCredentials(ctx context.Context, domain, sipUser string) (SIPCredentials, error) {
	domain = strings.ToLower(strings.TrimSpace(domain))
	if domain == "" || sipUser == "" || !sipIDPattern.MatchString(sipUser) {
		return SIPCredentials{}, notFound("SIP user", sipUser+"@"+domain)
	}
	var out SIPCredentials
	err := d.view(ctx, func(t *txn) error {
		tn, err := t.sipTenant(domain)
		if err != nil {
			return err
		}
		dev, err := t.deviceBySIPID(tn.ID, sipUser)
		if err != nil {
			return err
		}
		if dev.Digest == nil || dev.Digest.Realm != tn.SIPRealm() {
			return notFound("SIP user", sipUser+"@"+domain)
		}
		out = SIPCredentials{TenantID: tn.ID, Domain: tn.SIPRealm(), SIPUser: dev.SIPID, DeviceID: dev.ID,
			UserID: dev.UserID, Active: true, Digest: *dev.Digest}
		if dev.UserID == "" {
			return nil
		}
		u, err := t.tx.GetUser(t.ctx, tn.ID, dev.UserID)
		if err != nil {
			return err
		}
		if !u.Active() {
			return notFound("SIP user", sipUser+"@"+domain)
		}
		out.Extension = u.Extension
		return nil
	})
	return out, err
}

// LookupSIPDomain returns the tenant whose SIP domain is domain
// (case-insensitive; a tenant without a SIP domain answers to its id), or
// ErrNotFound.
func (d *Directory) LookupSIPDomain(ctx context.Context, domain string) (Tenant, error) {
	domain = strings.ToLower(strings.TrimSpace(domain))
	return read(d, ctx, func(t *txn) (Tenant, error) { return t.sipTenant(domain) })
}

// sipTenant finds the tenant by SIP domain through the index.
func (t *txn) sipTenant(domain string) (Tenant, error) {
	idx := &t.d.sip
	if id, ok := idx.tenantOf(domain); ok {
		if tn, err := t.tenant(id); err == nil && tn.SIPRealm() == domain {
			return tn, nil
		} else if err != nil && !isNotFound(err) {
			return Tenant{}, err
		}
	}
	if !idx.mayReload("", t.now) {
		return Tenant{}, notFound("SIP domain", domain)
	}
	all, err := t.tx.ListTenants(t.ctx)
	if err != nil {
		return Tenant{}, err
	}
	idx.setDomains(all)
	for _, tn := range all {
		if tn.SIPRealm() == domain {
			return tn, nil
		}
	}
	return Tenant{}, notFound("SIP domain", domain)
}

// deviceBySIPID finds a device of the tenant by SIP id through the index,
// checking what the index says against the store.
func (t *txn) deviceBySIPID(tenant, sipID string) (Device, error) {
	idx := &t.d.sip
	if id, ok := idx.deviceOf(tenant, sipID); ok {
		dev, err := t.tx.GetDevice(t.ctx, tenant, id)
		if err == nil && dev.SIPID == sipID {
			return dev, nil
		}
		if err != nil && !isNotFound(err) {
			return Device{}, err
		}
	}
	if !idx.mayReload(tenant, t.now) {
		return Device{}, notFound("SIP user", sipID)
	}
	devs, err := t.tx.ListDevices(t.ctx, tenant, "")
	if err != nil {
		return Device{}, err
	}
	idx.setDevices(tenant, devs)
	for _, dev := range devs {
		if dev.SIPID == sipID {
			return dev, nil
		}
	}
	return Device{}, notFound("SIP user", sipID)
}

// sipIndex maps SIP domains to tenant ids and (tenant, SIP id) to device
// ids, because the Store has no lookup by either. Entries are hints: every
// hit is checked against the store, so a stale entry costs one extra read,
// never a wrong answer. Writes through this Directory update it at once
// (observe); writes by another process (the CLI) are found by a reload,
// which a miss triggers at most once per cacheTTL per tenant, so a flood of
// lookups for unknown users cannot turn into a flood of full listings.
type sipIndex struct {
	mu      sync.Mutex
	domains map[string]string            // domain → tenant id
	devices map[string]map[string]string // tenant → SIP id → device id
	loaded  map[string]time.Time         // tenant ("" for domains) → last reload
}

func (x *sipIndex) tenantOf(domain string) (string, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	id, ok := x.domains[domain]
	return id, ok
}

func (x *sipIndex) deviceOf(tenant, sipID string) (string, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	id, ok := x.devices[tenant][sipID]
	return id, ok
}

// mayReload reports whether the key may be reloaded now, and if so notes
// the reload.
func (x *sipIndex) mayReload(key string, now time.Time) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.loaded == nil {
		x.loaded = map[string]time.Time{}
	}
	if at, ok := x.loaded[key]; ok && now.Sub(at) < cacheTTL && !now.Before(at) {
		return false
	}
	x.loaded[key] = now
	return true
}

func (x *sipIndex) setDomains(all []Tenant) {
	m := make(map[string]string, len(all))
	for i := range all {
		m[all[i].SIPRealm()] = all[i].ID
	}
	x.mu.Lock()
	x.domains = m
	x.mu.Unlock()
}

func (x *sipIndex) setDevices(tenant string, devs []Device) {
	m := make(map[string]string, len(devs))
	for _, d := range devs {
		m[d.SIPID] = d.ID
	}
	x.mu.Lock()
	if x.devices == nil {
		x.devices = map[string]map[string]string{}
	}
	x.devices[tenant] = m
	x.mu.Unlock()
}

// observe applies committed changes of this Directory to the index: device
// changes carry the SIP id in Summary; a tenant change may move its domain,
// so the domain map is reloaded on the next miss.
func (x *sipIndex) observe(changes []Change) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, c := range changes {
		switch c.Entity {
		case EntityTenant:
			x.domains = nil
			delete(x.loaded, "")
		case EntityDevice:
			m := x.devices[c.TenantID]
			if m == nil {
				continue // not loaded yet: the first lookup loads it
			}
			if c.Action == ActionDelete {
				for sip, id := range m {
					if id == c.EntityID {
						delete(m, sip)
					}
				}
				continue
			}
			m[c.Summary] = c.EntityID
		}
	}
}

// AddDevice creates a device in the batch, like Directory.AddDevice: the
// returned device carries its secret (shown once) and its digest.
func (b *Batch) AddDevice(dev Device) (Device, error) {
	if err := dev.normalize(); err != nil {
		return Device{}, err
	}
	return b.t.createDevice(b.tenant, dev)
}

// ListSIPCredentials returns one page of the tenant's devices as
// credentials, ordered by SIP id, starting after the SIP id after ("" for
// the first page), at most limit (0 for DefaultPageSize, capped at
// MaxPageSize). Devices of inactive users are listed with Active false and
// no digest, so a PBX that caches the whole directory drops them. next is
// the after of the following page, "" after the last one.
//
// The Store has no paged device listing, so each page reads the tenant's
// device list; fine for thousands of devices, linear per page beyond.
func (d *Directory) ListSIPCredentials(ctx context.Context, tenant, after string, limit int) (page []SIPCredentials, next string, err error) {
	if limit <= 0 {
		limit = DefaultPageSize
	}
	limit = min(limit, MaxPageSize)
	err = d.view(ctx, func(t *txn) error {
		tn, err := t.tenant(tenant)
		if err != nil {
			return err
		}
		devs, err := t.tx.ListDevices(t.ctx, tenant, "")
		if err != nil {
			return err
		}
		slices.SortFunc(devs, func(a, b Device) int { return strings.Compare(a.SIPID, b.SIPID) })
		start, _ := slices.BinarySearchFunc(devs, after, func(dv Device, s string) int { return strings.Compare(dv.SIPID, s) })
		for start < len(devs) && after != "" && devs[start].SIPID == after {
			start++
		}
		users := map[string]User{}
		for i := start; i < len(devs) && len(page) < limit; i++ {
			dev := devs[i]
			c := SIPCredentials{TenantID: tn.ID, Domain: tn.SIPRealm(), SIPUser: dev.SIPID, DeviceID: dev.ID, UserID: dev.UserID, Active: true}
			if dev.UserID != "" {
				u, ok := users[dev.UserID]
				if !ok {
					if u, err = t.tx.GetUser(t.ctx, tenant, dev.UserID); err != nil {
						return err
					}
					users[dev.UserID] = u
				}
				c.Extension, c.Active = u.Extension, u.Active()
			}
			if c.Active && dev.Digest != nil && dev.Digest.Realm == tn.SIPRealm() {
				c.Digest = *dev.Digest
			} else {
				c.Active = false
			}
			page = append(page, c)
			if len(page) == limit && i+1 < len(devs) {
				next = dev.SIPID
			}
		}
		return nil
	})
	return page, next, err
}
