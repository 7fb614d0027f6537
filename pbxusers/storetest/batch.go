package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// bulkSetup makes a tenant with UniqueEmails, a profile, a team and a user
// an admin made by hand, and returns the rows the batch cases create: each
// kind of refusal the batch path must report for its row alone.
func bulkSetup(t *testing.T, d *pbxusers.Directory, tenant string) (existing pbxusers.User, profile, team string, rows []pbxusers.User) {
	ctx := context.Background()
	tn := mustTenant(t, d, tenant)
	tn.UniqueEmails = true
	_, err := d.UpdateTenant(ctx, tn)
	require.NoError(t, err)
	p, err := d.CreateProfile(ctx, tenant, pbxusers.Profile{Name: "agent"})
	require.NoError(t, err)
	tm, err := d.CreateTeam(ctx, tenant, pbxusers.Team{Name: "Sales"}, nil)
	require.NoError(t, err)
	existing = mustUser(t, d, tenant, person("ada", "201"))

	ldap := func(u pbxusers.User, ext string) pbxusers.User {
		u.Owner = pbxusers.Owner{Source: pbxusers.SourceLDAP, ExternalID: ext, Directory: "corp"}
		return u
	}
	withRefs := ldap(person("grace", "306"), "e-6")
	withRefs.Profiles, withRefs.Teams = []string{p.ID}, []string{tm.ID}
	badRef := ldap(person("heidi", "307"), "e-7")
	badRef.Profiles = []string{"no-such-profile"}
	mailTwin := ldap(person("ivan", "308"), "e-8")
	mailTwin.Emails = []pbxusers.Email{{Value: "BOB@example.org", Primary: true}}
	foreign := person("judy", "309")
	foreign.Owner = pbxusers.Owner{Source: pbxusers.SourceSCIM}
	noName := ldap(person("", "310"), "e-10")
	noName.UserName = ""
	longTitle := ldap(person("ken", "311"), "e-11")
	longTitle.Title = strings.Repeat("x", 10_000)
	rows = []pbxusers.User{
		ldap(person("bob", "301"), "e-1"),   // 0: created
		ldap(person("ADA", "302"), "e-2"),   // 1: userName of an existing user
		ldap(person("BOB", "303"), "e-3"),   // 2: userName of row 0
		mailTwin,                            // 3: email of row 0
		ldap(person("carol", "201"), "e-4"), // 4: extension of an existing user
		ldap(person("dave", "301"), "e-5"),  // 5: extension of row 0
		ldap(person("erin", "304"), "e-1"),  // 6: external id of row 0
		withRefs,                            // 7: created, with a profile and a team
		badRef,                              // 8: unknown profile
		foreign,                             // 9: owned by another source
		noName,                              // 10: invalid
		longTitle,                           // 11: invalid title (retried without it)
		ldap(person("frank", "305"), "e-9"), // 12: created
	}
	return existing, p.ID, tm.ID, rows
}

// testBatchCreate checks that Batch.CreateUsers has the outcome of
// Batch.CreateUser row by row: the same rows refused for the same reasons
// (duplicates within the batch, against existing users, ownership,
// validation, references), the others created with their emails,
// memberships, change-log entries and welcome mails. It runs the rows as
// they are, and spread out among valid rows so that a batch is large
// enough to be prepared on several goroutines, with the duplicates of a
// row far from it (in another goroutine's share of the rows).
func testBatchCreate(t *testing.T, s pbxusers.Store) {
	for _, spread := range []int{1, 23} {
		t.Run(fmt.Sprint("spread ", spread), func(t *testing.T) { testBatchCreateSpread(t, s, spread) })
	}
}

// spreadRows places rows k at k*spread, the positions between them holding
// valid users of their own, and returns the positions.
func spreadRows(rows []pbxusers.User, spread int) ([]pbxusers.User, []int) {
	var all []pbxusers.User
	at := make([]int, len(rows))
	for k, u := range rows {
		at[k] = len(all)
		all = append(all, u)
		for j := 1; j < spread && k < len(rows)-1; j++ {
			n := len(all)
			f := person(fmt.Sprintf("fill%03d", n), fmt.Sprint(5000+n))
			f.Owner = pbxusers.Owner{Source: pbxusers.SourceLDAP, ExternalID: fmt.Sprintf("f-%d", n), Directory: "corp"}
			all = append(all, f)
		}
	}
	return all, at
}

