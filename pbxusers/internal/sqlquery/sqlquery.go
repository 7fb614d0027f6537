// Package sqlquery turns pbxusers filters, searches and sort keys into SQL
// for the store backends. The query is written once; a Dialect supplies
// what differs between SQLite and PostgreSQL (placeholders, boolean
// literals, how values are stored, a few string functions).
//
//	b := sqlquery.NewBuilder(&sqlquery.SQLite)
//	b.Where("u.tenant_id = ?", tenant)
//	if err := b.Filter(q.Filter, sqlquery.UserAttrs); err != nil { ... }
//	rows, err := tx.QueryContext(ctx, "SELECT … FROM users u WHERE "+b.SQL(), b.Args...)
package sqlquery

import (
	"strconv"
	"strings"
	"time"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// Dialect is what a database does its own way.
type Dialect struct {
	// Placeholder returns the marker of the n-th argument (1-based).
	Placeholder func(n int) string
	// True and False are the boolean literals.
	True, False string
	// Value converts a filter value into the form the column stores.
	Value func(v any) any
	// EndsWith returns a condition that x ends with the argument s.
	EndsWith func(b *Builder, x, s string) string
	// Contains returns a condition that x contains the argument s.
	Contains func(b *Builder, x, s string) string
}

// SQLite stores booleans as 0/1 and times as microseconds.
var SQLite = Dialect{
	Placeholder: func(int) string { return "?" },
	True:        "1",
	False:       "0",
	Value: func(v any) any {
		switch v := v.(type) {
		case bool:
			if v {
				return 1
			}
			return 0
		case time.Time:
			return v.UnixMicro()
		}
		return v
	},
	EndsWith: func(b *Builder, x, s string) string {
		return "(length(" + b.Arg(s) + ") = 0 OR substr(" + x + ", -length(" + b.Arg(s) + ")) = " + b.Arg(s) + ")"
	},
	Contains: func(b *Builder, x, s string) string { return "instr(" + x + ", " + b.Arg(s) + ") > 0" },
}

// PostgreSQL numbers its arguments and has real booleans and timestamps.
var PostgreSQL = Dialect{
	Placeholder: func(n int) string { return "$" + strconv.Itoa(n) },
	True:        "TRUE",
	False:       "FALSE",
	Value:       func(v any) any { return v },
	EndsWith: func(b *Builder, x, s string) string {
		p := b.Arg(s)
		return "(length(" + p + "::text) = 0 OR right(" + x + ", length(" + p + "::text)) = " + p + "::text)"
	},
	Contains: func(b *Builder, x, s string) string { return "strpos(" + x + ", " + b.Arg(s) + ") > 0" },
}

// Builder collects WHERE conditions and their arguments.
type Builder struct {
	d     *Dialect
	conds []string
	// Args are the arguments, in placeholder order.
	Args []any
}

// NewBuilder returns an empty Builder for a dialect.
func NewBuilder(d *Dialect) *Builder { return &Builder{d: d} }

// Arg adds an argument and returns its placeholder.
func (b *Builder) Arg(v any) string {
	b.Args = append(b.Args, v)
	return b.d.Placeholder(len(b.Args))
}

// Where adds a condition; each ? in cond takes the next argument.
func (b *Builder) Where(cond string, args ...any) {
	var sb strings.Builder
	i := 0
	for _, r := range cond {
		if r == '?' && i < len(args) {
			sb.WriteString(b.Arg(args[i]))
			i++
			continue
		}
		sb.WriteRune(r)
	}
	b.conds = append(b.conds, sb.String())
}

// SQL returns the conditions joined with AND.
func (b *Builder) SQL() string {
	if len(b.conds) == 0 {
		return b.d.True
	}
	return strings.Join(b.conds, " AND ")
}

// Column describes how an attribute is stored: the SQL expression, whether
// values are compared lowercased, and, for attributes that live in another
// table, the EXISTS subquery the condition goes into.
type Column struct {
	Expr   string
	Lower  bool
	Exists string
	// Key, when set, turns a string value into the column's stored form
	// instead of Lower (userNames: pbxusers.UserNameKey).
	Key func(string) string
}

// emailExists names the tenant too, so that a condition on the address
// uses the (tenant_id, address_lc) index instead of reading every email.
const emailExists = "SELECT 1 FROM user_emails e WHERE e.user_id = u.id AND e.tenant_id = u.tenant_id AND "

// UserAttrs maps the user filter attributes onto the users table (alias u).
var UserAttrs = map[pbxusers.Attr]Column{
	pbxusers.AttrID:           {Expr: "u.id"},
	pbxusers.AttrUserName:     {Expr: "u.user_name_lc", Key: pbxusers.UserNameKey},
	pbxusers.AttrExternalID:   {Expr: "u.external_id"},
	pbxusers.AttrDisplayName:  {Expr: "u.display_lc", Lower: true},
	pbxusers.AttrGivenName:    {Expr: "u.given_lc", Lower: true},
	pbxusers.AttrFamilyName:   {Expr: "u.family_lc", Lower: true},
	pbxusers.AttrEmail:        {Expr: "e.address_lc", Lower: true, Exists: emailExists},
	pbxusers.AttrEmailType:    {Expr: "e.type", Lower: true, Exists: emailExists},
	pbxusers.AttrEmailPrimary: {Expr: "e.is_primary", Exists: emailExists},
	pbxusers.AttrActive:       {Expr: "u.active"},
	pbxusers.AttrKind:         {Expr: "u.kind"},
	pbxusers.AttrSource:       {Expr: "u.source"},
	pbxusers.AttrExtension:    {Expr: "u.extension"},
	pbxusers.AttrLocation:     {Expr: "u.location_lc", Lower: true},
	pbxusers.AttrCreated:      {Expr: "u.created"},
	pbxusers.AttrLastModified: {Expr: "u.updated"},
	pbxusers.AttrMember:       {Expr: "m.team_id", Exists: "SELECT 1 FROM team_members m WHERE m.user_id = u.id AND "},
	pbxusers.AttrProfile:      {Expr: "p.profile_id", Exists: "SELECT 1 FROM user_profiles p WHERE p.user_id = u.id AND "},
}

// TeamAttrs maps the team filter attributes onto the teams table (alias u).
var TeamAttrs = map[pbxusers.Attr]Column{
	pbxusers.AttrID:           {Expr: "u.id"},
	pbxusers.AttrDisplayName:  {Expr: "u.name_lc", Lower: true},
	pbxusers.AttrExternalID:   {Expr: "u.external_id"},
	pbxusers.AttrCreated:      {Expr: "u.created"},
	pbxusers.AttrLastModified: {Expr: "u.updated"},
	pbxusers.AttrMember:       {Expr: "m.user_id", Exists: "SELECT 1 FROM team_members m WHERE m.team_id = u.id AND "},
}

// UserSorts are the columns users can be sorted by.
var UserSorts = map[pbxusers.Attr]string{
	"":                        "u.id",
	pbxusers.AttrID:           "u.id",
	pbxusers.AttrUserName:     "u.user_name_lc",
	pbxusers.AttrDisplayName:  "u.display_lc",
	pbxusers.AttrGivenName:    "u.given_lc",
	pbxusers.AttrFamilyName:   "u.family_lc",
	pbxusers.AttrExtension:    "u.extension",
	pbxusers.AttrExternalID:   "u.external_id",
	pbxusers.AttrCreated:      "u.created",
	pbxusers.AttrLastModified: "u.updated",
	pbxusers.AttrLocation:     "u.location_lc",
}

// TeamSorts are the columns teams can be sorted by.
var TeamSorts = map[pbxusers.Attr]string{
	"":                        "u.id",
	pbxusers.AttrID:           "u.id",
	pbxusers.AttrDisplayName:  "u.name_lc",
	pbxusers.AttrExternalID:   "u.external_id",
	pbxusers.AttrCreated:      "u.created",
	pbxusers.AttrLastModified: "u.updated",
}

// SortColumn returns the column for a sort key, or a validation error.
func SortColumn(a pbxusers.Attr, sorts map[pbxusers.Attr]string) (string, error) {
	col, ok := sorts[a]
	if !ok {
		return "", pbxusers.Invalid("sortBy", "cannot sort by %q", a)
	}
	return col, nil
}

// Filter adds the SQL for f to the builder.
func (b *Builder) Filter(f pbxusers.Filter, attrs map[pbxusers.Attr]Column) error {
	s, err := b.compile(f, attrs, false)
	if err != nil {
		return err
	}
	b.conds = append(b.conds, s)
	return nil
}

// compile turns a filter into a boolean SQL expression. inEmail is set
// inside an EmailMatch, whose conditions apply to one email row (alias e)
// instead of being wrapped in their own EXISTS each.
func (b *Builder) compile(f pbxusers.Filter, attrs map[pbxusers.Attr]Column, inEmail bool) (string, error) {
	switch f := f.(type) {
	case *pbxusers.Compare:
		col, ok := attrs[f.Attr]
		if !ok {
			return "", pbxusers.Invalid("filter", "cannot filter on %q", f.Attr)
		}
		cond, err := b.comparison(col, f)
		if err != nil {
			return "", err
		}
		if col.Exists != "" && !inEmail {
			return "EXISTS (" + col.Exists + cond + ")", nil
		}
		return cond, nil
	case pbxusers.And:
		return b.join(f, " AND ", b.d.True, attrs, inEmail)
	case pbxusers.Or:
		return b.join(f, " OR ", b.d.False, attrs, inEmail)
	case pbxusers.Not:
		inner, err := b.compile(f.Filter, attrs, inEmail)
		if err != nil {
			return "", err
		}
		// Comparisons with a missing (NULL) attribute are NULL; NOT treats
		// them as false, so "not (extension eq x)" matches users without one.
		return "NOT coalesce((" + inner + "), " + b.d.False + ")", nil
	case *pbxusers.EmailMatch:
		inner, err := b.compile(f.Filter, attrs, true)
		if err != nil {
			return "", err
		}
		return "EXISTS (" + emailExists + "(" + inner + "))", nil
	}
	return "", pbxusers.Invalid("filter", "unsupported filter %T", f)
}

func (b *Builder) join(fs []pbxusers.Filter, op, empty string, attrs map[pbxusers.Attr]Column, inEmail bool) (string, error) {
	if len(fs) == 0 {
		return empty, nil
	}
	parts := make([]string, 0, len(fs))
	for _, g := range fs {
		s, err := b.compile(g, attrs, inEmail)
		if err != nil {
			return "", err
		}
		parts = append(parts, "("+s+")")
	}
	return strings.Join(parts, op), nil
}

// comparison returns a condition that an index can serve. It is NULL when
// the attribute is missing, which WHERE treats as false; compile's NOT and
// ne treat a missing attribute as "not equal".
func (b *Builder) comparison(col Column, c *pbxusers.Compare) (string, error) {
	x := col.Expr
	if c.Op == pbxusers.OpPresent {
		if pbxusers.TypeOf(c.Attr) == pbxusers.TypeString {
			return "(" + x + " IS NOT NULL AND " + x + " <> '')", nil
		}
		return "(" + x + " IS NOT NULL)", nil
	}
	v := c.Value
	if s, ok := v.(string); ok && col.Key != nil {
		v = col.Key(s)
	} else if ok && col.Lower {
		v = strings.ToLower(s)
	}
	switch c.Op {
	case pbxusers.OpEq:
		return x + " = " + b.Arg(b.d.Value(v)), nil
	case pbxusers.OpNe:
		return "coalesce(" + x + " <> " + b.Arg(b.d.Value(v)) + ", " + b.d.True + ")", nil
	case pbxusers.OpGt, pbxusers.OpGe, pbxusers.OpLt, pbxusers.OpLe:
		op := map[pbxusers.Op]string{pbxusers.OpGt: ">", pbxusers.OpGe: ">=", pbxusers.OpLt: "<", pbxusers.OpLe: "<="}[c.Op]
		return x + " " + op + " " + b.Arg(b.d.Value(v)), nil
	}
	s, ok := v.(string)
	if !ok {
		return "", pbxusers.Invalid("filter", "operator %s needs a string", c.Op)
	}
	switch c.Op {
	case pbxusers.OpSw:
		// A range instead of LIKE keeps the index usable and matches exactly
		// (no LIKE wildcards, no locale or ASCII-only case folding).
		return "(" + x + " >= " + b.Arg(s) + " AND " + x + " < " + b.Arg(s+"\U0010FFFF") + ")", nil
	case pbxusers.OpEw:
		return b.d.EndsWith(b, x, s), nil
	case pbxusers.OpCo:
		return b.d.Contains(b, x, s), nil
	}
	return "", pbxusers.Invalid("filter", "unknown operator %q", c.Op)
}
