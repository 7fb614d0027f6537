package pbxusers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
)

// Permission names one typed permission of the catalogue, e.g.
// "calls.barge_whisper".
type Permission string

// PermissionKind is the type of a permission's value.
type PermissionKind int

// The permission kinds.
const (
	// KindBool is granted or not.
	KindBool PermissionKind = iota
	// KindLimit is a non-negative count; 0 means unlimited.
	KindLimit
	// KindScope is a list of locations (sites) the permission is limited to;
	// empty means all.
	KindScope
)

// String is the kind's name: bool, limit or scope.
func (k PermissionKind) String() string {
	switch k {
	case KindBool:
		return "bool"
	case KindLimit:
		return "limit"
	case KindScope:
		return "scope"
	}
	return "unknown"
}

// PermissionDef describes one permission of the catalogue.
type PermissionDef struct {
	Name        Permission
	Kind        PermissionKind
	Description string
	// Default is the value when neither an override nor a profile sets it.
	Default Value
}

// The permission catalogue, drawn from the seed products (Aloware, Alotech,
// Qaller, NetSapiens).
const (
	PermChangeContactOwner     Permission = "contacts.change_owner"
	PermDeleteContacts         Permission = "contacts.delete"
	PermModifyRingGroups       Permission = "ring_groups.modify"
	PermBargeWhisper           Permission = "calls.barge_whisper"
	PermBroadcast              Permission = "broadcast.send"
	PermAnswerTexts            Permission = "texts.answer"
	PermAccessRecordings       Permission = "recordings.access"
	PermRevokeChatBusy         Permission = "chat.revoke_busy"
	PermChatLimit              Permission = "chat.limit"
	PermRestrictManualCalls    Permission = "calls.restrict_manual"
	PermHideFromTransferUsers  Permission = "transfer.hide_from_user_list"
	PermHideFromTransferList   Permission = "transfer.hide_from_contact_list"
	PermSkipTransferToLastUser Permission = "transfer.skip_to_last_user"
	PermHangupBeep             Permission = "calls.hangup_beep"
	PermBrowserPopups          Permission = "calls.browser_popups"
	PermLiveCallMonitoring     Permission = "monitoring.live_calls"
	PermCannotEditAgentQueues  Permission = "queues.cannot_edit_agent_queues"
	PermDualRoleOptimization   Permission = "roles.dual_role_optimization"
	PermUnobjectionableEvals   Permission = "evaluations.unobjectionable"
	PermBlacklistManagement    Permission = "blacklist.manage"
	PermCustomAppAccess        Permission = "apps.custom_access"
	PermExcludeNumberMasking   Permission = "numbers.exclude_from_masking"
	PermLocationReports        Permission = "locations.report_manager"
	PermLocationOperations     Permission = "locations.operation_manager"
	PermIPPhoneUnrestricted    Permission = "ip_phone.unrestricted"
	PermIPPhoneRestricted      Permission = "ip_phone.restricted"
	PermManageUsers            Permission = "users.manage"
	PermPortalAccess           Permission = "portal.access"
	PermMaxActiveCalls         Permission = "calls.max_active"
)

