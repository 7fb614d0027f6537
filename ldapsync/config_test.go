package ldapsync

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// validOpenLDAP returns a Config that passes Validate.
func validOpenLDAP() Config {
	c := PresetOpenLDAP()
	c.Name = "corp"
	c.Tenant = "acme"
	c.URL = "ldaps://ldap.corp.example"
	c.BindDN = "cn=pbx-sync,dc=corp,dc=example"
	c.BindPassword = "s3cret-pw"
	c.BaseDN = "dc=corp,dc=example"
	return c
}

func TestPresetsValidate(t *testing.T) {
	for _, c := range []Config{validOpenLDAP(), func() Config {
		c := validOpenLDAP()
		ad := PresetActiveDirectory()
		ad.Name, ad.Tenant, ad.URL, ad.BindDN, ad.BindPassword, ad.BaseDN = c.Name, c.Tenant, c.URL, c.BindDN, c.BindPassword, c.BaseDN
		return ad
	}()} {
		if err := c.Validate(); err != nil {
			t.Errorf("preset %q: %v", c.Preset, err)
		}
	}
}

func TestValidateReportsEveryProblemWithItsPath(t *testing.T) {
	bad := Config{ // no preset, nothing set: everything required is missing
		PageSize:           0,
		MaxDeactivateShare: 1.5,
		Schedule:           "0 25 * * *",
		FullEvery:          time.Hour,
		GroupMappings:      []GroupMapping{{Group: "cn=sales,,dc=x"}, {Profiles: []string{"agent"}}},
	}
	wrong := validOpenLDAP()
	wrong.Name = "Corp One"
	wrong.Preset = "freeipa"
	wrong.URL = "http://ldap.corp.example/dc=corp"
	wrong.StartTLS = true
	wrong.BindPasswordFile = "/run/secrets/pw"
	wrong.UserFilter = "objectClass=person"
	wrong.GroupFilter = "(cn=x"
	wrong.Attributes.ExternalIDFormat = "base64"
	wrong.Attributes.Extension = "ast extension"
	wrong.DialTimeout = -time.Second
	dup := validOpenLDAP()
	dup.URL = "ldaps://ldap.corp.example"
	dup.StartTLS = true
	s := Section{Directories: []Config{bad, wrong, validOpenLDAP(), dup}}

	err := s.Validate()
	const want = `ldap.directories[0].name: required
ldap.directories[0].tenant: required
ldap.directories[0].url: required
ldap.directories[0].bindDN: required
ldap.directories[0].bindPassword: required (or bindPasswordFile)
ldap.directories[0].baseDN: required
ldap.directories[0].userFilter: required
ldap.directories[0].pageSize: must be between 1 and 10000, got 0
ldap.directories[0].dialTimeout: must be positive, got 0s
ldap.directories[0].requestTimeout: must be positive, got 0s
ldap.directories[0].attributes.externalID: required
ldap.directories[0].attributes.userName: required
ldap.directories[0].attributes.externalIDFormat: unknown format "" (want "text" or "guid")
ldap.directories[0].groupMappings[0].group: invalid DN "cn=sales,,dc=x": incomplete type, value pair
ldap.directories[0].groupMappings[0]: maps to nothing; set profiles or teams
ldap.directories[0].groupMappings[1].group: required
ldap.directories[0].schedule: invalid cron expression "0 25 * * *": hour "25" is not between 0 and 23
ldap.directories[0].fullEvery: incremental reads need attributes.changed
ldap.directories[0].maxDeactivateShare: must be between 0 and 1, got 1.5
ldap.directories[1].name: "Corp One" must be 1-64 of a-z, 0-9, "-" and "_", starting with a letter or digit
ldap.directories[1].preset: unknown preset "freeipa" (want "ad" or "openldap")
ldap.directories[1].url: scheme "http" is not supported (want ldap:// or ldaps://)
ldap.directories[1].bindPasswordFile: set only one of bindPassword and bindPasswordFile
ldap.directories[1].userFilter: invalid filter "objectClass=person": filter does not start with an '('
ldap.directories[1].groupFilter: invalid filter "(cn=x": unexpected end of filter
ldap.directories[1].dialTimeout: must be positive, got -1s
ldap.directories[1].attributes.externalIDFormat: unknown format "base64" (want "text" or "guid")
ldap.directories[1].attributes.extension: invalid attribute name "ast extension"
ldap.directories[3].startTLS: cannot be combined with ldaps:// (the connection is already TLS)
ldap.directories[3].name: "corp" is already the name of ldap.directories[2]`
	if err == nil {
		t.Fatal("Validate succeeded")
	}
	if !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("errors.Is(err, ErrInvalidConfig) = false")
	}
	if got := err.Error(); got != want {
		t.Errorf("Validate() =\n%s\n\nwant\n%s", got, want)
	}
}

