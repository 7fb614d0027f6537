package ldapsync

import (
	"errors"
	"reflect"
	"testing"

	"github.com/go-ldap/ldap/v3"
)

// adEntry builds an entry as Active Directory returns it for the AD preset.
func adEntry(uac string) *ldap.Entry {
	guid := []byte{0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f}
	e := ldap.NewEntry("CN=Jürgen Müller,OU=Sales,DC=corp,DC=example", map[string][]string{
		"sAMAccountName":             {"jmueller"},
		"givenName":                  {"Jürgen"},
		"sn":                         {"Müller"},
		"displayName":                {"Jürgen Müller"},
		"mail":                       {"j.mueller@corp.example", "J.Mueller@corp.example", "jm@corp.example"},
		"ipPhone":                    {" 4711 "},
		"telephoneNumber":            {"+41 44 555 47 11"},
		"mobile":                     {"+41 79 555 47 11"},
		"title":                      {"Sales Lead"},
		"department":                 {"Sales"},
		"physicalDeliveryOfficeName": {"Zürich"},
		"preferredLanguage":          {"de-CH"},
		"manager":                    {"CN=Boss,OU=Sales,DC=corp,DC=example"},
		"memberOf":                   {"CN=Sales,OU=Groups,DC=corp,DC=example"},
		"userAccountControl":         {uac},
		"uSNChanged":                 {"123456"},
	})
	e.Attributes = append(e.Attributes, &ldap.EntryAttribute{Name: "objectGUID", ByteValues: [][]byte{guid}, Values: []string{string(guid)}})
	return e
}

func TestMapEntryActiveDirectory(t *testing.T) {
	m := mapper{attrs: PresetActiveDirectory().Attributes}
	got, err := m.mapEntry(adEntry("512"))
	if err != nil {
		t.Fatal(err)
	}
	want := Entry{
		ExternalID:  "03020100-0504-0706-0809-0a0b0c0d0e0f",
		DN:          "CN=Jürgen Müller,OU=Sales,DC=corp,DC=example",
		UserName:    "jmueller",
		GivenName:   "Jürgen",
		FamilyName:  "Müller",
		DisplayName: "Jürgen Müller",
		Emails:      []string{"j.mueller@corp.example", "jm@corp.example"},
		Extension:   "4711",
		Phones:      Phones{Work: []string{"+41 44 555 47 11"}, Mobile: []string{"+41 79 555 47 11"}},
		Title:       "Sales Lead",
		Department:  "Sales",
		Location:    "Zürich",
		Language:    "de-CH",
		ManagerDN:   "CN=Boss,OU=Sales,DC=corp,DC=example",
		Changed:     "123456",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("mapEntry =\n%+v\nwant\n%+v", got, want)
	}
	for uac, disabled := range map[string]bool{"512": false, "514": true, "66050": true, "66048": false, "16": false} {
		e, err := m.mapEntry(adEntry(uac))
		if err != nil || e.Disabled != disabled {
			t.Errorf("userAccountControl %s: Disabled = %v, %v; want %v", uac, e.Disabled, err, disabled)
		}
	}
	if _, err := m.mapEntry(adEntry("x")); err == nil {
		t.Error("bad userAccountControl accepted")
	}
}

func TestMapEntryWithoutExternalID(t *testing.T) {
	m := mapper{attrs: PresetActiveDirectory().Attributes}
	e := ldap.NewEntry("CN=x,DC=corp", map[string][]string{"sAMAccountName": {"x"}})
	if _, err := m.mapEntry(e); !errors.Is(err, errNoExternalID) {
		t.Errorf("error = %v, want errNoExternalID", err)
	}
	e.Attributes = append(e.Attributes, &ldap.EntryAttribute{Name: "objectGUID", ByteValues: [][]byte{{1, 2, 3}}})
	if _, err := m.mapEntry(e); !errors.Is(err, errNoExternalID) || err.Error() != "no external ID: objectGUID: format GUID: want 16 bytes, got 3" {
		t.Errorf("error = %v", err)
	}
}

func TestSearchAttributes(t *testing.T) {
	m := mapper{attrs: PresetOpenLDAP().Attributes}
	m.attrs.Extra = []string{"employeeNumber", "UID"} // UID duplicates uid
	want := []string{"entryUUID", "uid", "givenName", "sn", "displayName", "mail", "AstExtension", "telephoneNumber",
		"mobile", "title", "departmentNumber", "l", "preferredLanguage", "manager", "modifyTimestamp", "employeeNumber"}
	if got := m.searchAttributes(); !reflect.DeepEqual(got, want) {
		t.Errorf("searchAttributes = %q\nwant %q", got, want)
	}
}

func TestHash(t *testing.T) {
	m := mapper{attrs: PresetActiveDirectory().Attributes}
	base, _ := m.mapEntry(adEntry("512"))
	base.Groups = []string{"CN=Sales,OU=Groups,DC=corp,DC=example"}
	h := base.Hash()
	if len(h) != 64 {
		t.Fatalf("Hash = %q", h)
	}
	again, _ := m.mapEntry(adEntry("512"))
	again.Groups = []string{"CN=Sales,OU=Groups,DC=corp,DC=example"}
	again.Changed = "999999" // not a mapped field
	if again.Hash() != h {
		t.Error("Hash differs for the same mapped data")
	}
	changes := map[string]func(e *Entry){
		"title":         func(e *Entry) { e.Title = "CEO" },
		"disabled":      func(e *Entry) { e.Disabled = true },
		"dn":            func(e *Entry) { e.DN = "CN=x" },
		"email order":   func(e *Entry) { e.Emails[0], e.Emails[1] = e.Emails[1], e.Emails[0] },
		"group":         func(e *Entry) { e.Groups = append(e.Groups, "CN=All") },
		"field shift":   func(e *Entry) { e.GivenName, e.FamilyName = e.GivenName+e.FamilyName, "" },
		"phone kind":    func(e *Entry) { e.Phones.Work, e.Phones.Mobile = e.Phones.Mobile, e.Phones.Work },
		"extra":         func(e *Entry) { e.Extra = map[string][]string{"employeeNumber": {"7"}} },
		"extra key":     func(e *Entry) { e.Extra = map[string][]string{"": {}} },
		"list boundary": func(e *Entry) { e.Phones.Work = append(e.Phones.Work, "") },
	}
	for name, change := range changes {
		e, _ := m.mapEntry(adEntry("512"))
		e.Groups = []string{"CN=Sales,OU=Groups,DC=corp,DC=example"}
		change(&e)
		if e.Hash() == h {
			t.Errorf("%s: Hash unchanged", name)
		}
	}
}