var catalogue = []PermissionDef{
	{PermChangeContactOwner, KindBool, "Assign a new contact to their own ownership (Aloware)", Bool(false)},
	{PermDeleteContacts, KindBool, "Delete contacts (Aloware)", Bool(false)},
	{PermModifyRingGroups, KindBool, "Modify contact ring groups; recommended for admins only (Aloware)", Bool(false)},
	{PermBargeWhisper, KindBool, "Barge into and whisper on calls (Aloware)", Bool(false)},
	{PermBroadcast, KindBool, "Send bulk messages and ringless voicemail (Aloware)", Bool(false)},
	{PermAnswerTexts, KindBool, "Be assigned text messages (Aloware)", Bool(true)},
	{PermAccessRecordings, KindBool, "Access information and recordings of own previous calls (Alotech)", Bool(false)},
	{PermRevokeChatBusy, KindBool, "Removes the ability to limit incoming chats (Alotech)", Bool(false)},
	{PermChatLimit, KindLimit, "Maximum concurrent chats; 0 is unlimited (Alotech)", Limit(0)},
	{PermRestrictManualCalls, KindBool, "Only answer incoming, campaign and click-to-connect calls (Alotech)", Bool(false)},
	{PermHideFromTransferUsers, KindBool, "Hidden from the transfer user list (Alotech)", Bool(false)},
	{PermHideFromTransferList, KindBool, "Hidden from the transfer contact list (Alotech)", Bool(false)},
	{PermSkipTransferToLastUser, KindBool, "Exempt from the IVR's transfer-to-last-user step (Alotech)", Bool(false)},
	{PermHangupBeep, KindBool, "Beep when the customer hangs up (Alotech)", Bool(false)},
	{PermBrowserPopups, KindBool, "Incoming call pop-ups in the browser (Alotech)", Bool(false)},
	{PermLiveCallMonitoring, KindBool, "Listen to live calls as a supervisor (Alotech)", Bool(false)},
	{PermCannotEditAgentQueues, KindBool, "Supervisor may not modify agent queues (Alotech)", Bool(false)},
	{PermDualRoleOptimization, KindBool, "Agent and supervisor screens used at once (Alotech)", Bool(false)},
	{PermUnobjectionableEvals, KindBool, "Agents cannot object to this user's evaluations (Alotech)", Bool(false)},
	{PermBlacklistManagement, KindBool, "View and edit blacklisted numbers (Alotech)", Bool(false)},
	{PermCustomAppAccess, KindBool, "Access custom apps (Alotech)", Bool(false)},
	{PermExcludeNumberMasking, KindBool, "See real phone numbers instead of masked ones (Alotech)", Bool(false)},
	{PermLocationReports, KindScope, "See reports only for these locations; empty is all (Alotech)", Scope()},
	{PermLocationOperations, KindScope, "Manage only users of these locations; empty is all (Alotech, NetSapiens Site Manager)", Scope()},
	{PermIPPhoneUnrestricted, KindBool, "IP phone users may also hold agent roles (Alotech)", Bool(false)},
	{PermIPPhoneRestricted, KindBool, "Restricted to IP phones with an internal role (Alotech)", Bool(false)},
	{PermManageUsers, KindBool, "Add, change and delete users (Aloware admins, NetSapiens Office Manager)", Bool(false)},
	{PermPortalAccess, KindBool, "Log in to the user portal (NetSapiens 'No Portal' scope when false)", Bool(true)},
	{PermMaxActiveCalls, KindLimit, "Maximum concurrent calls; 0 is unlimited (NetSapiens)", Limit(0)},
}

var catalogueIndex = func() map[Permission]int {
	m := make(map[Permission]int, len(catalogue))
	for i, d := range catalogue {
		m[d.Name] = i
	}
	return m
}()

