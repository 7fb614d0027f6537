package ldapsync

import (
	"regexp"
	"slices"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// groupGraph holds what a group read learnt, so users can be given their
// groups, nested ones included, while they stream past.
//
// Memory: the graph keeps every group's DN and, for every member value that
// is not itself a group, the normalized member DN with the indexes of the
// groups listing it. That is O(groups + direct memberships), not O(users):
// users in no group cost nothing, a user in k groups costs one key and k
// int32s (about 120 bytes plus the DN). 100,000 users in two groups each is
// roughly 15-20 MB. The alternative, asking the server per user (memberOf
// or a search per user), costs one round trip per user (GitLab, Gitea and
// Rocket.Chat all report hours-long syncs from that) and still needs the
// group graph for nesting; reading each group once and joining in memory is
// what keeps a 100k-user read in seconds.
type groupGraph struct {
	dns     []string           // group index → DN as the server sent it
	byDN    map[string]int32   // normalized group DN → index
	parents [][]int32          // group index → groups listing it as a member
	direct  map[string][]int32 // normalized member DN (not a group) → groups
	byUID   map[string][]int32 // lowercased memberUid → groups

	// BFS scratch, reused for every user: visited[g] == gen means g was
	// seen for the current user.
	visited []uint32
	gen     uint32
	queue   []int32
}

func newGroupGraph() *groupGraph {
	return &groupGraph{
		byDN:   map[string]int32{},
		direct: map[string][]int32{},
		byUID:  map[string][]int32{},
	}
}

// addGroup records one group and its member values. Member DNs are sorted
// out into nested groups and users by finish, once every group is known.
func (g *groupGraph) addGroup(dn string, memberDNs, memberUIDs []string) {
	key := normDN(dn)
	idx, ok := g.byDN[key]
	if !ok {
		idx = int32(len(g.dns))
		g.byDN[key] = idx
		g.dns = append(g.dns, dn)
	}
	for _, m := range memberDNs {
		k := normDN(stripOptionalUID(m))
		if !slices.Contains(g.direct[k], idx) {
			g.direct[k] = append(g.direct[k], idx)
		}
	}
	for _, u := range memberUIDs {
		k := strings.ToLower(strings.TrimSpace(u))
		if k != "" && !slices.Contains(g.byUID[k], idx) {
			g.byUID[k] = append(g.byUID[k], idx)
		}
	}
}

// finish moves members that are groups out of direct into parents.
func (g *groupGraph) finish() {
	g.parents = make([][]int32, len(g.dns))
	for key, idx := range g.byDN {
		if containers, ok := g.direct[key]; ok {
			g.parents[idx] = containers
			delete(g.direct, key)
		}
	}
	g.visited = make([]uint32, len(g.dns))
}

// groupsOf returns the DNs of every group the user is in, directly (as a
// member DN, a memberUid, or the user's own memberOf values) or through
// nesting, sorted case-insensitively. Cycles (A in B, B in A) terminate: each
// group is visited at most once per user.
func (g *groupGraph) groupsOf(userDN, uid string, memberOf []string) []string {
	g.gen++
	if g.gen == 0 { // wrapped: clear stale marks
		clear(g.visited)
		g.gen = 1
	}
	q := g.queue[:0]
	push := func(idx int32) {
		if g.visited[idx] != g.gen {
			g.visited[idx] = g.gen
			q = append(q, idx)
		}
	}
	for _, idx := range g.direct[normDN(userDN)] {
		push(idx)
	}
	if uid != "" {
		for _, idx := range g.byUID[strings.ToLower(uid)] {
			push(idx)
		}
	}
	for _, m := range memberOf {
		if idx, ok := g.byDN[normDN(m)]; ok {
			push(idx)
		}
	}
	// Breadth-first over "is a member of"; q only grows by unvisited groups,
	// so this runs at most len(g.dns) times.
	for i := 0; i < len(q); i++ {
		for _, p := range g.parents[q[i]] {
			push(p)
		}
	}
	g.queue = q
	if len(q) == 0 {
		return nil
	}
	out := make([]string, len(q))
	for i, idx := range q {
		out[i] = g.dns[idx]
	}
	sortFold(out)
	return out
}

// sortFold sorts DNs case-insensitively, then by their exact bytes, so the
// order (and Entry.Hash) does not depend on the server's ordering.
func sortFold(dns []string) {
	slices.SortFunc(dns, func(a, b string) int {
		if c := strings.Compare(strings.ToLower(a), strings.ToLower(b)); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
}

// normDN returns a comparison key for a DN: attribute types and values
// lowercased, spacing and escaping normalized (go-ldap's DN.String), so
// "CN=Sales, OU=Groups" and "cn=sales,ou=groups" meet. A value that does
// not parse as a DN is only lowercased and trimmed.
func normDN(dn string) string {
	if simpleDN(dn) { // most DNs: parsing would only lowercase them
		return strings.ToLower(dn)
	}
	parsed, err := ldap.ParseDN(dn)
	if err != nil {
		return strings.ToLower(strings.TrimSpace(dn))
	}
	return strings.ToLower(parsed.String())
}

// simpleDN reports whether dn is type=value pairs joined by commas, made
// of ASCII letters, digits and "-._@" only: no spaces, escapes, quotes or
// multi-valued RDNs. For such a DN go-ldap's normal form is the DN itself,
// so normDN skips parsing it (a 100,000-user read normalizes every member
// and user DN; parsing was a tenth of the read's CPU).
func simpleDN(dn string) bool {
	eq := false
	for i := 0; i < len(dn); i++ {
		switch c := dn[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '.', c == '_', c == '@':
		case c == '=' && !eq && i > 0 && dn[i-1] != ',':
			eq = true
		case c == ',' && eq && dn[i-1] != '=':
			eq = false
		default:
			return false
		}
	}
	return eq && dn[len(dn)-1] != '='
}

// optionalUIDRE matches the "#'0101'B" suffix uniqueMember values may carry
// (RFC 4517 NameAndOptionalUID).
var optionalUIDRE = regexp.MustCompile(`#'[01]*'B$`)

func stripOptionalUID(v string) string {
	if !strings.HasSuffix(v, "'B") {
		return v
	}
	return optionalUIDRE.ReplaceAllString(v, "")
}

// firstRDNValue returns the value of a DN's first RDN ("Sales" for
// CN=Sales,OU=Groups,...), or "" if dn does not parse.
func firstRDNValue(dn string) string {
	parsed, err := ldap.ParseDN(dn)
	if err != nil || len(parsed.RDNs) == 0 || len(parsed.RDNs[0].Attributes) == 0 {
		return ""
	}
	return parsed.RDNs[0].Attributes[0].Value
}

// MapGroups returns the profiles and teams that GroupMappings give a user in
// the given groups (Entry.Groups), each listed once, in mapping order. A
// mapping whose Group contains "=" is compared as a DN, otherwise with the
// value of each group DN's first RDN; both ignore case.
func (c *Config) MapGroups(groups []string) (profiles, teams []string) {
	keys := make(map[string]bool, len(groups))
	names := make(map[string]bool, len(groups))
	for _, dn := range groups {
		keys[normDN(dn)] = true
		names[strings.ToLower(firstRDNValue(dn))] = true
	}
	for _, m := range c.GroupMappings {
		var hit bool
		if strings.Contains(m.Group, "=") {
			hit = keys[normDN(m.Group)]
		} else {
			hit = names[strings.ToLower(strings.TrimSpace(m.Group))]
		}
		if !hit {
			continue
		}
		for _, p := range m.Profiles {
			if !slices.Contains(profiles, p) {
				profiles = append(profiles, p)
			}
		}
		for _, t := range m.Teams {
			if !slices.Contains(teams, t) {
				teams = append(teams, t)
			}
		}
	}
	return profiles, teams
}
