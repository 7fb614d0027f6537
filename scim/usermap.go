package scim

import (
	"reflect"
	"strings"
	"time"

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
	if u.ManagerID != "" {
		mgr := map[string]any{"value": u.ManagerID}
		put(mgr, "$ref", m.ref("Users", u.ManagerID))
		ent["manager"] = mgr
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
	routing := map[string]any{}
	put(routing, "answerMode", string(u.Routing.AnswerMode))
	put(routing, "forwardNumber", u.Routing.ForwardNumber)
	put(routing, "backupNumber", backupNumber(u.Routing))
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
	u.TimeZone = strAttr(a, "timezone")
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
	u.Emails = nil
	for _, e := range asList(a["emails"]) {
		em := elementMap(e)
		primary, _ := em["primary"].(bool)
		u.Emails = append(u.Emails, pbxusers.Email{Value: strAttr(em, "value"), Type: strings.ToLower(strAttr(em, "type")), Primary: primary})
	}
	u.PhoneNumbers = nil
	for _, e := range asList(a["phoneNumbers"]) {
		pm := elementMap(e)
		primary, _ := pm["primary"].(bool)
		t := strings.ToLower(strAttr(pm, "type"))
		if t == "pager" {
			t = string(pbxusers.PhoneOther)
		}
		n := pbxusers.PhoneNumber{Number: strAttr(pm, "value"), Type: pbxusers.PhoneType(t), Primary: primary}
		if e164, ext, err := pbxusers.NormalizeE164(n.Number, m.region); err == nil {
			n.Number, n.Ext = e164, ext // else the library reports the number
		}
		u.PhoneNumbers = append(u.PhoneNumbers, n)
	}

	if ent, ok := a[EnterpriseUserSchema].(map[string]any); ok {
		u.Enterprise = pbxusers.Enterprise{
			EmployeeNumber: strAttr(ent, "employeeNumber"), CostCenter: strAttr(ent, "costCenter"),
			Organization: strAttr(ent, "organization"), Division: strAttr(ent, "division"), Department: strAttr(ent, "department"),
		}
		u.ManagerID = strAttr(mapAttr(ent, "manager"), "value")
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
		rt := mapAttr(pbx, "routing")
		u.Routing.AnswerMode = pbxusers.AnswerMode(strings.ToLower(strAttr(rt, "answerMode")))
		u.Routing.ForwardNumber = m.e164(&p, field("routing.forwardNumber"), strAttr(rt, "forwardNumber"))
		backup := m.e164(&p, field("routing.backupNumber"), strAttr(rt, "backupNumber"))
		if backup != backupNumber(orig.Routing) {
			u.Routing = withBackupNumber(u.Routing, backup)
		}
	} else if create {
		u.Kind = pbxusers.KindPerson
	}
	return p.Err()
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

// backupNumber returns the backup number of a policy whose default rule is
// the pbxusers.BackupRouting preset, else "".
func backupNumber(p pbxusers.RoutingPolicy) string {
	steps := p.Default.Ring.Steps
	if len(steps) != 2 || len(steps[1].Targets) != 1 || steps[1].Targets[0].Kind != pbxusers.TargetExternal {
		return ""
	}
	n := steps[1].Targets[0].Value
	preset := pbxusers.BackupRouting(n, steps[0].Timeout.Duration(), steps[1].Timeout.Duration())
	if !reflect.DeepEqual(preset.Default, p.Default) || preset.RingTimeout != p.RingTimeout {
		return ""
	}
	return n
}

// withBackupNumber installs the backup routing preset with number n as the
// policy's default rule, keeping the preset's timeouts when it was already
// installed; n == "" removes the preset. Answer mode, rules, overrides and
// caller lists stay.
func withBackupNumber(p pbxusers.RoutingPolicy, n string) pbxusers.RoutingPolicy {
	var apps, backup time.Duration
	if backupNumber(p) != "" {
		steps := p.Default.Ring.Steps
		apps, backup = steps[0].Timeout.Duration(), steps[1].Timeout.Duration()
		p.Default, p.RingTimeout = pbxusers.AnsweringRule{}, 0
	}
	if n == "" {
		return p
	}
	preset := pbxusers.BackupRouting(n, apps, backup)
	p.Default, p.RingTimeout = preset.Default, preset.RingTimeout
	return p
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