func TestValidateAtPrefixesPaths(t *testing.T) {
	c := validOpenLDAP()
	c.BindDN = ""
	if err := c.ValidateAt("ldap.directories[0]"); err == nil || err.Error() != "ldap.directories[0].bindDN: required" {
		t.Errorf("ValidateAt = %v", err)
	}
	if err := c.Validate(); err == nil || err.Error() != "bindDN: required" {
		t.Errorf("Validate = %v", err)
	}
}

const exampleYAML = `
directories:
  - name: corp
    tenant: acme
    preset: ad
    url: ldaps://dc1.corp.example:636
    bindDN: CN=pbx-sync,OU=Service,DC=corp,DC=example
    bindPasswordFile: /run/secrets/ldap-corp
    baseDN: DC=corp,DC=example
    pageSize: 1000
    requestTimeout: 2m
    fullEvery: 168h
    attributes:
      extension: telephoneNumber
      telephoneNumber: ""
    groupMappings:
      - group: CN=Sales,OU=Groups,DC=corp,DC=example
        profiles: [sales-agent]
      - group: Support
        teams: [support]
  - name: lab
    tenant: acme
    preset: openldap
    url: ldap://127.0.0.1:3389
    bindDN: cn=sync,dc=lab
    bindPassword: lab-pw
    baseDN: dc=lab
`

func TestSectionYAML(t *testing.T) {
	var s Section
	if err := yaml.Unmarshal([]byte(exampleYAML), &s); err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	ad, lab := s.Directories[0], s.Directories[1]
	// Preset defaults stay where the file says nothing...
	if ad.Attributes.ExternalID != "objectGUID" || ad.Attributes.ExternalIDFormat != IDFormatGUID ||
		ad.Attributes.UserName != "sAMAccountName" || ad.UserFilter != "(&(objectCategory=person)(objectClass=user))" {
		t.Errorf("AD preset not applied: %+v", ad.Attributes)
	}
	// ...and the file overrides single keys, including to "not mapped".
	if ad.Attributes.Extension != "telephoneNumber" || ad.Attributes.TelephoneNumber != "" || ad.Attributes.Mobile != "mobile" {
		t.Errorf("attribute overrides: %+v", ad.Attributes)
	}
	if ad.PageSize != 1000 || ad.RequestTimeout != 2*time.Minute || ad.DialTimeout != DefaultDialTimeout ||
		ad.FullEvery != 168*time.Hour || ad.Schedule != DefaultSchedule || ad.MaxDeactivateShare != DefaultMaxDeactivateShare {
		t.Errorf("tunables: %+v", ad)
	}
	if lab.Attributes.ExternalID != "entryUUID" || lab.Attributes.Extension != "AstExtension" || lab.BindPassword != "lab-pw" {
		t.Errorf("OpenLDAP preset: %+v", lab.Attributes)
	}
	profiles, teams := ad.MapGroups([]string{"cn=sales,ou=groups,dc=corp,dc=example", "CN=Support,OU=Groups,DC=corp,DC=example"})
	if strings.Join(profiles, ",") != "sales-agent" || strings.Join(teams, ",") != "support" {
		t.Errorf("MapGroups = %v, %v", profiles, teams)
	}
}

func TestConfigYAMLErrors(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{
			name: "typo in a key",
			yaml: "directories:\n  - name: corp\n    bindDn: cn=x\n",
			want: `line 3: ldap directory: unknown field "bindDn"`,
		},
		{
			name: "typo in a nested key",
			yaml: "directories:\n  - name: corp\n    attributes:\n      extenson: ipPhone\n",
			want: `line 4: ldap directory: unknown field "attributes.extenson"`,
		},
		{
			name: "typo in a group mapping",
			yaml: "directories:\n  - groupMappings:\n      - group: x\n        profile: [a]\n",
			want: `line 4: ldap directory: unknown field "groupMappings[0].profile"`,
		},
		{
			name: "duration without unit",
			yaml: "directories:\n  - requestTimeout: 30\n",
			want: "yaml: unmarshal errors:\n  line 2: cannot unmarshal !!int `30` into time.Duration",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s Section
			err := yaml.Unmarshal([]byte(tt.yaml), &s)
			if err == nil || err.Error() != tt.want {
				t.Errorf("error = %v\nwant %s", err, tt.want)
			}
		})
	}
}

func TestBindPasswordNeverPrinted(t *testing.T) {
	c := validOpenLDAP()
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("cfg", "config", c, "password", c.BindPassword)
	for _, out := range []string{
		fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprint(c.BindPassword), logs.String(),
	} {
		if strings.Contains(out, "s3cret-pw") {
			t.Errorf("password printed: %s", out)
		}
	}
	if !strings.Contains(logs.String(), `"bind_dn":"cn=pbx-sync,dc=corp,dc=example"`) {
		t.Errorf("LogValue lost the bind DN: %s", logs.String())
	}
}