// Catalogue returns every permission the library knows, sorted by name.
func Catalogue() []PermissionDef {
	out := append([]PermissionDef(nil), catalogue...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// LookupPermission returns the definition of a permission.
func LookupPermission(p Permission) (PermissionDef, bool) {
	i, ok := catalogueIndex[p]
	if !ok {
		return PermissionDef{}, false
	}
	return catalogue[i], true
}

// Value is a permission's value; which field counts depends on the
// permission's kind. It marshals to JSON as a bool, a number or an array.
type Value struct {
	kind  PermissionKind
	b     bool
	n     int64
	scope []string
}

// Bool returns a value for a bool permission.
func Bool(b bool) Value { return Value{kind: KindBool, b: b} }

// Limit returns a value for a limit permission.
func Limit(n int64) Value { return Value{kind: KindLimit, n: n} }

// Scope returns a value for a scope permission.
func Scope(locations ...string) Value {
	return Value{kind: KindScope, scope: append([]string{}, locations...)}
}

// Kind returns the value's kind.
func (v Value) Kind() PermissionKind { return v.kind }

// Bool returns the value of a bool permission (false for other kinds).
func (v Value) Bool() bool { return v.kind == KindBool && v.b }

// Limit returns the value of a limit permission (0 for other kinds).
func (v Value) Limit() int64 {
	if v.kind != KindLimit {
		return 0
	}
	return v.n
}

// Scope returns the locations of a scope permission.
func (v Value) Scope() []string {
	if v.kind != KindScope {
		return nil
	}
	return append([]string(nil), v.scope...)
}

// Equal reports whether two values are the same.
func (v Value) Equal(o Value) bool {
	return v.kind == o.kind && v.b == o.b && v.n == o.n && slices.Equal(v.scope, o.scope)
}

// String is the value as people read it.
func (v Value) String() string {
	switch v.kind {
	case KindLimit:
		if v.n == 0 {
			return "unlimited"
		}
		return strconv.FormatInt(v.n, 10)
	case KindScope:
		if len(v.scope) == 0 {
			return "all locations"
		}
		return fmt.Sprint(v.scope)
	}
	return strconv.FormatBool(v.b)
}

// MarshalJSON encodes a bool, a number or an array of strings.
func (v Value) MarshalJSON() ([]byte, error) {
	switch v.kind {
	case KindLimit:
		return json.Marshal(v.n)
	case KindScope:
		if v.scope == nil {
			return []byte("[]"), nil
		}
		return json.Marshal(v.scope)
	}
	return json.Marshal(v.b)
}

// ParseValue parses the JSON (or bare text: true, 3, a,b) form of a value for
// the permission p, checking its kind.
func ParseValue(p Permission, raw []byte) (Value, error) {
	def, ok := LookupPermission(p)
	if !ok {
		return Value{}, fmt.Errorf("unknown permission %q", p)
	}
	raw = bytes.TrimSpace(raw)
	switch def.Kind {
	case KindBool:
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return Value{}, fmt.Errorf("permission %s takes true or false", p)
		}
		return Bool(b), nil
	case KindLimit:
		var n int64
		if err := json.Unmarshal(raw, &n); err != nil || n < 0 {
			return Value{}, fmt.Errorf("permission %s takes a whole number ≥ 0 (0 is unlimited)", p)
		}
		return Limit(n), nil
	default:
		var s []string
		if err := json.Unmarshal(raw, &s); err != nil {
			return Value{}, fmt.Errorf("permission %s takes a list of locations", p)
		}
		return Scope(s...), nil
	}
}

// PermissionSet maps permissions to values: a profile's grants or a user's
// overrides. Unknown permissions are refused when decoding.
type PermissionSet map[Permission]Value

// Clone returns a copy of the set.
func (s PermissionSet) Clone() PermissionSet {
	if s == nil {
		return nil
	}
	c := make(PermissionSet, len(s))
	for k, v := range s {
		c[k] = v
	}
	return c
}

// Validate checks every entry against the catalogue.
func (s PermissionSet) Validate() error {
	var p Problems
	for _, name := range s.names() {
		v := s[name]
		def, ok := LookupPermission(name)
		switch {
		case !ok:
			p.Add(string(name), "unknown permission")
		case def.Kind != v.kind:
			p.Add(string(name), "takes a %s value, not %s", def.Kind, v.kind)
		case def.Kind == KindLimit && v.n < 0:
			p.Add(string(name), "must be ≥ 0 (0 is unlimited)")
		}
	}
	return p.Err()
}

func (s PermissionSet) names() []Permission {
	names := make([]Permission, 0, len(s))
	for k := range s {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// UnmarshalJSON decodes {"name": value, ...} using the catalogue for kinds.
func (s *PermissionSet) UnmarshalJSON(b []byte) error {
	var raw map[Permission]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	if raw == nil {
		*s = nil
		return nil
	}
	out := make(PermissionSet, len(raw))
	var p Problems
	for name, r := range raw {
		v, err := ParseValue(name, r)
		if err != nil {
			p.Add(string(name), "%s", err.Error())
			continue
		}
		out[name] = v
	}
	if err := p.Err(); err != nil {
		return err
	}
	*s = out
	return nil
}
