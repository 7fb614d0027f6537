package pbxusers

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"
)

// BackupNumber returns the external number the policy's Default rule sends
// calls to when the user is unavailable or busy (the number of a
// BackupRouting policy), or "".
func (p RoutingPolicy) BackupNumber() string {
	for _, d := range []*Destination{p.Default.OnUnavailable, p.Default.OnBusy} {
		if d != nil && d.Kind == DestExternal {
			return d.Target
		}
	}
	return ""
}

// WithBackupNumber returns the policy with its backup number set to number
// and nothing else changed: the answer mode, the answering rules, the allow
// and reject lists, the timeouts and the override are kept. When the policy
// has a backup number already, each place of the Default rule that uses it
// (OnUnavailable, OnBusy, the ring step that rings it) gets the new one.
// Otherwise the Default rule gains Aloware's backup routing: its ring plan
// rings the number for DefaultBackupTimeout after its own steps, and
// OnUnavailable and OnBusy, where unset, go to the number. An empty number
// removes the backup number from the Default rule. p is not modified.
func (p RoutingPolicy) WithBackupNumber(number string) RoutingPolicy {
	old := p.BackupNumber()
	if old == number {
		return p
	}
	p = cloneRouting(p)
	def := &p.Default
	isOld := func(d *Destination) bool { return d != nil && d.Kind == DestExternal && d.Target == old && old != "" }
	ringsOld := func(st RingStep) bool {
		return old != "" && len(st.Targets) == 1 && st.Targets[0].Kind == TargetExternal && st.Targets[0].Value == old
	}
	if number == "" {
		for _, d := range []**Destination{&def.OnUnavailable, &def.OnBusy} {
			if isOld(*d) {
				*d = nil
			}
		}
		steps := def.Ring.Steps[:0:0]
		for _, st := range def.Ring.Steps {
			if !ringsOld(st) {
				steps = append(steps, st)
			}
		}
		def.Ring.Steps = steps
		if len(steps) == 0 || (len(steps) == 1 && steps[0].Timeout == 0 &&
			slices.Equal(steps[0].Targets, []RingTarget{{Kind: TargetOwnDevices}})) {
			def.Ring = RingPlan{} // the same plan, as BackupNumber found it before
		}
		return p
	}
	backup := func() *Destination {
		return &Destination{Kind: DestExternal, Target: number, Timeout: Seconds(DefaultBackupTimeout)}
	}
	for _, d := range []**Destination{&def.OnUnavailable, &def.OnBusy} {
		switch {
		case isOld(*d):
			(*d).Target = number
		case *d == nil:
			*d = backup()
		}
	}
	replaced := false
	for i, st := range def.Ring.Steps {
		if ringsOld(st) {
			def.Ring.Steps[i].Targets[0].Value = number
			replaced = true
		}
	}
	if !replaced {
		if len(def.Ring.Steps) == 0 {
			def.Ring.Steps = []RingStep{{Targets: []RingTarget{{Kind: TargetOwnDevices}}}}
		}
		def.Ring.Mode = RingSequential
		def.Ring.Steps = append(def.Ring.Steps, RingStep{
			Targets: []RingTarget{{Kind: TargetExternal, Value: number}},
			Timeout: Seconds(DefaultBackupTimeout),
		})
	}
	return p
}

// Defaults and limits of a RoutingPolicy.
const (
	// DefaultRingTimeout is how long a user's own devices ring when neither
	// the policy nor the ring step sets a timeout (NetSapiens "6 rings / 30 s").
	DefaultRingTimeout = 30 * time.Second

	// MaxTimeout is the largest ring timeout, step timeout, target delay or
	// destination timeout a policy may set (NetSapiens allows 0–3600 s).
	MaxTimeout = time.Hour

	// DefaultMaxForwardHops is the number of user-to-user forwards a call may
	// take when the called user's policy does not set MaxForwardHops.
	DefaultMaxForwardHops = 5

	// MaxForwardHopsN is the largest MaxForwardHops a policy may set. Resolve
	// caps larger values to it.
	MaxForwardHopsN = 20

	// DefaultAppsTimeout and DefaultBackupTimeout are the ring times of the
	// BackupRouting preset when it is given zero (Aloware: 60 s, then 20 s).
	DefaultAppsTimeout   = 60 * time.Second
	DefaultBackupTimeout = 20 * time.Second

	// DefaultRuleID names the catch-all RoutingPolicy.Default in traces,
	// RoutePlan.Rule and ManualOverride.Rule. No rule in Rules may use it.
	DefaultRuleID = "default"
)

