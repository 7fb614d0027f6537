package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/pbxusers"
)

func pendingMail(t *testing.T, d *pbxusers.Directory, tenant string) []pbxusers.OutboxMessage {
	t.Helper()
	list, err := d.ListMail(context.Background(), tenant, pbxusers.MailQuery{Status: pbxusers.MailPending, Limit: pbxusers.MaxPageSize})
	require.NoError(t, err)
	return list
}

func testWelcomeMailQueued(t *testing.T, s pbxusers.Store) {
	ctx := context.Background()
	d := newDir(s)
	mustTenant(t, d, "acme")
	a := mustUser(t, d, "acme", person("ada", "201"))
	list := pendingMail(t, d, "acme")
	require.Len(t, list, 1)
	assert.Equal(t, pbxusers.MailWelcome, list[0].Kind)
	assert.Equal(t, a.ID, list[0].UserID)
	assert.Equal(t, "ada@example.org", list[0].To)

	// No mail: manual password, system user, no email, inactive, a rolled
	// back create.
	manual := person("bob", "202")
	manual.Password.New = "correct horse battery"
	mustUser(t, d, "acme", manual)
	mustUser(t, d, "acme", pbxusers.User{UserName: "queue", Kind: pbxusers.KindCallQueue, Extension: "600"})
	noMail := person("carol", "203")
	noMail.Emails = nil
	mustUser(t, d, "acme", noMail)
	off := person("dave", "204")
	off.Status = pbxusers.StatusInactive
	mustUser(t, d, "acme", off)
	_, err := d.CreateUser(ctx, "acme", person("ada", "205")) // duplicate: rolled back
	require.ErrorIs(t, err, pbxusers.ErrConflict)
	assert.Len(t, pendingMail(t, d, "acme"), 1)

	// The tenant setting turns welcome mail off.
	tn, err := d.GetTenant(ctx, "acme")
	require.NoError(t, err)
	tn.DisableWelcomeMail = true
	_, err = d.UpdateTenant(ctx, tn)
	require.NoError(t, err)
	mustUser(t, d, "acme", person("erin", "206"))
	assert.Len(t, pendingMail(t, d, "acme"), 1)

	// An admin's resend and reset queue mail; reset sets must-change.
	_, err = d.SendWelcome(ctx, "acme", a.ID)
	require.NoError(t, err)
	_, err = d.ForcePasswordReset(ctx, "acme", a.ID)
	require.NoError(t, err)
	got, err := d.GetUser(ctx, "acme", a.ID)
	require.NoError(t, err)
	assert.True(t, got.Password.MustChange)
	assert.Len(t, pendingMail(t, d, "acme"), 3)
	_, err = d.SendWelcome(ctx, "acme", mustUser(t, d, "acme", pbxusers.User{UserName: "aa", Kind: pbxusers.KindAutoAttendant}).ID)
	require.ErrorIs(t, err, pbxusers.ErrInvalid)
}

