package ldapsync

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// Entry is one directory user, mapped through Config.Attributes. Fields
// whose attribute is not mapped or not set are empty.
type Entry struct {
	// ExternalID is the immutable identity: entryUUID as the server wrote it,
	// or objectGUID in canonical form (see FormatGUID). It survives renames
	// and moves; match users on it, never on DN or UserName.
	ExternalID string
	// DN is where the entry is now. It changes on rename and move, so keep
	// it only as a hint.
	DN string
	// UserName is the login name (sAMAccountName, uid).
	UserName string
	// GivenName is the first name (givenName).
	GivenName string
	// FamilyName is the last name (sn).
	FamilyName string
	// DisplayName is the name to show (displayName).
	DisplayName string
	// Emails are the mail values in the server's order; the first is
	// treated as primary. Duplicates (ignoring case) are dropped.
	Emails []string
	// Extension is the internal extension number (ipPhone, AstExtension).
	Extension string
	// Phones are the user's external numbers as written in the directory,
	// not normalized to E.164.
	Phones Phones
	// Title is the job title (title).
	Title string
	// Department is the department (department, departmentNumber).
	Department string
	// Location is the office or site (physicalDeliveryOfficeName, l).
	Location string
	// Language is a language tag such as "de-CH" (preferredLanguage).
	Language string
	// ManagerDN is the manager's DN (resolve it to a user by reading that
	// entry's ExternalID).
	ManagerDN string
	// Disabled is true for an AD account with ACCOUNTDISABLE set in
	// userAccountControl, or one matching Config.DisabledFilter.
	Disabled bool
	// Groups are the DNs of the groups the user is in, directly or through
	// nested groups, sorted case-insensitively. With a GroupFilter only
	// groups that filter selects are listed.
	Groups []string
	// Changed is the entry's Attributes.Changed value (modifyTimestamp,
	// uSNChanged) as the server sent it; not part of Hash.
	Changed string
	// Extra holds the values of Attributes.Extra, keyed by attribute name as
	// configured; nil when none is configured.
	Extra map[string][]string
}

// Phones are a user's telephone numbers by kind.
type Phones struct {
	// Work are the telephoneNumber values (DIDs).
	Work []string
	// Mobile are the mobile values.
	Mobile []string
}

// hashVersion changes when Hash's encoding changes, so stored hashes from an
// older version never compare equal by accident.
const hashVersion = 1

// Hash returns a stable digest (hex SHA-256) of every mapped field except
// Changed, so a sync can skip users whose directory data did not change.
// Equal entries hash equally across processes and versions of this package
// unless the mapping itself changes; a new mapping or package version may
// change every hash once, which only costs one round of no-op updates.
func (e Entry) Hash() string {
	sum := e.sum()
	return hex.EncodeToString(sum[:])
}

