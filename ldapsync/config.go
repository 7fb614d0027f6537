package ldapsync

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
	"gopkg.in/yaml.v3"
)

// This file is the documented Config with its presets and validation, over
// 700 lines on purpose: like dex's connector/ldap, every field's meaning,
// default and unit is written beside it, and Validate reports every problem
// with its YAML path, so the whole configuration reads in one place.

// Defaults for the tunables of Config. DefaultConfig copies them into a new
// Config; a YAML entry starts from them (and from its preset) and overrides
// only the keys it sets.
const (
	// DefaultPageSize is the number of entries asked for per page. 500 is
	// OpenLDAP's default size limit and half of Active Directory's
	// MaxPageSize (1000), so one page never trips either server's per-page cap.
	DefaultPageSize = 500
	// DefaultDialTimeout bounds the TCP connect and the TLS handshake.
	DefaultDialTimeout = 10 * time.Second
	// DefaultRequestTimeout bounds each LDAP request: a bind, one page of a
	// search, one range-retrieval request.
	DefaultRequestTimeout = 60 * time.Second
	// DefaultSchedule runs the sync every night at 02:00 (gateway local time).
	DefaultSchedule = "0 2 * * *"
	// DefaultMaxDeactivateShare refuses a run that would deactivate more
	// than 10% of the users the directory owns, unless Force is set.
	DefaultMaxDeactivateShare = 0.10

	// MaxPageSize is the largest PageSize Validate accepts. A page is held in
	// memory while its entries are handed out, so this bounds memory per page.
	MaxPageSize = 10000
)

// Names accepted in Config.Preset.
const (
	// PresetAD selects PresetActiveDirectory.
	PresetAD = "ad"
	// PresetOpenLDAPName selects PresetOpenLDAP.
	PresetOpenLDAPName = "openldap"
)

// Values accepted in AttributeMap.ExternalIDFormat.
const (
	// IDFormatText uses the identity attribute's value as it is (entryUUID,
	// nsUniqueId, ipaUniqueID).
	IDFormatText = "text"
	// IDFormatGUID reads a 16-byte binary GUID (AD objectGUID,
	// msDS-ConsistencyGuid) and writes it in the canonical string form
	// Windows shows, see FormatGUID.
	IDFormatGUID = "guid"
)

// ErrInvalidConfig is wrapped by every error Validate returns, so callers can
// test with errors.Is. The concrete error is a *ValidationError.
var ErrInvalidConfig = errors.New("invalid ldap configuration")

