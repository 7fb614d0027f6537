package strictjson_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/pbxgate/pbxgate/internal/strictjson"
)

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		body string
		want string // "" is valid
	}{
		{`{"userName":"ada","emails":[{"value":"a@b.example"}]}`, ""},
		{`  [1, "two", {"a": null}, true]  `, ""},
		{`"x"`, ""},
		{`{"userName":"ada","userName":"eve"}`, `duplicate key "userName"`},
		{`{"a":{"b":1,"b":2}}`, `duplicate key "b"`},
		{`[{"a":1},{"a":1}]`, ""},
		{`{"a":1}{"b":2}`, "data after the JSON value"},
		{`{"a":1} x`, "data after the JSON value"},
		{"{\"a\":\"\xff\"}", "not valid UTF-8"},
		{`{"a":`, "unexpected end"},
		{`{"a" 1}`, "invalid character"},
		{``, "unexpected end"},
		{strings.Repeat("[", 65) + strings.Repeat("]", 65), "nested more than 64"},
	} {
		err := strictjson.Check([]byte(tc.body))
		if tc.want == "" {
			assert.NoError(t, err, tc.body)
			continue
		}
		var se *strictjson.Error
		if assert.True(t, errors.As(err, &se), "%q: %v", tc.body, err) {
			assert.Contains(t, se.Reason, tc.want, tc.body)
		}
	}
}

func FuzzCheck(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `[]`, `{"a":{"a":[1,{"b":2}]}}`, "\"\xff\"", `{"a":1,"a":2}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = strictjson.Check(data) // must not panic
	})
}
