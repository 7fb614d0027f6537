package pbxfeed

import (
	"net/http"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// Credentials is the answer of GET /pbx/v1/credentials/{domain}/{sipUser}:
// what a SIP proxy needs to check a digest response of the device without
// its password.
type Credentials struct {
	// Domain is the tenant's SIP domain, which is also the realm.
	Domain string `json:"domain"`
	// Realm is the digest realm the HA1 values are for.
	Realm string `json:"realm,omitempty"`
	// SIPUser is the digest user name.
	SIPUser string `json:"sipUser"`
	// HA1 is hex MD5(sipUser:realm:secret). The HA1 fields are empty for
	// inactive accounts in a directory listing.
	HA1 string `json:"ha1,omitempty"`
	// HA1B is hex MD5(sipUser@domain:realm:secret).
	HA1B string `json:"ha1b,omitempty"`
	// HA1SHA256 and HA1BSHA256 are the SHA-256 variants (RFC 8760).
	HA1SHA256  string `json:"ha1Sha256,omitempty"`
	HA1BSHA256 string `json:"ha1bSha256,omitempty"`
	// UserID is the user the device belongs to; empty for a hot-desk
	// device.
	UserID string `json:"userId,omitempty"`
	// Extension is the user's extension.
	Extension string `json:"extension,omitempty"`
	// DeviceID is the device's id.
	DeviceID string `json:"deviceId"`
	// Active is always true in a 200 answer: inactive users' devices are
	// 404.
	Active bool `json:"active"`
}

func (h *Handler) serveCredentials(w http.ResponseWriter, r *http.Request) {
	domain, user := r.PathValue("domain"), r.PathValue("sipUser")
	c, err := h.dir.LookupSIPCredentials(r.Context(), domain, user)
	if err == nil && !allows(r.Context(), c.TenantID) {
		err = pbxusers.ErrNotFound
	}
	if err != nil {
		h.writeDirError(w, r, "SIP user", err)
		return
	}
	writeJSON(w, credentials(c))
}

// credentials is the JSON form of c.
func credentials(c pbxusers.SIPCredentials) Credentials {
	return Credentials{
		Domain: c.Domain, Realm: c.Digest.Realm, SIPUser: c.SIPUser,
		HA1: c.Digest.HA1, HA1B: c.Digest.HA1B, HA1SHA256: c.Digest.HA1SHA256, HA1BSHA256: c.Digest.HA1BSHA256,
		UserID: c.UserID, Extension: c.Extension, DeviceID: c.DeviceID, Active: c.Active,
	}
}