func testBatchCreateSpread(t *testing.T, s pbxusers.Store, spread int) {
	d := newDir(s)
	seqTenant, bulkTenant := fmt.Sprint("seq", spread), fmt.Sprint("bulk", spread)
	ctx := pbxusers.WithActor(context.Background(), pbxusers.Actor{Source: pbxusers.SourceLDAP, Name: "corp"})
	retry := func(rows []pbxusers.User) func(i int, err error) (pbxusers.User, bool) {
		return func(i int, err error) (pbxusers.User, bool) {
			var ve *pbxusers.ValidationError
			if errors.As(err, &ve) && rows[i].Title != "" {
				u := rows[i]
				u.Title = ""
				return u, true
			}
			return pbxusers.User{}, false
		}
	}

	// Row by row, as the sync did before.
	_, _, _, special := bulkSetup(t, d, seqTenant)
	rows, at := spreadRows(special, spread)
	seqErrs := make([]error, len(rows))
	seqUsers := make([]pbxusers.User, len(rows))
	require.NoError(t, d.Batch(ctx, seqTenant, func(b *pbxusers.Batch) error {
		for i, u := range rows {
			for {
				seqUsers[i], seqErrs[i] = b.CreateUser(u)
				if seqErrs[i] == nil {
					break
				}
				next, ok := retry(rows)(i, seqErrs[i])
				if !ok {
					break
				}
				u = next
			}
		}
		return nil
	}))

	existing, profile, team, special := bulkSetup(t, d, bulkTenant)
	rows, _ = spreadRows(special, spread)
	var users []pbxusers.User
	var errs []error
	require.NoError(t, d.Batch(ctx, bulkTenant, func(b *pbxusers.Batch) error {
		var err error
		users, errs, err = b.CreateUsers(rows, retry(rows))
		return err
	}))
	require.Len(t, errs, len(rows))
	created := map[int]bool{at[0]: true, at[7]: true, at[11]: true, at[12]: true}
	for i := range rows {
		if !slices.Contains(at, i) {
			created[i] = true // a filler
		}
	}
	for i := range rows {
		if created[i] {
			require.NoError(t, errs[i], "row %d", i)
			require.NoError(t, seqErrs[i], "row %d row by row", i)
			continue
		}
		require.Error(t, errs[i], "row %d", i)
		require.Error(t, seqErrs[i], "row %d row by row", i)
		assert.Equal(t, errClass(seqErrs[i]), errClass(errs[i]), "row %d: %v", i, errs[i])
	}
	c := requireConflict(t, errs[at[1]], "userName")
	assert.Equal(t, existing.ID, c.ExistingID)
	assert.Contains(t, c.Error(), "owned by source manual")
	assert.Equal(t, users[at[0]].ID, requireConflict(t, errs[at[2]], "userName").ExistingID)
	assert.Equal(t, users[at[0]].ID, requireConflict(t, errs[at[3]], "email").ExistingID)
	assert.Equal(t, existing.ID, requireConflict(t, errs[at[4]], "extension").ExistingID)
	assert.Equal(t, users[at[0]].ID, requireConflict(t, errs[at[5]], "extension").ExistingID)
	assert.Equal(t, users[at[0]].ID, requireConflict(t, errs[at[6]], "externalId").ExistingID)
	assert.ErrorIs(t, errs[at[8]], pbxusers.ErrInvalid)
	assert.ErrorIs(t, errs[at[9]], pbxusers.ErrInvalid)
	assert.ErrorIs(t, errs[at[10]], pbxusers.ErrInvalid)
	assert.Empty(t, users[at[11]].Title, "the retry left the title out")

	// What was created is stored as CreateUser stores it.
	for i := range created {
		got, err := d.GetUser(ctx, bulkTenant, users[i].ID)
		require.NoError(t, err, "row %d", i)
		assert.Equal(t, users[i], got, "row %d", i)
		want := seqUsers[i]
		want.ID, want.Created, want.Updated, want.Password.SetAt = got.ID, got.Created, got.Updated, got.Password.SetAt
		want.TenantID, want.Profiles, want.Teams = got.TenantID, got.Profiles, got.Teams
		assert.Equal(t, want, got, "row %d against the row-by-row create", i)
		for _, key := range []struct {
			k pbxusers.UserKey
			v string
		}{{pbxusers.KeyUserName, got.UserName}, {pbxusers.KeyEmail, got.Emails[0].Value}, {pbxusers.KeyExtension, got.Extension},
			{pbxusers.KeyExternalID, got.Owner.ExternalID}} {
			found, err := d.LookupUser(ctx, bulkTenant, key.k, key.v)
			require.NoError(t, err, "row %d by %s", i, key.k)
			assert.Equal(t, got.ID, found.ID)
		}
	}
	assert.Equal(t, pbxusers.SourceLDAP, users[at[0]].Owner.Source)
	assert.Equal(t, []string{profile}, users[at[7]].Profiles)
	assert.Equal(t, []string{team}, users[at[7]].Teams)
	tm, err := d.GetTeam(ctx, bulkTenant, team)
	require.NoError(t, err)
	assert.Equal(t, 1, tm.Members)
	page, err := d.ListUsers(ctx, bulkTenant, pbxusers.UserQuery{})
	require.NoError(t, err)
	assert.Equal(t, 1+len(created), page.Total)

	// One change-log entry per created user, in row order, as row by row.
	all := pbxusers.ChangeQuery{Entity: string(pbxusers.EntityUser), Limit: pbxusers.MaxPageSize}
	changes, err := d.Changes(ctx, bulkTenant, all)
	require.NoError(t, err)
	seqChanges, err := d.Changes(ctx, seqTenant, all)
	require.NoError(t, err)
	require.Equal(t, 1+len(created), len(changes))
	require.Equal(t, len(changes), len(seqChanges))
	var last int64
	for i, ch := range changes {
		assert.Greater(t, ch.Seq, last)
		last = ch.Seq
		assert.Equal(t, pbxusers.ActionCreate, ch.Action)
		assert.Equal(t, seqChanges[i].Summary, ch.Summary)
		assert.Equal(t, fmt.Sprint(seqChanges[i].FieldNames()), fmt.Sprint(ch.FieldNames()))
		if i > 0 {
			assert.Equal(t, pbxusers.Actor{Source: pbxusers.SourceLDAP, Name: "corp"}, ch.Actor)
		}
	}
	assert.Equal(t, users[at[0]].ID, changes[1].EntityID)
	assert.Equal(t, users[at[12]].ID, changes[len(changes)-1].EntityID)

	// A welcome mail for each created person, as row by row.
	mail := pendingMail(t, d, bulkTenant)
	assert.Len(t, mail, len(pendingMail(t, d, seqTenant)))
	assert.Len(t, mail, 1+len(created))
	byUser := map[string]string{}
	for _, m := range mail {
		byUser[m.UserID] = m.To
	}
	assert.Equal(t, "bob@example.org", byUser[users[at[0]].ID])
}

