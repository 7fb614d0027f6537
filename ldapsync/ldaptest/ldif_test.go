package ldaptest

import (
	"reflect"
	"testing"
)

func TestParseLDIF(t *testing.T) {
	const text = `version: 1
# a comment
#  continued comment

dn: uid=jl,ou=people,dc=example,dc=org
changetype: add
objectClass: inetOrgPerson
uid: jl
cn:: SsO8cmdlbiDFgcSFY2tp
sn: ÅÆ 日本
description: a long line that
  is folded
CN: second cn value

dn: ou=x,dc=example,dc=org
objectClass: organizationalUnit
ou: x
`
	reqs, err := parseLDIF(text)
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) != 2 {
		t.Fatalf("%d records", len(reqs))
	}
	r := reqs[0]
	if r.DN != "uid=jl,ou=people,dc=example,dc=org" {
		t.Errorf("DN %q", r.DN)
	}
	got := map[string][]string{}
	var order []string
	for _, a := range r.Attributes {
		got[a.Type] = a.Vals
		order = append(order, a.Type)
	}
	want := map[string][]string{
		"objectClass": {"inetOrgPerson"}, "uid": {"jl"}, "cn": {"Jürgen Łącki", "second cn value"},
		"sn": {"ÅÆ 日本"}, "description": {"a long line that is folded"},
	}
	if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(order, []string{"objectClass", "uid", "cn", "sn", "description"}) {
		t.Errorf("attributes %q (order %q)", got, order)
	}
}

func TestParseLDIFErrors(t *testing.T) {
	tests := []struct{ text, want string }{
		{"cn: x\n", `ldif line 1: record starts with "cn", want dn`},
		{"dn: cn=x\nchangetype: modify\n", `ldif line 2: changetype "modify" is not supported, only add`},
		{"dn: cn=x\ncn:: !!\n", "ldif line 2: cn: bad base64: illegal base64 data at input byte 0"},
		{"dn: cn=x\njpegPhoto:< file:///x\n", "ldif line 2: jpegPhoto: URL values are not supported"},
		{" folded\n", "ldif line 1: continuation without a line to continue"},
		{"dn: cn=x\nnot a line\n", `ldif line 2: "not a line" is not "attr: value"`},
	}
	for _, tt := range tests {
		if _, err := parseLDIF(tt.text); err == nil || err.Error() != tt.want {
			t.Errorf("parseLDIF(%q) = %v, want %q", tt.text, err, tt.want)
		}
	}
}
