package postgres

import (
	"strconv"
	"strings"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// sqlBuilder collects WHERE conditions and numbers their arguments ($1,
// $2, …).
type sqlBuilder struct {
	conds []string
	args  []any
}

// arg adds an argument and returns its placeholder.
func (b *sqlBuilder) arg(v any) string {
	b.args = append(b.args, v)
	return "$" + strconv.Itoa(len(b.args))
}

// where adds a condition; each ? in cond is replaced by the placeholder of
// the next argument.
func (b *sqlBuilder) where(cond string, args ...any) {
	var sb strings.Builder
	i := 0
	for _, r := range cond {
		if r == '?' && i < len(args) {
			sb.WriteString(b.arg(args[i]))
			i++
			continue
		}
		sb.WriteRune(r)
	}
	b.conds = append(b.conds, sb.String())
}

func (b *sqlBuilder) sql() string {
	if len(b.conds) == 0 {
		return "TRUE"
	}
	return strings.Join(b.conds, " AND ")
}

// column describes how an attribute is stored: the SQL expression, whether
// values are compared lowercased, and, for attributes that live in another
// table, the EXISTS subquery the condition goes into.
type column struct {
	expr   string
	lower  bool
	exists string
}

// emailExists names the tenant too, so that a condition on the address
// uses the (tenant_id, address_lc) index instead of reading every email.
const emailExists = "SELECT 1 FROM user_emails e WHERE e.user_id = u.id AND e.tenant_id = u.tenant_id AND "

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

// nullableSorts are the sort columns that may be NULL.
var nullableSorts = map[string]bool{"u.extension": true, "u.external_id": true}

// orderBy returns the ORDER BY list for a sort column and direction, with
// id as the tie breaker. Users without the attribute (NULL) come first
// ascending and last descending, as in SQLite; the indexes of the nullable
// columns are built NULLS FIRST to serve that order.
func orderBy(col string, desc bool) string {
	dir, nulls := "ASC", " NULLS FIRST"
	if desc {
		dir, nulls = "DESC", " NULLS LAST"
	}
	if col == "u.id" {
		return "u.id " + dir
	}
	if !nullableSorts[col] {
		nulls = ""
	}
	return col + " " + dir + nulls + ", u.id " + dir
}

// filter adds the SQL for f to the builder.
func (b *sqlBuilder) filter(f pbxusers.Filter, attrs map[pbxusers.Attr]column) error {
	s, err := b.compile(f, attrs, false)
	if err != nil {
		return err
	}
	b.conds = append(b.conds, s)
	return nil
}

// compile turns a filter into a boolean SQL expression that is never NULL.
// inEmail is set inside an EmailMatch, whose conditions apply to one email
// row (alias e) instead of being wrapped in their own EXISTS each.
func (b *sqlBuilder) compile(f pbxusers.Filter, attrs map[pbxusers.Attr]column, inEmail bool) (string, error) {
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
		if col.exists != "" && !inEmail {
			return "EXISTS (" + col.exists + cond + ")", nil
		}
		return cond, nil
	case pbxusers.And:
		return b.join(f, " AND ", "TRUE", attrs, inEmail)
	case pbxusers.Or:
		return b.join(f, " OR ", "FALSE", attrs, inEmail)
	case pbxusers.Not:
		inner, err := b.compile(f.Filter, attrs, inEmail)
		if err != nil {
			return "", err
		}
		// Comparisons with a missing (NULL) attribute are NULL; NOT treats
		// them as false, so "not (extension eq x)" matches users without one.
		return "NOT coalesce((" + inner + "), FALSE)", nil
	case *pbxusers.EmailMatch:
		inner, err := b.compile(f.Filter, attrs, true)
		if err != nil {
			return "", err
		}
		return "EXISTS (" + emailExists + "(" + inner + "))", nil
	}
	return "", pbxusers.Invalid("filter", "unsupported filter %T", f)
}

func (b *sqlBuilder) join(fs []pbxusers.Filter, op, empty string, attrs map[pbxusers.Attr]column, inEmail bool) (string, error) {
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
// the attribute is missing, which WHERE treats as false; compile's NOT and ne
// treat a missing attribute as "not equal".
func (b *sqlBuilder) comparison(col column, c *pbxusers.Compare) (string, error) {
	x := col.expr
	if c.Op == pbxusers.OpPresent {
		if pbxusers.TypeOf(c.Attr) == pbxusers.TypeString {
			return "(" + x + " IS NOT NULL AND " + x + " <> '')", nil
		}
		return "(" + x + " IS NOT NULL)", nil
	}
	v := c.Value
	if s, ok := v.(string); ok && col.lower {
		v = strings.ToLower(s)
	}
	switch c.Op {
	case pbxusers.OpEq:
		return x + " = " + b.arg(v), nil
	case pbxusers.OpNe:
		return "coalesce(" + x + " <> " + b.arg(v) + ", TRUE)", nil
	case pbxusers.OpGt, pbxusers.OpGe, pbxusers.OpLt, pbxusers.OpLe:
		op := map[pbxusers.Op]string{pbxusers.OpGt: ">", pbxusers.OpGe: ">=", pbxusers.OpLt: "<", pbxusers.OpLe: "<="}[c.Op]
		return x + " " + op + " " + b.arg(v), nil
	case pbxusers.OpSw:
		s, ok := v.(string)
		if !ok {
			return "", pbxusers.Invalid("filter", "operator sw needs a string")
		}
		// A range instead of LIKE keeps the (COLLATE "C") index usable and
		// matches exactly: no LIKE wildcards, no locale case folding.
		return "(" + x + " >= " + b.arg(s) + " AND " + x + " < " + b.arg(s+"\U0010FFFF") + ")", nil
	case pbxusers.OpEw:
		s, ok := v.(string)
		if !ok {
			return "", pbxusers.Invalid("filter", "operator ew needs a string")
		}
		p := b.arg(s)
		return "(length(" + p + "::text) = 0 OR right(" + x + ", length(" + p + "::text)) = " + p + "::text)", nil
	case pbxusers.OpCo:
		s, ok := v.(string)
		if !ok {
			return "", pbxusers.Invalid("filter", "operator co needs a string")
		}
		return "strpos(" + x + ", " + b.arg(s) + ") > 0", nil
	}
	return "", pbxusers.Invalid("filter", "unknown operator %q", c.Op)
}