func testOutboxClaims(t *testing.T, s pbxusers.Store) {
	ctx := context.Background()
	clock := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	d := pbxusers.New(s, pbxusers.Options{Now: func() time.Time { return clock }, PasswordCost: 4})
	mustTenant(t, d, "acme")
	for _, n := range []string{"a1", "a2", "a3"} {
		mustUser(t, d, "acme", person(n, ""))
	}
	first, err := d.ClaimMail(ctx, "worker-1", time.Minute, 2)
	require.NoError(t, err)
	require.Len(t, first, 2)
	second, err := d.ClaimMail(ctx, "worker-2", time.Minute, 10)
	require.NoError(t, err)
	require.Len(t, second, 1, "a message is leased to one worker at a time")
	assert.NotEqual(t, first[0].ID, second[0].ID)
	none, err := d.ClaimMail(ctx, "worker-3", time.Minute, 10)
	require.NoError(t, err)
	assert.Empty(t, none)
	// A worker gets back what it claimed and left unfinished.
	own, err := d.ClaimMail(ctx, "worker-2", time.Minute, 10)
	require.NoError(t, err)
	require.Len(t, own, 1)
	assert.Equal(t, second[0].ID, own[0].ID)
	// A worker that stops releases its claims: another claims them at once,
	// and they go back to their owner for the rest of this test.
	n, err := d.ReleaseMail(ctx, "worker-2")
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	taken, err := d.ClaimMail(ctx, "worker-3", time.Minute, 10)
	require.NoError(t, err)
	require.Len(t, taken, 1)
	assert.Equal(t, second[0].ID, taken[0].ID)
	n, err = d.ReleaseMail(ctx, "worker-3")
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	_, err = d.ClaimMail(ctx, "worker-2", time.Minute, 10)
	require.NoError(t, err)

	m := first[0]
	m.Status, m.Attempts = pbxusers.MailSent, 1
	require.NoError(t, d.FinishMail(ctx, m, pbxusers.MailAttempt{OK: true, Code: 250}))
	r := first[1]
	r.Status, r.Attempts, r.NextAttempt, r.LastError = pbxusers.MailPending, 1, clock.Add(30*time.Second), "421 try later"
	require.NoError(t, d.FinishMail(ctx, r, pbxusers.MailAttempt{Temporary: true, Code: 421, Error: "421 try later"}))

	// worker-2 dies holding second[0]; after its lease ends it is claimed
	// again, and the retried one comes due.
	clock = clock.Add(2 * time.Minute)
	again, err := d.ClaimMail(ctx, "worker-1", time.Minute, 10)
	require.NoError(t, err)
	assert.ElementsMatch(t, []int64{second[0].ID, r.ID}, []int64{again[0].ID, again[1].ID})

	got, attempts, err := d.GetMail(ctx, "acme", m.ID)
	require.NoError(t, err)
	assert.Equal(t, pbxusers.MailSent, got.Status)
	require.NotNil(t, got.SentAt)
	require.Len(t, attempts, 1)
	assert.Equal(t, 250, attempts[0].Code)

	// A worker whose lease ended cannot overwrite the next worker's claim.
	lost := again[1]
	lost.ClaimedBy, lost.Status = "worker-2", pbxusers.MailSent
	err = d.FinishMail(ctx, lost, pbxusers.MailAttempt{OK: true})
	require.ErrorIs(t, err, pbxusers.ErrConflict)

	f := again[0]
	f.Status, f.Attempts, f.LastError = pbxusers.MailFailed, f.Attempts+1, "550 no such user"
	require.NoError(t, d.FinishMail(ctx, f, pbxusers.MailAttempt{Code: 550, Error: "550 no such user"}))
	failed, err := d.ListMail(ctx, "acme", pbxusers.MailQuery{Status: pbxusers.MailFailed})
	require.NoError(t, err)
	require.Len(t, failed, 1)
	require.NoError(t, d.RetryMail(ctx, "acme", f.ID))
	require.ErrorIs(t, d.RetryMail(ctx, "acme", m.ID), pbxusers.ErrInvalid, "a sent mail is not sent again")
	counts, err := d.MailCounts(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, counts[pbxusers.MailSent])
	assert.Equal(t, 2, counts[pbxusers.MailPending])
	_, _, err = d.GetMail(ctx, "other", m.ID)
	require.ErrorIs(t, err, pbxusers.ErrNotFound)
}

func testSetupLinks(t *testing.T, s pbxusers.Store) {
	ctx := context.Background()
	clock := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	d := pbxusers.New(s, pbxusers.Options{Now: func() time.Time { return clock }, PasswordCost: 4})
	mustTenant(t, d, "acme")
	a := mustUser(t, d, "acme", person("ada", "201"))

	old, _, err := d.IssueSetupLink(ctx, "acme", a.ID, pbxusers.SetupWelcome, 0)
	require.NoError(t, err)
	tok, st, err := d.IssueSetupLink(ctx, "acme", a.ID, pbxusers.SetupWelcome, 0)
	require.NoError(t, err)
	assert.Equal(t, clock.Add(24*time.Hour), st.Expires)
	_, _, err = d.CheckSetupLink(ctx, old)
	require.ErrorIs(t, err, pbxusers.ErrSetupLink, "a resend revokes earlier links")

	_, u, err := d.CheckSetupLink(ctx, tok)
	require.NoError(t, err)
	assert.Equal(t, a.ID, u.ID)
	_, _, err = d.CheckSetupLink(ctx, tok)
	require.NoError(t, err, "checking does not use the link up")

	_, err = d.CompleteSetup(ctx, tok, "short")
	var ve *pbxusers.ValidationError
	require.ErrorAs(t, err, &ve)
	assert.True(t, ve.Has("password"))
	got, err := d.CompleteSetup(ctx, tok, "a long enough passphrase")
	require.NoError(t, err)
	assert.True(t, got.Password.IsSet)
	_, err = d.Login(ctx, "acme", "ada", "a long enough passphrase")
	require.NoError(t, err)
	_, err = d.CompleteSetup(ctx, tok, "another long passphrase")
	require.ErrorIs(t, err, pbxusers.ErrSetupLink, "single use")

	exp, _, err := d.IssueSetupLink(ctx, "acme", a.ID, pbxusers.SetupReset, time.Hour)
	require.NoError(t, err)
	clock = clock.Add(time.Hour)
	_, err = d.CompleteSetup(ctx, exp, "a long enough passphrase 2")
	require.ErrorIs(t, err, pbxusers.ErrSetupLink, "expired")

	brute, _, err := d.IssueSetupLink(ctx, "acme", a.ID, pbxusers.SetupReset, time.Hour)
	require.NoError(t, err)
	for i := 0; i < pbxusers.MaxSetupFailures; i++ {
		_, err = d.CompleteSetup(ctx, brute, "x")
		require.ErrorIs(t, err, pbxusers.ErrInvalid)
	}
	_, err = d.CompleteSetup(ctx, brute, "a long enough passphrase 3")
	require.ErrorIs(t, err, pbxusers.ErrSetupLink, "too many failures revoke the link")

	for _, bad := range []string{"", "pbxs_", "pbxs_x.y", tok + "x", "pbxg_abc.def"} {
		_, _, err := d.CheckSetupLink(ctx, bad)
		require.ErrorIs(t, err, pbxusers.ErrSetupLink, "%q", bad)
	}

	// Deactivation revokes links.
	live, _, err := d.IssueSetupLink(ctx, "acme", a.ID, pbxusers.SetupReset, time.Hour)
	require.NoError(t, err)
	_, err = d.DeactivateUser(ctx, "acme", a.ID)
	require.NoError(t, err)
	_, _, err = d.CheckSetupLink(ctx, live)
	require.ErrorIs(t, err, pbxusers.ErrSetupLink)
	_, err = d.Login(ctx, "acme", "ada", "a long enough passphrase")
	require.ErrorIs(t, err, pbxusers.ErrUnauthenticated, "inactive users cannot log in")
}

