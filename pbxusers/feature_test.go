package pbxusers_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/pbxusers"
)

func TestSetFeatureNames(t *testing.T) {
	for _, tc := range []struct {
		names        []string
		want         pbxusers.Features
		texts, isSet bool
		unknown      []string
	}{
		{names: nil},
		{names: []string{"Voicemail", "busyReject"}, want: pbxusers.Features{Voicemail: true, BusyReject: true}},
		{names: []string{"textmessages"}, texts: true, isSet: true},
		{names: []string{"mobileApp", "fax"}, want: pbxusers.Features{MobileApp: true}, unknown: []string{"fax"}},
	} {
		u := pbxusers.User{Features: pbxusers.Features{HotDesking: true}}
		unknown := u.SetFeatureNames(tc.names)
		assert.Equal(t, tc.want, u.Features, "%v", tc.names)
		assert.Equal(t, tc.unknown, unknown, "%v", tc.names)
		texts, set := u.TextMessages()
		assert.Equal(t, tc.texts, texts, "%v", tc.names)
		assert.Equal(t, tc.isSet, set, "%v", tc.names)
	}
}

// TestTextMessagesOneSource checks that text-message handling has one
// place: naming textMessages among a user's features in a CSV sets the
// texts.answer override, Effective reports it from there, and an export
// carries it once (in overrides, not also in features).
func TestTextMessagesOneSource(t *testing.T) {
	d := mustDir(t)
	ctx := context.Background()
	in := "userName,extension,features\nada,201,voicemail;textMessages\nbob,202,voicemail\n"
	_, err := d.ImportCSV(ctx, "acme", strings.NewReader(in), pbxusers.ImportOptions{})
	require.NoError(t, err)
	for name, want := range map[string]string{"ada": "override", "bob": "default"} {
		u, err := d.LookupUser(ctx, "acme", pbxusers.KeyUserName, name)
		require.NoError(t, err)
		eff, err := d.Effective(ctx, "acme", u.ID)
		require.NoError(t, err)
		for _, e := range eff {
			if e.Permission == pbxusers.PermAnswerTexts {
				assert.True(t, e.Value.Bool(), name)
				assert.Equal(t, want, e.From.Kind, name)
			}
		}
	}
	var out bytes.Buffer
	_, err = d.ExportCSV(ctx, "acme", &out, pbxusers.UserQuery{}, nil)
	require.NoError(t, err)
	assert.Equal(t, 1, strings.Count(out.String(), "texts.answer"))
	assert.NotContains(t, out.String(), "textMessages")
}

// TestUnknownTenantNamedOnce: an unknown tenant is named once in the error.
func TestUnknownTenantNamedOnce(t *testing.T) {
	d := mustDir(t)
	_, err := d.CreateUser(context.Background(), "nope", validPerson())
	require.ErrorIs(t, err, pbxusers.ErrNotFound)
	assert.Equal(t, 1, strings.Count(err.Error(), `"nope"`), err.Error())
}