// Seconds is a time.Duration that is written to and read from JSON as a
// number of seconds: 30 means 30 s, 1.5 means 1.5 s. Every duration of a
// routing policy and of a route plan uses it, so stored policies and API
// payloads never carry nanoseconds.
type Seconds time.Duration

// Duration returns s as a time.Duration.
func (s Seconds) Duration() time.Duration { return time.Duration(s) }

// String formats s as a number of seconds: "30s", "1.5s".
func (s Seconds) String() string {
	var buf [24]byte
	return string(appendSeconds(buf[:0], s))
}

// appendSeconds appends s formatted by Seconds.String.
func appendSeconds(b []byte, s Seconds) []byte {
	d := time.Duration(s)
	if d%time.Second == 0 {
		b = strconv.AppendInt(b, int64(d/time.Second), 10)
	} else {
		b = strconv.AppendFloat(b, d.Seconds(), 'f', -1, 64)
	}
	return append(b, 's')
}

// MarshalJSON writes s as a JSON number of seconds.
func (s Seconds) MarshalJSON() ([]byte, error) {
	b := appendSeconds(nil, s)
	return b[:len(b)-1], nil
}

// maxJSONSeconds bounds decoded values well inside time.Duration's range.
const maxJSONSeconds = 1e9

// UnmarshalJSON reads a JSON number of seconds. null leaves s unchanged.
func (s *Seconds) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("decode seconds %s: %w", b, err)
	}
	if math.IsNaN(f) || math.Abs(f) > maxJSONSeconds {
		return fmt.Errorf("decode seconds %s: out of range: %w", b, ErrInvalid)
	}
	*s = Seconds(math.Round(f * float64(time.Second)))
	return nil
}

// AnswerMode is how a user answers calls (Aloware "Answer Type").
type AnswerMode string

// Answer modes. The zero value "" means AnswerApps.
const (
	// AnswerApps rings the user's apps (web, desktop, mobile; when enabled)
	// and every device assigned to the user.
	AnswerApps AnswerMode = "apps"
	// AnswerPhoneNumber rings RoutingPolicy.ForwardNumber instead of the
	// rule's ring plan (call tracking, a cell phone).
	AnswerPhoneNumber AnswerMode = "phone_number"
	// AnswerIPPhone rings the user's devices only, never the apps (desk
	// phone replacement).
	AnswerIPPhone AnswerMode = "ip_phone"
	// AnswerWillNotAnswer never rings the user (managers, controllers):
	// calls go to the rule's OnUnavailable, else its Final.
	AnswerWillNotAnswer AnswerMode = "will_not_answer"
)

// BusyPolicy says when a user counts as busy.
type BusyPolicy string

// Busy policies. The zero value "" means BusyOnActiveCall.
const (
	// BusyOnActiveCall treats a user on a call (PresenceBusy) as busy unless
	// call waiting is on (NetSapiens "On Active").
	BusyOnActiveCall BusyPolicy = "on_active_call"
	// BusyDeviceReportsBusy rings a user on a call anyway; only a device
	// answering busy (SIP 486) while ringing counts (NetSapiens "When Busy").
	BusyDeviceReportsBusy BusyPolicy = "device_reports_busy"
)

// CallType restricts a rule to internal or external calls.
type CallType string

// Call types. The zero value "" means CallTypeAll.
const (
	CallTypeAll      CallType = "all"
	CallTypeInternal CallType = "internal"
	CallTypeExternal CallType = "external"
)

