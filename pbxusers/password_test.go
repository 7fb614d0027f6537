package pbxusers_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/pbxgate/pbxgate/pbxusers"
)

func TestCheckPasswordPolicy(t *testing.T) {
	for _, tc := range []struct {
		password, login string
		want            string // "" accepts
	}{
		{"short", "ada", "at least 8"},
		{strings.Repeat("x", 73), "ada", "at most 72"},
		{"Ada@Acme.Example", "ada@acme.example", "same as the login"},
		{"         ", "ada", "only spaces"},
		{"password", "ada", "too common"},
		{"12345678", "ada", "too common"},
		{"qwertzuiop", "ada", "too common"},
		{"ada.lovelace1", "ada.lovelace", "too common"},
		{"Sommer2024", "ada", ""},
		{"violet tram cobbler 7", "ada", ""},
	} {
		err := pbxusers.CheckPasswordPolicy(tc.password, tc.login)
		if tc.want == "" {
			assert.NoError(t, err, tc.password)
			continue
		}
		if assert.Error(t, err, tc.password) {
			assert.Contains(t, err.Error(), tc.want, tc.password)
		}
	}
}
