package pbxusers_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/pbxusers"
)

func TestNewSIPDigest(t *testing.T) {
	// Expected values computed independently (python3 hashlib).
	dg := pbxusers.NewSIPDigest("alice", "sip.example.com", "s3cret")
	assert.Equal(t, "sip.example.com", dg.Realm)
	assert.Equal(t, "c2259bf057179dae2de80a2dfa26dac2", dg.HA1)
	assert.Equal(t, "656558451b4b7f63e26276d6f6fb122e", dg.HA1B)
	assert.Equal(t, "26290d515c6bc2f919be41fa0ed30fc9c24ded12f2e2a7bba02eb911a04aed70", dg.HA1SHA256)
	assert.Len(t, dg.HA1BSHA256, 64)
}

func TestSIPDomainValidation(t *testing.T) {
	d := mustDir(t)
	ctx := context.Background()
	for _, bad := range []string{"not a host", "-x.example", "a..b", strings.Repeat("a", 64) + ".example"} {
		_, err := d.CreateTenant(ctx, pbxusers.Tenant{ID: "t1", SIPDomain: bad})
		require.ErrorIs(t, err, pbxusers.ErrInvalid, bad)
		assert.Contains(t, err.Error(), "sipDomain", bad)
	}
	tn, err := d.CreateTenant(ctx, pbxusers.Tenant{ID: "t1", SIPDomain: "T1.Sip.Example"})
	require.NoError(t, err)
	assert.Equal(t, "t1.sip.example", tn.SIPDomain, "stored lowercase")
	// Another tenant may not answer to the same domain, nor to a tenant id
	// used as a domain.
	var ce *pbxusers.ConflictError
	_, err = d.CreateTenant(ctx, pbxusers.Tenant{ID: "t2", SIPDomain: "t1.sip.example"})
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "sipDomain", ce.Field)
	_, err = d.CreateTenant(ctx, pbxusers.Tenant{ID: "t3", SIPDomain: "acme"})
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "t3", (&pbxusers.Tenant{ID: "t3"}).SIPRealm(), "empty domain means the tenant id")
}

func TestSIPCredentialsFollowSecretAndDomain(t *testing.T) {
	d := mustDir(t)
	ctx := context.Background()
	u, err := d.CreateUser(ctx, "acme", validPerson())
	require.NoError(t, err)
	dev, err := d.AddDevice(ctx, "acme", pbxusers.Device{UserID: u.ID, SIPID: "ada-desk"})
	require.NoError(t, err)
	require.Len(t, dev.Secret, 24, "the secret is shown at creation")
	assert.Nil(t, dev.Digest, "the HA1s leave the Directory only through LookupSIPCredentials")
	want := pbxusers.NewSIPDigest("ada-desk", "acme", dev.Secret) // realm: the tenant id without a SIP domain

	got, err := d.LookupSIPCredentials(ctx, "ACME", "ada-desk")
	require.NoError(t, err)
	assert.Equal(t, pbxusers.SIPCredentials{TenantID: "acme", Domain: "acme", SIPUser: "ada-desk", DeviceID: dev.ID,
		UserID: u.ID, Extension: "201", Active: true, Digest: want}, got)

	read, err := d.GetDevice(ctx, "acme", dev.ID)
	require.NoError(t, err)
	assert.Empty(t, read.Secret, "reads do not show the secret")
	assert.Nil(t, read.Digest, "nor the HA1s")

	// Rotation: new secret, new digest, shown once.
	rotated, err := d.UpdateDevice(ctx, "acme", read, true)
	require.NoError(t, err)
	require.Len(t, rotated.Secret, 24)
	assert.NotEqual(t, dev.Secret, rotated.Secret)
	got, err = d.LookupSIPCredentials(ctx, "acme", "ada-desk")
	require.NoError(t, err)
	assert.Equal(t, pbxusers.NewSIPDigest("ada-desk", "acme", rotated.Secret), got.Digest)
	relabelled, err := d.UpdateDevice(ctx, "acme", pbxusers.Device{ID: dev.ID, UserID: u.ID, Label: "Desk"}, false)
	require.NoError(t, err)
	assert.Empty(t, relabelled.Secret, "no rotation, no secret")
	assert.Nil(t, relabelled.Digest)
	got, err = d.LookupSIPCredentials(ctx, "acme", "ada-desk")
	require.NoError(t, err)
	assert.Equal(t, pbxusers.NewSIPDigest("ada-desk", "acme", rotated.Secret), got.Digest, "kept when the secret is")

	// Domain change: every device's digest follows in the same transaction.
	tn, err := d.GetTenant(ctx, "acme")
	require.NoError(t, err)
	tn.SIPDomain = "acme.sip.example"
	_, err = d.UpdateTenant(ctx, tn)
	require.NoError(t, err)
	_, err = d.LookupSIPCredentials(ctx, "acme", "ada-desk")
	require.ErrorIs(t, err, pbxusers.ErrNotFound, "the old domain no longer answers")
	got, err = d.LookupSIPCredentials(ctx, "acme.sip.example", "ada-desk")
	require.NoError(t, err)
	assert.Equal(t, pbxusers.NewSIPDigest("ada-desk", "acme.sip.example", rotated.Secret), got.Digest)

	// Unknown users and deactivated users' devices do not authenticate.
	_, err = d.LookupSIPCredentials(ctx, "acme.sip.example", "nobody")
	require.ErrorIs(t, err, pbxusers.ErrNotFound)
	_, err = d.LookupSIPCredentials(ctx, "other.example", "ada-desk")
	require.ErrorIs(t, err, pbxusers.ErrNotFound)
	_, err = d.DeactivateUser(ctx, "acme", u.ID)
	require.NoError(t, err)
	_, err = d.LookupSIPCredentials(ctx, "acme.sip.example", "ada-desk")
	require.ErrorIs(t, err, pbxusers.ErrNotFound, "deactivated at once")
	_, err = d.ActivateUser(ctx, "acme", u.ID)
	require.NoError(t, err)
	_, err = d.LookupSIPCredentials(ctx, "acme.sip.example", "ada-desk")
	require.NoError(t, err)

	// A device added by another Directory over the same store (the CLI
	// while the gateway runs) is found through the index reload.
	other := pbxusers.New(d.Store(), pbxusers.Options{})
	dev2, err := other.AddDevice(ctx, "acme", pbxusers.Device{UserID: u.ID, SIPID: "ada-soft"})
	require.NoError(t, err)
	got, err = d.LookupSIPCredentials(ctx, "acme.sip.example", "ada-soft")
	if err != nil { // the index was reloaded less than two seconds ago
		require.ErrorIs(t, err, pbxusers.ErrNotFound)
		got, err = other.LookupSIPCredentials(ctx, "acme.sip.example", "ada-soft")
	}
	require.NoError(t, err)
	assert.Equal(t, dev2.ID, got.DeviceID)

	// Neither the secret nor any HA1 reaches the change log.
	changes, err := d.Changes(ctx, "acme", pbxusers.ChangeQuery{Limit: pbxusers.MaxPageSize})
	require.NoError(t, err)
	log, err := json.Marshal(changes)
	require.NoError(t, err)
	for _, s := range []string{dev.Secret, rotated.Secret, want.HA1, got.Digest.HA1, got.Digest.HA1B, got.Digest.HA1SHA256} {
		assert.NotContains(t, string(log), s)
	}
}