// Config describes one directory (an AD domain or an OpenLDAP tree) whose
// users are synced into one tenant. It is one entry of `ldap.directories` in
// the gateway YAML; Section is that list.
//
// Start from DefaultConfig, PresetActiveDirectory or PresetOpenLDAP, or
// decode YAML (UnmarshalYAML applies the preset named by `preset` first and
// then the keys that are set), then call Validate. A minimal entry:
//
//	ldap:
//	  directories:
//	    - name: corp
//	      tenant: acme
//	      preset: ad
//	      url: ldaps://dc1.corp.example:636
//	      bindDN: CN=pbx-sync,OU=Service,DC=corp,DC=example
//	      bindPasswordFile: /run/secrets/ldap-corp
//	      baseDN: DC=corp,DC=example
//	      groupMappings:
//	        - group: CN=Sales,OU=Groups,DC=corp,DC=example
//	          profiles: [sales-agent]
//
// Printing a Config (fmt, slog) never shows the bind password: BindPassword
// is a Secret.
type Config struct {
	// Name identifies the directory inside the gateway (lowercase letters,
	// digits, "-" and "_", at most 64). Users it creates are owned by
	// "ldap:<Name>", so renaming it orphans them. Required.
	Name string `yaml:"name"`
	// Tenant is the pbxusers tenant the directory's users belong to.
	// Required.
	Tenant string `yaml:"tenant"`
	// Preset is "ad" (Active Directory, Samba AD) or "openldap" and selects
	// the default Attributes, UserFilter, GroupFilter and DisabledFilter.
	// Empty means no preset: set those yourself. Default empty.
	Preset string `yaml:"preset"`

	// URL is the server to read from: ldap://host[:389] or ldaps://host[:636].
	// Point it at one domain controller: AD's uSNChanged cursor is only
	// meaningful on the DC that issued it. Required.
	URL string `yaml:"url"`
	// StartTLS upgrades an ldap:// connection with the StartTLS extended
	// operation before binding. Not allowed with ldaps://. Default false.
	StartTLS bool `yaml:"startTLS"`
	// InsecureSkipVerify accepts any server certificate. For tests only;
	// it makes TLS useless against an active attacker. Default false.
	InsecureSkipVerify bool `yaml:"insecureSkipVerify"`
	// RootCAFile is a PEM file of CA certificates used instead of the
	// system pool to verify the server. Default empty (system pool).
	RootCAFile string `yaml:"rootCAFile"`

	// BindDN is the DN of the service account the sync binds as (simple
	// bind). It needs read access to the users and groups, and on OpenLDAP
	// `limits dn.exact="<BindDN>" size.prtotal=unlimited` to page past the
	// server's size limit (500 by default). Required.
	BindDN string `yaml:"bindDN"`
	// BindPassword is the service account's password. Prefer
	// BindPasswordFile. Exactly one of the two is required. Never logged.
	BindPassword Secret `yaml:"bindPassword"`
	// BindPasswordFile is a file holding the password (trailing newlines are
	// ignored). It is read on every Connect, so rotating it needs no restart.
	BindPasswordFile string `yaml:"bindPasswordFile"`

	// BaseDN is the subtree searched for users and groups unless UserBaseDN
	// or GroupBaseDN narrow it. Required unless both of those are set.
	BaseDN string `yaml:"baseDN"`
	// UserBaseDN is the subtree searched for users. Default BaseDN.
	UserBaseDN string `yaml:"userBaseDN"`
	// UserFilter selects user entries, e.g.
	// (&(objectCategory=person)(objectClass=user)). Default from the preset;
	// required.
	UserFilter string `yaml:"userFilter"`
	// GroupBaseDN is the subtree searched for groups. Default BaseDN.
	GroupBaseDN string `yaml:"groupBaseDN"`
	// GroupFilter selects the groups read to resolve memberships, nested
	// ones included. Empty means no group search: Entry.Groups is then the
	// user's memberOf values (direct groups only). Default from the preset.
	GroupFilter string `yaml:"groupFilter"`
	// DisabledFilter selects the users that are disabled, for directories
	// without AD's userAccountControl, e.g. (pwdAccountLockedTime=000001010000Z)
	// (an OpenLDAP ppolicy administrative lock) or (nsAccountLock=TRUE)
	// (389-ds). It is ANDed with UserFilter in a first pass that collects the
	// identities of disabled users. Default from the preset.
	DisabledFilter string `yaml:"disabledFilter"`

	// PageSize is the number of entries per page of a paged search
	// (RFC 2696), 1 to MaxPageSize. AD caps it at its MaxPageSize (1000).
	// Default 500.
	PageSize int `yaml:"pageSize"`
	// DialTimeout bounds connecting, including the TLS handshake, e.g. "10s".
	// Default 10s.
	DialTimeout time.Duration `yaml:"dialTimeout"`
	// RequestTimeout bounds every LDAP request (a bind, one page), e.g.
	// "60s". Default 60s.
	RequestTimeout time.Duration `yaml:"requestTimeout"`

	// Attributes maps directory attributes onto Entry fields. Every key
	// defaults to the preset's choice and can be overridden one by one.
	Attributes AttributeMap `yaml:"attributes"`
	// GroupMappings give members of a group permission profiles and teams.
	// Default none.
	GroupMappings []GroupMapping `yaml:"groupMappings"`

	// Schedule is when the scheduled sync runs, a five-field cron expression
	// (minute hour day-of-month month day-of-week) in the gateway's local
	// time, or @hourly, @daily, @weekly, @monthly. Default "0 2 * * *".
	Schedule string `yaml:"schedule"`
	// FullEvery turns on incremental reads (only users whose
	// Attributes.Changed is at or after the last run's cursor) and forces a
	// full read when the last full read is older than this, e.g. "168h".
	// Only a full read deactivates users missing from the directory, and
	// only a full read sees group membership changes of users that did not
	// change themselves. 0 means every run reads everything. Default 0.
	FullEvery time.Duration `yaml:"fullEvery"`
	// MaxDeactivateShare is the largest share (0 to 1) of the directory's
	// active users one run may deactivate (disabled or missing from a full
	// read). A run over it deactivates nobody, still applies its creates
	// and updates, and is recorded as blocked, unless Force is set. 0 blocks
	// every deactivation. Default 0.10.
	MaxDeactivateShare float64 `yaml:"maxDeactivateShare"`
	// Force lets runs exceed MaxDeactivateShare and deactivate everyone
	// when a full read returns no user. It never lets an incomplete read
	// deactivate anyone. Meant for one run (`pbxgate ldap sync --force`
	// does the same); left in the file it disables those guards. Default
	// false.
	Force bool `yaml:"force"`
}

