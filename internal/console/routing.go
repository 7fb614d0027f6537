package console

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// routingForm is the Answering rules tab's form: the policy's settings,
// its ordered rules (and one empty row to add a rule) and the Default
// rule. What the form has no field for (a manual override, ring targets'
// answer confirmation, forward hops) is kept as stored.
type routingForm struct {
	AnswerMode, ForwardNumber, RingTimeout, BusyPolicy string
	CallWaiting, RejectAnonymous                       bool
	// Allow and Reject are caller patterns, one a line.
	Allow, Reject string
	Rules         []ruleForm
	Default       ruleForm
	// TimeFrames are the tenant's, for the rules' conditions.
	TimeFrames []pbxusers.StoredTimeFrame
}

// ruleForm is one answering rule in the form. Its fields are named
// Prefix + "." + field.
type ruleForm struct {
	Prefix, Orig, ID, Name, Position string
	Enabled, NotIn, DND, IsDefault   bool
	TimeFrames, States               []string
	CallType, Callers                string
	// RingMode and Ring are the ring plan: a line per step, see ringText.
	RingMode, Ring string
	Dests          []destForm
}

// destForm is one destination of a rule.
type destForm struct {
	Field, Kind, Target, Timeout string
}

// userRefs translates the form's references to users (forward to a user,
// a call queue, an auto attendant or a conference bridge; ring another
// user): the form shows each by its extension, else its userName, and
// reads any of extension, userName or id back to the id the policy
// stores, so an admin never has to know an id.
type userRefs struct {
	// ID returns the id of the user text names (an id, userName, email or
	// extension, as findUser reads them), or an error saying none does.
	ID func(text string) (string, error)
	// Name returns how the form shows the user with the id: its
	// extension, else its userName, else the id.
	Name func(id string) string
}

// idRefs are userRefs that show and read ids as they are.
var idRefs = userRefs{ID: func(s string) (string, error) { return s, nil }, Name: func(id string) string { return id }}

// userDest reports whether a destination's target names a user.
func userDest(kind pbxusers.DestinationKind) bool {
	switch kind {
	case pbxusers.DestUser, pbxusers.DestVoicemail, pbxusers.DestQueue, pbxusers.DestAutoAttendant, pbxusers.DestConference:
		return true
	}
	return false
}

// Has reports whether v is among list.
func (ruleForm) Has(list []string, v string) bool { return slices.Contains(list, v) }

// ruleDests are the destinations a rule's form edits, by JSON name.
var ruleDests = []string{"always", "onBusy", "onNoAnswer", "onUnavailable", "onDnd", "final"}

func destOf(r *pbxusers.AnsweringRule, field string) **pbxusers.Destination {
	switch field {
	case "always":
		return &r.Always
	case "onBusy":
		return &r.OnBusy
	case "onNoAnswer":
		return &r.OnNoAnswer
	case "onUnavailable":
		return &r.OnUnavailable
	case "onDnd":
		return &r.OnDND
	}
	return &r.Final
}

func seconds(s pbxusers.Seconds) string {
	if s == 0 {
		return ""
	}
	return strings.TrimSuffix(s.String(), "s")
}

// ringText writes a ring plan as the form edits it: a line per step, its
// targets separated by spaces ("own" for the user's own devices, "apps",
// an E.164 number, "device:ID", "user:" and the user as refs names them;
// "@5" after a target delays it 5 s), then the step's ring time in seconds
// with an "s" ("20s").
func ringText(p pbxusers.RingPlan, refs userRefs) string {
	var lines []string
	for _, st := range p.Steps {
		var parts []string
		for _, t := range st.Targets {
			var s string
			switch t.Kind {
			case pbxusers.TargetOwnDevices:
				s = "own"
			case pbxusers.TargetApps:
				s = "apps"
			case pbxusers.TargetExternal:
				s = t.Value
			case pbxusers.TargetUser:
				s = "user:" + refs.Name(t.Value)
			default:
				s = string(t.Kind) + ":" + t.Value
			}
			if t.Delay > 0 {
				s += "@" + seconds(t.Delay)
			}
			parts = append(parts, s)
		}
		if st.Timeout > 0 {
			parts = append(parts, seconds(st.Timeout)+"s")
		}
		lines = append(lines, strings.Join(parts, " "))
	}
	return strings.Join(lines, "\n")
}

