package scim

import (
	"encoding/json"
	"fmt"
	"net/mail"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/language"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// writeMode says which request a conversion from attributes serves.
type writeMode int

const (
	modeCreate writeMode = iota
	modeReplace
	modePatch
)

// profileIndex resolves permission profiles between ids (stored) and names
// (what SCIM shows and accepts).
type profileIndex struct {
	byID   map[string]string // id → name
	byName map[string]string // lower-cased name → id
}

func newProfileIndex(ps []pbxusers.Profile) profileIndex {
	ix := profileIndex{byID: make(map[string]string, len(ps)), byName: make(map[string]string, len(ps))}
	for _, p := range ps {
		ix.byID[p.ID] = p.Name
		ix.byName[strings.ToLower(p.Name)] = p.ID
	}
	return ix
}

// names returns the profiles' names; an id without a profile (created
// since the index was read) is shown as the id.
func (ix profileIndex) names(ids []string) []any {
	out := make([]any, 0, len(ids))
	for _, id := range ids {
		if n, ok := ix.byID[id]; ok {
			out = append(out, n)
		} else {
			out = append(out, id)
		}
	}
	return out
}

// ids resolves profile names (case-insensitively); unknown names are
// reported under field.
func (ix profileIndex) ids(p *pbxusers.Problems, field string, names []any) []string {
	var out []string
	for _, v := range names {
		n, _ := elementMap(v)["value"].(string)
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		if id, ok := ix.byName[strings.ToLower(n)]; ok {
			out = append(out, id)
		} else if _, ok := ix.byID[n]; ok {
			out = append(out, n)
		} else {
			p.Add(field, "no permission profile named %q", n)
		}
	}
	return out
}

// userMapper converts users to and from the SCIM attribute map.
type userMapper struct {
	baseURL  string
	profiles profileIndex
	// teams maps team ids to names for the groups attribute; nil leaves
	// groups out.
	teams map[string]string
	// region is the tenant's phone region for national numbers.
	region string
	// managers maps the manager values a write may set (an id or an
	// externalId) to the id of the user they name, "" for a user that is
	// not known (yet); see usersHandler.resolveManagers. A value missing
	// from the map is taken as an id for the library to check.
	managers map[string]string
	// warnings collects what a write skipped (see warn).
	warnings []warning
}

// warning is an attribute value a write skipped, and why. The values
// themselves are not kept: they may be personal data and end up in logs.
type warning struct {
	attr, reason string
}

// warn records that a non-identifying attribute value was skipped, per
// the package's principle (see doc.go): the request goes on without it.
func (m *userMapper) warn(attr, format string, args ...any) {
	m.warnings = append(m.warnings, warning{attr: attr, reason: fmt.Sprintf(format, args...)})
}

// libraryWarnings returns the warnings in the library's form, for the
// write's change-log entry (pbxusers.WithWarnings).
func (m *userMapper) libraryWarnings() []pbxusers.Warning {
	out := make([]pbxusers.Warning, len(m.warnings))
	for i, w := range m.warnings {
		out[i] = pbxusers.Warning{Field: w.attr, Reason: w.reason}
	}
	return out
}

func (m *userMapper) ref(kind, id string) string {
	if m.baseURL == "" {
		return ""
	}
	return m.baseURL + "/" + kind + "/" + id
}

// toAttrs returns the user's SCIM attributes. With full set, the extension
// containers are always present (the base of a PATCH); otherwise empty
// values are left out (a response).
func (m *userMapper) toAttrs(u pbxusers.User, full bool) map[string]any {
	a := map[string]any{}
	put := func(c map[string]any, k, v string) {
		if v != "" {
			c[k] = v
		}
	}
	put(a, "userName", u.UserName)
	if full {
		put(a, "externalId", u.Owner.ExternalID)
	}
	name := map[string]any{}
	put(name, "formatted", u.Name.Formatted)
	put(name, "familyName", u.Name.Family)
	put(name, "givenName", u.Name.Given)
	put(name, "middleName", u.Name.Middle)
	put(name, "honorificPrefix", u.Name.Prefix)
	put(name, "honorificSuffix", u.Name.Suffix)
	if len(name) > 0 {
		a["name"] = name
	}
	put(a, "displayName", u.DisplayName)
	put(a, "nickName", u.Nickname)
	put(a, "title", u.Title)
	put(a, "preferredLanguage", u.Language)
	put(a, "locale", u.Language)
	put(a, "timezone", u.TimeZone)
	a["active"] = u.Active()
	if len(u.Emails) > 0 {
		list := make([]any, len(u.Emails))
		for i, e := range u.Emails {
			em := map[string]any{"value": e.Value, "primary": e.Primary}
			put(em, "type", e.Type)
			list[i] = em
		}
		a["emails"] = list
	}
	if len(u.PhoneNumbers) > 0 {
		list := make([]any, len(u.PhoneNumbers))
		for i, n := range u.PhoneNumbers {
			v := n.Number
			if n.Ext != "" {
				v = "tel:" + n.Number + ";ext=" + n.Ext
			}
			pm := map[string]any{"value": v, "primary": n.Primary}
			put(pm, "type", string(n.Type))
			list[i] = pm
		}
		a["phoneNumbers"] = list
	}
	if len(u.Addresses) > 0 {
		list := make([]any, len(u.Addresses))
		for i, ad := range u.Addresses {
			am := map[string]any{}
			put(am, "formatted", ad.Formatted)
			put(am, "streetAddress", ad.StreetAddress)
			put(am, "locality", ad.Locality)
			put(am, "region", ad.Region)
			put(am, "postalCode", ad.PostalCode)
			put(am, "country", ad.Country)
			put(am, "type", ad.Type)
			if ad.Primary {
				am["primary"] = true
			}
			list[i] = am
		}
		a["addresses"] = list
	}
	for name, list := range map[string][]pbxusers.Attribute{"photos": u.Photos, "roles": u.Roles, "entitlements": u.Entitlements} {
		if len(list) > 0 {
			a[name] = fromAttributes(list)
		}
	}
	if m.teams != nil && len(u.Teams) > 0 {
		list := make([]any, 0, len(u.Teams))
		for _, id := range u.Teams {
			g := map[string]any{"value": id, "type": "direct"}
			put(g, "display", m.teams[id])
			put(g, "$ref", m.ref("Groups", id))
			list = append(list, g)
		}
		a["groups"] = list
	}

	ent := map[string]any{}
	put(ent, "employeeNumber", u.Enterprise.EmployeeNumber)
	put(ent, "costCenter", u.Enterprise.CostCenter)
	put(ent, "organization", u.Enterprise.Organization)
	put(ent, "division", u.Enterprise.Division)
	put(ent, "department", u.Enterprise.Department)
	switch {
	case u.ManagerID != "":
		mgr := map[string]any{"value": u.ManagerID}
		put(mgr, "$ref", m.ref("Users", u.ManagerID))
		ent["manager"] = mgr
	case u.ManagerRef != "":
		// Not a user yet: the reference as the IdP sent it, without $ref.
		ent["manager"] = map[string]any{"value": u.ManagerRef}
	}
	if full || len(ent) > 0 {
		a[EnterpriseUserSchema] = ent
	}

	pbx := map[string]any{}
	put(pbx, "kind", string(u.Kind))
	put(pbx, "source", string(u.Owner.Source))
	put(pbx, "extension", u.Extension)
	put(pbx, "stationNumber", u.StationNumber)
	put(pbx, "location", u.Location)
	put(pbx, "customId", u.CustomID)
	put(pbx, "role", string(u.Role))
	if len(u.Profiles) > 0 {
		pbx["profiles"] = m.profiles.names(u.Profiles)
	}
	put(pbx, "recording", string(u.Recording))
	cid := map[string]any{"anonymous": u.CallerID.Anonymous}
	put(cid, "number", u.CallerID.Number)
	put(cid, "name", u.CallerID.Name)
	pbx["callerId"] = cid
	f := u.Features
	pbx["features"] = map[string]any{
		"mobileApp": f.MobileApp, "webCalls": f.WebCalls, "operatorConsole": f.OperatorConsole,
		"voicemail": f.Voicemail, "fixedMobileSim": f.FixedMobileSIM, "hotDesking": f.HotDesking,
		"multipleCallerId": f.MultipleCallerID, "busyReject": f.BusyReject,
	}
	if on, set := u.TextMessages(); set {
		pbx["features"].(map[string]any)[pbxusers.FeatureTextMessages] = on
	}
	if len(u.CustomFields) > 0 {
		names := make([]string, 0, len(u.CustomFields))
		for k := range u.CustomFields {
			names = append(names, k)
		}
		sort.Strings(names)
		list := make([]any, len(names))
		for i, k := range names {
			list[i] = map[string]any{"name": k, "value": u.CustomFields[k]}
		}
		pbx["customFields"] = list
	}
	if u.IPRestriction.Enabled || len(u.IPRestriction.Allowed) > 0 {
		ipr := map[string]any{"enabled": u.IPRestriction.Enabled}
		if len(u.IPRestriction.Allowed) > 0 {
			ipr["allowed"] = asList(append([]string(nil), u.IPRestriction.Allowed...))
		}
		pbx["ipRestriction"] = ipr
	}
	if len(u.Notifications) > 0 {
		list := make([]any, len(u.Notifications))
		for i, n := range u.Notifications {
			list[i] = string(n)
		}
		pbx["notifications"] = list
	}
	if len(u.Queues) > 0 {
		list := make([]any, len(u.Queues))
		for i, q := range u.Queues {
			list[i] = map[string]any{"value": q.QueueID, "priority": int64(q.Priority), "defaultOutbound": q.DefaultOutbound}
		}
		pbx["queues"] = list
	}
	pbx["mustChangePassword"] = u.Password.MustChange
	routing := map[string]any{}
	put(routing, "answerMode", string(u.Routing.AnswerMode))
	put(routing, "forwardNumber", u.Routing.ForwardNumber)
	put(routing, "backupNumber", u.Routing.BackupNumber())
	if full || len(routing) > 0 {
		pbx["routing"] = routing
	}
	a[UserExtensionSchema] = pbx
	return a
}

// fromAttrs sets u's SCIM-mapped fields from attribute map a (validated by
// elimity or built by the PATCH engine); fields SCIM does not map (devices,
// permission overrides, queues, routing rules, ...) keep their values.
// orig is the stored user (zero on create).
//
// Core attributes that are absent are cleared (RFC 7644 §3.5.1), except
// active and password, which keep their values, and externalId, which
// Okta leaves out of its PUTs and is cleared only by a PATCH remove. An extension
// whose container is absent is left alone, so an IdP that does not know
// the PBX extension never wipes extensions and profiles on PUT.
func (m *userMapper) fromAttrs(u *pbxusers.User, a map[string]any, orig pbxusers.User, mode writeMode) error {
	var p pbxusers.Problems
	create := mode == modeCreate
	u.UserName = strAttr(a, "userName")
	name := mapAttr(a, "name")
	u.Name = pbxusers.Name{
		Formatted: strAttr(name, "formatted"), Family: strAttr(name, "familyName"), Given: strAttr(name, "givenName"),
		Middle: strAttr(name, "middleName"), Prefix: strAttr(name, "honorificPrefix"), Suffix: strAttr(name, "honorificSuffix"),
	}
	u.DisplayName = strAttr(a, "displayName")
	u.Nickname = strAttr(a, "nickName")
	u.Title = strAttr(a, "title")
	u.Language = pickLanguage(orig.Language, strAttr(a, "preferredLanguage"), strAttr(a, "locale"))
	if _, err := language.Parse(u.Language); u.Language != "" && err != nil {
		m.warn("preferredLanguage", "not a BCP 47 language tag; the stored language stays")
		u.Language = orig.Language
	}
	u.TimeZone = strAttr(a, "timezone")
	if u.TimeZone != "" && !knownZone(u.TimeZone) {
		m.warn("timezone", "not an IANA time zone; the stored zone stays")
		u.TimeZone = orig.TimeZone
	}
	if b, ok := a["active"].(bool); ok {
		u.Status = pbxusers.StatusInactive
		if b {
			u.Status = pbxusers.StatusActive
		}
	}
	if v, ok := a["externalId"].(string); ok || mode == modePatch {
		u.Owner.ExternalID = strings.TrimSpace(v)
	}
	if pw, _ := a["password"].(string); pw != "" {
		u.Password.New = pw
	}
	u.Emails = m.emails(&p, asList(a["emails"]))
	u.PhoneNumbers = nil
	phonePrimary := false
	for _, e := range asList(a["phoneNumbers"]) {
		pm := elementMap(e)
		primary, _ := pm["primary"].(bool)
		t := strings.ToLower(strAttr(pm, "type"))
		switch pbxusers.PhoneType(t) {
		case "", pbxusers.PhoneWork, pbxusers.PhoneMobile, pbxusers.PhoneHome, pbxusers.PhoneFax, pbxusers.PhoneOther:
		case "pager":
			t = string(pbxusers.PhoneOther)
		default:
			m.warn("phoneNumbers", "a number's type is not work, mobile, home, fax or other; it was stored as other")
			t = string(pbxusers.PhoneOther)
		}
		if primary && phonePrimary {
			m.warn("phoneNumbers", "only the first primary number stays primary")
			primary = false
		}
		n := pbxusers.PhoneNumber{Number: strAttr(pm, "value"), Type: pbxusers.PhoneType(t), Primary: primary}
		if n.Number == "" {
			continue
		}
		// A number that does not parse (a national number on a tenant
		// without a region) is kept as sent and flagged not dialable by
		// the library; only one that is no phone number at all is
		// skipped. Neither is a reason to refuse the request.
		if e164, ext, err := pbxusers.NormalizeE164(n.Number, m.region); err == nil {
			n.Number, n.Ext = e164, ext
		} else if pbxusers.LooksLikePhoneNumber(n.Number) {
			m.warn("phoneNumbers", "a number is not dialable on this tenant (%v); it was kept as sent and marked not dialable", err)
		} else {
			m.warn("phoneNumbers", "a value is not a phone number and was skipped: %v", err)
			continue
		}
		phonePrimary = phonePrimary || n.Primary
		u.PhoneNumbers = append(u.PhoneNumbers, n)
	}

	u.Addresses = nil
	for _, e := range asList(a["addresses"]) {
		am := elementMap(e)
		primary, _ := am["primary"].(bool)
		u.Addresses = append(u.Addresses, pbxusers.Address{
			Formatted: rawStr(am, "formatted"), StreetAddress: rawStr(am, "streetAddress"), Locality: rawStr(am, "locality"),
			Region: rawStr(am, "region"), PostalCode: rawStr(am, "postalCode"), Country: rawStr(am, "country"),
			Type: strings.ToLower(strAttr(am, "type")), Primary: primary,
		})
	}
	u.Photos = toAttributes(a["photos"])
	u.Roles = toAttributes(a["roles"])
	u.Entitlements = toAttributes(a["entitlements"])

	if ent, ok := a[EnterpriseUserSchema].(map[string]any); ok {
		u.Enterprise = pbxusers.Enterprise{
			EmployeeNumber: strAttr(ent, "employeeNumber"), CostCenter: strAttr(ent, "costCenter"),
			Organization: strAttr(ent, "organization"), Division: strAttr(ent, "division"), Department: strAttr(ent, "department"),
		}
		u.ManagerID, u.ManagerRef = m.manager(strAttr(mapAttr(ent, "manager"), "value"))
	}

	if pbx, ok := a[UserExtensionSchema].(map[string]any); ok {
		field := func(n string) string { return UserExtensionSchema + ":" + n }
		if k := strings.ToLower(strAttr(pbx, "kind")); k != "" {
			switch {
			case create && k != string(pbxusers.KindPerson):
				p.Add(field("kind"), "SCIM provisions people only, not %q", k)
			case !create && k != string(orig.Kind):
				p.Add(field("kind"), "is immutable (%s)", orig.Kind)
			}
		}
		if create {
			u.Kind = pbxusers.KindPerson
		}
		u.Extension = strAttr(pbx, "extension")
		u.StationNumber = strAttr(pbx, "stationNumber")
		u.Location = strAttr(pbx, "location")
		u.CustomID = strAttr(pbx, "customId")
		u.Role = pbxusers.Role(strings.ToLower(strAttr(pbx, "role")))
		u.Profiles = m.profiles.ids(&p, field("profiles"), asList(pbx["profiles"]))
		u.Recording = pbxusers.RecordingMode(strings.ToLower(strAttr(pbx, "recording")))
		cid := mapAttr(pbx, "callerId")
		u.CallerID.Number = strAttr(cid, "number")
		u.CallerID.Name = strAttr(cid, "name")
		u.CallerID.Anonymous, _ = cid["anonymous"].(bool)
		f := mapAttr(pbx, "features")
		flag := func(k string) bool { b, _ := f[k].(bool); return b }
		u.Features = pbxusers.Features{
			MobileApp: flag("mobileApp"), WebCalls: flag("webCalls"), OperatorConsole: flag("operatorConsole"),
			Voicemail: flag("voicemail"), FixedMobileSIM: flag("fixedMobileSim"), HotDesking: flag("hotDesking"),
			MultipleCallerID: flag("multipleCallerId"), BusyReject: flag("busyReject"),
		}
		// textMessages is the texts.answer permission override (the one
		// place that fact lives); absent, the override is left alone.
		if on, ok := f[pbxusers.FeatureTextMessages].(bool); ok {
			u.SetTextMessages(on)
		}
		u.CustomFields = nil
		for _, e := range asList(pbx["customFields"]) {
			cm := elementMap(e)
			name := strAttr(cm, "name")
			if name == "" {
				p.Add(field("customFields.name"), "is required")
				continue
			}
			if u.CustomFields == nil {
				u.CustomFields = map[string]string{}
			}
			if _, dup := u.CustomFields[name]; dup {
				p.Add(field("customFields"), "field %q listed twice", name)
			}
			u.CustomFields[name] = rawStr(cm, "value")
		}
		ipr := mapAttr(pbx, "ipRestriction")
		u.IPRestriction.Enabled, _ = ipr["enabled"].(bool)
		u.IPRestriction.Allowed = nil
		for _, v := range asList(ipr["allowed"]) {
			if s, _ := v.(string); strings.TrimSpace(s) != "" {
				u.IPRestriction.Allowed = append(u.IPRestriction.Allowed, strings.TrimSpace(s))
			}
		}
		u.Notifications = nil
		for _, v := range asList(pbx["notifications"]) {
			if s, _ := v.(string); strings.TrimSpace(s) != "" {
				u.Notifications = append(u.Notifications, pbxusers.Notification(strings.ToLower(strings.TrimSpace(s))))
			}
		}
		u.Queues = nil
		for _, e := range asList(pbx["queues"]) {
			qm := elementMap(e)
			q := pbxusers.QueueMembership{QueueID: strAttr(qm, "value")}
			q.DefaultOutbound, _ = qm["defaultOutbound"].(bool)
			if v, ok := qm["priority"]; ok && v != nil {
				n, ok := intValue(v)
				if !ok {
					p.Add(field("queues.priority"), "must be a whole number, not %v", v)
				}
				q.Priority = n
			}
			u.Queues = append(u.Queues, q)
		}
		if b, ok := pbx["mustChangePassword"].(bool); ok {
			u.Password.MustChange = b
		}
		rt := mapAttr(pbx, "routing")
		u.Routing.AnswerMode = pbxusers.AnswerMode(strings.ToLower(strAttr(rt, "answerMode")))
		u.Routing.ForwardNumber = m.e164(&p, field("routing.forwardNumber"), strAttr(rt, "forwardNumber"))
		// Only the backup number changes: the rest of the policy (rules,
		// caller lists, timeouts) stays as stored.
		backup := m.e164(&p, field("routing.backupNumber"), strAttr(rt, "backupNumber"))
		u.Routing = u.Routing.WithBackupNumber(backup)
	} else if create {
		u.Kind = pbxusers.KindPerson
	}
	return p.Err()
}

// emails reads the emails attribute. An address that cannot be mailed
// because it is not ASCII is refused (the welcome mail would fail later);
// a value that is not an address or a repeated address is skipped, a
// second primary is not primary and an unknown type is stored as other,
// each with a warning.
func (m *userMapper) emails(p *pbxusers.Problems, list []any) []pbxusers.Email {
	var out []pbxusers.Email
	seen := map[string]bool{}
	primaries := 0
	for i, e := range list {
		em := elementMap(e)
		v := strAttr(em, "value")
		if v == "" {
			continue
		}
		primary, _ := em["primary"].(bool)
		if !isASCII(v) {
			p.Add("emails["+strconv.Itoa(i)+"].value", "%q cannot be mailed: pbxgate sends mail to ASCII addresses only "+
				"(no SMTPUTF8 local parts; write an internationalised domain in its xn-- form)", v)
			continue
		}
		if a, err := mail.ParseAddress(v); err != nil || a.Address != v || a.Name != "" {
			m.warn("emails", "a value is not an email address and was skipped")
			continue
		}
		if seen[strings.ToLower(v)] {
			m.warn("emails", "an address listed twice was skipped")
			continue
		}
		seen[strings.ToLower(v)] = true
		if primary {
			if primaries++; primaries > 1 {
				m.warn("emails", "only the first primary address stays primary")
				primary = false
			}
		}
		t := strings.ToLower(strAttr(em, "type"))
		if t != "" && t != "work" && t != "home" && t != "other" {
			m.warn("emails", "an address's type is not work, home or other; it was stored as other")
			t = "other"
		}
		out = append(out, pbxusers.Email{Value: v, Type: t, Primary: primary})
	}
	return out
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// manager returns the manager id for value v (an id or an externalId,
// resolved beforehand into m.managers), or, for a manager that is not a
// user yet, v as the reference the library keeps and resolves when that
// user arrives (Entra provisions users in any order), with a warning.
func (m *userMapper) manager(v string) (id, ref string) {
	if v == "" {
		return "", ""
	}
	id, ok := m.managers[v]
	switch {
	case !ok:
		return v, ""
	case id == "":
		m.warn(EnterpriseUserSchema+":manager", "no user has this id or externalId yet; it is kept and becomes the manager when that user arrives")
		return "", v
	}
	return id, ""
}

// knownZone reports whether the library will accept a time zone name.
func knownZone(name string) bool {
	canon := pbxusers.CanonicalTimeZone(name)
	if strings.EqualFold(canon, "local") {
		return false
	}
	_, err := time.LoadLocation(canon)
	return err == nil
}

// pickLanguage reads the one language field from preferredLanguage and
// locale (both carry it): the first of them that is set and differs from
// the stored value wins; both empty clears it; otherwise it stays.
func pickLanguage(stored string, candidates ...string) string {
	allEmpty := true
	for _, c := range candidates {
		if c == "" {
			continue
		}
		allEmpty = false
		if !strings.EqualFold(c, stored) {
			return c
		}
	}
	if allEmpty {
		return ""
	}
	return stored
}

// e164 normalises a number for the routing policy, which (unlike the
// user's phone numbers) the library only checks.
func (m *userMapper) e164(p *pbxusers.Problems, field, v string) string {
	if v == "" {
		return ""
	}
	n, _, err := pbxusers.NormalizeE164(v, m.region)
	if err != nil {
		p.Add(field, "%q %v", v, err)
		return v
	}
	return n
}

// fromAttributes renders photos, roles or entitlements.
func fromAttributes(list []pbxusers.Attribute) []any {
	out := make([]any, len(list))
	for i, at := range list {
		am := map[string]any{"value": at.Value}
		if at.Display != "" {
			am["display"] = at.Display
		}
		if at.Type != "" {
			am["type"] = at.Type
		}
		if at.Primary {
			am["primary"] = true
		}
		out[i] = am
	}
	return out
}

// toAttributes reads photos, roles or entitlements, kept as sent.
func toAttributes(v any) []pbxusers.Attribute {
	var out []pbxusers.Attribute
	for _, e := range asList(v) {
		am := elementMap(e)
		primary, _ := am["primary"].(bool)
		out = append(out, pbxusers.Attribute{Value: strAttr(am, "value"), Display: rawStr(am, "display"), Type: strAttr(am, "type"), Primary: primary})
	}
	return out
}

// intValue reads an integer attribute value as elimity or the PATCH
// engine hands it over.
func intValue(v any) (int, bool) {
	switch x := v.(type) {
	case int:
		return x, true
	case int64:
		return int(x), true
	case float64:
		if x == float64(int(x)) {
			return int(x), true
		}
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return int(n), true
		}
	}
	return 0, false
}

// rawStr returns a string attribute as sent (free text such as an address
// line keeps its spacing).
func rawStr(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

func strAttr(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return strings.TrimSpace(s)
}

func mapAttr(m map[string]any, k string) map[string]any {
	if v, ok := m[k].(map[string]any); ok {
		return v
	}
	if l, ok := m[k].([]any); ok && len(l) == 1 { // a one-element list for a singular complex value
		if v, ok := l[0].(map[string]any); ok {
			return v
		}
	}
	return map[string]any{}
}