// AttributeMap names the directory attribute read for each Entry field. An
// empty name means "not mapped": the field stays empty.
type AttributeMap struct {
	// ExternalID is the immutable identity anchor: objectGUID (AD) or
	// entryUUID (OpenLDAP). Never a DN or a user name, which change on
	// rename. Required.
	ExternalID string `yaml:"externalID"`
	// ExternalIDFormat is how ExternalID is encoded: "guid" (16 binary
	// bytes, AD) or "text". Default from the preset, else "text".
	ExternalIDFormat string `yaml:"externalIDFormat"`
	// UserName is the login name: sAMAccountName (AD) or uid. Required.
	UserName string `yaml:"userName"`
	// GivenName defaults to givenName.
	GivenName string `yaml:"givenName"`
	// FamilyName defaults to sn.
	FamilyName string `yaml:"familyName"`
	// DisplayName defaults to displayName.
	DisplayName string `yaml:"displayName"`
	// Email defaults to mail (all values are read; the first is primary).
	Email string `yaml:"email"`
	// Extension is the internal extension number: ipPhone (AD) or
	// AstExtension (Asterisk LDAP schema).
	Extension string `yaml:"extension"`
	// TelephoneNumber is the work number (DIDs), telephoneNumber.
	TelephoneNumber string `yaml:"telephoneNumber"`
	// Mobile defaults to mobile.
	Mobile string `yaml:"mobile"`
	// Title defaults to title.
	Title string `yaml:"title"`
	// Department is department (AD) or departmentNumber (inetOrgPerson).
	Department string `yaml:"department"`
	// Location is the office or site: physicalDeliveryOfficeName (AD) or l.
	Location string `yaml:"location"`
	// Language defaults to preferredLanguage.
	Language string `yaml:"language"`
	// Manager is the manager's DN, manager.
	Manager string `yaml:"manager"`
	// MemberOf lists the user's direct groups on the user entry: memberOf
	// (AD). With a GroupFilter its values join the group graph; without one
	// they are Entry.Groups as they are.
	MemberOf string `yaml:"memberOf"`
	// UserAccountControl is AD's account flags attribute; bit 2
	// (ACCOUNTDISABLE) makes Entry.Disabled true. Empty for other servers.
	UserAccountControl string `yaml:"userAccountControl"`
	// Changed is what incremental reads compare with the cursor: uSNChanged
	// (AD, an integer) or modifyTimestamp (a GeneralizedTime).
	Changed string `yaml:"changed"`
	// GroupMembers are the group attributes holding member DNs: member (AD),
	// member and uniqueMember (OpenLDAP).
	GroupMembers []string `yaml:"groupMembers"`
	// GroupMemberUID is the group attribute holding member user names
	// (posixGroup memberUid), matched against the UserName attribute's value.
	GroupMemberUID string `yaml:"groupMemberUid"`
	// Extra are more attributes copied into Entry.Extra, for mappings that
	// have no field yet (employeeNumber, company). Default none.
	Extra []string `yaml:"extra"`
}

// GroupMapping gives the members of one group (nested members included)
// permission profiles and team memberships.
type GroupMapping struct {
	// Group is the group's DN, or its name (the value of the DN's first RDN,
	// e.g. "Sales" for CN=Sales,OU=Groups,...), compared case-insensitively.
	// Required.
	Group string `yaml:"group"`
	// Profiles are pbxusers permission profile names given to members.
	Profiles []string `yaml:"profiles"`
	// Teams are pbxusers team names members join.
	Teams []string `yaml:"teams"`
}

// Secret is a string that never prints: fmt and slog show "REDACTED" (or
// nothing when it is empty). Convert with string(s) to use it.
type Secret string

// String returns "REDACTED" for a non-empty secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "REDACTED"
}