// PresenceState is a user's reachability as the router sees it when a call
// arrives. The zero value "" means PresenceAvailable.
type PresenceState string

// Presence states.
const (
	// PresenceAvailable means the user can be rung.
	PresenceAvailable PresenceState = "available"
	// PresenceBusy means the user is on a call.
	PresenceBusy PresenceState = "busy"
	// PresenceOffline means no device or app of the user is reachable.
	PresenceOffline PresenceState = "offline"
	// PresenceDND means the user set do not disturb; Resolve treats it like
	// a rule with DND on.
	PresenceDND PresenceState = "dnd"
	// PresenceAway means the user is away; it only matters to rule
	// conditions.
	PresenceAway PresenceState = "away"
)

// RingMode says how the steps of a ring plan ring.
type RingMode string

// Ring modes. The zero value "" means RingSimultaneous.
const (
	// RingSimultaneous rings every target of the plan's single step at once,
	// each after its own Delay.
	RingSimultaneous RingMode = "simultaneous"
	// RingSequential rings the steps one after the other, each for its
	// Timeout.
	RingSequential RingMode = "sequential"
)

// TargetKind is what a ring target names.
type TargetKind string

// Ring target kinds.
const (
	// TargetOwnDevices is the user's own endpoints as the answer mode
	// selects them: apps and devices (AnswerApps) or devices (AnswerIPPhone).
	TargetOwnDevices TargetKind = "own_devices"
	// TargetDevice is one device, by id.
	TargetDevice TargetKind = "device"
	// TargetUser is another user's own endpoints, by user id. Only that
	// user's reachability counts, not their answering rules.
	TargetUser TargetKind = "user"
	// TargetExternal is an E.164 number.
	TargetExternal TargetKind = "external"
	// TargetApps is the user's apps (web, desktop, mobile), when enabled. In
	// a RouteTarget its Value is the id of the user whose apps ring.
	TargetApps TargetKind = "apps"
)

// DestinationKind is where a call goes when it is not (or no longer) ringing.
type DestinationKind string

// Destination kinds.
const (
	// DestVoicemail is a voicemail box: Target is the owning user id, empty
	// for the policy's own user.
	DestVoicemail DestinationKind = "voicemail"
	// DestUser forwards to another user, whose own policy then applies.
	DestUser DestinationKind = "user"
	// DestExternal forwards to an E.164 number.
	DestExternal DestinationKind = "external"
	// DestQueue, DestAutoAttendant and DestConference hand the call to the
	// call queue, auto attendant or conference bridge named by Target.
	DestQueue         DestinationKind = "queue"
	DestAutoAttendant DestinationKind = "auto_attendant"
	DestConference    DestinationKind = "conference"
	// DestHangup ends the call.
	DestHangup DestinationKind = "hangup"
	// DestBusy plays busy tone.
	DestBusy DestinationKind = "busy"
	// DestReject rejects the call (SIP 603 decline).
	DestReject DestinationKind = "reject"
)

// Destination is a place a call is sent to.
type Destination struct {
	// Kind is the kind of destination. Required.
	Kind DestinationKind `json:"kind,omitempty"`
	// Target is the user id (DestUser, DestVoicemail of another user), E.164
	// number (DestExternal) or queue/auto attendant/conference id. Empty for
	// hangup, busy and reject, and for the own voicemail.
	Target string `json:"target,omitempty"`
	// Timeout, for DestExternal only, is how long the number rings before
	// the call goes on to the rule's Final (else voicemail, else hangup).
	// Zero hands the call to the number for good. Seconds in JSON; at most
	// MaxTimeout.
	Timeout Seconds `json:"timeout,omitempty"`
}