// sum is the digest Hash returns in hex.
func (e *Entry) sum() (out [sha256.Size]byte) {
	h := sha256.New()
	var n [8]byte
	num := func(v uint64) {
		binary.BigEndian.PutUint64(n[:], v)
		h.Write(n[:])
	}
	str := func(s string) {
		num(uint64(len(s)))
		h.Write([]byte(s))
	}
	list := func(l []string) {
		num(uint64(len(l)))
		for _, s := range l {
			str(s)
		}
	}
	num(hashVersion)
	for _, s := range []string{e.ExternalID, e.DN, e.UserName, e.GivenName, e.FamilyName,
		e.DisplayName, e.Extension, e.Title, e.Department, e.Location, e.Language, e.ManagerDN} {
		str(s)
	}
	list(e.Emails)
	list(e.Phones.Work)
	list(e.Phones.Mobile)
	if e.Disabled {
		num(1)
	} else {
		num(0)
	}
	list(e.Groups)
	keys := make([]string, 0, len(e.Extra))
	for k := range e.Extra {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	list(keys)
	for _, k := range keys {
		list(e.Extra[k])
	}
	h.Sum(out[:0])
	return out
}

// errNoExternalID marks an entry without a usable identity attribute.
var errNoExternalID = errors.New("no external ID")

// mapper turns *ldap.Entry values into Entry values for one Config.
type mapper struct {
	attrs AttributeMap
}

// searchAttributes lists the attributes a user search asks for.
func (m *mapper) searchAttributes() []string {
	var out []string
	seen := map[string]bool{}
	add := func(a string) {
		if a != "" && !seen[strings.ToLower(a)] {
			seen[strings.ToLower(a)] = true
			out = append(out, a)
		}
	}
	for _, f := range m.attrs.named() {
		if f.key != "groupMemberUid" {
			add(f.attr)
		}
	}
	for _, a := range m.attrs.Extra {
		add(a)
	}
	return out
}

// externalID returns the entry's identity in its string form.
func (m *mapper) externalID(e *ldap.Entry) (string, error) {
	name := m.attrs.ExternalID
	if m.attrs.ExternalIDFormat == IDFormatGUID {
		raw := e.GetEqualFoldRawAttributeValue(name)
		if len(raw) == 0 {
			return "", fmt.Errorf("%w: %s is missing", errNoExternalID, name)
		}
		id, err := FormatGUID(raw)
		if err != nil {
			return "", fmt.Errorf("%w: %s: %w", errNoExternalID, name, err)
		}
		return id, nil
	}
	id := strings.TrimSpace(e.GetEqualFoldAttributeValue(name))
	if id == "" {
		return "", fmt.Errorf("%w: %s is missing", errNoExternalID, name)
	}
	return id, nil
}

// mapEntry maps everything but Groups and the DisabledFilter verdict, which
// need the group graph and the disabled set.
func (m *mapper) mapEntry(e *ldap.Entry) (Entry, error) {
	id, err := m.externalID(e)
	if err != nil {
		return Entry{}, err
	}
	a := &m.attrs
	out := Entry{
		ExternalID:  id,
		DN:          e.DN,
		UserName:    first(e, a.UserName),
		GivenName:   first(e, a.GivenName),
		FamilyName:  first(e, a.FamilyName),
		DisplayName: first(e, a.DisplayName),
		Emails:      dedupFold(all(e, a.Email)),
		Extension:   first(e, a.Extension),
		Phones:      Phones{Work: all(e, a.TelephoneNumber), Mobile: all(e, a.Mobile)},
		Title:       first(e, a.Title),
		Department:  first(e, a.Department),
		Location:    first(e, a.Location),
		Language:    first(e, a.Language),
		ManagerDN:   first(e, a.Manager),
		Changed:     first(e, a.Changed),
	}
	if a.UserAccountControl != "" {
		if v := first(e, a.UserAccountControl); v != "" {
			uac, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return Entry{}, fmt.Errorf("%s %q is not a number", a.UserAccountControl, v)
			}
			out.Disabled = uac&uacAccountDisable != 0
		}
	}
	if len(a.Extra) > 0 {
		out.Extra = make(map[string][]string, len(a.Extra))
		for _, name := range a.Extra {
			if v := all(e, name); len(v) > 0 {
				out.Extra[name] = v
			}
		}
	}
	return out, nil
}

// uacAccountDisable is the ACCOUNTDISABLE flag of userAccountControl
// (MS-ADTS 2.2.16).
const uacAccountDisable = 0x2

// first returns the first non-empty value of the attribute, trimmed.
func first(e *ldap.Entry, name string) string {
	if name == "" {
		return ""
	}
	for _, v := range e.GetEqualFoldAttributeValues(name) {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}

// all returns the non-empty values of the attribute, trimmed, or nil.
func all(e *ldap.Entry, name string) []string {
	if name == "" {
		return nil
	}
	var out []string
	for _, v := range e.GetEqualFoldAttributeValues(name) {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func dedupFold(in []string) []string {
	var out []string
	for _, v := range in {
		if !slices.ContainsFunc(out, func(o string) bool { return strings.EqualFold(o, v) }) {
			out = append(out, v)
		}
	}
	return out
}
