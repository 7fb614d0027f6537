package pbxusers

import (
	"net/mail"
	"net/netip"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/language"
	"golang.org/x/text/unicode/norm"
)

// normalize fills defaults, rewrites values into their canonical form (E.164
// numbers, canonical zone and language names, MAC and IP forms) and checks
// every field that can be checked without the store. region is the tenant's
// phone region.
func (u *User) normalize(region string, plan ExtensionPlan) error {
	var p Problems
	// Limits first: an oversized user is refused before any per-value work.
	if u.checkLimits(&p); len(p.list) > 0 {
		return p.Err()
	}
	if u.Kind == "" {
		u.Kind = KindPerson
	}
	if !u.Kind.valid() {
		p.Add("kind", "must be person, call_queue, auto_attendant or conference_bridge")
	}
	if u.Status == "" {
		u.Status = StatusActive
	}
	if u.Status != StatusActive && u.Status != StatusInactive {
		p.Add("status", "must be active or inactive")
	}
	if u.Owner.Source == "" {
		u.Owner.Source = SourceManual
	}
	if !u.Owner.Source.valid() {
		p.Add("owner.source", "must be manual, scim or ldap")
	}
	checkText(&p, "owner.externalId", u.Owner.ExternalID, 256)
	if u.Role == "" {
		u.Role = RoleUser
	}
	if !u.Role.valid() {
		p.Add("role", "must be user, agent, supervisor, admin or owner")
	}

	u.UserName = strings.TrimSpace(u.UserName)
	switch {
	case u.UserName == "":
		p.Add("userName", "is required")
	case strings.IndexFunc(u.UserName, unicode.IsSpace) >= 0:
		p.Add("userName", "must not contain spaces")
	case strings.IndexFunc(u.UserName, isBidiControl) >= 0:
		p.Add("userName", "must not contain bidirectional control characters (they make one name look like another)")
	default:
		checkText(&p, "userName", u.UserName, 256)
	}
	if strings.IndexFunc(u.Owner.ExternalID, isBidiControl) >= 0 {
		p.Add("owner.externalId", "must not contain bidirectional control characters")
	}
	for field, v := range map[string]string{
		"name.formatted": u.Name.Formatted, "name.given": u.Name.Given, "name.family": u.Name.Family,
		"name.middle": u.Name.Middle, "name.prefix": u.Name.Prefix, "name.suffix": u.Name.Suffix,
		"displayName": u.DisplayName, "nickname": u.Nickname, "title": u.Title, "customId": u.CustomID,
		"location": u.Location, "enterprise.employeeNumber": u.Enterprise.EmployeeNumber,
		"enterprise.costCenter": u.Enterprise.CostCenter, "enterprise.organization": u.Enterprise.Organization,
		"enterprise.division": u.Enterprise.Division, "enterprise.department": u.Enterprise.Department,
		"callerId.name": u.CallerID.Name,
	} {
		checkText(&p, field, v, 256)
	}

	primaries := 0
	seen := map[string]bool{}
	for i, e := range u.Emails {
		f := "emails[" + strconv.Itoa(i) + "]"
		u.Emails[i].Value = strings.TrimSpace(e.Value)
		e.Value = u.Emails[i].Value
		if a, err := mail.ParseAddress(e.Value); err != nil || a.Address != e.Value || a.Name != "" {
			p.Add(f+".value", "%q is not an email address", e.Value)
		} else if why := emailLengthProblem(e.Value); why != "" {
			p.Add(f+".value", "%s", why)
		}
		if e.Type != "" && e.Type != "work" && e.Type != "home" && e.Type != "other" {
			p.Add(f+".type", "must be work, home or other")
		}
		k := strings.ToLower(e.Value)
		if seen[k] {
			p.Add(f+".value", "%q is listed twice", e.Value)
		}
		seen[k] = true
		if e.Primary {
			primaries++
		}
	}
	if primaries > 1 {
		p.Add("emails", "only one address can be primary")
	}

	if u.Extension != "" {
		if why := plan.check(u.Extension); why != "" {
			p.Add("extension", "%s", why)
		}
	}
	if u.StationNumber != "" && (!isDigits(u.StationNumber) || len(u.StationNumber) > 20) {
		p.Add("stationNumber", "must be 1–20 digits")
	}

	primaries = 0
	for i := range u.PhoneNumbers {
		f := "phoneNumbers[" + strconv.Itoa(i) + "]"
		n := &u.PhoneNumbers[i]
		e164, ext, err := NormalizeE164(n.Number, region)
		switch {
		case err == nil:
			n.Number, n.NotDialable = e164, false
			if ext != "" {
				n.Ext = ext
			}
		case LooksLikePhoneNumber(n.Number):
			// A contact number pbxgate cannot dial (no region to read it
			// with): kept as sent and flagged, never a reason to refuse.
			n.Number, n.NotDialable = strings.TrimSpace(n.Number), true
		default:
			p.Add(f+".number", "%q %s", n.Number, err.Error())
		}
		if n.Ext != "" && !isDigits(n.Ext) {
			p.Add(f+".ext", "must be digits")
		}
		switch n.Type {
		case "", PhoneWork, PhoneMobile, PhoneHome, PhoneFax, PhoneOther:
		default:
			p.Add(f+".type", "must be work, mobile, home, fax or other")
		}
		if n.Primary {
			primaries++
		}
	}
	if primaries > 1 {
		p.Add("phoneNumbers", "only one number can be primary")
	}
	normalizeNumber(&p, "callerId.number", &u.CallerID.Number, region)
	normalizeNumber(&p, "callerId.emergency", &u.CallerID.Emergency, region)
	for i := range u.CallerID.Allowed {
		normalizeNumber(&p, "callerId.allowed["+strconv.Itoa(i)+"]", &u.CallerID.Allowed[i], region)
	}
	if len(u.CallerID.Allowed) > 0 && !u.Features.MultipleCallerID {
		p.Add("callerId.allowed", "needs the multipleCallerId feature")
	}

	if u.Language != "" {
		tag, err := language.Parse(u.Language)
		if err != nil {
			p.Add("language", "%q is not a BCP 47 language tag (e.g. en-US, de)", u.Language)
		} else {
			u.Language = tag.String()
		}
	}
	if u.TimeZone != "" {
		if _, err := loadLocation(u.TimeZone); err != nil {
			p.Add("timeZone", "unknown IANA time zone %q", u.TimeZone)
		} else {
			u.TimeZone = CanonicalTimeZone(u.TimeZone)
		}
	}
	if len(u.CustomFields) > 50 {
		p.Add("customFields", "at most 50 fields")
	}
	for k, v := range u.CustomFields {
		if k == "" || len(k) > 64 {
			p.Add("customFields", "names must be 1–64 characters")
		}
		checkText(&p, "customFields."+k, v, 1000)
	}

	for i, a := range u.Addresses {
		f := "addresses[" + strconv.Itoa(i) + "]"
		for sub, v := range map[string]string{"formatted": a.Formatted, "streetAddress": a.StreetAddress,
			"locality": a.Locality, "region": a.Region, "postalCode": a.PostalCode, "country": a.Country} {
			checkText(&p, f+"."+sub, v, 1000)
		}
		checkText(&p, f+".type", a.Type, 64)
	}
	checkPrimaries(&p, "addresses", len(u.Addresses), func(i int) bool { return u.Addresses[i].Primary })
	for field, list := range map[string][]Attribute{"photos": u.Photos, "roles": u.Roles, "entitlements": u.Entitlements} {
		for i, a := range list {
			f := field + "[" + strconv.Itoa(i) + "]"
			if a.Value == "" {
				p.Add(f+".value", "is required")
			}
			checkText(&p, f+".value", a.Value, 2048)
			checkText(&p, f+".display", a.Display, 256)
			checkText(&p, f+".type", a.Type, 64)
		}
		checkPrimaries(&p, field, len(list), func(i int) bool { return list[i].Primary })
	}

	u.Profiles = dedupe(&p, "profiles", u.Profiles)
	u.Teams = dedupe(&p, "teams", u.Teams)
	p.Merge("overrides", u.Overrides.Validate())
	defaults, queues := 0, map[string]bool{}
	for i, q := range u.Queues {
		f := "queues[" + strconv.Itoa(i) + "]"
		switch {
		case q.QueueID == "":
			p.Add(f+".queueId", "is required")
		case queues[q.QueueID]:
			p.Add(f+".queueId", "queue listed twice")
		case q.QueueID == u.ID && u.ID != "":
			p.Add(f+".queueId", "a queue cannot be its own member")
		}
		queues[q.QueueID] = true
		if q.Priority < 0 {
			p.Add(f+".priority", "must be ≥ 0")
		}
		if q.DefaultOutbound {
			defaults++
		}
	}
	if defaults > 1 {
		p.Add("queues", "only one queue can be the default outbound queue")
	}

	switch u.Recording {
	case "":
		u.Recording = RecordNever
	case RecordNever, RecordAlways, RecordOnDemand:
	default:
		p.Add("recording", "must be never, always or on_demand")
	}
	for i, a := range u.IPRestriction.Allowed {
		f := "ipRestriction.allowed[" + strconv.Itoa(i) + "]"
		a = strings.TrimSpace(a)
		if pfx, err := netip.ParsePrefix(a); err == nil {
			u.IPRestriction.Allowed[i] = pfx.Masked().String()
		} else if ip, err := netip.ParseAddr(a); err == nil {
			u.IPRestriction.Allowed[i] = ip.String()
		} else {
			p.Add(f, "%q is not an IP address or CIDR prefix", a)
		}
	}
	if u.IPRestriction.Enabled && len(u.IPRestriction.Allowed) == 0 {
		p.Add("ipRestriction.allowed", "needs at least one address when the restriction is enabled")
	}
	subs := map[Notification]bool{}
	for i, n := range u.Notifications {
		known := false
		for _, k := range Notifications {
			known = known || k == n
		}
		if !known {
			p.Add("notifications["+strconv.Itoa(i)+"]", "unknown topic %q", n)
		}
		if subs[n] {
			p.Add("notifications["+strconv.Itoa(i)+"]", "topic %q listed twice", n)
		}
		subs[n] = true
	}

	switch u.Password.Mode {
	case "":
		if u.Password.New != "" || u.Password.IsSet || u.Kind.System() {
			u.Password.Mode = PasswordManual
		} else {
			u.Password.Mode = PasswordInvite
		}
	case PasswordManual, PasswordInvite:
	default:
		p.Add("password.mode", "must be manual or invite")
	}
	if u.Password.New != "" {
		if err := CheckPasswordPolicy(u.Password.New, u.UserName); err != nil {
			p.Add("password", "%s", err.Error())
		}
		if u.Kind.System() {
			p.Add("password", "system users do not log in and take no password")
		}
	}
	normalizeRouting(&p, &u.Routing, region)
	p.Merge("routing", u.Routing.Validate())
	if u.Kind == KindCallQueue {
		if u.Queue != nil {
			switch u.Queue.Dispatch {
			case "", "ring_all", "round_robin", "linear_hunt", "longest_idle":
			default:
				p.Add("queue.dispatch", "must be ring_all, round_robin, linear_hunt or longest_idle")
			}
			if u.Queue.MaxWaitSeconds < 0 || u.Queue.MaxWaitSeconds > 86400 {
				p.Add("queue.maxWaitSeconds", "must be between 0 and 86400")
			}
		}
	} else if u.Queue != nil {
		p.Add("queue", "only call queues have queue settings")
	}
	if u.Kind.System() && len(u.Queues) > 0 {
		p.Add("queues", "system users cannot be queue members")
	}
	return p.Err()
}