func testSyncRunsAndLeases(t *testing.T, s pbxusers.Store) {
	ctx := context.Background()
	clock := time.Date(2026, 5, 1, 2, 0, 0, 0, time.UTC)
	d := pbxusers.New(s, pbxusers.Options{Now: func() time.Time { return clock }})
	mustTenant(t, d, "acme")
	run, err := d.StartSyncRun(ctx, pbxusers.SyncRun{TenantID: "acme", Directory: "corp", Mode: "full"})
	require.NoError(t, err)
	assert.NotZero(t, run.ID)
	run.Status, run.Created, run.Conflicts = pbxusers.SyncOK, 3, []string{"ada: owned by scim"}
	_, err = d.FinishSyncRun(ctx, run)
	require.NoError(t, err)
	run2, err := d.StartSyncRun(ctx, pbxusers.SyncRun{TenantID: "acme", Directory: "corp", Mode: "incremental"})
	require.NoError(t, err)
	runs, err := d.SyncRuns(ctx, "acme", "corp", 10)
	require.NoError(t, err)
	require.Len(t, runs, 2)
	assert.Equal(t, run2.ID, runs[0].ID, "newest first")
	assert.Equal(t, 3, runs[1].Created)
	assert.NotNil(t, runs[1].Finished)
	assert.Equal(t, []string{"ada: owned by scim"}, runs[1].Conflicts)

	st, err := d.SyncState(ctx, "acme", "corp")
	require.NoError(t, err)
	assert.Empty(t, st.Cursor)
	st.Cursor, st.LastFull = "20260501020000Z", clock
	require.NoError(t, d.PutSyncState(ctx, st))
	st2, err := d.SyncState(ctx, "acme", "corp")
	require.NoError(t, err)
	assert.Equal(t, "20260501020000Z", st2.Cursor)

	ok, err := d.AcquireLease(ctx, "ldap:corp", "node-a", time.Minute)
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = d.AcquireLease(ctx, "ldap:corp", "node-b", time.Minute)
	require.NoError(t, err)
	assert.False(t, ok, "two runs of one directory never overlap")
	ok, err = d.AcquireLease(ctx, "ldap:corp", "node-a", time.Minute)
	require.NoError(t, err)
	assert.True(t, ok, "the holder extends its lease")
	clock = clock.Add(2 * time.Minute)
	ok, err = d.AcquireLease(ctx, "ldap:corp", "node-b", time.Minute)
	require.NoError(t, err)
	assert.True(t, ok, "a dead holder's lease expires")
	require.NoError(t, d.ReleaseLease(ctx, "ldap:corp", "node-a"), "releasing someone else's lease does nothing")
	ok, err = d.AcquireLease(ctx, "ldap:corp", "node-a", time.Minute)
	require.NoError(t, err)
	assert.False(t, ok)
	require.NoError(t, d.ReleaseLease(ctx, "ldap:corp", "node-b"))
	ok, err = d.AcquireLease(ctx, "ldap:corp", "node-a", time.Minute)
	require.NoError(t, err)
	assert.True(t, ok)
}
