package pbxusers

import (
	"fmt"
	"time"
)

// Attr is an attribute a query can filter or sort users and teams by. The
// store evaluates filters itself (in SQL), never by loading a tenant into
// memory.
type Attr string

// The filterable attributes. String comparisons on userName, names, emails
// and display names are case-insensitive; id and externalId are exact.
const (
	AttrID           Attr = "id"
	AttrUserName     Attr = "userName"
	AttrExternalID   Attr = "externalId"
	AttrDisplayName  Attr = "displayName"
	AttrGivenName    Attr = "name.givenName"
	AttrFamilyName   Attr = "name.familyName"
	AttrEmail        Attr = "emails.value"
	AttrEmailType    Attr = "emails.type"
	AttrEmailPrimary Attr = "emails.primary"
	AttrActive       Attr = "active"
	AttrKind         Attr = "kind"
	AttrSource       Attr = "source"
	AttrExtension    Attr = "extension"
	AttrLocation     Attr = "location"
	AttrCreated      Attr = "meta.created"
	AttrLastModified Attr = "meta.lastModified"
	// AttrMember filters teams by member user id, or users by team id.
	AttrMember Attr = "members.value"
	// AttrProfile filters users by the id of a profile they hold directly.
	AttrProfile Attr = "profiles.value"
)

// Op is a comparison operator (the SCIM set).
type Op string

// The comparison operators.
const (
	OpEq      Op = "eq"
	OpNe      Op = "ne"
	OpCo      Op = "co"
	OpSw      Op = "sw"
	OpEw      Op = "ew"
	OpPresent Op = "pr"
	OpGt      Op = "gt"
	OpGe      Op = "ge"
	OpLt      Op = "lt"
	OpLe      Op = "le"
)

// Filter is a condition on users or teams: a *Compare, And, Or, Not or
// *EmailMatch.
type Filter interface {
	filter()
}

// Compare compares an attribute with a value. Value is a string for text
// attributes, a bool for AttrActive and AttrEmailPrimary, a time.Time for
// the meta dates, and unused for OpPresent.
type Compare struct {
	Attr  Attr
	Op    Op
	Value any
}

// And is true when every filter is.
type And []Filter

// Or is true when any filter is.
type Or []Filter

// Not negates a filter.
type Not struct{ Filter Filter }

// EmailMatch is true when one email of the user satisfies Filter, which may
// use only AttrEmail, AttrEmailType and AttrEmailPrimary: SCIM's
// emails[type eq "work" and value eq "x"].
type EmailMatch struct{ Filter Filter }

func (*Compare) filter()    {}
func (And) filter()         {}
func (Or) filter()          {}
func (Not) filter()         {}
func (*EmailMatch) filter() {}

// Eq is shorthand for &Compare{a, OpEq, v}.
func Eq(a Attr, v any) *Compare { return &Compare{Attr: a, Op: OpEq, Value: v} }

// AttrType is the value type an attribute compares with.
type AttrType int

// The attribute value types.
const (
	TypeString AttrType = iota
	TypeBool
	TypeTime
)

// TypeOf returns the value type of an attribute.
func TypeOf(a Attr) AttrType {
	switch a {
	case AttrActive, AttrEmailPrimary:
		return TypeBool
	case AttrCreated, AttrLastModified:
		return TypeTime
	}
	return TypeString
}

var userAttrs = map[Attr]bool{
	AttrID: true, AttrUserName: true, AttrExternalID: true, AttrDisplayName: true,
	AttrGivenName: true, AttrFamilyName: true, AttrEmail: true, AttrEmailType: true,
	AttrEmailPrimary: true, AttrActive: true, AttrKind: true, AttrSource: true,
	AttrExtension: true, AttrLocation: true, AttrCreated: true, AttrLastModified: true,
	AttrMember: true, AttrProfile: true,
}

var teamAttrs = map[Attr]bool{
	AttrID: true, AttrDisplayName: true, AttrExternalID: true, AttrCreated: true,
	AttrLastModified: true, AttrMember: true,
}

// ValidateUserFilter checks a filter for users: known attributes, operators
// that fit the attribute's type and values of the right type. It returns an
// error wrapping ErrInvalid.
func ValidateUserFilter(f Filter) error { return validateFilter(f, userAttrs, false, 0) }

// ValidateTeamFilter checks a filter for teams.
func ValidateTeamFilter(f Filter) error { return validateFilter(f, teamAttrs, false, 0) }

const maxFilterDepth = 32

func validateFilter(f Filter, attrs map[Attr]bool, inEmail bool, depth int) error {
	if depth > maxFilterDepth {
		return Invalid("filter", "nested too deeply (more than %d levels)", maxFilterDepth)
	}
	switch f := f.(type) {
	case nil:
		return nil
	case *Compare:
		if f == nil {
			return Invalid("filter", "empty comparison")
		}
		if !attrs[f.Attr] {
			return Invalid("filter", "cannot filter on %q", f.Attr)
		}
		emailAttr := f.Attr == AttrEmail || f.Attr == AttrEmailType || f.Attr == AttrEmailPrimary
		if inEmail && !emailAttr {
			return Invalid("filter", "%q cannot be used inside emails[...]", f.Attr)
		}
		return validateCompare(f)
	case And:
		for _, g := range f {
			if err := validateFilter(g, attrs, inEmail, depth+1); err != nil {
				return err
			}
		}
		return nil
	case Or:
		for _, g := range f {
			if err := validateFilter(g, attrs, inEmail, depth+1); err != nil {
				return err
			}
		}
		return nil
	case Not:
		return validateFilter(f.Filter, attrs, inEmail, depth+1)
	case *EmailMatch:
		if f == nil || inEmail || !attrs[AttrEmail] {
			return Invalid("filter", "emails[...] not allowed here")
		}
		return validateFilter(f.Filter, attrs, true, depth+1)
	}
	return Invalid("filter", "unsupported filter %T", f)
}

func validateCompare(c *Compare) error {
	t := TypeOf(c.Attr)
	switch c.Op {
	case OpPresent:
		return nil
	case OpEq, OpNe:
	case OpCo, OpSw, OpEw:
		if t != TypeString {
			return Invalid("filter", "operator %s needs a text attribute, %q is not", c.Op, c.Attr)
		}
	case OpGt, OpGe, OpLt, OpLe:
		if t == TypeBool {
			return Invalid("filter", "operator %s cannot compare the boolean %q", c.Op, c.Attr)
		}
	default:
		return Invalid("filter", "unknown operator %q", c.Op)
	}
	switch t {
	case TypeBool:
		if _, ok := c.Value.(bool); !ok {
			return Invalid("filter", "%q compares with true or false, not %s", c.Attr, describe(c.Value))
		}
	case TypeTime:
		if _, ok := c.Value.(time.Time); !ok {
			return Invalid("filter", "%q compares with a date-time, not %s", c.Attr, describe(c.Value))
		}
	default:
		if _, ok := c.Value.(string); !ok {
			return Invalid("filter", "%q compares with a string, not %s", c.Attr, describe(c.Value))
		}
	}
	return nil
}

func describe(v any) string {
	if v == nil {
		return "null"
	}
	return fmt.Sprintf("%T", v)
}