// checkPrimaries reports a multi-valued attribute with more than one
// primary value (RFC 7643 §2.4: at most one).
func checkPrimaries(p *Problems, field string, n int, primary func(int) bool) {
	count := 0
	for i := 0; i < n; i++ {
		if primary(i) {
			count++
		}
	}
	if count > 1 {
		p.Add(field, "only one value can be primary")
	}
}

// LooksLikePhoneNumber reports whether s is written like a phone number:
// 3 to 20 digits among spaces, +, -, dots, slashes and parentheses.
func LooksLikePhoneNumber(s string) bool {
	digits := 0
	for _, r := range strings.TrimSpace(s) {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case strings.ContainsRune(" +-./()", r):
		default:
			return false
		}
	}
	return digits >= 3 && digits <= 20
}

func normalizeNumber(p *Problems, field string, v *string, region string) {
	if *v == "" {
		return
	}
	e164, _, err := NormalizeE164(*v, region)
	if err != nil {
		p.Add(field, "%q %s", *v, err.Error())
		return
	}
	*v = e164
}

// UserNameKey is the form under which userNames are compared and indexed:
// Unicode NFKC (a fullwidth "ａ" is "a", a decomposed "é" the composed
// one), then case-folded. Two userNames with the same key are the same
// login, so the second is refused as a duplicate, and a filter or lookup by
// userName matches under the key. The userName itself is stored as sent.
func UserNameKey(s string) string {
	return cases.Fold().String(norm.NFKC.String(strings.TrimSpace(s)))
}