// RingTarget is one thing a ring step rings.
type RingTarget struct {
	// Kind is what Value names. Required.
	Kind TargetKind `json:"kind,omitempty"`
	// Value is the device id (TargetDevice), user id (TargetUser) or E.164
	// number (TargetExternal); empty for TargetOwnDevices and TargetApps.
	Value string `json:"value,omitempty"`
	// Delay is how long after the step starts this target starts ringing
	// (NetSapiens ";delay=15"). Zero: at once. Seconds in JSON; less than
	// the step's timeout.
	Delay Seconds `json:"delay,omitempty"`
	// ConfirmAnswer, for TargetExternal only, asks the answering party to
	// press a key first, so a carrier voicemail cannot take the call.
	ConfirmAnswer bool `json:"confirmAnswer,omitempty"`
}

// RingStep is a set of targets that ring together.
type RingStep struct {
	// Targets ring together. At least one.
	Targets []RingTarget `json:"targets,omitempty"`
	// Timeout is how long the step rings. Zero means the policy's
	// RingTimeout. Seconds in JSON; at most MaxTimeout.
	Timeout Seconds `json:"timeout,omitempty"`
}

// RingPlan is what a rule rings. The zero value rings the user's own
// devices for the policy's RingTimeout.
type RingPlan struct {
	// Mode is simultaneous (default; at most one step) or sequential (at
	// least one step).
	Mode RingMode `json:"mode,omitempty"`
	// Steps ring in order. Empty (simultaneous mode only) means one step
	// ringing TargetOwnDevices.
	Steps []RingStep `json:"steps,omitempty"`
}

// Condition says when an answering rule applies. Every set field must
// match; a zero Condition always matches.
type Condition struct {
	// TimeFrames are time frame ids; the condition matches when the call
	// falls in any of them. A rule naming an unknown time frame never
	// matches (NetSapiens disables such rules).
	TimeFrames []string `json:"timeFrames,omitempty"`
	// NotInTimeFrames inverts TimeFrames: the condition matches when the
	// call falls in none of them (after-hours rules). Needs TimeFrames.
	NotInTimeFrames bool `json:"notInTimeFrames,omitempty"`
	// CallType restricts the rule to internal or external calls. Default
	// all.
	CallType CallType `json:"callType,omitempty"`
	// Callers are number patterns (see RoutingPolicy.RejectCallers); the
	// caller must match one. Anonymous callers match none.
	Callers []string `json:"callers,omitempty"`
	// States are presence states; the user's state must be one of them.
	States []PresenceState `json:"states,omitempty"`
}

// isZero reports whether c sets nothing.
func (c *Condition) isZero() bool {
	return len(c.TimeFrames) == 0 && !c.NotInTimeFrames && c.CallType == "" &&
		len(c.Callers) == 0 && len(c.States) == 0
}

// AnsweringRule is one answering rule: when it applies and what it does.
// Every destination is optional; Resolve documents the fallbacks.
type AnsweringRule struct {
	// ID identifies the rule within the policy. Required and unique in
	// Rules; must not be DefaultRuleID.
	ID string `json:"id,omitempty"`
	// Name is shown to people and in traces. Optional: the id is used
	// instead.
	Name string `json:"name,omitempty"`
	// Enabled rules take part in rule selection. Ignored for the policy's
	// Default, which always applies when nothing else does.
	Enabled bool `json:"enabled,omitempty"`
	// When says when the rule applies. Must be empty on the Default.
	When Condition `json:"when,omitzero"`
	// DND sends every call not from an allowed caller to OnDND, else
	// voicemail.
	DND bool `json:"dnd,omitempty"`
	// Always forwards every call (NetSapiens "Forward Always").
	Always *Destination `json:"always,omitempty"`
	// Ring is what rings. The zero value rings the user's own devices.
	Ring RingPlan `json:"ring,omitzero"`
	// OnBusy is where a call goes while the user is busy (see BusyPolicy)
	// or when the rung devices report busy.
	OnBusy *Destination `json:"onBusy,omitempty"`
	// OnNoAnswer is where a call goes when nobody answers the ring plan.
	OnNoAnswer *Destination `json:"onNoAnswer,omitempty"`
	// OnUnavailable is where a call goes when nothing can ring (offline, no
	// device, no app), the user never answers, or is inactive.
	OnUnavailable *Destination `json:"onUnavailable,omitempty"`
	// OnDND is where a call goes under do not disturb. Default voicemail.
	OnDND *Destination `json:"onDnd,omitempty"`
	// Final is the fallback of every unset On* destination (except OnDND,
	// which prefers voicemail). Default: voicemail if enabled, else hang up.
	Final *Destination `json:"final,omitempty"`
}

