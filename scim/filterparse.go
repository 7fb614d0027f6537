package scim

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/scim2/filter-parser/v2"
)

// parseFilterExpr parses a filter with the grammar of RFC 7644 §3.4.2.2
// (Figure 1) into the AST types of github.com/scim2/filter-parser/v2,
// which elimity uses for PATCH paths too. The package parses filters itself
// because that parser accepts neither parentheses nor more than one and/or
// inside a value filter (emails[type eq "work" and (value eq "x" or ...)])
// nor the attr[filter].sub op value form Entra ID sends (elimity issue
// #150). That form becomes attr[filter and sub op value].
//
// Keywords and operators are case-insensitive. String values are kept with
// their JSON escapes, as filter-parser does; the translator decodes them.
// Nesting is bounded, so any input returns quickly with a value or an
// error.
func parseFilterExpr(s string) (filter.Expression, error) {
	p := &filterParser{s: s}
	e, err := p.or(0, false)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i < len(p.s) {
		return nil, p.errorf("unexpected %q", p.rest(12))
	}
	return e, nil
}

type filterParser struct {
	s string
	i int
}

var errTooDeep = fmt.Errorf("the filter is nested more than %d levels deep", maxFilterDepth)

func (p *filterParser) errorf(format string, args ...any) error {
	return fmt.Errorf("at %d: %s", p.i, fmt.Sprintf(format, args...))
}

func (p *filterParser) rest(n int) string {
	r := p.s[p.i:]
	if len(r) > n {
		r = r[:n] + "…"
	}
	return r
}

func (p *filterParser) space() bool {
	start := p.i
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n' || p.s[p.i] == '\r') {
		p.i++
	}
	return p.i > start
}

// keyword consumes a case-insensitive word followed by a non-name
// character.
func (p *filterParser) keyword(w string) bool {
	end := p.i + len(w)
	if end > len(p.s) || !strings.EqualFold(p.s[p.i:end], w) {
		return false
	}
	if end < len(p.s) && isNameChar(p.s[end]) {
		return false
	}
	p.i = end
	return true
}

func (p *filterParser) peek(c byte) bool { return p.i < len(p.s) && p.s[p.i] == c }

// or parses an or-list of and-lists. inValue is set inside attr[...].
func (p *filterParser) or(depth int, inValue bool) (filter.Expression, error) {
	if depth > maxFilterDepth {
		return nil, errTooDeep
	}
	left, err := p.and(depth, inValue)
	if err != nil {
		return nil, err
	}
	for {
		save := p.i
		if !p.space() || !p.keyword("or") || !p.space() {
			p.i = save
			return left, nil
		}
		right, err := p.and(depth+1, inValue)
		if err != nil {
			return nil, err
		}
		left = &filter.LogicalExpression{Left: left, Right: right, Operator: filter.OR}
	}
}

func (p *filterParser) and(depth int, inValue bool) (filter.Expression, error) {
	left, err := p.unary(depth+1, inValue)
	if err != nil {
		return nil, err
	}
	for {
		save := p.i
		if !p.space() || !p.keyword("and") || !p.space() {
			p.i = save
			return left, nil
		}
		right, err := p.unary(depth+1, inValue)
		if err != nil {
			return nil, err
		}
		left = &filter.LogicalExpression{Left: left, Right: right, Operator: filter.AND}
	}
}

func (p *filterParser) unary(depth int, inValue bool) (filter.Expression, error) {
	if depth > maxFilterDepth {
		return nil, errTooDeep
	}
	p.space()
	save := p.i
	if p.keyword("not") {
		p.space()
		if !p.peek('(') {
			p.i = save // an attribute named not...
		} else {
			p.i++
			e, err := p.or(depth+1, inValue)
			if err != nil {
				return nil, err
			}
			p.space()
			if !p.peek(')') {
				return nil, p.errorf("expected ) to close not (")
			}
			p.i++
			return &filter.NotExpression{Expression: e}, nil
		}
	}
	if p.peek('(') {
		p.i++
		e, err := p.or(depth+1, inValue)
		if err != nil {
			return nil, err
		}
		p.space()
		if !p.peek(')') {
			return nil, p.errorf("expected )")
		}
		p.i++
		return e, nil
	}
	return p.comparison(depth, inValue)
}