var stepTimeout = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?s$`)

// parseRing reads ringText's form back; field names the form field in
// errors.
func parseRing(mode, text, field string, refs userRefs) (pbxusers.RingPlan, error) {
	p := pbxusers.RingPlan{Mode: pbxusers.RingMode(mode)}
	num := func(s, what string) (pbxusers.Seconds, error) {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f < 0 {
			return 0, fmt.Errorf("%s: %s %q is not a number of seconds", field, what, s)
		}
		return pbxusers.Seconds(time.Duration(f * float64(time.Second))), nil
	}
	for _, line := range strings.Split(text, "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		var st pbxusers.RingStep
		for _, f := range fields {
			if stepTimeout.MatchString(f) {
				t, err := num(strings.TrimSuffix(f, "s"), "ring time")
				if err != nil {
					return p, err
				}
				st.Timeout = t
				continue
			}
			var t pbxusers.RingTarget
			if i := strings.LastIndex(f, "@"); i > 0 {
				d, err := num(f[i+1:], "delay")
				if err != nil {
					return p, err
				}
				t.Delay, f = d, f[:i]
			}
			switch {
			case f == "own":
				t.Kind = pbxusers.TargetOwnDevices
			case f == "apps":
				t.Kind = pbxusers.TargetApps
			case strings.HasPrefix(f, "device:"):
				t.Kind, t.Value = pbxusers.TargetDevice, strings.TrimPrefix(f, "device:")
			case strings.HasPrefix(f, "user:"):
				id, err := refs.ID(strings.TrimPrefix(f, "user:"))
				if err != nil {
					return p, fmt.Errorf("%s: %w", field, err)
				}
				t.Kind, t.Value = pbxusers.TargetUser, id
			default:
				t.Kind, t.Value = pbxusers.TargetExternal, f
			}
			st.Targets = append(st.Targets, t)
		}
		p.Steps = append(p.Steps, st)
	}
	return p, nil
}

func ruleFormOf(prefix string, r pbxusers.AnsweringRule, pos int, isDefault bool, refs userRefs) ruleForm {
	f := ruleForm{Prefix: prefix, Orig: r.ID, ID: r.ID, Name: r.Name, Position: strconv.Itoa(pos), Enabled: r.Enabled,
		NotIn: r.When.NotInTimeFrames, DND: r.DND, IsDefault: isDefault, TimeFrames: r.When.TimeFrames,
		CallType: string(r.When.CallType), Callers: strings.Join(r.When.Callers, "\n"), RingMode: string(r.Ring.Mode),
		Ring: ringText(r.Ring, refs)}
	for _, s := range r.When.States {
		f.States = append(f.States, string(s))
	}
	for _, name := range ruleDests {
		df := destForm{Field: name}
		if d := *destOf(&r, name); d != nil {
			df.Kind, df.Target, df.Timeout = string(d.Kind), d.Target, seconds(d.Timeout)
			if userDest(d.Kind) && d.Target != "" {
				df.Target = refs.Name(d.Target)
			}
		}
		f.Dests = append(f.Dests, df)
	}
	return f
}

// routingFormOf fills the form from a policy, with an empty rule to add.
func routingFormOf(p pbxusers.RoutingPolicy, refs userRefs) routingForm {
	f := routingForm{AnswerMode: string(p.AnswerMode), ForwardNumber: p.ForwardNumber, RingTimeout: seconds(p.RingTimeout),
		BusyPolicy: string(p.BusyPolicy), CallWaiting: p.CallWaiting, RejectAnonymous: p.RejectAnonymous,
		Allow: strings.Join(p.AllowCallers, "\n"), Reject: strings.Join(p.RejectCallers, "\n")}
	for i, r := range p.Rules {
		f.Rules = append(f.Rules, ruleFormOf("r"+strconv.Itoa(i), r, i+1, false, refs))
	}
	blank := ruleFormOf("r"+strconv.Itoa(len(p.Rules)), pbxusers.AnsweringRule{Enabled: true}, len(p.Rules)+1, false, refs)
	f.Rules = append(f.Rules, blank)
	f.Default = ruleFormOf("def", p.Default, 0, true, refs)
	return f
}

func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

var ruleIDClean = regexp.MustCompile(`[^a-z0-9]+`)

// readRuleForm reads one rule's fields of the request.
func readRuleForm(r *http.Request, prefix string, isDefault bool) ruleForm {
	v := func(k string) string { return strings.TrimSpace(r.PostFormValue(prefix + "." + k)) }
	f := ruleForm{Prefix: prefix, Orig: v("orig"), ID: v("id"), Name: v("name"), Position: v("position"),
		Enabled: v("enabled") == "1", NotIn: v("notIn") == "1", DND: v("dnd") == "1", IsDefault: isDefault,
		TimeFrames: r.PostForm[prefix+".timeFrames"], States: r.PostForm[prefix+".states"], CallType: v("callType"),
		Callers: r.PostFormValue(prefix + ".callers"), RingMode: v("ringMode"), Ring: r.PostFormValue(prefix + ".ring")}
	for _, name := range ruleDests {
		f.Dests = append(f.Dests, destForm{Field: name, Kind: v(name + ".kind"), Target: v(name + ".target"), Timeout: v(name + ".timeout")})
	}
	return f
}

// apply writes the form's fields over rule (a copy of the stored rule of
// the same id, or a new one).
func (f ruleForm) apply(rule *pbxusers.AnsweringRule, refs userRefs) error {
	if !f.IsDefault {
		rule.ID, rule.Name, rule.Enabled = f.ID, f.Name, f.Enabled
		if rule.ID == "" {
			rule.ID = strings.Trim(ruleIDClean.ReplaceAllString(strings.ToLower(f.Name), "-"), "-")
		}
		rule.When.TimeFrames, rule.When.NotInTimeFrames = f.TimeFrames, f.NotIn && len(f.TimeFrames) > 0
		rule.When.CallType, rule.When.Callers = pbxusers.CallType(f.CallType), lines(f.Callers)
		rule.When.States = nil
		for _, s := range f.States {
			rule.When.States = append(rule.When.States, pbxusers.PresenceState(s))
		}
	}
	rule.DND = f.DND
	if f.Ring != ringText(rule.Ring, refs) || f.RingMode != string(rule.Ring.Mode) {
		plan, err := parseRing(f.RingMode, f.Ring, f.Prefix+" ring plan", refs)
		if err != nil {
			return err
		}
		rule.Ring = plan
	}
	for _, df := range f.Dests {
		dst := destOf(rule, df.Field)
		if df.Kind == "" {
			*dst = nil
			continue
		}
		d := pbxusers.Destination{Kind: pbxusers.DestinationKind(df.Kind), Target: df.Target}
		if userDest(d.Kind) && d.Target != "" {
			id, err := refs.ID(d.Target)
			if err != nil {
				return fmt.Errorf("%s %s: %w", f.Prefix, df.Field, err)
			}
			d.Target = id
		}
		if *dst != nil && (*dst).Kind == d.Kind && (*dst).Target == d.Target && seconds((*dst).Timeout) == df.Timeout {
			continue // unchanged
		}
		if df.Timeout != "" && d.Kind == pbxusers.DestExternal {
			s, err := strconv.ParseFloat(df.Timeout, 64)
			if err != nil || s < 0 {
				return fmt.Errorf("%s: the ring time %q is not a number of seconds", df.Field, df.Timeout)
			}
			d.Timeout = pbxusers.Seconds(time.Duration(s * float64(time.Second)))
		}
		*dst = &d
	}
	return nil
}

// readRouting builds the policy the form describes over the stored one.
func readRouting(r *http.Request, cur pbxusers.RoutingPolicy, refs userRefs) (routingForm, pbxusers.RoutingPolicy, error) {
	v := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	f := routingForm{AnswerMode: v("answerMode"), ForwardNumber: v("forwardNumber"), RingTimeout: v("ringTimeout"),
		BusyPolicy: v("busyPolicy"), CallWaiting: v("callWaiting") == "1", RejectAnonymous: v("rejectAnonymous") == "1",
		Allow: r.PostFormValue("allow"), Reject: r.PostFormValue("reject")}
	n, _ := strconv.Atoi(v("rules"))
	for i := 0; i < n && i < 200; i++ {
		f.Rules = append(f.Rules, readRuleForm(r, "r"+strconv.Itoa(i), false))
	}
	f.Default = readRuleForm(r, "def", true)

	p := cur
	p.AnswerMode, p.ForwardNumber, p.BusyPolicy = pbxusers.AnswerMode(f.AnswerMode), f.ForwardNumber, pbxusers.BusyPolicy(f.BusyPolicy)
	p.CallWaiting, p.RejectAnonymous = f.CallWaiting, f.RejectAnonymous
	p.AllowCallers, p.RejectCallers = lines(f.Allow), lines(f.Reject)
	p.RingTimeout = 0
	if f.RingTimeout != "" {
		s, err := strconv.ParseFloat(f.RingTimeout, 64)
		if err != nil || s < 0 {
			return f, p, fmt.Errorf("ring time %q is not a number of seconds", f.RingTimeout)
		}
		p.RingTimeout = pbxusers.Seconds(time.Duration(s * float64(time.Second)))
	}
	type placed struct {
		pos  float64
		rule pbxusers.AnsweringRule
	}
	var rules []placed
	for i, rf := range f.Rules {
		if r.PostFormValue(rf.Prefix+".delete") == "1" || (rf.Orig == "" && rf.ID == "" && rf.Name == "") {
			continue // removed, or the empty row left empty
		}
		var rule pbxusers.AnsweringRule
		if j := slices.IndexFunc(cur.Rules, func(x pbxusers.AnsweringRule) bool { return x.ID == rf.Orig }); rf.Orig != "" && j >= 0 {
			rule = cur.Rules[j]
		}
		if err := rf.apply(&rule, refs); err != nil {
			return f, p, err
		}
		pos, err := strconv.ParseFloat(rf.Position, 64)
		if err != nil {
			pos = float64(i + 1)
		}
		rules = append(rules, placed{pos, rule})
	}
	sort.SliceStable(rules, func(i, j int) bool { return rules[i].pos < rules[j].pos })
	p.Rules = nil
	for _, pr := range rules {
		p.Rules = append(p.Rules, pr.rule)
	}
	if err := f.Default.apply(&p.Default, refs); err != nil {
		return f, p, err
	}
	return f, p, nil
}

// saveRouting replaces the user's routing policy through the admin API's
// PUT routing, at the version the form was read at.
func (h *Handler) saveRouting(w http.ResponseWriter, r *http.Request, ss *session) {
	u, ok := h.loadUser(w, r, ss)
	if !ok {
		return
	}
	if err := r.ParseForm(); err != nil {
		h.fail(w, r, ss, http.StatusBadRequest, "formExpired")
		return
	}
	f, p, err := readRouting(r, u.Routing, h.userRefs(r.Context(), ss.Tenant))
	if err != nil {
		h.afterWrite(w, r, ss, u, "routing", "", &apiProblem{Status: http.StatusUnprocessableEntity, Detail: err.Error()}, &userData{Routing: f})
		return
	}
	prob, err := h.callAPIWith(r, ss, http.MethodPut, "/users/"+url.PathEscape(u.ID)+"/routing", ifMatch(r), p, nil)
	if err != nil {
		h.internal(w, r, ss, err)
		return
	}
	h.afterWrite(w, r, ss, u, "routing", "routingSaved", prob, &userData{Routing: f})
}

// userRefs are the tenant's users as the routing form names them. Each
// name and id is looked up once per request: a form shows and compares
// the same references several times.
func (h *Handler) userRefs(ctx context.Context, tenant string) userRefs {
	ids, names := map[string]string{}, map[string]string{}
	var refs userRefs
	refs.ID = func(text string) (string, error) {
		if id, ok := ids[text]; ok {
			return id, nil
		}
		u, found, err := h.findUser(ctx, tenant, text)
		switch {
		case err != nil:
			return "", err
		case !found:
			return "", fmt.Errorf("no user, queue, attendant or bridge has the userName, email or extension %q", text)
		}
		ids[text] = u.ID
		return u.ID, nil
	}
	refs.Name = func(id string) string {
		if name, ok := names[id]; ok {
			return name
		}
		names[id] = id // gone, or no name that reads back: the policy shows what it stores
		u, err := h.dir.GetUser(ctx, tenant, id)
		if err != nil {
			return id
		}
		// Only a name that reads back as this user: an extension may be
		// another user's userName, which findUser tries first.
		for _, name := range []string{u.Extension, u.UserName} {
			if name == "" {
				continue
			}
			if got, err := refs.ID(name); err == nil && got == id {
				names[id] = name
				break
			}
		}
		return names[id]
	}
	return refs
}