// GoString keeps %#v from printing the secret.
func (s Secret) GoString() string { return `ldapsync.Secret("` + s.String() + `")` }

// LogValue keeps slog from printing the secret.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// DefaultConfig returns a Config with the package defaults and no preset.
func DefaultConfig() Config {
	return Config{
		PageSize:           DefaultPageSize,
		DialTimeout:        DefaultDialTimeout,
		RequestTimeout:     DefaultRequestTimeout,
		Schedule:           DefaultSchedule,
		MaxDeactivateShare: DefaultMaxDeactivateShare,
		Attributes:         AttributeMap{ExternalIDFormat: IDFormatText},
	}
}

// PresetActiveDirectory returns DefaultConfig with Active Directory's
// attributes and filters: objectGUID identity (binary GUID), sAMAccountName,
// ipPhone as extension, userAccountControl bit 2 for disabled accounts,
// memberOf, uSNChanged for incremental reads, users
// (&(objectCategory=person)(objectClass=user)) and groups (objectClass=group).
func PresetActiveDirectory() Config {
	c := DefaultConfig()
	c.Preset = PresetAD
	c.UserFilter = "(&(objectCategory=person)(objectClass=user))"
	c.GroupFilter = "(objectClass=group)"
	c.Attributes = AttributeMap{
		ExternalID:         "objectGUID",
		ExternalIDFormat:   IDFormatGUID,
		UserName:           "sAMAccountName",
		GivenName:          "givenName",
		FamilyName:         "sn",
		DisplayName:        "displayName",
		Email:              "mail",
		Extension:          "ipPhone",
		TelephoneNumber:    "telephoneNumber",
		Mobile:             "mobile",
		Title:              "title",
		Department:         "department",
		Location:           "physicalDeliveryOfficeName",
		Language:           "preferredLanguage",
		Manager:            "manager",
		MemberOf:           "memberOf",
		UserAccountControl: "userAccountControl",
		Changed:            "uSNChanged",
		GroupMembers:       []string{"member"},
	}
	return c
}

// PresetOpenLDAP returns DefaultConfig with OpenLDAP's attributes and
// filters: entryUUID identity, uid, AstExtension (Asterisk schema) as
// extension, modifyTimestamp for incremental reads, users
// (objectClass=inetOrgPerson), groups groupOfNames, groupOfUniqueNames and
// posixGroup, and disabled users those with a ppolicy administrative lock
// (pwdAccountLockedTime=000001010000Z). A temporary lockout after bad
// passwords is deliberately not "disabled".
func PresetOpenLDAP() Config {
	c := DefaultConfig()
	c.Preset = PresetOpenLDAPName
	c.UserFilter = "(objectClass=inetOrgPerson)"
	c.GroupFilter = "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=posixGroup))"
	c.DisabledFilter = "(pwdAccountLockedTime=000001010000Z)"
	c.Attributes = AttributeMap{
		ExternalID:       "entryUUID",
		ExternalIDFormat: IDFormatText,
		UserName:         "uid",
		GivenName:        "givenName",
		FamilyName:       "sn",
		DisplayName:      "displayName",
		Email:            "mail",
		Extension:        "AstExtension",
		TelephoneNumber:  "telephoneNumber",
		Mobile:           "mobile",
		Title:            "title",
		Department:       "departmentNumber",
		Location:         "l",
		Language:         "preferredLanguage",
		Manager:          "manager",
		Changed:          "modifyTimestamp",
		GroupMembers:     []string{"member", "uniqueMember"},
		GroupMemberUID:   "memberUid",
	}
	return c
}

// presetConfig returns the starting Config for a preset name; ok is false
// for an unknown name.
func presetConfig(name string) (c Config, ok bool) {
	switch name {
	case "":
		return DefaultConfig(), true
	case PresetAD:
		return PresetActiveDirectory(), true
	case PresetOpenLDAPName:
		return PresetOpenLDAP(), true
	}
	return DefaultConfig(), false
}

