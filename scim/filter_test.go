package scim

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/pbxusers"
)

func TestParseFilter(t *testing.T) {
	eq := pbxusers.Eq
	cmp := func(a pbxusers.Attr, op pbxusers.Op, v any) *pbxusers.Compare {
		return &pbxusers.Compare{Attr: a, Op: op, Value: v}
	}
	created := time.Date(2011, 5, 13, 4, 42, 34, 0, time.UTC)
	tests := []struct {
		in   string
		fs   filterSet
		want pbxusers.Filter
	}{
		{`userName eq "a@b.c"`, userFilters, eq(pbxusers.AttrUserName, "a@b.c")},
		{`USERNAME Eq "a@b.c"`, userFilters, eq(pbxusers.AttrUserName, "a@b.c")},
		{`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x"`, userFilters, eq(pbxusers.AttrUserName, "x")},
		{`userName eq "quote\"d"`, userFilters, eq(pbxusers.AttrUserName, `quote"d`)},
		{`externalId eq "E1"`, userFilters, eq(pbxusers.AttrExternalID, "E1")},
		{`id eq "1"`, userFilters, eq(pbxusers.AttrID, "1")},
		{`displayName co "x"`, userFilters, cmp(pbxusers.AttrDisplayName, pbxusers.OpCo, "x")},
		{`name.givenName sw "A"`, userFilters, cmp(pbxusers.AttrGivenName, pbxusers.OpSw, "A")},
		{`name.familyName ew "z"`, userFilters, cmp(pbxusers.AttrFamilyName, pbxusers.OpEw, "z")},
		{`name[givenName eq "A"]`, userFilters, eq(pbxusers.AttrGivenName, "A")},
		{`active eq false`, userFilters, eq(pbxusers.AttrActive, false)},
		{`title pr or userName pr`, userFilters, nil},
		{`userName pr`, userFilters, cmp(pbxusers.AttrUserName, pbxusers.OpPresent, nil)},
		{`userName ne "x"`, userFilters, cmp(pbxusers.AttrUserName, pbxusers.OpNe, "x")},
		{`meta.created gt "2011-05-13T04:42:34Z"`, userFilters, cmp(pbxusers.AttrCreated, pbxusers.OpGt, created)},
		{`meta.lastModified le "2011-05-13T06:42:34+02:00"`, userFilters, cmp(pbxusers.AttrLastModified, pbxusers.OpLe, created)},
		{`emails eq "x@y"`, userFilters, eq(pbxusers.AttrEmail, "x@y")},
		{`emails.type eq "work"`, userFilters, eq(pbxusers.AttrEmailType, "work")},
		{`emails[type eq "work" and value eq "x"]`, userFilters,
			&pbxusers.EmailMatch{Filter: pbxusers.And{eq(pbxusers.AttrEmailType, "work"), eq(pbxusers.AttrEmail, "x")}}},
		{`emails[type eq "work"].value eq "x"`, userFilters,
			&pbxusers.EmailMatch{Filter: pbxusers.And{eq(pbxusers.AttrEmailType, "work"), eq(pbxusers.AttrEmail, "x")}}},
		{`emails[type eq "work" and (primary eq true or not (value co "old"))]`, userFilters,
			&pbxusers.EmailMatch{Filter: pbxusers.And{eq(pbxusers.AttrEmailType, "work"),
				pbxusers.Or{eq(pbxusers.AttrEmailPrimary, true), pbxusers.Not{Filter: cmp(pbxusers.AttrEmail, pbxusers.OpCo, "old")}}}}},
		{`a eq "1" or b eq "2" and c eq "3"`, userFilters, nil},
		{`userName eq "a" or userName eq "b" and active eq true`, userFilters,
			pbxusers.Or{eq(pbxusers.AttrUserName, "a"), pbxusers.And{eq(pbxusers.AttrUserName, "b"), eq(pbxusers.AttrActive, true)}}},
		{`(userName eq "a" or userName eq "b") and not(active eq true)`, userFilters,
			pbxusers.And{pbxusers.Or{eq(pbxusers.AttrUserName, "a"), eq(pbxusers.AttrUserName, "b")}, pbxusers.Not{Filter: eq(pbxusers.AttrActive, true)}}},
		{`userName eq "a" and userName eq "b" and userName eq "c"`, userFilters,
			pbxusers.And{eq(pbxusers.AttrUserName, "a"), eq(pbxusers.AttrUserName, "b"), eq(pbxusers.AttrUserName, "c")}},
		{`groups eq "g1"`, userFilters, eq(pbxusers.AttrMember, "g1")},
		{`urn:pbxgate:params:scim:schemas:extension:pbx:2.0:User:extension eq "201"`, userFilters, eq(pbxusers.AttrExtension, "201")},
		{`urn:pbxgate:params:scim:schemas:extension:pbx:2.0:User:location co "ber"`, userFilters, cmp(pbxusers.AttrLocation, pbxusers.OpCo, "ber")},
		{`displayName eq "Ops"`, groupFilters, eq(pbxusers.AttrDisplayName, "Ops")},
		{`members[value eq "u1"]`, groupFilters, eq(pbxusers.AttrMember, "u1")},
		{`members[value eq "u1" or value eq "u2"]`, groupFilters, pbxusers.Or{eq(pbxusers.AttrMember, "u1"), eq(pbxusers.AttrMember, "u2")}},
		{`members.value eq "u1"`, groupFilters, eq(pbxusers.AttrMember, "u1")},
		{`id eq "g" and members[value eq "u"]`, groupFilters, pbxusers.And{eq(pbxusers.AttrID, "g"), eq(pbxusers.AttrMember, "u")}},
		{`members pr`, groupFilters, cmp(pbxusers.AttrMember, pbxusers.OpPresent, nil)},
	}
	for _, tt := range tests {
		got, err := parseFilter(tt.in, tt.fs)
		if tt.want == nil {
			require.NotNil(t, err, tt.in)
			continue
		}
		require.Nil(t, err, "%s: %v", tt.in, err)
		assert.Equal(t, tt.want, got, tt.in)
	}
}