// label is how traces name the rule.
func (r *AnsweringRule) label() string {
	if r.Name != "" {
		return r.Name
	}
	if r.ID == "" {
		return DefaultRuleID
	}
	return r.ID
}

// ManualOverride forces a rule or a destination until it expires, above
// the schedule (3CX status with expiry, FreePBX temporary override).
// Exactly one of Rule and Destination is set.
type ManualOverride struct {
	// Rule is the id of the rule to apply, whatever its Enabled and When;
	// DefaultRuleID forces the Default.
	Rule string `json:"rule,omitempty"`
	// Destination sends every call there directly.
	Destination *Destination `json:"destination,omitempty"`
	// Until is when the override expires; nil never. An expired override
	// (Until at or before the call) is ignored.
	Until *time.Time `json:"until,omitempty"`
	// Reason is shown to people and in traces, e.g. "sick leave".
	Reason string `json:"reason,omitempty"`
}

// RoutingPolicy is how calls to one user are routed. It is stored as JSON
// on the user; durations are numbers of seconds. Resolve evaluates it.
type RoutingPolicy struct {
	// AnswerMode is how the user answers calls. Default apps.
	AnswerMode AnswerMode `json:"answerMode,omitempty"`
	// ForwardNumber is the E.164 number rung in AnswerPhoneNumber mode.
	ForwardNumber string `json:"forwardNumber,omitempty"`
	// RingTimeout is how long the user's devices ring when a step sets no
	// timeout. Default DefaultRingTimeout (30 s); at most MaxTimeout.
	RingTimeout Seconds `json:"ringTimeout,omitempty"`
	// CallWaiting lets a user on a call be rung again (3CX
	// AcceptMultipleCalls). Default off.
	CallWaiting bool `json:"callWaiting,omitempty"`
	// BusyPolicy says when the user counts as busy. Default on_active_call.
	BusyPolicy BusyPolicy `json:"busyPolicy,omitempty"`
	// AllowCallers are number patterns that are never rejected and bypass
	// do not disturb (NetSapiens phone-numbers-to-allow).
	AllowCallers []string `json:"allowCallers,omitempty"`
	// RejectCallers are number patterns that are rejected. A pattern is an
	// exact E.164 number ("+4930123456"), an exact extension ("1001") or a
	// prefix ending in "*" ("+4930*", "1*", "*").
	RejectCallers []string `json:"rejectCallers,omitempty"`
	// RejectAnonymous rejects callers without a number, unless allowed.
	RejectAnonymous bool `json:"rejectAnonymous,omitempty"`
	// Override, when set and not expired, beats the rules.
	Override *ManualOverride `json:"override,omitempty"`
	// Rules are tried in order; the first enabled rule whose condition
	// matches applies.
	Rules []AnsweringRule `json:"rules,omitempty"`
	// Default applies when no rule does. Its zero value rings the user's own
	// devices for RingTimeout, then voicemail if enabled, else hangs up.
	Default AnsweringRule `json:"default,omitzero"`
	// MaxForwardHops is how many user-to-user forwards a call to this user
	// may take. Default DefaultMaxForwardHops (5); at most MaxForwardHopsN.
	MaxForwardHops int `json:"maxForwardHops,omitempty"`
}

// ringTimeout returns the effective RingTimeout.
func (p *RoutingPolicy) ringTimeout() time.Duration {
	if p.RingTimeout <= 0 || time.Duration(p.RingTimeout) > MaxTimeout {
		return DefaultRingTimeout
	}
	return time.Duration(p.RingTimeout)
}

