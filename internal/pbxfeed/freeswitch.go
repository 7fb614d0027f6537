package pbxfeed

import (
	"encoding/xml"
	"errors"
	"net/http"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// FreeSWITCH's mod_xml_curl asks for the user directory with a form POST
// (section=directory, user=, domain=, action=sip_auth, ...) and expects a
// "freeswitch/xml" document with the domain, one user and its params; for
// anything it does not have, pbxgate answers FreeSWITCH's documented
// "not found" result, so FreeSWITCH falls back to its own files. The user's
// a1-hash is the HA1 for realm = domain, which is what FreeSWITCH computes
// when the realm is the domain.
//
// mod_xml_curl cannot send a bearer token: configure it with
// gateway-credentials "pbx:TOKEN" and auth-scheme basic, and give the
// feed an Authorize hook that accepts the token as the Basic password.

// fsDocument is the root of a mod_xml_curl answer.
type fsDocument struct {
	XMLName xml.Name  `xml:"document"`
	Type    string    `xml:"type,attr"`
	Section fsSection `xml:"section"`
}

type fsSection struct {
	Name   string    `xml:"name,attr"`
	Result *fsResult `xml:"result,omitempty"`
	Domain *fsDomain `xml:"domain,omitempty"`
}

type fsResult struct {
	Status string `xml:"status,attr"`
}

type fsDomain struct {
	Name   string    `xml:"name,attr"`
	Params []fsParam `xml:"params>param"`
	Groups []fsGroup `xml:"groups>group"`
}

type fsGroup struct {
	Name  string   `xml:"name,attr"`
	Users []fsUser `xml:"users>user"`
}

type fsUser struct {
	ID        string    `xml:"id,attr"`
	Params    []fsParam `xml:"params>param"`
	Variables []fsParam `xml:"variables>variable"`
}

type fsParam struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

// fsDialString is FreeSWITCH's default domain dial-string: ring every
// registered contact of the user.
const fsDialString = "{^^:sip_invite_domain=${dialed_domain}:presence_id=${dialed_user}@${dialed_domain}}${sofia_contact(*/${dialed_user}@${dialed_domain})}"

func (h *Handler) serveFreeSWITCH(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, "the body must be a form (application/x-www-form-urlencoded)")
		return
	}
	section, user, domain := r.PostForm.Get("section"), r.PostForm.Get("user"), r.PostForm.Get("domain")
	if section != "directory" || user == "" || domain == "" {
		writeXML(w, fsNotFound())
		return
	}
	ctx := r.Context()
	c, err := h.dir.LookupSIPCredentials(ctx, domain, user)
	if err == nil && !allows(ctx, c.TenantID) {
		err = pbxusers.ErrNotFound
	}
	if errors.Is(err, pbxusers.ErrNotFound) {
		writeXML(w, fsNotFound())
		return
	}
	if err != nil {
		h.writeDirError(w, r, "SIP user", err)
		return
	}
	vars := []fsParam{{Name: "user_context", Value: "default"}, {Name: "pbxgate_device_id", Value: c.DeviceID}}
	if c.UserID != "" {
		vars = append(vars, fsParam{Name: "pbxgate_user_id", Value: c.UserID})
	}
	if c.Extension != "" {
		vars = append(vars, fsParam{Name: "effective_caller_id_number", Value: c.Extension})
	}
	writeXML(w, fsDocument{Type: "freeswitch/xml", Section: fsSection{Name: "directory", Domain: &fsDomain{
		Name:   c.Domain,
		Params: []fsParam{{Name: "dial-string", Value: fsDialString}},
		Groups: []fsGroup{{Name: "default", Users: []fsUser{{
			ID:        c.SIPUser,
			Params:    []fsParam{{Name: "a1-hash", Value: c.Digest.HA1}},
			Variables: vars,
		}}}},
	}}})
}

func fsNotFound() fsDocument {
	return fsDocument{Type: "freeswitch/xml", Section: fsSection{Name: "result", Result: &fsResult{Status: "not found"}}}
}

func writeXML(w http.ResponseWriter, doc fsDocument) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(xml.Header))
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	_ = enc.Encode(doc)
}