func TestParseFilterErrors(t *testing.T) {
	for in, want := range map[string]string{
		``:                                     "expected an attribute",
		`userName`:                             "expected an operator",
		`userName xx "a"`:                      "unknown operator",
		`userName eq`:                          "expected a value",
		`userName eq "open`:                    "unterminated",
		`userName eq "a" and`:                  "unexpected",
		`(userName eq "a"`:                     "expected )",
		`userName eq "a")`:                     "unexpected",
		`emails[type eq "work"`:                "expected ]",
		`emails[type eq "work"].value`:         "expected an operator",
		`emails[value eq "a"][type eq "b"]`:    "unexpected",
		`emails[x[y eq "z"]]`:                  "cannot be nested",
		`nickName eq "x"`:                      "filtering on \"nickName\" is not supported",
		`ims eq "x"`:                           "unknown attribute",
		`urn:unknown:2.0:User:userName eq "x"`: "unknown schema",
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "x"`: "not supported",
		`userName eq true`:             "string",
		`active eq "true"`:             "true or false",
		`meta.created eq "tomorrow"`:   "RFC 3339",
		`userName eq "bad \q escape"`:  "escape",
		`emails[primary gt true]`:      "boolean",
		`members[value eq "a"]`:        "unknown attribute",
		`name.givenName[value eq "x"]`: "sub-attribute",
		`1abc eq "x"`:                  "attribute path",
		`userName eq 1e999`:            "bad number",
	} {
		_, err := parseFilter(in, userFilters)
		require.NotNil(t, err, in)
		assert.Equal(t, 400, err.status)
		assert.Equal(t, typeInvalidFilter, err.scimType)
		assert.Contains(t, err.detail, want, in)
	}
	_, err := parseFilter(string(make([]byte, maxFilterBytes+1)), userFilters)
	require.NotNil(t, err)
	assert.Equal(t, typeTooMany, err.scimType)
}

func TestSortAttr(t *testing.T) {
	a, err := sortAttr("name.familyName", userFilters)
	require.Nil(t, err)
	assert.Equal(t, pbxusers.AttrFamilyName, a)
	a, err = sortAttr("meta.lastModified", groupFilters)
	require.Nil(t, err)
	assert.Equal(t, pbxusers.AttrLastModified, a)
	_, err = sortAttr("emails", userFilters)
	require.NotNil(t, err)
	_, err = sortAttr("x y", userFilters)
	require.NotNil(t, err)
}