// BackupRouting returns Aloware's "Backup Routing" policy: ring the user's
// apps (and devices) for appsTimeout, then the backup number for
// backupTimeout, then voicemail if enabled, else hang up; when the user is
// unavailable or busy, ring the backup number straight away. Zero timeouts
// mean DefaultAppsTimeout and DefaultBackupTimeout.
func BackupRouting(backupNumber string, appsTimeout, backupTimeout time.Duration) RoutingPolicy {
	if appsTimeout == 0 {
		appsTimeout = DefaultAppsTimeout
	}
	if backupTimeout == 0 {
		backupTimeout = DefaultBackupTimeout
	}
	backup := func() *Destination {
		return &Destination{Kind: DestExternal, Target: backupNumber, Timeout: Seconds(backupTimeout)}
	}
	return RoutingPolicy{
		AnswerMode:  AnswerApps,
		RingTimeout: Seconds(appsTimeout),
		Default: AnsweringRule{
			Name: "Backup routing",
			Ring: RingPlan{Mode: RingSequential, Steps: []RingStep{
				{Targets: []RingTarget{{Kind: TargetOwnDevices}}, Timeout: Seconds(appsTimeout)},
				{Targets: []RingTarget{{Kind: TargetExternal, Value: backupNumber}}, Timeout: Seconds(backupTimeout)},
			}},
			OnUnavailable: backup(),
			OnBusy:        backup(),
		},
	}
}

// ForwardAll returns a policy that forwards every call to the E.164 number
// (NetSapiens "Forward Always"), handing the call over for good.
func ForwardAll(number string) RoutingPolicy {
	return RoutingPolicy{Default: AnsweringRule{
		Name:   "Forward all",
		Always: &Destination{Kind: DestExternal, Target: number},
	}}
}

// AfterHours returns a policy that rings the user's own devices while the
// call falls in the time frame (business hours) and sends it to dest
// otherwise. The rule's id is "after-hours".
func AfterHours(timeFrameID string, dest Destination) RoutingPolicy {
	return RoutingPolicy{Rules: []AnsweringRule{{
		ID:      "after-hours",
		Name:    "After hours",
		Enabled: true,
		When:    Condition{TimeFrames: []string{timeFrameID}, NotInTimeFrames: true},
		Always:  &dest,
	}}}
}

// normalizeRouting rewrites the external numbers of a routing policy into
// E.164 (reading national numbers with the tenant's region), like every
// other phone number of a user.
func normalizeRouting(p *Problems, r *RoutingPolicy, region string) {
	normalizeNumber(p, "routing.forwardNumber", &r.ForwardNumber, region)
	dest := func(field string, d *Destination) {
		if d != nil && d.Kind == DestExternal {
			normalizeNumber(p, field+".target", &d.Target, region)
		}
	}
	rule := func(field string, ar *AnsweringRule) {
		dest(field+".always", ar.Always)
		dest(field+".onBusy", ar.OnBusy)
		dest(field+".onNoAnswer", ar.OnNoAnswer)
		dest(field+".onUnavailable", ar.OnUnavailable)
		dest(field+".onDnd", ar.OnDND)
		dest(field+".final", ar.Final)
		for i := range ar.Ring.Steps {
			for j := range ar.Ring.Steps[i].Targets {
				if t := &ar.Ring.Steps[i].Targets[j]; t.Kind == TargetExternal {
					normalizeNumber(p, fmt.Sprintf("%s.ring.steps[%d].targets[%d].value", field, i, j), &t.Value, region)
				}
			}
		}
	}
	rule("routing.default", &r.Default)
	for i := range r.Rules {
		rule(fmt.Sprintf("routing.rules[%d]", i), &r.Rules[i])
	}
	if r.Override != nil {
		dest("routing.override.destination", r.Override.Destination)
	}
}

// cloneRouting deep-copies a routing policy through its JSON form.
func cloneRouting(p RoutingPolicy) RoutingPolicy {
	raw, err := json.Marshal(p)
	if err != nil {
		return p
	}
	var c RoutingPolicy
	if err := json.Unmarshal(raw, &c); err != nil {
		return p
	}
	return c
}