// Limits on what one user holds. They are checked before any other
// validation, so an oversized write costs no more than counting.
const (
	// MaxValuesPerAttribute is the most values a multi-valued attribute of
	// a user may hold: emails, phoneNumbers, addresses, photos, roles,
	// entitlements, callerId.allowed, ipRestriction.allowed, profiles.
	MaxValuesPerAttribute = 20
	// MaxCustomFields is the most custom fields a user may hold.
	MaxCustomFields = 50
	// MaxQueueMemberships is the most call queues a user may be a member
	// of, and MaxTeamMemberships the most teams.
	MaxQueueMemberships = 100
	MaxTeamMemberships  = 100
)

// checkLimits adds a problem for every attribute holding more values than
// its limit.
func (u *User) checkLimits(p *Problems) {
	for _, c := range []struct {
		field  string
		n, max int
	}{
		{"emails", len(u.Emails), MaxValuesPerAttribute},
		{"phoneNumbers", len(u.PhoneNumbers), MaxValuesPerAttribute},
		{"addresses", len(u.Addresses), MaxValuesPerAttribute},
		{"photos", len(u.Photos), MaxValuesPerAttribute},
		{"roles", len(u.Roles), MaxValuesPerAttribute},
		{"entitlements", len(u.Entitlements), MaxValuesPerAttribute},
		{"callerId.allowed", len(u.CallerID.Allowed), MaxValuesPerAttribute},
		{"ipRestriction.allowed", len(u.IPRestriction.Allowed), MaxValuesPerAttribute},
		{"profiles", len(u.Profiles), MaxValuesPerAttribute},
		{"customFields", len(u.CustomFields), MaxCustomFields},
		{"queues", len(u.Queues), MaxQueueMemberships},
		{"teams", len(u.Teams), MaxTeamMemberships},
	} {
		if c.n > c.max {
			p.Add(c.field, "has %d values; at most %d are allowed", c.n, c.max)
		}
	}
}

