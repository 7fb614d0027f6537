package storetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// testWebhooks: a webhook is created with a secret shown once and stored
// for signing, starts after its own creation entry, is listed without the
// secret, isolated per tenant, and deleted.
func testWebhooks(t *testing.T, s pbxusers.Store) {
	ctx := context.Background()
	d := newDir(s)
	mustTenant(t, d, "acme")
	mustTenant(t, d, "globex")
	mustUser(t, d, "acme", person("ada", "201"))

	off := false
	w, secret, err := d.CreateWebhook(ctx, "acme", pbxusers.WebhookInput{URL: "https://pbx.example.com/hook?token=abc"})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(secret, pbxusers.WebhookSecretPrefix))
	assert.Empty(t, w.Secret, "the secret is returned once, apart from the record")
	assert.True(t, w.Active)
	changes, err := d.Changes(ctx, "acme", pbxusers.ChangeQuery{Entity: string(pbxusers.EntityWebhook)})
	require.NoError(t, err)
	require.Len(t, changes, 1)
	assert.Equal(t, changes[0].Seq, w.DeliveredSeq, "a new webhook gets what happens after its creation")
	assert.Equal(t, "https://pbx.example.com/hook", changes[0].Summary, "the change log leaves out the query")
	w2, _, err := d.CreateWebhook(ctx, "acme", pbxusers.WebhookInput{URL: "http://127.0.0.1:9/x", Active: &off})
	require.NoError(t, err)
	assert.False(t, w2.Active)

	list, err := d.ListWebhooks(ctx, "acme")
	require.NoError(t, err)
	require.Len(t, list, 2)
	assert.Equal(t, []string{w.ID, w2.ID}, []string{list[0].ID, list[1].ID}, "oldest first")
	for _, x := range list {
		assert.Empty(t, x.Secret)
	}
	got, err := d.GetWebhook(ctx, "acme", w.ID)
	require.NoError(t, err)
	assert.Equal(t, "https://pbx.example.com/hook?token=abc", got.URL)
	assert.Empty(t, got.Secret)
	_, err = d.GetWebhook(ctx, "globex", w.ID)
	require.ErrorIs(t, err, pbxusers.ErrNotFound, "another tenant's webhook is not found")
	require.ErrorIs(t, d.DeleteWebhook(ctx, "globex", w.ID), pbxusers.ErrNotFound)
	other, err := d.ListWebhooks(ctx, "globex")
	require.NoError(t, err)
	assert.Empty(t, other)
	_, err = d.ListWebhooks(ctx, "nope")
	require.ErrorIs(t, err, pbxusers.ErrNotFound)

	for _, bad := range []string{"", "ftp://x.example.com", "http://pbx.example.com/hook", "https://user:pw@x.example.com",
		"https://x.example.com/#frag", "https:///path", "https://x.example.com/" + strings.Repeat("a", 2001)} {
		_, _, err := d.CreateWebhook(ctx, "acme", pbxusers.WebhookInput{URL: bad})
		var ve *pbxusers.ValidationError
		require.ErrorAs(t, err, &ve, "%q", bad)
		assert.True(t, ve.Has("url"), "%q: %v", bad, err)
	}
	_, _, err = d.CreateWebhook(ctx, "nope", pbxusers.WebhookInput{URL: "https://x.example.com"})
	require.ErrorIs(t, err, pbxusers.ErrNotFound)

	require.NoError(t, d.DeleteWebhook(ctx, "acme", w.ID))
	_, err = d.GetWebhook(ctx, "acme", w.ID)
	require.ErrorIs(t, err, pbxusers.ErrNotFound)
	require.ErrorIs(t, d.DeleteWebhook(ctx, "acme", w.ID), pbxusers.ErrNotFound)
}

