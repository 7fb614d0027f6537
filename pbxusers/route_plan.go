package pbxusers

import (
	"fmt"
	"strings"
	"time"
)

// Call is an incoming call to be routed.
type Call struct {
	// From is the caller: an E.164 number, an extension, or "" when
	// anonymous.
	From string
	// Internal is true for calls from another user of the same tenant.
	Internal bool
	// At is when the call arrives; time frames read it in their zone.
	At time.Time
}

// RouteSubject is what Resolve needs to know about one user. The caller
// preloads it; Resolve does no I/O.
type RouteSubject struct {
	// UserID identifies the user; empty means the key of the subjects map.
	UserID string
	// Name and Extension are for people reading a plan.
	Name, Extension string
	// Location is the user's time zone, already loaded; nil means UTC.
	Location *time.Location
	// Policy is the user's routing policy.
	Policy RoutingPolicy
	// State is the user's presence when the call arrives.
	State PresenceState
	// VoicemailEnabled says whether the user has a voicemail box.
	VoicemailEnabled bool
	// Devices are the ids of the devices registered or assigned to the
	// user; TargetOwnDevices rings them.
	Devices []string
	// AppsEnabled says whether the user takes calls in the mobile, desktop
	// or web app (push-capable apps count as reachable).
	AppsEnabled bool
	// Active is false for suspended or deprovisioned users: they never
	// ring.
	Active bool
	// BusyReject rejects calls while the user is on a call instead of
	// ringing their other endpoints (Features.BusyReject).
	BusyReject bool
}

// RouteTarget is one endpoint that rings.
type RouteTarget struct {
	// Kind is TargetDevice, TargetApps or TargetExternal.
	Kind TargetKind `json:"kind"`
	// Value is the device (in a plan from Directory.Route its SIP id,
	// which is what a SIP proxy rings; from Resolve, as the RouteSubject
	// or the ring plan names it), the user id whose apps ring, or the
	// E.164 number.
	Value string `json:"value"`
	// UserID is the user the endpoint belongs to; empty for external
	// numbers of the ring plan or of a destination.
	UserID string `json:"userId,omitempty"`
	// Delay is how long after the step starts the target starts ringing.
	Delay Seconds `json:"delay,omitempty"`
	// ConfirmAnswer asks the answering party to press a key first.
	ConfirmAnswer bool `json:"confirmAnswer,omitempty"`
}

// RouteStep is a set of endpoints that ring together.
type RouteStep struct {
	// Targets ring together, each after its Delay.
	Targets []RouteTarget `json:"targets"`
	// Timeout is how long the step rings before the next step (or Then).
	Timeout Seconds `json:"timeout"`
}

// TraceEntry is one decision Resolve made, in order.
type TraceEntry struct {
	// UserID is the user whose policy was evaluated.
	UserID string `json:"userId"`
	// Rule is the id of the rule concerned, if any.
	Rule string `json:"rule,omitempty"`
	// TimeFrame is the id of the time frame concerned, if any.
	TimeFrame string `json:"timeFrame,omitempty"`
	// Why is the decision in words, e.g. "rule 'After hours' applies: time
	// frame 'Business hours' not active at Mon 2026-03-30 19:05
	// Europe/Berlin".
	Why string `json:"why"`
}

