package ldapsync

import (
	"reflect"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"
)

func TestGroupGraphNestedAndCycles(t *testing.T) {
	g := newGroupGraph()
	g.addGroup("cn=all,ou=groups,dc=x", []string{"cn=sales,ou=groups,dc=x"}, nil)
	g.addGroup("cn=sales,ou=groups,dc=x", []string{"uid=alice,ou=people,dc=x", "CN=EMEA, OU=Groups, DC=X"}, nil)
	g.addGroup("cn=emea,ou=groups,dc=x", []string{"uid=bob,ou=people,dc=x#'0101'B"}, nil) // uniqueMember with optional UID
	g.addGroup("cn=ops,ou=groups,dc=x", nil, []string{"Carol"})                           // posixGroup memberUid
	g.addGroup("cn=loop-a,ou=groups,dc=x", []string{"cn=loop-b,ou=groups,dc=x"}, nil)
	g.addGroup("cn=loop-b,ou=groups,dc=x", []string{"cn=loop-a,ou=groups,dc=x", "uid=dave,ou=people,dc=x"}, nil)
	g.addGroup("cn=self,ou=groups,dc=x", []string{"cn=self,ou=groups,dc=x", "uid=erin,ou=people,dc=x"}, nil)
	g.finish()

	tests := []struct {
		dn, uid  string
		memberOf []string
		want     []string
	}{
		{"uid=alice,ou=people,dc=x", "alice", nil, []string{"cn=all,ou=groups,dc=x", "cn=sales,ou=groups,dc=x"}},
		{"UID=Bob, OU=People, DC=X", "bob", nil, []string{"cn=all,ou=groups,dc=x", "cn=emea,ou=groups,dc=x", "cn=sales,ou=groups,dc=x"}},
		{"uid=carol,ou=people,dc=x", "carol", nil, []string{"cn=ops,ou=groups,dc=x"}},
		{"uid=dave,ou=people,dc=x", "dave", nil, []string{"cn=loop-a,ou=groups,dc=x", "cn=loop-b,ou=groups,dc=x"}},
		{"uid=erin,ou=people,dc=x", "erin", nil, []string{"cn=self,ou=groups,dc=x"}},
		{"uid=frank,ou=people,dc=x", "frank", nil, nil},
		// memberOf (AD) joins known groups and ignores the rest.
		{"uid=gina,ou=people,dc=x", "gina", []string{"cn=EMEA,ou=groups,dc=x", "cn=unknown,dc=x"},
			[]string{"cn=all,ou=groups,dc=x", "cn=emea,ou=groups,dc=x", "cn=sales,ou=groups,dc=x"}},
	}
	for _, tt := range tests {
		if got := g.groupsOf(tt.dn, tt.uid, tt.memberOf); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("groupsOf(%q) = %q, want %q", tt.dn, got, tt.want)
		}
	}
	if len(g.direct) != 4 { // alice, bob, dave, erin: group members moved to parents
		t.Errorf("direct has %d user keys, want 4: %v", len(g.direct), g.direct)
	}
}

func TestMapGroupsByDNAndName(t *testing.T) {
	c := Config{GroupMappings: []GroupMapping{
		{Group: "CN=Sales,OU=Groups,DC=corp,DC=example", Profiles: []string{"agent"}, Teams: []string{"sales"}},
		{Group: "supervisors", Profiles: []string{"supervisor", "agent"}},
		{Group: "cn=nobody,dc=corp,dc=example", Profiles: []string{"never"}},
	}}
	profiles, teams := c.MapGroups([]string{"cn=sales,ou=groups,dc=corp,dc=example", "cn=Supervisors,ou=groups,dc=corp,dc=example"})
	if !reflect.DeepEqual(profiles, []string{"agent", "supervisor"}) || !reflect.DeepEqual(teams, []string{"sales"}) {
		t.Errorf("MapGroups = %q, %q", profiles, teams)
	}
}

func TestNormDNFastPathAgreesWithParsing(t *testing.T) {
	for _, dn := range []string{
		"uid=user000123,ou=people,dc=example,dc=org",
		"CN=Sales,OU=Groups,DC=Corp,DC=Example",
		"cn=a.b_c-d@x,dc=y",
		"2.5.4.3=Sales,dc=x",
	} {
		if !simpleDN(dn) {
			t.Errorf("simpleDN(%q) = false", dn)
		}
		parsed, err := ldap.ParseDN(dn)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := normDN(dn), strings.ToLower(parsed.String()); got != want {
			t.Errorf("normDN(%q) = %q, parsing gives %q", dn, got, want)
		}
	}
	for _, dn := range []string{"", "cn=", "=x", "cn=a,,dc=x", "cn=a=b", "cn=a, dc=x", `cn=a\,b`, "cn=a+uid=b", "cn=Zürich", "cn=a,"} {
		if simpleDN(dn) {
			t.Errorf("simpleDN(%q) = true", dn)
		}
	}
}