// testWebhookClaims: only active, due webhooks with changes after their
// cursor are claimed, one worker at a time; the outcome is stored only by
// the worker holding the lease; a released or expired lease is claimed
// again.
func testWebhookClaims(t *testing.T, s pbxusers.Store) {
	ctx := context.Background()
	clock := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	d := pbxusers.New(s, pbxusers.Options{Now: func() time.Time { return clock }, PasswordCost: 4})
	mustTenant(t, d, "acme")
	mustTenant(t, d, "globex")
	off := false
	_, _, err := d.CreateWebhook(ctx, "acme", pbxusers.WebhookInput{URL: "https://off.example.com/hook", Active: &off})
	require.NoError(t, err)
	a, _, err := d.CreateWebhook(ctx, "acme", pbxusers.WebhookInput{URL: "https://a.example.com/hook"})
	require.NoError(t, err)
	g, _, err := d.CreateWebhook(ctx, "globex", pbxusers.WebhookInput{URL: "https://g.example.com/hook"})
	require.NoError(t, err)

	none, err := d.ClaimWebhooks(ctx, "w1", time.Minute, 10)
	require.NoError(t, err)
	assert.Empty(t, none, "nothing happened after the webhooks were made")

	u := mustUser(t, d, "acme", person("ada", "201"))
	claimed, err := d.ClaimWebhooks(ctx, "w1", time.Minute, 10)
	require.NoError(t, err)
	require.Len(t, claimed, 1, "only acme's active webhook has something to deliver")
	assert.Equal(t, a.ID, claimed[0].ID)
	assert.True(t, strings.HasPrefix(claimed[0].Secret, pbxusers.WebhookSecretPrefix), "a claim carries the secret")
	assert.Equal(t, "w1", claimed[0].ClaimedBy)
	other, err := d.ClaimWebhooks(ctx, "w2", time.Minute, 10)
	require.NoError(t, err)
	assert.Empty(t, other, "a webhook is leased to one worker at a time")
	again, err := d.ClaimWebhooks(ctx, "w1", time.Minute, 10)
	require.NoError(t, err)
	require.Len(t, again, 1, "a worker gets back what it claimed and left unfinished")

	// A failure: retried later, with the same entries.
	c := claimed[0]
	next := clock.Add(30 * time.Second)
	c.PendingSeq, c.Attempts, c.NextAttempt, c.LastError, c.LastAttempt = c.DeliveredSeq+5, 1, next, "HTTP 500", &clock
	require.NoError(t, d.FinishWebhook(ctx, c))
	got, err := d.GetWebhook(ctx, "acme", a.ID)
	require.NoError(t, err)
	assert.Equal(t, 1, got.Attempts)
	assert.Equal(t, "HTTP 500", got.LastError)
	assert.True(t, next.Equal(got.NextAttempt))
	assert.Equal(t, c.DeliveredSeq+5, got.PendingSeq)
	assert.Empty(t, got.ClaimedBy, "finishing clears the lease")
	none, err = d.ClaimWebhooks(ctx, "w2", time.Minute, 10)
	require.NoError(t, err)
	assert.Empty(t, none, "not due before NextAttempt")

	clock = clock.Add(time.Minute)
	claimed, err = d.ClaimWebhooks(ctx, "w2", time.Minute, 10)
	require.NoError(t, err)
	require.Len(t, claimed, 1)
	// w1's lease is over: it cannot store an outcome over w2's claim.
	lost := claimed[0]
	lost.ClaimedBy = "w1"
	require.ErrorIs(t, d.FinishWebhook(ctx, lost), pbxusers.ErrConflict)

	// w2 stops and releases; w3 claims at once and delivers everything.
	n, err := d.ReleaseWebhooks(ctx, "w2")
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	claimed, err = d.ClaimWebhooks(ctx, "w3", time.Minute, 10)
	require.NoError(t, err)
	require.Len(t, claimed, 1)
	last, err := d.Changes(ctx, "acme", pbxusers.ChangeQuery{EntityID: u.ID})
	require.NoError(t, err)
	c = claimed[0]
	c.DeliveredSeq, c.PendingSeq, c.Attempts, c.LastError, c.NextAttempt, c.LastDelivered = last[len(last)-1].Seq, 0, 0, "", clock, &clock
	require.NoError(t, d.FinishWebhook(ctx, c))
	none, err = d.ClaimWebhooks(ctx, "w3", time.Minute, 10)
	require.NoError(t, err)
	assert.Empty(t, none, "nothing left after the cursor")

	// Each webhook follows its own tenant's changes; a lease whose worker
	// died ends by itself.
	mustUser(t, d, "globex", person("bob", "202"))
	claimed, err = d.ClaimWebhooks(ctx, "w4", time.Minute, 10)
	require.NoError(t, err)
	require.Len(t, claimed, 1)
	assert.Equal(t, g.ID, claimed[0].ID)
	clock = clock.Add(2 * time.Minute)
	claimed, err = d.ClaimWebhooks(ctx, "w5", time.Minute, 10)
	require.NoError(t, err)
	require.Len(t, claimed, 1)
	assert.Equal(t, "w5", claimed[0].ClaimedBy)
}
