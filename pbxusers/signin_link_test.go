package pbxusers_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// TestSignInLink: a sign-in link works once, only for signing in (never to
// set a password), and leaves the user's set-password link working.
func TestSignInLink(t *testing.T) {
	d := mustDir(t)
	ctx := context.Background()
	u, err := d.CreateUser(ctx, "acme", validPerson())
	require.NoError(t, err)
	welcome, _, err := d.IssueSetupLink(ctx, "acme", u.ID, pbxusers.SetupWelcome, 0)
	require.NoError(t, err)
	link, st, err := d.IssueSignInLink(ctx, "acme", u.ID, 0)
	require.NoError(t, err)
	assert.Equal(t, pbxusers.DefaultSignInTTL, st.Expires.Sub(st.Created))

	_, _, err = d.CheckSetupLink(ctx, link)
	require.ErrorIs(t, err, pbxusers.ErrSetupLink, "a sign-in link sets no password")
	_, err = d.UseSignInLink(ctx, welcome)
	require.ErrorIs(t, err, pbxusers.ErrSetupLink, "a set-password link signs nobody in")

	got, err := d.UseSignInLink(ctx, link)
	require.NoError(t, err)
	assert.Equal(t, u.ID, got.ID)
	_, err = d.UseSignInLink(ctx, link)
	require.ErrorIs(t, err, pbxusers.ErrSetupLink, "used once")
	_, _, err = d.CheckSetupLink(ctx, welcome)
	require.NoError(t, err, "the welcome link still works")
}