// testBatchCreateRollsBack checks that a batch whose function fails keeps
// none of the users CreateUsers wrote, and that a second call in the same
// batch sees the first call's users.
func testBatchCreateRollsBack(t *testing.T, s pbxusers.Store) {
	ctx := context.Background()
	d := newDir(s)
	mustTenant(t, d, "acme")
	boom := errors.New("boom")
	err := d.Batch(ctx, "acme", func(b *pbxusers.Batch) error {
		// An admin may create a user owned by scim; a clash with it names
		// that owner, within one call as with an earlier one.
		scim := person("ada", "201")
		scim.Owner.Source = pbxusers.SourceSCIM
		_, errs, err := b.CreateUsers([]pbxusers.User{scim, person("bob", "202"), person("Ada", "204")}, nil)
		require.NoError(t, err)
		require.NoError(t, errs[0])
		require.NoError(t, errs[1])
		assert.Contains(t, requireConflict(t, errs[2], "userName").Error(), "owned by source scim")
		_, errs, err = b.CreateUsers([]pbxusers.User{person("ADA", "203"), person("carol", "202")}, nil)
		require.NoError(t, err)
		assert.Contains(t, requireConflict(t, errs[0], "userName").Error(), "owned by source scim")
		requireConflict(t, errs[1], "extension")
		return boom
	})
	require.ErrorIs(t, err, boom)
	page, err := d.ListUsers(ctx, "acme", pbxusers.UserQuery{})
	require.NoError(t, err)
	assert.Zero(t, page.Total)
	assert.Empty(t, pendingMail(t, d, "acme"))
	changes, err := d.Changes(ctx, "acme", pbxusers.ChangeQuery{Entity: string(pbxusers.EntityUser)})
	require.NoError(t, err)
	assert.Empty(t, changes)
}

// errClass names what kind of refusal err is, and for which field.
func errClass(err error) string {
	var ce *pbxusers.ConflictError
	var ve *pbxusers.ValidationError
	switch {
	case errors.As(err, &ce):
		return "conflict " + ce.Field
	case errors.As(err, &ve):
		return fmt.Sprint("invalid ", ve.Fields)
	case errors.Is(err, pbxusers.ErrNotFound):
		return "not found"
	}
	return "other: " + err.Error()
}
