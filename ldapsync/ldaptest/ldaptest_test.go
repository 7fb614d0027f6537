package ldaptest_test

import (
	"net"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/pbxgate/pbxgate/ldapsync/ldaptest"
)

func TestIntegrationStartAddKill(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.Options{Local: true})
	s.AddLDIF(t, "dn: uid=probe,"+s.PeopleDN+"\nobjectClass: inetOrgPerson\nobjectClass: AsteriskExtension\n"+
		"uid: probe\ncn: Probe\nsn: Probe\nAstExtension: 100\n")

	conn, err := ldap.DialURL(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Bind(s.SyncDN, s.SyncPassword); err != nil {
		t.Fatal(err)
	}
	res, err := conn.Search(ldap.NewSearchRequest(s.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(AstExtension=100)", []string{"entryUUID"}, nil))
	if err != nil || len(res.Entries) != 1 || res.Entries[0].GetAttributeValue("entryUUID") == "" {
		t.Fatalf("search: %v, %+v", err, res)
	}

	host, _, _ := net.SplitHostPort(s.URL[len("ldap://"):])
	if host != "127.0.0.1" {
		t.Errorf("listens on %q, want loopback only", host)
	}
	s.Kill(t)
	if c, err := net.DialTimeout("tcp", s.URL[len("ldap://"):], time.Second); err == nil {
		c.Close()
		t.Error("slapd still accepts connections after Kill")
	}
}
