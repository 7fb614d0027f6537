package ldapsync

import (
	"errors"
	"fmt"
	"hash/maphash"
	"net/mail"
	"slices"
	"strings"
	"sync"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// Keys of Owner.Synced: the user fields the sync manages, named as pbxusers
// names them in validation errors and the change log. Each holds the
// directory's value as last applied; lists are joined with "\n".
const (
	fUserName   = "userName"
	fGiven      = "name.given"
	fFamily     = "name.family"
	fDisplay    = "displayName"
	fEmails     = "emails"
	fExtension  = "extension"
	fWork       = "phoneNumbers.work"
	fMobile     = "phoneNumbers.mobile"
	fTitle      = "title"
	fDepartment = "enterprise.department"
	fLocation   = "location"
	fLanguage   = "language"
	fManager    = "manager"
	fProfiles   = "profiles"
	fTeams      = "teams"
	fStatus     = "status"
	fCustom     = "customFields." // + the attribute name in Attributes.Extra
)

// Values of Owner.Synced["status"].
const (
	statusEnabled  = "enabled"
	statusDisabled = "disabled"
	statusMissing  = "missing" // a complete full read did not return the entry
)

// fieldSpec is one managed field and how to get its directory value.
type fieldSpec struct {
	key   string
	value func(it *item) string
}

// fieldSpecs lists the fields cfg maps, in a fixed order. A field whose
// attribute is not mapped is not managed: the sync never touches it.
func fieldSpecs(cfg *Config) []fieldSpec {
	a := &cfg.Attributes
	var out []fieldSpec
	add := func(attr, key string, value func(it *item) string) {
		if attr != "" {
			out = append(out, fieldSpec{key, value})
		}
	}
	add(a.UserName, fUserName, func(it *item) string { return it.e.UserName })
	add(a.GivenName, fGiven, func(it *item) string { return it.e.GivenName })
	add(a.FamilyName, fFamily, func(it *item) string { return it.e.FamilyName })
	add(a.DisplayName, fDisplay, func(it *item) string { return it.e.DisplayName })
	add(a.Email, fEmails, func(it *item) string { return strings.Join(it.e.Emails, "\n") })
	add(a.Extension, fExtension, func(it *item) string { return it.e.Extension })
	add(a.TelephoneNumber, fWork, func(it *item) string { return strings.Join(it.e.Phones.Work, "\n") })
	add(a.Mobile, fMobile, func(it *item) string { return strings.Join(it.e.Phones.Mobile, "\n") })
	add(a.Title, fTitle, func(it *item) string { return it.e.Title })
	add(a.Department, fDepartment, func(it *item) string { return it.e.Department })
	add(a.Location, fLocation, func(it *item) string { return it.e.Location })
	add(a.Language, fLanguage, func(it *item) string { return it.e.Language })
	add(a.Manager, fManager, func(it *item) string { return it.e.ManagerDN })
	// Profiles and teams are managed also without groupMappings, so that
	// removing the last mapping takes back what it gave (applyWant leaves
	// them alone for users the sync never gave any).
	add("groups", fProfiles, func(it *item) string { return strings.Join(it.profiles, "\n") })
	add("groups", fTeams, func(it *item) string { return strings.Join(it.teams, "\n") })
	for _, name := range a.Extra {
		add(name, fCustom+name, func(it *item) string { return strings.Join(it.e.Extra[name], ", ") })
	}
	add("status", fStatus, func(it *item) string {
		if it.e.Disabled {
			return statusDisabled
		}
		return statusEnabled
	})
	return out
}

// outcome is the writer's record of one item: what applying it to its
// user did (applyWant), and how the write went (create, update).
type outcome struct {
	fields      []string // managed fields whose user value changed
	pending     bool     // something is left for later: store hashPending
	other       bool     // pending for another reason than deferMgr or deferDeact
	reactivated bool
	deferMgr    bool // the manager DN could not be resolved yet
	deferDeact  bool // the entry is disabled: deactivate after the guards
	problems    []string

	act      Action // Op "" when nothing changed
	conflict string
	failure  string // the library refused the user
	storeErr error
	fix      *followUp // the manager to set after the read
	deact    *followUp // the deactivation the guards must allow
}

// refused reports whether the user was not written: a conflict, a refusal
// or a store error.
func (o *outcome) refused() bool { return o.conflict != "" || o.failure != "" || o.storeErr != nil }

func (o *outcome) problemf(format string, args ...any) {
	o.problems = append(o.problems, fmt.Sprintf(format, args...))
}

// applyWant sets the fields of u whose directory value changed since the
// last sync (Owner.Synced), and records the new values in Owner.Synced. A
// field the directory kept while an admin changed the user is left alone.
// Fields in skip are not touched (the library refused their value). It
// leaves Owner.Hash to the caller.
func (w *writer) applyWant(b *pbxusers.Batch, u *pbxusers.User, it *item, skip map[string]bool) outcome {
	var res outcome
	synced := make(map[string]string, len(w.fields))
	for k, v := range u.Owner.Synced {
		synced[k] = v
	}
	for _, f := range w.fields {
		val := f.value(it)
		old, had := synced[f.key]
		if had && old == val {
			continue
		}
		if !had && val == "" && (f.key == fProfiles || f.key == fTeams) {
			continue // the directory never gave any and gives none
		}
		if skip[f.key] {
			res.pending, res.other = true, true
			continue
		}
		changed, record := w.applyField(b, u, it, f.key, old, val, skip, &res)
		if changed {
			res.fields = append(res.fields, f.key)
		}
		if record {
			synced[f.key] = val
		}
	}
	u.Owner.Synced = synced
	return res
}

// applyField sets one field of u to the directory's value val (old is the
// value last applied). It reports whether the user changed and whether val
// counts as applied (else it stays pending).
func (w *writer) applyField(b *pbxusers.Batch, u *pbxusers.User, it *item, key, old, val string, skip map[string]bool, res *outcome) (changed, record bool) {
	set := func(p *string) (bool, bool) {
		c := *p != val
		*p = val
		return c, true
	}
	switch key {
	case fUserName:
		return set(&u.UserName)
	case fGiven:
		return set(&u.Name.Given)
	case fFamily:
		return set(&u.Name.Family)
	case fDisplay:
		return set(&u.DisplayName)
	case fExtension:
		return set(&u.Extension)
	case fTitle:
		return set(&u.Title)
	case fDepartment:
		return set(&u.Enterprise.Department)
	case fLocation:
		return set(&u.Location)
	case fLanguage:
		return set(&u.Language)
	case fEmails:
		next := mergeEmails(u.Emails, splitList(old), w.validEmails(&it.e, res))
		c := !slices.Equal(next, u.Emails)
		u.Emails = next
		return c, true
	case fWork, fMobile:
		typ, vals := pbxusers.PhoneWork, it.e.Phones.Work
		if key == fMobile {
			typ, vals = pbxusers.PhoneMobile, it.e.Phones.Mobile
		}
		var next []pbxusers.PhoneNumber
		if u.ID == "" {
			// A new user: the library normalizes the numbers (parsing one
			// costs 20 µs; doing it twice was 5% of a 100,000-user sync) and
			// names those it refuses, which create leaves out and retries.
			var raw []string
			for _, v := range vals {
				if !skip[skipPhone+v] && !slices.Contains(raw, v) {
					raw = append(raw, v)
				}
			}
			next = mergePhones(u.PhoneNumbers, typ, nil, raw)
		} else {
			oldNums := w.normalizePhones(splitList(old), nil)
			next = mergePhones(u.PhoneNumbers, typ, oldNums, w.normalizePhones(vals, func(v string, err error) {
				res.problemf("%s %q left out: %v", key, v, err)
			}))
		}
		c := !slices.Equal(next, u.PhoneNumbers)
		u.PhoneNumbers = next
		return c, true
	case fProfiles, fTeams:
		var names []string
		cur := &u.Profiles
		if key == fProfiles {
			names = it.profiles
		} else {
			names, cur = it.teams, &u.Teams
		}
		oldIDs, _ := w.names.resolve(b, key, splitList(old))
		newIDs, complete := w.names.resolve(b, key, names)
		next := mergeIDs(*cur, oldIDs, newIDs)
		c := !slices.Equal(next, *cur)
		*cur = next
		if !complete {
			res.pending, res.other = true, true // resolved once the profile or team exists
		}
		return c, complete
	case fManager:
		if val == "" {
			c := u.ManagerID != ""
			u.ManagerID = ""
			return c, true
		}
		if id, ok := w.managerNow(val); ok {
			if id == u.ID { // the directory names the user as its own manager
				return false, true
			}
			c := u.ManagerID != id
			u.ManagerID = id
			return c, true
		}
		res.deferMgr, res.pending = true, true
		if old != "" && u.ManagerID != "" { // the manager the sync set is no longer it
			u.ManagerID = ""
			return true, false
		}
		return false, false
	case fStatus:
		switch {
		case val == statusEnabled && !u.Active() && u.DeactivatedBy == pbxusers.SourceLDAP:
			u.Status, res.reactivated = pbxusers.StatusActive, true
			return true, true
		case val == statusDisabled && u.Active():
			res.deferDeact, res.pending = true, true
			return false, false
		}
		return false, true // an admin's own (de)activation stands
	}
	if name, ok := strings.CutPrefix(key, fCustom); ok {
		if val == "" {
			_, had := u.CustomFields[name]
			delete(u.CustomFields, name)
			return had, true
		}
		if u.CustomFields == nil {
			u.CustomFields = map[string]string{}
		}
		c := u.CustomFields[name] != val
		u.CustomFields[name] = val
		return c, true
	}
	return false, true
}

// validEmails returns the entry's addresses pbxusers accepts, reporting
// the others.
func (w *writer) validEmails(e *Entry, res *outcome) []string {
	var out []string
	for _, v := range e.Emails {
		if a, err := mail.ParseAddress(v); err != nil || a.Address != v || a.Name != "" {
			res.problemf("mail %q left out: not an email address", v)
			continue
		}
		out = append(out, v)
	}
	return out
}

// normalizePhones returns the numbers in E.164 (read with the tenant's
// region), calling bad for each that does not parse.
func (w *writer) normalizePhones(vals []string, bad func(string, error)) []string {
	var out []string
	for _, v := range vals {
		n, _, err := pbxusers.NormalizeE164(v, w.region)
		if err != nil {
			if bad != nil {
				bad(v, err)
			}
			continue
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// mergeEmails puts the directory's addresses first (the first is primary)
// and keeps the addresses an admin added, dropping those the directory set
// before and no longer has.
func mergeEmails(cur []pbxusers.Email, oldDir, newDir []string) []pbxusers.Email {
	drop := make(map[string]bool, len(oldDir)+len(newDir))
	for _, v := range oldDir {
		drop[strings.ToLower(v)] = true
	}
	out := make([]pbxusers.Email, 0, len(newDir)+len(cur))
	for i, v := range newDir {
		drop[strings.ToLower(v)] = true
		out = append(out, pbxusers.Email{Value: v, Type: "work", Primary: i == 0})
	}
	for _, e := range cur {
		if !drop[strings.ToLower(e.Value)] {
			e.Primary = e.Primary && len(newDir) == 0
			out = append(out, e)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// mergePhones replaces the numbers of one type the directory set before by
// its current ones, keeping every other number. The first directory number
// becomes primary when no number is.
func mergePhones(cur []pbxusers.PhoneNumber, typ pbxusers.PhoneType, oldDir, newDir []string) []pbxusers.PhoneNumber {
	out := make([]pbxusers.PhoneNumber, 0, len(cur)+len(newDir))
	primary := false
	for _, p := range cur {
		if p.Type == typ && (slices.Contains(oldDir, p.Number) || slices.Contains(newDir, p.Number)) {
			continue
		}
		primary = primary || p.Primary
		out = append(out, p)
	}
	for _, n := range newDir {
		out = append(out, pbxusers.PhoneNumber{Number: n, Type: typ, Primary: !primary && typ == pbxusers.PhoneWork})
		primary = primary || typ == pbxusers.PhoneWork
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// mergeIDs removes the ids the directory gave before and adds the current
// ones, keeping ids an admin added and the order.
func mergeIDs(cur, oldIDs, newIDs []string) []string {
	out := make([]string, 0, len(cur)+len(newIDs))
	for _, id := range cur {
		if !slices.Contains(oldIDs, id) || slices.Contains(newIDs, id) {
			out = append(out, id)
		}
	}
	for _, id := range newIDs {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// nameCache resolves profile and team names to ids once per run. Unknown
// names are reported once, as run errors: the users keep their other
// profiles and teams, and get the missing one once it exists.
type nameCache struct {
	ids     map[string]string // key "profiles\x00name" (lowercase) → id, "" if unknown
	report  func(msg string)
	failure error // a store error while looking up; the batch fails with it
}

// resolve returns the ids of names and whether all were known.
func (c *nameCache) resolve(b *pbxusers.Batch, kind string, names []string) ([]string, bool) {
	if len(names) == 0 {
		return nil, true
	}
	ids := make([]string, 0, len(names))
	complete := true
	for _, name := range names {
		k := kind + "\x00" + strings.ToLower(name)
		id, ok := c.ids[k]
		if !ok {
			var err error
			if kind == fProfiles {
				var p pbxusers.Profile
				p, err = b.LookupProfile(name)
				id = p.ID
			} else {
				var t pbxusers.Team
				t, err = b.LookupTeam(pbxusers.TeamKeyName, name)
				id = t.ID
			}
			switch {
			case errors.Is(err, pbxusers.ErrNotFound):
				id = ""
				what := "profile"
				if kind == fTeams {
					what = "team"
				}
				c.report(fmt.Sprintf("%s %q named in groupMappings does not exist in the tenant; its members get it once it is created", what, name))
			case err != nil:
				if c.failure == nil {
					c.failure = fmt.Errorf("look up %q: %w", name, err)
				}
				complete = false
				continue // not cached: the batch fails
			}
			c.ids[k] = id
		}
		if id == "" {
			complete = false
			continue
		}
		ids = append(ids, id)
	}
	return ids, complete
}

// dnIndex maps the DNs a read returned to their external ids, to resolve
// managers. Keys are a 64-bit hash of the lowercased DN: 100,000 users cost
// about 5 MB, and a collision (odds about 1 in 10^9 at that size) would
// only mismatch one manager link, which the DN in Owner.Synced shows.
type dnIndex struct {
	mu   sync.Mutex
	seed maphash.Seed
	m    map[uint64]string
}

func newDNIndex() *dnIndex { return &dnIndex{seed: maphash.MakeSeed(), m: map[uint64]string{}} }

func (d *dnIndex) key(dn string) uint64 { return maphash.String(d.seed, strings.ToLower(dn)) }

func (d *dnIndex) add(dn, ext string) {
	k := d.key(dn)
	d.mu.Lock()
	d.m[k] = ext
	d.mu.Unlock()
}

func (d *dnIndex) get(dn string) (string, bool) {
	k := d.key(dn)
	d.mu.Lock()
	defer d.mu.Unlock()
	ext, ok := d.m[k]
	return ext, ok
}

// skipPhone prefixes a skip key naming one phone number the library
// refused for a new user.
const skipPhone = "phone\x00"

// refusedPhones returns the numbers of u that a *pbxusers.ValidationError
// refuses ("phoneNumbers[i].number" problems) with the reasons, and the
// error without them (nil if nothing else was refused).
func refusedPhones(err error, u *pbxusers.User) (numbers, reasons []string, rest error) {
	var ve *pbxusers.ValidationError
	if !errors.As(err, &ve) {
		return nil, nil, err
	}
	var others pbxusers.Problems
	for _, fe := range ve.Fields {
		var i int
		if n, _ := fmt.Sscanf(fe.Field, "phoneNumbers[%d].number", &i); n == 1 && i >= 0 && i < len(u.PhoneNumbers) {
			numbers = append(numbers, u.PhoneNumbers[i].Number)
			reasons = append(reasons, fe.Reason)
			continue
		}
		others.Add(fe.Field, "%s", fe.Reason)
	}
	return numbers, reasons, others.Err()
}

// validationKeys maps the fields a *pbxusers.ValidationError names to the
// managed fields that set them. ok is false when a field is not one the
// sync can leave out (userName).
func validationKeys(err error, fields []fieldSpec) (keys []string, ok bool) {
	var ve *pbxusers.ValidationError
	if !errors.As(err, &ve) {
		return nil, false
	}
	for _, fe := range ve.Fields {
		var k []string
		switch name := fe.Field; {
		case name == fUserName:
			return nil, false
		case strings.HasPrefix(name, "emails"):
			k = []string{fEmails}
		case strings.HasPrefix(name, "phoneNumbers"):
			k = []string{fWork, fMobile}
		case strings.HasPrefix(name, "profiles"):
			k = []string{fProfiles}
		case strings.HasPrefix(name, "teams"):
			k = []string{fTeams}
		case name == "managerId":
			k = []string{fManager}
		case name == "customFields":
			for _, f := range fields {
				if strings.HasPrefix(f.key, fCustom) {
					k = append(k, f.key)
				}
			}
		default:
			k = []string{name}
		}
		managed := false
		for _, key := range k {
			for _, f := range fields {
				managed = managed || f.key == key
			}
		}
		if !managed {
			return nil, false
		}
		keys = append(keys, k...)
	}
	return keys, len(keys) > 0
}