// comparison parses attrPath pr, attrPath op value, or attrPath[valFilter]
// (optionally followed by .sub op value).
func (p *filterParser) comparison(depth int, inValue bool) (filter.Expression, error) {
	path, err := p.attrPath()
	if err != nil {
		return nil, err
	}
	if p.peek('[') {
		if inValue {
			return nil, p.errorf("value filters cannot be nested")
		}
		if path.SubAttribute != nil {
			return nil, p.errorf("a value filter follows an attribute, not a sub-attribute")
		}
		p.i++
		inner, err := p.or(depth+1, true)
		if err != nil {
			return nil, err
		}
		p.space()
		if !p.peek(']') {
			return nil, p.errorf("expected ]")
		}
		p.i++
		if p.peek('.') {
			p.i++
			sub, err := p.name()
			if err != nil {
				return nil, err
			}
			cmp, err := p.operation(filter.AttributePath{AttributeName: sub})
			if err != nil {
				return nil, err
			}
			inner = &filter.LogicalExpression{Left: inner, Right: cmp, Operator: filter.AND}
		}
		return &filter.ValuePath{AttributePath: path, ValueFilter: inner}, nil
	}
	return p.operation(path)
}

// operation parses " pr" or " op value" after an attribute path.
func (p *filterParser) operation(path filter.AttributePath) (filter.Expression, error) {
	if !p.space() {
		return nil, p.errorf("expected an operator after %q", path.String())
	}
	start := p.i
	for p.i < len(p.s) && isNameChar(p.s[p.i]) {
		p.i++
	}
	op := filter.CompareOperator(strings.ToLower(p.s[start:p.i]))
	switch op {
	case filter.PR:
		return &filter.AttributeExpression{AttributePath: path, Operator: op}, nil
	case filter.EQ, filter.NE, filter.CO, filter.SW, filter.EW, filter.GT, filter.GE, filter.LT, filter.LE:
	default:
		p.i = start
		return nil, p.errorf("unknown operator %q", p.rest(8))
	}
	if !p.space() {
		return nil, p.errorf("expected a value after %s", op)
	}
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	return &filter.AttributeExpression{AttributePath: path, Operator: op, CompareValue: v}, nil
}

// value parses a JSON string (kept with its escapes), number, true, false
// or null.
func (p *filterParser) value() (any, error) {
	if p.peek('"') {
		p.i++
		start := p.i
		for p.i < len(p.s) && p.s[p.i] != '"' {
			if p.s[p.i] == '\\' {
				p.i++
			}
			p.i++
		}
		if p.i >= len(p.s) {
			return nil, errors.New("unterminated string")
		}
		v := p.s[start:p.i]
		p.i++
		return v, nil
	}
	switch {
	case p.keyword("true"):
		return true, nil
	case p.keyword("false"):
		return false, nil
	case p.keyword("null"):
		return nil, nil
	}
	start := p.i
	for p.i < len(p.s) && strings.IndexByte("+-.0123456789eE", p.s[p.i]) >= 0 {
		p.i++
	}
	if start == p.i {
		return nil, p.errorf("expected a value, got %q", p.rest(12))
	}
	f, err := strconv.ParseFloat(p.s[start:p.i], 64)
	if err != nil {
		return nil, p.errorf("bad number %q", p.s[start:p.i])
	}
	return f, nil
}

// attrPath parses [URI ":"] ATTRNAME ["." ATTRNAME]. A URI is recognised by
// its urn: prefix and ends at the last colon.
func (p *filterParser) attrPath() (filter.AttributePath, error) {
	start := p.i
	for p.i < len(p.s) && (isNameChar(p.s[p.i]) || p.s[p.i] == ':' || p.s[p.i] == '.') {
		p.i++
	}
	raw := p.s[start:p.i]
	if raw == "" {
		return filter.AttributePath{}, p.errorf("expected an attribute, got %q", p.rest(12))
	}
	var ap filter.AttributePath
	if strings.HasPrefix(strings.ToLower(raw), "urn:") {
		k := strings.LastIndexByte(raw, ':')
		uri := raw[:k]
		ap.URIPrefix = &uri
		raw = raw[k+1:]
	}
	name, sub, hasSub := strings.Cut(raw, ".")
	if !validName(name) || (hasSub && !validName(sub)) {
		return filter.AttributePath{}, fmt.Errorf("at %d: %q is not an attribute path", start, p.s[start:p.i])
	}
	ap.AttributeName = name
	if hasSub {
		ap.SubAttribute = &sub
	}
	return ap, nil
}

func (p *filterParser) name() (string, error) {
	start := p.i
	for p.i < len(p.s) && isNameChar(p.s[p.i]) {
		p.i++
	}
	if n := p.s[start:p.i]; validName(n) {
		return n, nil
	}
	return "", p.errorf("expected a sub-attribute name")
}

func isNameChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '$'
}

// validName checks ATTRNAME = ALPHA *(nameChar) (and "$ref").
func validName(n string) bool {
	if n == "" || !(n[0] >= 'a' && n[0] <= 'z' || n[0] >= 'A' && n[0] <= 'Z' || n == "$ref") {
		return false
	}
	for i := 0; i < len(n); i++ {
		if !isNameChar(n[i]) {
			return false
		}
	}
	return true
}