// UnmarshalYAML decodes one directory entry: it starts from the preset the
// entry names (DefaultConfig without one), then applies the keys that are
// set. Unknown keys are errors, so a typo such as "bindDn" is not silently
// ignored.
func (c *Config) UnmarshalYAML(node *yaml.Node) error {
	if node.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: ldap directory: want a mapping", node.Line)
	}
	var head struct {
		Preset string `yaml:"preset"`
	}
	if err := node.Decode(&head); err != nil {
		return err
	}
	if err := checkKnownKeys(node, reflect.TypeFor[Config](), ""); err != nil {
		return err
	}
	base, _ := presetConfig(head.Preset) // an unknown preset is reported by Validate
	type plain Config                    // no UnmarshalYAML method: no recursion
	p := plain(base)
	if err := node.Decode(&p); err != nil {
		return err
	}
	*c = Config(p)
	return nil
}

// checkKnownKeys reports the first mapping key that no yaml tag of t names,
// looking into nested structs and slices of structs.
func checkKnownKeys(node *yaml.Node, t reflect.Type, prefix string) error {
	if node.Kind != yaml.MappingNode || t.Kind() != reflect.Struct {
		return nil
	}
	fields := make(map[string]reflect.Type, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			fields[name] = f.Type
		}
	}
	for i := 0; i+1 < len(node.Content); i += 2 {
		key, val := node.Content[i], node.Content[i+1]
		ft, ok := fields[key.Value]
		if !ok {
			return fmt.Errorf("line %d: ldap directory: unknown field %q", key.Line, prefix+key.Value)
		}
		switch {
		case ft.Kind() == reflect.Struct:
			if err := checkKnownKeys(val, ft, prefix+key.Value+"."); err != nil {
				return err
			}
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct && val.Kind == yaml.SequenceNode:
			for j, item := range val.Content {
				if err := checkKnownKeys(item, ft.Elem(), fmt.Sprintf("%s%s[%d].", prefix, key.Value, j)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// Section is the `ldap:` block of the gateway configuration.
type Section struct {
	// Directories are the directories to sync, each into one tenant.
	Directories []Config `yaml:"directories"`
}

// Validate checks every directory and that names are unique, reporting all
// problems at once with their YAML paths ("ldap.directories[0].bindDN:
// required").
func (s *Section) Validate() error {
	var v validator
	seen := make(map[string]int, len(s.Directories))
	for i := range s.Directories {
		path := fmt.Sprintf("ldap.directories[%d]", i)
		s.Directories[i].validate(&v, path+".")
		name := s.Directories[i].Name
		if name == "" {
			continue
		}
		if j, dup := seen[name]; dup {
			v.addf(path+".name", "%q is already the name of ldap.directories[%d]", name, j)
			continue
		}
		seen[name] = i
	}
	return v.err()
}

// Validate checks c and reports every problem at once, one line each, with
// paths relative to the directory entry ("bindDN: required"). Use ValidateAt
// to prefix them with the entry's place in the file.
func (c *Config) Validate() error { return c.ValidateAt("") }

// ValidateAt is Validate with every path prefixed by path and a dot, e.g.
// ValidateAt("ldap.directories[0]") reports "ldap.directories[0].bindDN:
// required".
func (c *Config) ValidateAt(path string) error {
	var v validator
	if path != "" {
		path += "."
	}
	c.validate(&v, path)
	return v.err()
}

var (
	nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)
	// attrRE matches an attribute description: a name or an OID, with
	// options such as ";binary".
	attrRE = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9-]*|[0-9]+(\.[0-9]+)+)(;[A-Za-z0-9-]+)*$`)
)

func (c *Config) validate(v *validator, p string) {
	switch {
	case c.Name == "":
		v.add(p+"name", "required")
	case !nameRE.MatchString(c.Name):
		v.addf(p+"name", "%q must be 1-64 of a-z, 0-9, \"-\" and \"_\", starting with a letter or digit", c.Name)
	}
	if strings.TrimSpace(c.Tenant) == "" {
		v.add(p+"tenant", "required")
	}
	if _, ok := presetConfig(c.Preset); !ok {
		v.addf(p+"preset", "unknown preset %q (want %q or %q)", c.Preset, PresetAD, PresetOpenLDAPName)
	}

	if c.URL == "" {
		v.add(p+"url", "required")
	} else if u, err := url.Parse(c.URL); err != nil {
		v.addf(p+"url", "invalid URL %q", c.URL)
	} else {
		switch {
		case u.Scheme != "ldap" && u.Scheme != "ldaps":
			v.addf(p+"url", "scheme %q is not supported (want ldap:// or ldaps://)", u.Scheme)
		case u.Hostname() == "":
			v.addf(p+"url", "%q has no host", c.URL)
		case u.Path != "" && u.Path != "/" || u.RawQuery != "":
			v.addf(p+"url", "%q must not have a path or query; set baseDN instead", c.URL)
		}
		if c.StartTLS && u.Scheme == "ldaps" {
			v.add(p+"startTLS", "cannot be combined with ldaps:// (the connection is already TLS)")
		}
	}

	checkDN(v, p+"bindDN", c.BindDN, true)
	switch {
	case c.BindPassword == "" && c.BindPasswordFile == "":
		v.add(p+"bindPassword", "required (or bindPasswordFile)")
	case c.BindPassword != "" && c.BindPasswordFile != "":
		v.add(p+"bindPasswordFile", "set only one of bindPassword and bindPasswordFile")
	}

	needBase := c.UserBaseDN == "" || c.GroupFilter != "" && c.GroupBaseDN == ""
	checkDN(v, p+"baseDN", c.BaseDN, needBase)
	checkDN(v, p+"userBaseDN", c.UserBaseDN, false)
	checkDN(v, p+"groupBaseDN", c.GroupBaseDN, false)
	checkFilter(v, p+"userFilter", c.UserFilter, true)
	checkFilter(v, p+"groupFilter", c.GroupFilter, false)
	checkFilter(v, p+"disabledFilter", c.DisabledFilter, false)

	if c.PageSize < 1 || c.PageSize > MaxPageSize {
		v.addf(p+"pageSize", "must be between 1 and %d, got %d", MaxPageSize, c.PageSize)
	}
	if c.DialTimeout <= 0 {
		v.addf(p+"dialTimeout", "must be positive, got %s", c.DialTimeout)
	}
	if c.RequestTimeout <= 0 {
		v.addf(p+"requestTimeout", "must be positive, got %s", c.RequestTimeout)
	}

	c.Attributes.validate(v, p+"attributes.")
	for i, m := range c.GroupMappings {
		mp := fmt.Sprintf("%sgroupMappings[%d]", p, i)
		if strings.TrimSpace(m.Group) == "" {
			v.add(mp+".group", "required")
		} else if strings.Contains(m.Group, "=") {
			checkDN(v, mp+".group", m.Group, true)
		}
		if len(m.Profiles) == 0 && len(m.Teams) == 0 {
			v.add(mp, "maps to nothing; set profiles or teams")
		}
	}

	if _, err := ParseSchedule(c.Schedule); err != nil {
		v.add(p+"schedule", err.Error())
	}
	switch {
	case c.FullEvery < 0:
		v.addf(p+"fullEvery", "must not be negative, got %s", c.FullEvery)
	case c.FullEvery > 0 && c.Attributes.Changed == "":
		v.add(p+"fullEvery", "incremental reads need attributes.changed")
	}
	if !(c.MaxDeactivateShare >= 0 && c.MaxDeactivateShare <= 1) { // also rejects NaN
		v.addf(p+"maxDeactivateShare", "must be between 0 and 1, got %g", c.MaxDeactivateShare)
	}
}

func (a *AttributeMap) validate(v *validator, p string) {
	if a.ExternalID == "" {
		v.add(p+"externalID", "required")
	}
	if a.UserName == "" {
		v.add(p+"userName", "required")
	}
	if a.ExternalIDFormat != IDFormatText && a.ExternalIDFormat != IDFormatGUID {
		v.addf(p+"externalIDFormat", "unknown format %q (want %q or %q)", a.ExternalIDFormat, IDFormatText, IDFormatGUID)
	}
	for _, f := range a.named() {
		if f.attr != "" && !attrRE.MatchString(f.attr) {
			v.addf(p+f.key, "invalid attribute name %q", f.attr)
		}
	}
	for i, name := range a.GroupMembers {
		if !attrRE.MatchString(name) {
			v.addf(fmt.Sprintf("%sgroupMembers[%d]", p, i), "invalid attribute name %q", name)
		}
	}
	for i, name := range a.Extra {
		if !attrRE.MatchString(name) {
			v.addf(fmt.Sprintf("%sextra[%d]", p, i), "invalid attribute name %q", name)
		}
	}
}

type namedAttr struct{ key, attr string }

// named lists the single-valued mappings with their YAML keys.
func (a *AttributeMap) named() []namedAttr {
	return []namedAttr{
		{"externalID", a.ExternalID}, {"userName", a.UserName},
		{"givenName", a.GivenName}, {"familyName", a.FamilyName},
		{"displayName", a.DisplayName}, {"email", a.Email},
		{"extension", a.Extension}, {"telephoneNumber", a.TelephoneNumber},
		{"mobile", a.Mobile}, {"title", a.Title}, {"department", a.Department},
		{"location", a.Location}, {"language", a.Language}, {"manager", a.Manager},
		{"memberOf", a.MemberOf}, {"userAccountControl", a.UserAccountControl},
		{"changed", a.Changed}, {"groupMemberUid", a.GroupMemberUID},
	}
}

func checkDN(v *validator, path, dn string, required bool) {
	if dn == "" {
		if required {
			v.add(path, "required")
		}
		return
	}
	if _, err := ldap.ParseDN(dn); err != nil {
		v.addf(path, "invalid DN %q: %s", dn, ldapMessage(err))
	}
}

func checkFilter(v *validator, path, filter string, required bool) {
	if filter == "" {
		if required {
			v.add(path, "required")
		}
		return
	}
	if _, err := ldap.CompileFilter(filter); err != nil {
		v.addf(path, "invalid filter %q: %s", filter, ldapMessage(err))
	}
}

// ldapMessage is the reason inside a go-ldap error, without the "LDAP Result
// Code 201 ..." and "ldap: " decorations.
func ldapMessage(err error) string {
	var le *ldap.Error
	if errors.As(err, &le) && le.Err != nil {
		err = le.Err
	}
	return strings.TrimPrefix(err.Error(), "ldap: ")
}

// Problem is one invalid setting.
type Problem struct {
	// Path is the setting's YAML path, e.g. "ldap.directories[0].bindDN".
	Path string
	// Message says what is wrong, e.g. "required".
	Message string
}

// ValidationError lists every problem Validate found. It wraps
// ErrInvalidConfig.
type ValidationError struct {
	Problems []Problem
}

// Error returns one "path: message" line per problem.
func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.Path + ": " + p.Message
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns ErrInvalidConfig.
func (e *ValidationError) Unwrap() error { return ErrInvalidConfig }

type validator struct{ problems []Problem }

func (v *validator) add(path, msg string) { v.problems = append(v.problems, Problem{path, msg}) }
func (v *validator) addf(path, format string, args ...any) {
	v.add(path, fmt.Sprintf(format, args...))
}

func (v *validator) err() error {
	if len(v.problems) == 0 {
		return nil
	}
	return &ValidationError{Problems: v.problems}
}

// userBase returns the subtree searched for users.
func (c *Config) userBase() string {
	if c.UserBaseDN != "" {
		return c.UserBaseDN
	}
	return c.BaseDN
}

// groupBase returns the subtree searched for groups.
func (c *Config) groupBase() string {
	if c.GroupBaseDN != "" {
		return c.GroupBaseDN
	}
	return c.BaseDN
}

// password returns the bind password, reading BindPasswordFile if set.
func (c *Config) password() (string, error) {
	if c.BindPasswordFile == "" {
		return string(c.BindPassword), nil
	}
	b, err := os.ReadFile(c.BindPasswordFile)
	if err != nil {
		return "", fmt.Errorf("read bind password: %w", err)
	}
	pw := strings.TrimRight(string(b), "\r\n")
	if pw == "" {
		return "", fmt.Errorf("read bind password: %s is empty", c.BindPasswordFile)
	}
	return pw, nil
}

// tlsConfig returns the TLS settings for ldaps:// and StartTLS.
func (c *Config) tlsConfig(host string) (*tls.Config, error) {
	tc := &tls.Config{
		ServerName:         host,
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: c.InsecureSkipVerify,
	}
	if c.RootCAFile != "" {
		pem, err := os.ReadFile(c.RootCAFile)
		if err != nil {
			return nil, fmt.Errorf("read root CAs: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("read root CAs: no PEM certificate in %s", c.RootCAFile)
		}
		tc.RootCAs = pool
	}
	return tc, nil
}

// LogValue describes the directory for logs without secrets.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("name", c.Name),
		slog.String("tenant", c.Tenant),
		slog.String("url", c.URL),
		slog.String("bind_dn", c.BindDN),
	)
}
