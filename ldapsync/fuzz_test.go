package ldapsync

import (
	"testing"

	"github.com/go-ldap/ldap/v3"
)

// FuzzMapEntry maps arbitrary attribute values with both presets: the
// mapping either returns an entry (whose hash is stable) or an error, never
// panics; GUIDs that format also parse back to the same bytes. Fuzz with
//
//	go test ./ldapsync -run '^$' -fuzz FuzzMapEntry -fuzztime 60s
func FuzzMapEntry(f *testing.F) {
	f.Add("CN=Ada,OU=Staff,DC=corp,DC=example", []byte{0x67, 0x45, 0x23, 0x01, 0xab, 0x89, 0xef, 0xcd, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef}, "ada", "Ada", "ada@corp.example", "201", "+49 30 123456", "512", "20260101000000Z")
	f.Add("uid=jürgen,ou=people,dc=example,dc=org", []byte("not a guid"), "jürgen", "Jürgen Łącki", "j@x", "", "", "514", "")
	f.Add("", []byte{}, "", "", "", "", "", "x", "")
	f.Add("cn=a\\,b+uid=c,dc=x", make([]byte, 16), "\x00", "\xff\xfe", "@", "2a", "tel:+1;ext=1", "-1", "99999999999999999999")
	f.Fuzz(func(t *testing.T, dn string, guid []byte, user, display, mail, ext, phone, uac, changed string) {
		for _, cfg := range []Config{PresetActiveDirectory(), PresetOpenLDAP()} {
			a := cfg.Attributes
			e := &ldap.Entry{DN: dn}
			add := func(name string, vals ...string) {
				if name == "" {
					return
				}
				raw := make([][]byte, len(vals))
				for i, v := range vals {
					raw[i] = []byte(v)
				}
				e.Attributes = append(e.Attributes, &ldap.EntryAttribute{Name: name, Values: vals, ByteValues: raw})
			}
			e.Attributes = append(e.Attributes, &ldap.EntryAttribute{Name: a.ExternalID, Values: []string{string(guid)}, ByteValues: [][]byte{guid}})
			add(a.UserName, user)
			add(a.DisplayName, display)
			add(a.Email, mail, mail)
			add(a.Extension, ext)
			add(a.TelephoneNumber, phone)
			add(a.UserAccountControl, uac)
			add(a.Changed, changed)
			m := mapper{attrs: a}
			got, err := m.mapEntry(e)
			if err != nil {
				continue
			}
			if got.ExternalID == "" {
				t.Fatalf("%s: mapped an entry without an external id", cfg.Preset)
			}
			again, err := m.mapEntry(e)
			if err != nil || again.Hash() != got.Hash() {
				t.Fatalf("mapping the same entry twice gives different hashes (%v)", err)
			}
			if a.ExternalIDFormat == IDFormatGUID {
				back, err := ParseGUID(got.ExternalID)
				if err != nil || string(back) != string(guid) {
					t.Fatalf("GUID %x formats as %q but parses back as %x (%v)", guid, got.ExternalID, back, err)
				}
			}
		}
		_ = normDN(dn)
	})
}
