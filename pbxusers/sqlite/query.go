package sqlite

import (
	"strings"
	"time"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// sqlBuilder collects WHERE conditions and their arguments.
type sqlBuilder struct {
	conds []string
	args  []any
}

func (b *sqlBuilder) where(cond string, args ...any) {
	b.conds = append(b.conds, cond)
	b.args = append(b.args, args...)
}

func (b *sqlBuilder) sql() string {
	if len(b.conds) == 0 {
		return "1"
	}
	return strings.Join(b.conds, " AND ")
}

// column describes how an attribute is stored: the SQL expression, whether
// values are compared lowercased, and, for attributes that live in another
// table, the EXISTS subquery the condition goes into.
type column struct {
	expr   string
	lower  bool
	exists string // e.g. "SELECT 1 FROM user_emails e WHERE e.user_id = u.id AND %s"
}

const emailExists = "SELECT 1 FROM user_emails e WHERE e.user_id = u.id AND "

var userAttrSQL = map[pbxusers.Attr]column{
	pbxusers.AttrID:           {expr: "u.id"},
	pbxusers.AttrUserName:     {expr: "u.user_name_lc", lower: true},
	pbxusers.AttrExternalID:   {expr: "u.external_id"},
	pbxusers.AttrDisplayName:  {expr: "u.display_lc", lower: true},
	pbxusers.AttrGivenName:    {expr: "u.given_lc", lower: true},
	pbxusers.AttrFamilyName:   {expr: "u.family_lc", lower: true},
	pbxusers.AttrEmail:        {expr: "e.address_lc", lower: true, exists: emailExists},
	pbxusers.AttrEmailType:    {expr: "e.type", lower: true, exists: emailExists},
	pbxusers.AttrEmailPrimary: {expr: "e.is_primary", exists: emailExists},
	pbxusers.AttrActive:       {expr: "u.active"},
	pbxusers.AttrKind:         {expr: "u.kind"},
	pbxusers.AttrSource:       {expr: "u.source"},
	pbxusers.AttrExtension:    {expr: "u.extension"},
	pbxusers.AttrLocation:     {expr: "u.location_lc", lower: true},
	pbxusers.AttrCreated:      {expr: "u.created"},
	pbxusers.AttrLastModified: {expr: "u.updated"},
	pbxusers.AttrMember:       {expr: "m.team_id", exists: "SELECT 1 FROM team_members m WHERE m.user_id = u.id AND "},
}

var teamAttrSQL = map[pbxusers.Attr]column{
	pbxusers.AttrID:           {expr: "u.id"},
	pbxusers.AttrDisplayName:  {expr: "u.name_lc", lower: true},
	pbxusers.AttrExternalID:   {expr: "u.external_id"},
	pbxusers.AttrCreated:      {expr: "u.created"},
	pbxusers.AttrLastModified: {expr: "u.updated"},
	pbxusers.AttrMember:       {expr: "m.user_id", exists: "SELECT 1 FROM team_members m WHERE m.team_id = u.id AND "},
}

var userSorts = map[pbxusers.Attr]string{
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

var teamSorts = map[pbxusers.Attr]string{
	"":                        "u.id",
	pbxusers.AttrID:           "u.id",
	pbxusers.AttrDisplayName:  "u.name_lc",
	pbxusers.AttrExternalID:   "u.external_id",
	pbxusers.AttrCreated:      "u.created",
	pbxusers.AttrLastModified: "u.updated",
}

func sortColumn(a pbxusers.Attr, sorts map[pbxusers.Attr]string) (string, error) {
	col, ok := sorts[a]
	if !ok {
		return "", pbxusers.Invalid("sortBy", "cannot sort by %q", a)
	}
	return col, nil
}

// filter adds the SQL for f to the builder.
func (b *sqlBuilder) filter(f pbxusers.Filter, attrs map[pbxusers.Attr]column) error {
	var args []any
	s, err := compile(f, attrs, &args, false)
	if err != nil {
		return err
	}
	b.where(s, args...)
	return nil
}

// compile turns a filter into a boolean SQL expression that is never NULL.
// inEmail is set inside an EmailMatch, whose conditions apply to one email
// row (alias e) instead of being wrapped in their own EXISTS each.
func compile(f pbxusers.Filter, attrs map[pbxusers.Attr]column, args *[]any, inEmail bool) (string, error) {
	switch f := f.(type) {
	case *pbxusers.Compare:
		col, ok := attrs[f.Attr]
		if !ok {
			return "", pbxusers.Invalid("filter", "cannot filter on %q", f.Attr)
		}
		cond, err := comparison(col, f, args)
		if err != nil {
			return "", err
		}
		if col.exists != "" && !inEmail {
			return "EXISTS (" + col.exists + cond + ")", nil
		}
		return cond, nil
	case pbxusers.And:
		return join(f, " AND ", "1", attrs, args, inEmail)
	case pbxusers.Or:
		return join(f, " OR ", "0", attrs, args, inEmail)
	case pbxusers.Not:
		inner, err := compile(f.Filter, attrs, args, inEmail)
		if err != nil {
			return "", err
		}
		// Comparisons with a missing (NULL) attribute are NULL; NOT treats
		// them as false, so "not (extension eq x)" matches users without one.
		return "NOT coalesce((" + inner + "), 0)", nil
	case *pbxusers.EmailMatch:
		inner, err := compile(f.Filter, attrs, args, true)
		if err != nil {
			return "", err
		}
		return "EXISTS (" + emailExists + "(" + inner + "))", nil
	}
	return "", pbxusers.Invalid("filter", "unsupported filter %T", f)
}

func join(fs []pbxusers.Filter, op, empty string, attrs map[pbxusers.Attr]column, args *[]any, inEmail bool) (string, error) {
	if len(fs) == 0 {
		return empty, nil
	}
	parts := make([]string, 0, len(fs))
	for _, g := range fs {
		s, err := compile(g, attrs, args, inEmail)
		if err != nil {
			return "", err
		}
		parts = append(parts, "("+s+")")
	}
	return strings.Join(parts, op), nil
}

// comparison returns a condition that an index can serve. It is NULL when
// the attribute is missing, which WHERE treats as false; compile's NOT and ne
// treat a missing attribute as "not equal".
func comparison(col column, c *pbxusers.Compare, args *[]any) (string, error) {
	x := col.expr
	if c.Op == pbxusers.OpPresent {
		if pbxusers.TypeOf(c.Attr) == pbxusers.TypeString {
			return "(" + x + " IS NOT NULL AND " + x + " <> '')", nil
		}
		return "(" + x + " IS NOT NULL)", nil
	}
	v := c.Value
	switch val := v.(type) {
	case string:
		if col.lower {
			val = strings.ToLower(val)
		}
		v = val
	case bool:
		v = boolInt(val)
	case time.Time:
		v = micro(val)
	}
	switch c.Op {
	case pbxusers.OpEq:
		*args = append(*args, v)
		return x + " = ?", nil
	case pbxusers.OpNe:
		*args = append(*args, v)
		return "coalesce(" + x + " <> ?, 1)", nil
	case pbxusers.OpGt, pbxusers.OpGe, pbxusers.OpLt, pbxusers.OpLe:
		op := map[pbxusers.Op]string{pbxusers.OpGt: ">", pbxusers.OpGe: ">=", pbxusers.OpLt: "<", pbxusers.OpLe: "<="}[c.Op]
		*args = append(*args, v)
		return x + " " + op + " ?", nil
	case pbxusers.OpSw:
		s, _ := v.(string)
		// A range instead of LIKE keeps the index usable and matches
		// exactly (no LIKE wildcards, no ASCII-only case folding).
		*args = append(*args, s, s+"\U0010FFFF")
		return "(" + x + " >= ? AND " + x + " < ?)", nil
	case pbxusers.OpEw:
		s, _ := v.(string)
		*args = append(*args, s, s, s)
		return "(length(?) = 0 OR substr(" + x + ", -length(?)) = ?)", nil
	case pbxusers.OpCo:
		*args = append(*args, v)
		return "instr(" + x + ", ?) > 0", nil
	}
	return "", pbxusers.Invalid("filter", "unknown operator %q", c.Op)
}
