package pbxusers

import (
	"context"
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
	EntityWebhook   Entity = "webhook"
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
	// Warning, when set, says that a value of the field was skipped or kept
	// as sent, and why (see WithWarnings); Old and New are then empty.
	Warning string `json:"warning,omitempty"`
}

// A Warning is a value a write took in but could not use as sent: skipped,
// or kept as sent and flagged. The caller that knows (the SCIM mapper, for
// what an identity provider sent) collects them; the write records them in
// its change-log entry, so an admin sees what was not applied and why.
type Warning struct {
	// Field is the attribute, e.g. "phoneNumbers".
	Field string
	// Reason says what happened and why, never the value itself.
	Reason string
}

type warningsKey struct{}

// WithWarnings returns a context under which the next user create or update
// (deactivation and reactivation included) records the warnings warnings
// returns in its change-log entry. It is
// called when the entry is written, so a function passed to ModifyUser may
// still be collecting them.
func WithWarnings(ctx context.Context, warnings func() []Warning) context.Context {
	return context.WithValue(ctx, warningsKey{}, warnings)
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

// Changes returns change log entries of a tenant, oldest first.
func (d *Directory) Changes(ctx context.Context, tenant string, q ChangeQuery) ([]Change, error) {
	if q.Limit <= 0 {
		q.Limit = DefaultPageSize
	}
	if q.Limit > MaxPageSize {
		q.Limit = MaxPageSize
	}
	return read(d, ctx, func(t *txn) ([]Change, error) { return t.tx.ListChanges(t.ctx, tenant, q) })
}

// ChangeQuery selects change log entries, oldest first.
type ChangeQuery struct {
	// AfterSeq returns entries with a larger Seq (0: from the start).
	AfterSeq int64
	// Entity and EntityID narrow to one object, when set.
	Entity   string
	EntityID string
	// Limit is 0 for DefaultPageSize, capped at MaxPageSize.
	Limit int
}