// isBidiControl reports the Unicode bidirectional formatting characters
// (Bidi_Control), which can make one identifier display as another.
func isBidiControl(r rune) bool {
	switch {
	case r == 0x061C, r == 0x200E, r == 0x200F:
		return true
	case r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}

// emailLengthProblem checks an address against the lengths of RFC 5321
// §4.5.3.1: 64 octets of local part, 255 of domain, 254 in all (a path of
// 256 less its angle brackets).
func emailLengthProblem(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	switch {
	case len(addr) > 254:
		return "is longer than 254 characters (RFC 5321)"
	case at > 64:
		return "has a part before the @ longer than 64 characters (RFC 5321)"
	case len(addr)-at-1 > 255:
		return "has a domain longer than 255 characters (RFC 5321)"
	}
	return ""
}

func checkText(p *Problems, field, v string, max int) {
	if v == "" {
		return
	}
	if !utf8.ValidString(v) {
		p.Add(field, "must be valid UTF-8")
		return
	}
	if utf8.RuneCountInString(v) > max {
		p.Add(field, "must be at most %d characters", max)
	}
	for _, r := range v {
		if unicode.IsControl(r) {
			p.Add(field, "must not contain control characters")
			return
		}
	}
}

func dedupe(p *Problems, field string, ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := ids[:0]
	for _, id := range ids {
		if id == "" {
			p.Add(field, "contains an empty id")
			continue
		}
		if !seen[id] {
			out = append(out, id)
		}
		seen[id] = true
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
