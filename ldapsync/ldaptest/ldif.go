package ldaptest

import (
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// parseLDIF parses LDIF add records (RFC 2849 content records, or change
// records with "changetype: add"): "dn:" first, then "attr: value" or
// "attr:: base64" lines; a line starting with one space continues the one
// before; "#" lines are comments; blank lines separate records. Values
// keep their attribute's order. Other change types and "attr:< URL" are
// rejected.
func parseLDIF(text string) ([]*ldap.AddRequest, error) {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	// Unfold continuation lines, drop comments (and their continuations).
	var lines []string
	lineNo := []int{} // original line number of each unfolded line
	inComment := false
	for i, l := range strings.Split(text, "\n") {
		switch {
		case strings.HasPrefix(l, " "):
			if inComment {
				continue
			}
			if len(lines) == 0 || lines[len(lines)-1] == "" {
				return nil, fmt.Errorf("ldif line %d: continuation without a line to continue", i+1)
			}
			lines[len(lines)-1] += l[1:]
			continue
		case strings.HasPrefix(l, "#"):
			inComment = true
			continue
		}
		inComment = false
		lines = append(lines, l)
		lineNo = append(lineNo, i+1)
	}

	var reqs []*ldap.AddRequest
	var cur *ldap.AddRequest
	var order []string
	values := map[string][]string{}
	flush := func() {
		if cur == nil {
			return
		}
		for _, name := range order {
			cur.Attribute(name, values[name])
		}
		reqs = append(reqs, cur)
		cur, order, values = nil, nil, map[string][]string{}
	}
	for i, l := range lines {
		if strings.TrimSpace(l) == "" {
			flush()
			continue
		}
		name, value, err := parseLDIFLine(l)
		if err != nil {
			return nil, fmt.Errorf("ldif line %d: %w", lineNo[i], err)
		}
		switch {
		case cur == nil && strings.EqualFold(name, "version"):
			continue
		case cur == nil:
			if !strings.EqualFold(name, "dn") {
				return nil, fmt.Errorf("ldif line %d: record starts with %q, want dn", lineNo[i], name)
			}
			cur = ldap.NewAddRequest(value, nil)
		case strings.EqualFold(name, "changetype"):
			if !strings.EqualFold(value, "add") {
				return nil, fmt.Errorf("ldif line %d: changetype %q is not supported, only add", lineNo[i], value)
			}
		default:
			key := name
			for _, o := range order { // attribute names are case-insensitive
				if strings.EqualFold(o, name) {
					key = o
				}
			}
			if _, seen := values[key]; !seen {
				order = append(order, key)
			}
			values[key] = append(values[key], value)
		}
	}
	flush()
	return reqs, nil
}

func parseLDIFLine(l string) (name, value string, err error) {
	name, rest, ok := strings.Cut(l, ":")
	if !ok || name == "" {
		return "", "", fmt.Errorf("%q is not \"attr: value\"", l)
	}
	switch {
	case strings.HasPrefix(rest, ":"):
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(rest[1:]))
		if err != nil {
			return "", "", fmt.Errorf("%s: bad base64: %w", name, err)
		}
		return name, string(b), nil
	case strings.HasPrefix(rest, "<"):
		return "", "", fmt.Errorf("%s: URL values are not supported", name)
	}
	return name, strings.TrimLeft(rest, " "), nil
}
