package pbxusers

import (
	"context"
	"encoding/json"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Actor is who made a change: the source and a name within it (an admin's
// login, a SCIM token's label, an LDAP directory's name).
type Actor struct {
	Source Source `json:"source"`
	Name   string `json:"name,omitempty"`
}

type actorKey struct{}

// WithActor returns a context that makes the Directory attribute writes to
// the actor. Without it, writes are attributed to {Source: manual, Name:
// "library"}.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the actor set with WithActor, or the default one.
func ActorFrom(ctx context.Context) Actor {
	if a, ok := ctx.Value(actorKey{}).(Actor); ok && a.Source != "" {
		return a
	}
	return Actor{Source: SourceManual, Name: "library"}
}

// Entity names the kind of object a change is about.
type Entity string

// The entities in the change log.
const (
	EntityTenant    Entity = "tenant"
	EntityUser      Entity = "user"
	EntityProfile   Entity = "profile"
	EntityTeam      Entity = "team"
	EntityDevice    Entity = "device"
	EntityNumber    Entity = "number"
	EntityTimeFrame Entity = "timeframe"
	EntityToken     Entity = "token"
)

// Action is what happened to the object.
type Action string

// The actions in the change log.
const (
	ActionCreate        Action = "create"
	ActionUpdate        Action = "update"
	ActionDeactivate    Action = "deactivate"
	ActionReactivate    Action = "reactivate"
	ActionDelete        Action = "delete"
	ActionAddMembers    Action = "add_members"
	ActionRemoveMembers Action = "remove_members"
	ActionSetPassword   Action = "set_password"
	ActionTransfer      Action = "transfer_ownership"
	ActionRevoke        Action = "revoke"
)

// FieldChange is one field of a change: its path ("name.given",
// "routing.rules[0].ring.steps[0].timeout") and its old and new values as
// JSON values. Secrets are never recorded: their values read "[redacted]".
type FieldChange struct {
	Field string `json:"field"`
	Old   any    `json:"old,omitempty"`
	New   any    `json:"new,omitempty"`
}

// Change is an entry of the append-only change log. It is written in the
// same transaction as the change itself.
type Change struct {
	// Seq orders the log; assigned by the store.
	Seq      int64     `json:"seq"`
	TenantID string    `json:"tenantId"`
	At       time.Time `json:"at"`
	Actor    Actor     `json:"actor"`
	Entity   Entity    `json:"entity"`
	EntityID string    `json:"entityId"`
	Action   Action    `json:"action"`
	// Summary is a human label of the object at the time (a userName, a
	// team name).
	Summary string        `json:"summary,omitempty"`
	Fields  []FieldChange `json:"fields,omitempty"`
	// Version is the object's version after the change, when it has one.
	Version int64 `json:"version,omitempty"`
}

// Fields names every changed field, e.g. for logs.
func (c Change) FieldNames() []string {
	out := make([]string, len(c.Fields))
	for i, f := range c.Fields {
		out[i] = f.Field
	}
	return out
}

// secretFields are paths whose values the change log never records.
var secretFields = map[string]bool{"secret": true, "password.new": true}

// Diff compares two objects through their JSON forms and returns the changed
// leaf fields in path order. Nil and empty values are treated alike.
// Read-only bookkeeping (version, created, updated) is skipped.
func Diff(before, after any) []FieldChange {
	var a, b any
	if before != nil {
		a = jsonValue(before)
	}
	if after != nil {
		b = jsonValue(after)
	}
	var out []FieldChange
	diffValue("", a, b, &out)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Field < out[j].Field })
	return out
}

func jsonValue(v any) any {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var out any
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil
	}
	return out
}

var skipDiff = map[string]bool{"version": true, "created": true, "updated": true, "tenantId": true, "members": true}

func diffValue(path string, a, b any, out *[]FieldChange) {
	if skipDiff[path] {
		return
	}
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if (aok || a == nil) && (bok || b == nil) && (aok || bok) {
		keys := map[string]bool{}
		for k := range am {
			keys[k] = true
		}
		for k := range bm {
			keys[k] = true
		}
		for k := range keys {
			p := k
			if path != "" {
				p = path + "." + k
			}
			diffValue(p, am[k], bm[k], out)
		}
		return
	}
	al, alok := a.([]any)
	bl, blok := b.([]any)
	if alok && blok && len(al) == len(bl) && allMaps(al) && allMaps(bl) {
		for i := range al {
			diffValue(path+"["+strconv.Itoa(i)+"]", al[i], bl[i], out)
		}
		return
	}
	if emptyJSON(a) && emptyJSON(b) {
		return
	}
	if reflect.DeepEqual(a, b) {
		return
	}
	fc := FieldChange{Field: path, Old: a, New: b}
	if secretFields[strings.ToLower(path)] {
		fc.Old, fc.New = redact(a), redact(b)
	}
	*out = append(*out, fc)
}

func allMaps(l []any) bool {
	for _, v := range l {
		if _, ok := v.(map[string]any); !ok {
			return false
		}
	}
	return true
}

func redact(v any) any {
	if emptyJSON(v) {
		return nil
	}
	return "[redacted]"
}

func emptyJSON(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case string:
		return v == ""
	case bool:
		return !v
	case float64:
		return v == 0
	case []any:
		return len(v) == 0
	case map[string]any:
		for _, e := range v {
			if !emptyJSON(e) {
				return false
			}
		}
		return true
	}
	return false
}