// RoutePlan says where a call to one user rings, for how long, what
// happens next, and why. A forward to another user links that user's plan
// through Next, so a plan is a chain of hops.
type RoutePlan struct {
	// UserID is the user whose policy made this plan.
	UserID string `json:"userId"`
	// Hop is the number of user-to-user forwards before this plan: 0 for
	// the called user.
	Hop int `json:"hop"`
	// Rule is the id of the rule applied (DefaultRuleID for the catch-all);
	// empty when no rule was reached (inactive user, rejected caller,
	// override destination).
	Rule string `json:"rule,omitempty"`
	// Steps ring one after the other. Empty: the call goes to Then at once.
	Steps []RouteStep `json:"steps,omitempty"`
	// Then is where the call goes when the last step times out, or at once
	// without steps. Kind DestVoicemail names the mailbox owner in Target.
	// Kind DestUser is a forward: Next holds that user's plan.
	Then Destination `json:"then"`
	// Next is the plan of the user Then forwards to.
	Next *RoutePlan `json:"next,omitempty"`
	// OnBusy, when set, replaces Then (and its Next) if the ringing
	// endpoints answer busy (SIP 486). It belongs to the same user and rule.
	OnBusy *RoutePlan `json:"onBusy,omitempty"`
	// Trace explains the decisions for this user.
	Trace []TraceEntry `json:"trace"`
	// Users maps the ids of the users in the plan to labels for people
	// ("Ada Lovelace (201)"); String shows the labels instead of ids.
	// Directory.Route fills it on the called user's plan; Resolve does not.
	Users map[string]string `json:"users,omitempty"`
}

// Final returns where the call ends up if nobody answers: the last Then
// along the Next chain.
func (p RoutePlan) Final() Destination {
	q := &p
	for q.Next != nil {
		q = q.Next
	}
	return q.Then
}

// Hops returns the ids of the users along the Next chain, starting with
// the called user.
func (p RoutePlan) Hops() []string {
	var ids []string
	for q := &p; q != nil; q = q.Next {
		ids = append(ids, q.UserID)
	}
	return ids
}

// String renders the plan for people, one line per decision and step.
func (p RoutePlan) String() string {
	var b strings.Builder
	p.write(&b, "")
	return p.Labelled(b.String())
}

// Labelled returns text (a trace entry's Why, say) with the ids of the
// plan's users replaced by their labels, as String shows them.
func (p RoutePlan) Labelled(text string) string {
	if len(p.Users) == 0 {
		return text
	}
	pairs := make([]string, 0, 2*len(p.Users))
	for id, label := range p.Users {
		if id != "" && label != "" {
			pairs = append(pairs, id, label)
		}
	}
	return strings.NewReplacer(pairs...).Replace(text)
}

func (p *RoutePlan) write(b *strings.Builder, indent string) {
	fmt.Fprintf(b, "%suser %s (hop %d", indent, p.UserID, p.Hop)
	if p.Rule != "" {
		fmt.Fprintf(b, ", rule %s", p.Rule)
	}
	b.WriteString(")\n")
	for _, t := range p.Trace {
		fmt.Fprintf(b, "%s  why: %s\n", indent, t.Why)
	}
	for i, s := range p.Steps {
		fmt.Fprintf(b, "%s  step %d, %s:", indent, i+1, s.Timeout)
		for _, t := range s.Targets {
			fmt.Fprintf(b, " %s %s", t.Kind, t.Value)
			if t.Delay > 0 {
				fmt.Fprintf(b, " (after %s)", t.Delay)
			}
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(b, "%s  then: %s\n", indent, describeDest(&p.Then))
	if p.OnBusy != nil {
		fmt.Fprintf(b, "%s  on busy:\n", indent)
		p.OnBusy.write(b, indent+"    ")
	}
	if p.Next != nil {
		p.Next.write(b, indent+"  ")
	}
}

// describeDest names a destination for people.
func describeDest(d *Destination) string {
	prefix, target := destLabel(d)
	return prefix + target
}

// destLabel names a destination for people in two parts, so traces can
// write it without concatenating.
func destLabel(d *Destination) (prefix, target string) {
	switch d.Kind {
	case DestVoicemail:
		return "voicemail of ", d.Target
	case DestUser:
		return "user ", d.Target
	case DestExternal:
		return "forward to ", d.Target
	case DestQueue:
		return "queue ", d.Target
	case DestAutoAttendant:
		return "auto attendant ", d.Target
	case DestConference:
		return "conference ", d.Target
	case DestHangup:
		return "hang up", ""
	case DestBusy:
		return "busy tone", ""
	case DestReject:
		return "reject", ""
	}
	return string(d.Kind) + " ", d.Target
}
