// Package storetest is the conformance suite every pbxusers.Store
// implementation runs: the same behaviour, proven against each backend.
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t testing.TB) pbxusers.Store {
//			s, err := mystore.Open(...)
//			require.NoError(t, err)
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// Each subtest gets a fresh, empty store from newStore.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// This file is the conformance suite's core cases, over 700 lines on
// purpose: one function per behaviour every backend must show, listed in
// Run; the outbox, link and lease cases are in mail.go, the webhooks'
// in webhook.go.

// NewStore returns a fresh, empty store for one subtest and arranges for it
// to be closed when the test ends.
type NewStore func(t testing.TB) pbxusers.Store

// Run runs every conformance test against stores made by newStore.
func Run(t *testing.T, newStore NewStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s pbxusers.Store)
	}{
		{"TenantCRUD", testTenantCRUD},
		{"UserCRUD", testUserCRUD},
		{"UserUniqueness", testUserUniqueness},
		{"TenantIsolation", testTenantIsolation},
		{"OptimisticConcurrency", testOptimisticConcurrency},
		{"UpdateIsAtomic", testUpdateIsAtomic},
		{"UpdateUserRow", testUpdateUserRow},
		{"ConcurrentUpdatesAreIsolated", testConcurrentUpdates},
		{"ListFilterSortPage", testListFilterSortPage},
		{"TeamsAndMembers", testTeamsAndMembers},
		{"ProfilesInUse", testProfilesInUse},
		{"DeleteLeavesNothingDangling", testDeleteLeavesNothingDangling},
		{"UserNameLookAlikes", testUserNameLookAlikes},
		{"ManagerRef", testManagerRef},
		{"DevicesAndNumbers", testDevicesAndNumbers},
		{"TimeFramesInUse", testTimeFramesInUse},
		{"ChangeLog", testChangeLog},
		{"Tokens", testTokens},
		{"ExtensionAllocation", testExtensionAllocation},
		{"TimesAreUTC", testTimesAreUTC},
		{"WelcomeMailQueued", testWelcomeMailQueued},
		{"OutboxClaims", testOutboxClaims},
		{"SetupLinks", testSetupLinks},
		{"SyncRunsAndLeases", testSyncRunsAndLeases},
		{"Webhooks", testWebhooks},
		{"WebhookClaims", testWebhookClaims},
		{"ListOwned", testListOwned},
		{"UnfilteredTotals", testUnfilteredTotals},
		{"BatchCreate", testBatchCreate},
		{"BatchCreateRollsBack", testBatchCreateRollsBack},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newStore(t))
		})
	}
}

// fixedClock returns a clock that starts at a fixed time and advances one
// millisecond per call, so tests see distinct, ordered timestamps.
func fixedClock() func() time.Time {
	var mu sync.Mutex
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.FixedZone("CET", 3600))
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(time.Millisecond)
		return now
	}
}

func newDir(s pbxusers.Store) *pbxusers.Directory {
	return pbxusers.New(s, pbxusers.Options{Now: fixedClock(), PasswordCost: 4})
}

func mustTenant(t *testing.T, d *pbxusers.Directory, id string) pbxusers.Tenant {
	t.Helper()
	tn, err := d.CreateTenant(context.Background(), pbxusers.Tenant{ID: id, Name: "Tenant " + id, Region: "DE", TimeZone: "Europe/Berlin"})
	require.NoError(t, err)
	return tn
}

func person(userName, ext string) pbxusers.User {
	return pbxusers.User{
		UserName:  userName,
		Name:      pbxusers.Name{Given: "Given " + userName, Family: "Family"},
		Emails:    []pbxusers.Email{{Value: userName + "@example.org", Type: "work", Primary: true}},
		Extension: ext,
	}
}

func mustUser(t *testing.T, d *pbxusers.Directory, tenant string, u pbxusers.User) pbxusers.User {
	t.Helper()
	out, err := d.CreateUser(context.Background(), tenant, u)
	require.NoError(t, err)
	return out
}

func requireConflict(t *testing.T, err error, field string) *pbxusers.ConflictError {
	t.Helper()
	require.Error(t, err)
	require.ErrorIs(t, err, pbxusers.ErrConflict)
	var c *pbxusers.ConflictError
	require.True(t, errors.As(err, &c), "want *ConflictError, got %T: %v", err, err)
	if field != "" {
		assert.Equal(t, field, c.Field, "conflict field (%v)", err)
	}
	return c
}

func testTenantCRUD(t *testing.T, s pbxusers.Store) {
	ctx := context.Background()
	d := newDir(s)
	tn := mustTenant(t, d, "acme")
	assert.Equal(t, int64(1), tn.Version)

	got, err := d.GetTenant(ctx, "acme")
	require.NoError(t, err)
	assert.Equal(t, "Tenant acme", got.Name)
	assert.Equal(t, "Europe/Berlin", got.TimeZone)

	_, err = d.CreateTenant(ctx, pbxusers.Tenant{ID: "acme"})
	requireConflict(t, err, "id")

	_, err = d.CreateTenant(ctx, pbxusers.Tenant{ID: "Bad Id!"})
	require.ErrorIs(t, err, pbxusers.ErrInvalid)

	got.Name = "Acme GmbH"
	upd, err := d.UpdateTenant(ctx, got)
	require.NoError(t, err)
	assert.Equal(t, int64(2), upd.Version)
	got.Name = "stale write"
	_, err = d.UpdateTenant(ctx, got) // got.Version is 1
	require.ErrorIs(t, err, pbxusers.ErrVersionMismatch)

	mustTenant(t, d, "beta")
	list, err := d.ListTenants(ctx)
	require.NoError(t, err)
	require.Len(t, list, 2)
	assert.Equal(t, "acme", list[0].ID)
	assert.Equal(t, "Acme GmbH", list[0].Name)

	_, err = d.GetTenant(ctx, "nope")
	require.ErrorIs(t, err, pbxusers.ErrNotFound)
}

func testUserCRUD(t *testing.T, s pbxusers.Store) {
	ctx := context.Background()
	d := newDir(s)
	mustTenant(t, d, "acme")
	in := person("ada", "201")
	in.Nickname = "Countess"
	in.PhoneNumbers = []pbxusers.PhoneNumber{{Number: "030 1234567", Type: pbxusers.PhoneWork}}
	in.CustomFields = map[string]string{"costCentre": "R&D"}
	in.Features.Voicemail = true
	in.Language = "de-at"
	in.TimeZone = "US/Eastern"
	u := mustUser(t, d, "acme", in)

	assert.NotEmpty(t, u.ID)
	assert.Equal(t, int64(1), u.Version)
	assert.Equal(t, pbxusers.KindPerson, u.Kind)
	assert.Equal(t, pbxusers.StatusActive, u.Status)
	assert.Equal(t, pbxusers.SourceManual, u.Owner.Source)
	assert.Equal(t, pbxusers.PasswordInvite, u.Password.Mode, "a person created without a password is invite-type")
	assert.Equal(t, "+49301234567", u.PhoneNumbers[0].Number, "national number read with the tenant's region")
	assert.Equal(t, "de-AT", u.Language)
	assert.Equal(t, "America/New_York", u.TimeZone, "legacy alias stored canonical")

	got, err := d.GetUser(ctx, "acme", u.ID)
	require.NoError(t, err)
	assert.Equal(t, u, got)

	for _, key := range []struct {
		k pbxusers.UserKey
		v string
	}{{pbxusers.KeyUserName, "ADA"}, {pbxusers.KeyEmail, "Ada@Example.org"}, {pbxusers.KeyExtension, "201"}} {
		got, err := d.LookupUser(ctx, "acme", key.k, key.v)
		require.NoError(t, err, key.k)
		assert.Equal(t, u.ID, got.ID, key.k)
	}

	got.Title = "Analyst"
	got.Name.Given = "Augusta Ada"
	upd, err := d.UpdateUser(ctx, "acme", got)
	require.NoError(t, err)
	assert.Equal(t, int64(2), upd.Version)
	assert.True(t, upd.Updated.After(u.Updated))
	assert.Equal(t, u.Created, upd.Created)

	same, err := d.UpdateUser(ctx, "acme", upd)
	require.NoError(t, err)
	assert.Equal(t, int64(2), same.Version, "an update that changes nothing keeps the version")

	off, err := d.DeactivateUser(ctx, "acme", u.ID)
	require.NoError(t, err)
	assert.Equal(t, pbxusers.StatusInactive, off.Status)
	assert.Equal(t, int64(3), off.Version)
	again, err := d.DeactivateUser(ctx, "acme", u.ID)
	require.NoError(t, err, "deactivating twice is fine")
	assert.Equal(t, int64(3), again.Version)
	assert.Equal(t, "Analyst", again.Title, "deactivation keeps everything")

	on, err := d.ActivateUser(ctx, "acme", u.ID)
	require.NoError(t, err)
	assert.True(t, on.Active())

	require.NoError(t, d.DeleteUser(ctx, "acme", u.ID))
	_, err = d.GetUser(ctx, "acme", u.ID)
	require.ErrorIs(t, err, pbxusers.ErrNotFound)
	require.ErrorIs(t, d.DeleteUser(ctx, "acme", u.ID), pbxusers.ErrNotFound)
}

func testUserUniqueness(t *testing.T, s pbxusers.Store) {
	ctx := context.Background()
	d := newDir(s)
	mustTenant(t, d, "acme")
	a := mustUser(t, d, "acme", person("ada", "201"))

	dupName := person("ADA", "202")
	dupName.Emails = nil
	_, err := d.CreateUser(ctx, "acme", dupName)
	c := requireConflict(t, err, "userName")
	assert.Equal(t, a.ID, c.ExistingID)

	// Users may share an address unless the tenant wants them unique.
	dupMail := person("bob", "203")
	dupMail.Emails = []pbxusers.Email{{Value: "ADA@example.org"}}
	shared, err := d.CreateUser(ctx, "acme", dupMail)
	require.NoError(t, err, "a shared address is allowed by default")
	require.NoError(t, d.DeleteUser(ctx, "acme", shared.ID))
	tn, err := d.GetTenant(ctx, "acme")
	require.NoError(t, err)
	tn.UniqueEmails = true
	_, err = d.UpdateTenant(ctx, tn)
	require.NoError(t, err)
	_, err = d.CreateUser(ctx, "acme", dupMail)
	requireConflict(t, err, "email")

	_, err = d.CreateUser(ctx, "acme", person("carol", "201"))
	requireConflict(t, err, "extension")

	queue := pbxusers.User{UserName: "sales-queue", Kind: pbxusers.KindCallQueue, Extension: "201"}
	_, err = d.CreateUser(ctx, "acme", queue)
	requireConflict(t, err, "extension")

	ext := person("dave", "204")
	ext.Owner = pbxusers.Owner{Source: pbxusers.SourceManual, ExternalID: "x-1"}
	mustUser(t, d, "acme", ext)
	ext2 := person("erin", "205")
	ext2.Owner = pbxusers.Owner{Source: pbxusers.SourceManual, ExternalID: "x-1"}
	_, err = d.CreateUser(ctx, "acme", ext2)
	requireConflict(t, err, "externalId")

	// Another tenant may use the same values.
	mustTenant(t, d, "beta")
	mustUser(t, d, "beta", person("ada", "201"))

	// Updates are checked too.
	b := mustUser(t, d, "acme", person("bob", "210"))
	b.Extension = "201"
	_, err = d.UpdateUser(ctx, "acme", b)
	requireConflict(t, err, "extension")
}

func testTenantIsolation(t *testing.T, s pbxusers.Store) {
	ctx := context.Background()
	d := newDir(s)
	mustTenant(t, d, "acme")
	mustTenant(t, d, "beta")
	a := mustUser(t, d, "acme", person("ada", "201"))

	_, err := d.GetUser(ctx, "beta", a.ID)
	require.ErrorIs(t, err, pbxusers.ErrNotFound)
	_, err = d.LookupUser(ctx, "beta", pbxusers.KeyUserName, "ada")
	require.ErrorIs(t, err, pbxusers.ErrNotFound)
	_, err = d.ModifyUser(ctx, "beta", a.ID, func(u *pbxusers.User) error { u.Title = "x"; return nil })
	require.ErrorIs(t, err, pbxusers.ErrNotFound)
	require.ErrorIs(t, d.DeleteUser(ctx, "beta", a.ID), pbxusers.ErrNotFound)
	page, err := d.ListUsers(ctx, "beta", pbxusers.UserQuery{})
	require.NoError(t, err)
	assert.Zero(t, page.Total)
	_, err = d.ListUsers(ctx, "nope", pbxusers.UserQuery{})
	require.ErrorIs(t, err, pbxusers.ErrNotFound)

	// A user of one tenant cannot be made a member of another's team.
	tm, err := d.CreateTeam(ctx, "beta", pbxusers.Team{Name: "Sales"}, nil)
	require.NoError(t, err)
	_, err = d.AddTeamMembers(ctx, "beta", tm.ID, []string{a.ID})
	require.ErrorIs(t, err, pbxusers.ErrNotFound)
	_, err = d.AddDevice(ctx, "beta", pbxusers.Device{UserID: a.ID})
	require.ErrorIs(t, err, pbxusers.ErrInvalid)
}

func testOptimisticConcurrency(t *testing.T, s pbxusers.Store) {
	ctx := context.Background()
	d := newDir(s)
	mustTenant(t, d, "acme")
	u := mustUser(t, d, "acme", person("ada", "201"))
	first, second := u, u
	first.Title = "one"
	_, err := d.UpdateUser(ctx, "acme", first)
	require.NoError(t, err)
	second.Title = "two"
	_, err = d.UpdateUser(ctx, "acme", second)
	require.ErrorIs(t, err, pbxusers.ErrVersionMismatch)
	require.ErrorIs(t, err, pbxusers.ErrConflict)
	got, err := d.GetUser(ctx, "acme", u.ID)
	require.NoError(t, err)
	assert.Equal(t, "one", got.Title)

	// At the store level too.
	err = s.Update(ctx, func(tx pbxusers.Tx) error {
		stale := got
		stale.Version = got.Version + 1
		return tx.UpdateUser(ctx, &stale, got.Version-1)
	})
	require.ErrorIs(t, err, pbxusers.ErrVersionMismatch)
}

// testUpdateUserRow: UpdateUserRow writes the user with the version check
// of UpdateUser and leaves the rows of its emails and memberships alone,
// and the library uses it only when those do not change.
func testUpdateUserRow(t *testing.T, s pbxusers.Store) {
	ctx := context.Background()
	d := newDir(s)
	mustTenant(t, d, "acme")
	tm, err := d.CreateTeam(ctx, "acme", pbxusers.Team{Name: "Sales"}, nil)
	require.NoError(t, err)
	u := mustUser(t, d, "acme", person("ada", "201"))
	_, err = d.AddTeamMembers(ctx, "acme", tm.ID, []string{u.ID})
	require.NoError(t, err)
	got, err := d.GetUser(ctx, "acme", u.ID)
	require.NoError(t, err)
	require.Len(t, got.Emails, 1)
	require.Equal(t, []string{tm.ID}, got.Teams)

	err = s.Update(ctx, func(tx pbxusers.Tx) error {
		next := got.Clone()
		next.Title, next.Version = "row only", got.Version+1
		next.Emails, next.Teams = nil, nil // not written by UpdateUserRow
		return tx.UpdateUserRow(ctx, &next, got.Version)
	})
	require.NoError(t, err)
	after, err := d.GetUser(ctx, "acme", u.ID)
	require.NoError(t, err)
	assert.Equal(t, "row only", after.Title)
	assert.Equal(t, got.Version+1, after.Version)
	assert.Equal(t, []string{tm.ID}, after.Teams)
	byEmail, err := d.LookupUser(ctx, "acme", pbxusers.KeyEmail, got.Emails[0].Value)
	require.NoError(t, err, "the email's index row is kept")
	assert.Equal(t, u.ID, byEmail.ID)

	err = s.Update(ctx, func(tx pbxusers.Tx) error {
		stale := after.Clone()
		stale.Version = after.Version + 1
		return tx.UpdateUserRow(ctx, &stale, after.Version-1)
	})
	require.ErrorIs(t, err, pbxusers.ErrVersionMismatch)

	// Through the library: a changed email is written with its index row,
	// an unchanged one stays findable after a change of something else.
	changed, err := d.ModifyUser(ctx, "acme", u.ID, func(u *pbxusers.User) error {
		u.Emails = []pbxusers.Email{{Value: "lovelace@acme.example", Type: "work", Primary: true}}
		return nil
	})
	require.NoError(t, err)
	_, err = d.LookupUser(ctx, "acme", pbxusers.KeyEmail, got.Emails[0].Value)
	require.ErrorIs(t, err, pbxusers.ErrNotFound)
	_, err = d.ModifyUser(ctx, "acme", u.ID, func(u *pbxusers.User) error { u.Status = pbxusers.StatusInactive; return nil })
	require.NoError(t, err)
	byEmail, err = d.LookupUser(ctx, "acme", pbxusers.KeyEmail, "lovelace@acme.example")
	require.NoError(t, err)
	assert.Equal(t, changed.ID, byEmail.ID)
	assert.Equal(t, pbxusers.StatusInactive, byEmail.Status)
	assert.Equal(t, []string{tm.ID}, byEmail.Teams)
}

var errBoom = errors.New("boom")

func testUpdateIsAtomic(t *testing.T, s pbxusers.Store) {
	ctx := context.Background()
	d := newDir(s)
	mustTenant(t, d, "acme")
	err := s.Update(ctx, func(tx pbxusers.Tx) error {
		u := person("ghost", "299")
		u.ID, u.TenantID, u.Version, u.Kind, u.Status = "ghost-id", "acme", 1, pbxusers.KindPerson, pbxusers.StatusActive
		u.Owner.Source = pbxusers.SourceManual
		u.Created, u.Updated = time.Now(), time.Now()
		if err := tx.CreateUser(ctx, &u); err != nil {
			return err
		}
		if err := tx.AppendChange(ctx, &pbxusers.Change{TenantID: "acme", Entity: pbxusers.EntityUser, EntityID: u.ID, Action: pbxusers.ActionCreate, At: time.Now()}); err != nil {
			return err
		}
		return errBoom
	})
	require.ErrorIs(t, err, errBoom, "Update returns fn's error unchanged")
	_, err = d.GetUser(ctx, "acme", "ghost-id")
	require.ErrorIs(t, err, pbxusers.ErrNotFound, "nothing of a failed Update is kept")
	changes, err := d.Changes(ctx, "acme", pbxusers.ChangeQuery{Entity: "user"})
	require.NoError(t, err)
	assert.Empty(t, changes)

	// A failed directory write leaves no half-written user: the second
	// email conflicts after the first was inserted.
	tn, err := d.GetTenant(ctx, "acme")
	require.NoError(t, err)
	tn.UniqueEmails = true
	_, err = d.UpdateTenant(ctx, tn)
	require.NoError(t, err)
	mustUser(t, d, "acme", person("ada", "201"))
	bad := person("bob", "202")
	bad.Emails = append(bad.Emails, pbxusers.Email{Value: "ada@example.org"})
	_, err = d.CreateUser(ctx, "acme", bad)
	requireConflict(t, err, "email")
	_, err = d.LookupUser(ctx, "acme", pbxusers.KeyUserName, "bob")
	require.ErrorIs(t, err, pbxusers.ErrNotFound)
	_, err = d.LookupUser(ctx, "acme", pbxusers.KeyEmail, "bob@example.org")
	require.ErrorIs(t, err, pbxusers.ErrNotFound)
}

func testConcurrentUpdates(t *testing.T, s pbxusers.Store) {
	ctx := context.Background()
	d := newDir(s)
	mustTenant(t, d, "acme")
	const n = 40
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			u := person(fmt.Sprintf("user%02d", i), fmt.Sprintf("3%02d", i))
			if i%4 == 0 { // every fourth collides on the extension with the one before
				u.Extension = fmt.Sprintf("3%02d", i+1)
			}
			_, errs[i] = d.CreateUser(ctx, "acme", u)
		}(i)
	}
	wg.Wait()
	created := 0
	for _, err := range errs {
		if err == nil {
			created++
			continue
		}
		requireConflict(t, err, "extension")
	}
	page, err := d.ListUsers(ctx, "acme", pbxusers.UserQuery{Limit: -1})
	require.NoError(t, err)
	assert.Equal(t, created, page.Total, "every acknowledged create is stored, no failed one is")
	assert.GreaterOrEqual(t, created, n-n/4)

	// Concurrent read-modify-write through ModifyUser loses no update.
	u := mustUser(t, d, "acme", person("counter", "399"))
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := d.ModifyUser(ctx, "acme", u.ID, func(u *pbxusers.User) error {
				u.Nickname += "x" // each call appends one: a lost update shortens it
				return nil
			})
			assert.NoError(t, err)
		}()
	}
	wg.Wait()
	got, err := d.GetUser(ctx, "acme", u.ID)
	require.NoError(t, err)
	assert.Len(t, got.Nickname, n, "no lost update")
	assert.Equal(t, int64(n+1), got.Version)
}

func testListFilterSortPage(t *testing.T, s pbxusers.Store) {
	ctx := context.Background()
	d := newDir(s)
	mustTenant(t, d, "acme")
	names := []string{"carol", "ada", "bob", "dave", "erin", "frank", "grace"}
	ids := map[string]string{}
	for i, n := range names {
		u := person(n, fmt.Sprintf("%d", 201+i))
		u.DisplayName = "User " + n
		if n == "bob" {
			u.Emails = append(u.Emails, pbxusers.Email{Value: "robert@home.example", Type: "home"})
		}
		if n == "erin" {
			u.Status = pbxusers.StatusInactive
		}
		ids[n] = mustUser(t, d, "acme", u).ID
	}
	mustUser(t, d, "acme", pbxusers.User{UserName: "support", Kind: pbxusers.KindCallQueue, Extension: "600"})

	list := func(q pbxusers.UserQuery) []string {
		t.Helper()
		page, err := d.ListUsers(ctx, "acme", q)
		require.NoError(t, err)
		out := make([]string, len(page.Users))
		for i, u := range page.Users {
			out[i] = u.UserName
		}
		return out
	}
	all := list(pbxusers.UserQuery{SortBy: pbxusers.AttrUserName})
	assert.Equal(t, []string{"ada", "bob", "carol", "dave", "erin", "frank", "grace"}, all, "system users hidden")
	assert.Contains(t, list(pbxusers.UserQuery{IncludeSystem: true}), "support")
	assert.Equal(t, []string{"grace", "frank"}, list(pbxusers.UserQuery{SortBy: pbxusers.AttrUserName, Descending: true, Limit: 2}))

	// Stable pages cover everything once.
	var paged []string
	for off := 0; off < 7; off += 3 {
		paged = append(paged, list(pbxusers.UserQuery{Offset: off, Limit: 3})...)
	}
	assert.ElementsMatch(t, all, paged)
	assert.Len(t, paged, 7)

	cases := []struct {
		name   string
		filter pbxusers.Filter
		want   []string
	}{
		{"userName eq is case-insensitive", pbxusers.Eq(pbxusers.AttrUserName, "BOB"), []string{"bob"}},
		{"userName ne", pbxusers.And{&pbxusers.Compare{Attr: pbxusers.AttrUserName, Op: pbxusers.OpNe, Value: "bob"}, &pbxusers.Compare{Attr: pbxusers.AttrUserName, Op: pbxusers.OpLt, Value: "d"}}, []string{"ada", "carol"}},
		{"co", &pbxusers.Compare{Attr: pbxusers.AttrUserName, Op: pbxusers.OpCo, Value: "RA"}, []string{"frank", "grace"}},
		{"sw", &pbxusers.Compare{Attr: pbxusers.AttrDisplayName, Op: pbxusers.OpSw, Value: "user d"}, []string{"dave"}},
		{"ew", &pbxusers.Compare{Attr: pbxusers.AttrUserName, Op: pbxusers.OpEw, Value: "ce"}, []string{"grace"}},
		{"gt/le", pbxusers.And{&pbxusers.Compare{Attr: pbxusers.AttrExtension, Op: pbxusers.OpGt, Value: "203"}, &pbxusers.Compare{Attr: pbxusers.AttrExtension, Op: pbxusers.OpLe, Value: "205"}}, []string{"dave", "erin"}},
		{"or", pbxusers.Or{pbxusers.Eq(pbxusers.AttrUserName, "ada"), pbxusers.Eq(pbxusers.AttrExtension, "207")}, []string{"ada", "grace"}},
		{"not", pbxusers.Not{Filter: &pbxusers.Compare{Attr: pbxusers.AttrUserName, Op: pbxusers.OpGe, Value: "c"}}, []string{"ada", "bob"}},
		{"active false", pbxusers.Eq(pbxusers.AttrActive, false), []string{"erin"}},
		{"any email", pbxusers.Eq(pbxusers.AttrEmail, "Robert@Home.Example"), []string{"bob"}},
		{"email value path", &pbxusers.EmailMatch{Filter: pbxusers.And{pbxusers.Eq(pbxusers.AttrEmailType, "work"), pbxusers.Eq(pbxusers.AttrEmail, "bob@example.org")}}, []string{"bob"}},
		{"email value path must match one email", &pbxusers.EmailMatch{Filter: pbxusers.And{pbxusers.Eq(pbxusers.AttrEmailType, "work"), pbxusers.Eq(pbxusers.AttrEmail, "robert@home.example")}}, nil},
		{"externalId pr", &pbxusers.Compare{Attr: pbxusers.AttrExternalID, Op: pbxusers.OpPresent}, nil},
		{"id eq", pbxusers.Eq(pbxusers.AttrID, ids["carol"]), []string{"carol"}},
		{"not pr matches missing", pbxusers.And{pbxusers.Not{Filter: &pbxusers.Compare{Attr: pbxusers.AttrExternalID, Op: pbxusers.OpPresent}}, pbxusers.Eq(pbxusers.AttrUserName, "ada")}, []string{"ada"}},
		{"given name", pbxusers.Eq(pbxusers.AttrGivenName, "given frank"), []string{"frank"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := list(pbxusers.UserQuery{Filter: tc.filter, SortBy: pbxusers.AttrUserName})
			if len(tc.want) == 0 {
				assert.Empty(t, got)
				return
			}
			assert.Equal(t, tc.want, got)
		})
	}

	after := list(pbxusers.UserQuery{Filter: &pbxusers.Compare{Attr: pbxusers.AttrLastModified, Op: pbxusers.OpGt, Value: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)}})
	assert.Len(t, after, 7)
	assert.Equal(t, []string{"bob"}, list(pbxusers.UserQuery{Search: "ROBERT@"}))
	assert.Equal(t, []string{"bob"}, list(pbxusers.UserQuery{Search: "203"}), "search matches the extension")

	_, err := d.ListUsers(ctx, "acme", pbxusers.UserQuery{Filter: &pbxusers.Compare{Attr: "password", Op: pbxusers.OpEq, Value: "x"}})
	require.ErrorIs(t, err, pbxusers.ErrInvalid)
	_, err = d.ListUsers(ctx, "acme", pbxusers.UserQuery{Filter: &pbxusers.Compare{Attr: pbxusers.AttrActive, Op: pbxusers.OpCo, Value: true}})
	require.ErrorIs(t, err, pbxusers.ErrInvalid)
	page, err := d.ListUsers(ctx, "acme", pbxusers.UserQuery{Limit: -1})
	require.NoError(t, err)
	assert.Equal(t, 7, page.Total)
	assert.Empty(t, page.Users)
}

func testTeamsAndMembers(t *testing.T, s pbxusers.Store) {
	ctx := context.Background()
	d := newDir(s)
	mustTenant(t, d, "acme")
	a := mustUser(t, d, "acme", person("ada", "201"))
	b := mustUser(t, d, "acme", person("bob", "202"))
	c := mustUser(t, d, "acme", person("carol", "203"))

	tm, err := d.CreateTeam(ctx, "acme", pbxusers.Team{Name: "Sales"}, []string{a.ID, b.ID})
	require.NoError(t, err)
	assert.Equal(t, 2, tm.Members)
	_, err = d.CreateTeam(ctx, "acme", pbxusers.Team{Name: "sales"}, nil)
	requireConflict(t, err, "name")

	tm, err = d.AddTeamMembers(ctx, "acme", tm.ID, []string{b.ID, c.ID})
	require.NoError(t, err)
	assert.Equal(t, 3, tm.Members)
	ids, total, err := d.ListTeamMembers(ctx, "acme", tm.ID, 0, 10)
	require.NoError(t, err)
	assert.Equal(t, 3, total)
	assert.ElementsMatch(t, []string{a.ID, b.ID, c.ID}, ids)

	got, err := d.GetUser(ctx, "acme", a.ID)
	require.NoError(t, err)
	assert.Equal(t, []string{tm.ID}, got.Teams)

	tm, err = d.RemoveTeamMembers(ctx, "acme", tm.ID, []string{a.ID, "not-a-member"})
	require.NoError(t, err)
	assert.Equal(t, 2, tm.Members)
	tm, err = d.SetTeamMembers(ctx, "acme", tm.ID, []string{a.ID})
	require.NoError(t, err)
	assert.Equal(t, 1, tm.Members)
	tm, err = d.SetTeamMembers(ctx, "acme", tm.ID, nil)
	require.NoError(t, err)
	assert.Equal(t, 0, tm.Members)

	renamed, err := d.UpdateTeam(ctx, "acme", pbxusers.Team{ID: tm.ID, Name: "Sales EMEA", Version: tm.Version})
	require.NoError(t, err)
	assert.Equal(t, tm.Version+1, renamed.Version)
	found, err := d.LookupTeam(ctx, "acme", pbxusers.TeamKeyName, "SALES emea")
	require.NoError(t, err)
	assert.Equal(t, tm.ID, found.ID)

	_, err = d.AddTeamMembers(ctx, "acme", tm.ID, []string{a.ID})
	require.NoError(t, err)
	page, err := d.ListTeams(ctx, "acme", pbxusers.TeamQuery{Filter: pbxusers.Eq(pbxusers.AttrMember, a.ID)})
	require.NoError(t, err)
	require.Len(t, page.Teams, 1)
	users, err := d.ListUsers(ctx, "acme", pbxusers.UserQuery{Filter: pbxusers.Eq(pbxusers.AttrMember, tm.ID)})
	require.NoError(t, err)
	require.Len(t, users.Users, 1)
	assert.Equal(t, a.ID, users.Users[0].ID)

	require.NoError(t, d.DeleteTeam(ctx, "acme", tm.ID))
	got, err = d.GetUser(ctx, "acme", a.ID)
	require.NoError(t, err)
	assert.Empty(t, got.Teams, "deleting a team removes memberships, not members")
}

func testProfilesInUse(t *testing.T, s pbxusers.Store) {
	ctx := context.Background()
	d := newDir(s)
	mustTenant(t, d, "acme")
	sup, err := d.CreateProfile(ctx, "acme", pbxusers.Profile{Name: "Supervisor", Grants: pbxusers.PermissionSet{
		pbxusers.PermLiveCallMonitoring: pbxusers.Bool(true), pbxusers.PermChatLimit: pbxusers.Limit(5)}})
	require.NoError(t, err)
	_, err = d.CreateProfile(ctx, "acme", pbxusers.Profile{Name: "supervisor"})
	requireConflict(t, err, "name")

	u := person("ada", "201")
	u.Profiles = []string{sup.ID}
	a := mustUser(t, d, "acme", u)
	mustUser(t, d, "acme", person("carol", "203"))
	holders, err := d.ListUsers(ctx, "acme", pbxusers.UserQuery{Filter: pbxusers.Eq(pbxusers.AttrProfile, sup.ID)})
	require.NoError(t, err)
	require.Len(t, holders.Users, 1, "a profile filter lists the users holding the profile")
	assert.Equal(t, a.ID, holders.Users[0].ID)
	tm, err := d.CreateTeam(ctx, "acme", pbxusers.Team{Name: "Leads", Profiles: []string{sup.ID}}, nil)
	require.NoError(t, err)
	err = d.DeleteProfile(ctx, "acme", sup.ID)
	requireInUse(t, err,
		pbxusers.Reference{Entity: pbxusers.EntityTeam, ID: tm.ID, Name: "Leads", Field: "profiles"},
		pbxusers.Reference{Entity: pbxusers.EntityUser, ID: a.ID, Name: "ada", Field: "profiles"})
	require.NoError(t, d.DeleteTeam(ctx, "acme", tm.ID))

	_, err = d.ModifyUser(ctx, "acme", a.ID, func(u *pbxusers.User) error { u.Profiles = nil; return nil })
	require.NoError(t, err)
	require.NoError(t, d.DeleteProfile(ctx, "acme", sup.ID))

	bad := person("bob", "202")
	bad.Profiles = []string{sup.ID}
	_, err = d.CreateUser(ctx, "acme", bad)
	var ve *pbxusers.ValidationError
	require.ErrorAs(t, err, &ve)
	assert.True(t, ve.Has("profiles[0]"), "%v", err)
}

func testUserNameLookAlikes(t *testing.T, s pbxusers.Store) {
	ctx := context.Background()
	d := newDir(s)
	mustTenant(t, d, "acme")
	ada := mustUser(t, d, "acme", person("ada", "201"))
	jose := mustUser(t, d, "acme", person("jos\u00e9", "202")) // é composed
	for _, name := range []string{
		"\uff41da",   // fullwidth ａ
		"ADA",        // case
		"jose\u0301", // é decomposed
		"JOS\u00c9",  // É composed, upper case
	} {
		_, err := d.CreateUser(ctx, "acme", person(name, ""))
		requireConflict(t, err, "userName")
	}
	for value, want := range map[string]string{"\uff21\uff24\uff21": ada.ID, "jose\u0301": jose.ID} {
		got, err := d.LookupUser(ctx, "acme", pbxusers.KeyUserName, value)
		require.NoError(t, err, value)
		assert.Equal(t, want, got.ID, value)
		page, err := d.ListUsers(ctx, "acme", pbxusers.UserQuery{Filter: &pbxusers.Compare{Attr: pbxusers.AttrUserName, Op: pbxusers.OpEq, Value: value}})
		require.NoError(t, err)
		require.Len(t, page.Users, 1, value)
		assert.Equal(t, want, page.Users[0].ID, "an eq filter matches under the key")
	}
	got, err := d.GetUser(ctx, "acme", jose.ID)
	require.NoError(t, err)
	assert.Equal(t, "jos\u00e9", got.UserName, "stored as sent")
}

func testManagerRef(t *testing.T, s pbxusers.Store) {
	ctx := context.Background()
	d := newDir(s)
	mustTenant(t, d, "acme")
	w := person("wes", "201")
	w.ManagerRef = "hr-42"
	wes := mustUser(t, d, "acme", w)
	assert.Equal(t, "hr-42", wes.ManagerRef, "kept until that user arrives")
	scim := pbxusers.WithActor(ctx, pbxusers.Actor{Source: pbxusers.SourceSCIM, Name: "entra"})
	b := person("boss", "202")
	b.Owner.ExternalID = "hr-42"
	boss, err := d.CreateUser(scim, "acme", b)
	require.NoError(t, err)
	got, err := d.GetUser(ctx, "acme", wes.ID)
	require.NoError(t, err)
	assert.Equal(t, boss.ID, got.ManagerID, "resolved when the manager arrives")
	assert.Empty(t, got.ManagerRef)
	assert.Equal(t, wes.Version+1, got.Version, "a versioned, logged rewrite")
}

func testDeleteLeavesNothingDangling(t *testing.T, s pbxusers.Store) {
	ctx := context.Background()
	d := newDir(s)
	mustTenant(t, d, "acme")
	queue := mustUser(t, d, "acme", pbxusers.User{UserName: "sales", Kind: pbxusers.KindCallQueue, Extension: "600"})
	boss := mustUser(t, d, "acme", person("boss", "200"))
	u := person("ada", "201")
	u.Queues = []pbxusers.QueueMembership{{QueueID: queue.ID, DefaultOutbound: true}}
	u.ManagerID = boss.ID
	a := mustUser(t, d, "acme", u)
	tm, err := d.CreateTeam(ctx, "acme", pbxusers.Team{Name: "Sales"}, []string{a.ID, boss.ID})
	require.NoError(t, err)
	dev, err := d.AddDevice(ctx, "acme", pbxusers.Device{UserID: a.ID, MAC: "001A2B3C4D5E"})
	require.NoError(t, err)
	_, err = d.AssignNumber(ctx, "acme", "+4930123456", a.ID, "Ada direct")
	require.NoError(t, err)
	// Bob forwards to Ada when busy.
	b := person("bob", "202")
	b.Routing.Default.OnBusy = &pbxusers.Destination{Kind: pbxusers.DestUser, Target: a.ID}
	bob := mustUser(t, d, "acme", b)

	// The manager goes first: refused while Ada names him as manager, then,
	// with Cascade, Ada's manager is cleared, not dangling.
	err = d.DeleteUser(ctx, "acme", boss.ID)
	requireInUse(t, err, pbxusers.Reference{Entity: pbxusers.EntityUser, ID: a.ID, Name: "ada", Field: "manager"})
	require.NoError(t, d.DeleteUser(ctx, "acme", boss.ID, pbxusers.Cascade()))
	got, err := d.GetUser(ctx, "acme", a.ID)
	require.NoError(t, err)
	assert.Empty(t, got.ManagerID)
	assert.Equal(t, a.Version+1, got.Version, "the rewrite is a versioned change")

	err = d.DeleteUser(ctx, "acme", a.ID)
	requireInUse(t, err,
		pbxusers.Reference{Entity: pbxusers.EntityNumber, ID: "+4930123456", Name: "+4930123456", Field: "userId"},
		pbxusers.Reference{Entity: pbxusers.EntityUser, ID: bob.ID, Name: "bob", Field: "routing"})
	require.NoError(t, d.DeleteUser(ctx, "acme", a.ID, pbxusers.Cascade()))
	_, err = d.GetDevice(ctx, "acme", dev.ID)
	require.ErrorIs(t, err, pbxusers.ErrNotFound, "devices go with the user")
	ids, total, err := d.ListTeamMembers(ctx, "acme", tm.ID, 0, 10)
	require.NoError(t, err)
	assert.Empty(t, ids)
	assert.Zero(t, total)
	tmNow, err := d.GetTeam(ctx, "acme", tm.ID)
	require.NoError(t, err)
	assert.Zero(t, tmNow.Members, "the member count follows deleted members")
	nums, err := d.ListNumbers(ctx, "acme", "")
	require.NoError(t, err)
	require.Len(t, nums, 1)
	assert.Empty(t, nums[0].UserID, "numbers routed to the user are unassigned, not deleted")
	bobNow, err := d.GetUser(ctx, "acme", bob.ID)
	require.NoError(t, err)
	assert.Nil(t, bobNow.Routing.Default.OnBusy, "forwards to the deleted user are removed")
	assert.Equal(t, bob.Version+1, bobNow.Version)

	// A call queue is referred to by its members and by rules that send
	// calls to it; deleting it rewrites both.
	c := person("carol", "203")
	c.Queues = []pbxusers.QueueMembership{{QueueID: queue.ID}}
	carol := mustUser(t, d, "acme", c)
	dv := person("dave", "204")
	dv.Routing.Default.OnNoAnswer = &pbxusers.Destination{Kind: pbxusers.DestQueue, Target: queue.ID}
	dave := mustUser(t, d, "acme", dv)
	err = d.DeleteUser(ctx, "acme", queue.ID)
	requireInUse(t, err,
		pbxusers.Reference{Entity: pbxusers.EntityUser, ID: carol.ID, Name: "carol", Field: "queues"},
		pbxusers.Reference{Entity: pbxusers.EntityUser, ID: dave.ID, Name: "dave", Field: "routing"})
	require.NoError(t, d.DeleteUser(ctx, "acme", queue.ID, pbxusers.Cascade()))
	carolNow, err := d.GetUser(ctx, "acme", carol.ID)
	require.NoError(t, err)
	assert.Empty(t, carolNow.Queues)
	daveNow, err := d.GetUser(ctx, "acme", dave.ID)
	require.NoError(t, err)
	assert.Nil(t, daveNow.Routing.Default.OnNoAnswer, "rules never send calls to a deleted queue")
}

// requireInUse checks err is ErrInUse naming exactly refs.
func requireInUse(t *testing.T, err error, refs ...pbxusers.Reference) {
	t.Helper()
	require.ErrorIs(t, err, pbxusers.ErrInUse)
	var ce *pbxusers.ConflictError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, refs, ce.References, "%v", err)
}

func testDevicesAndNumbers(t *testing.T, s pbxusers.Store) {
	ctx := context.Background()
	d := newDir(s)
	mustTenant(t, d, "acme")
	a := mustUser(t, d, "acme", person("ada", "201"))
	dev, err := d.AddDevice(ctx, "acme", pbxusers.Device{UserID: a.ID, Kind: pbxusers.DeviceDeskPhone, MAC: "00-1a-2b-3c-4d-5e", Model: "Yealink T54W"})
	require.NoError(t, err)
	assert.Equal(t, "00:1a:2b:3c:4d:5e", dev.MAC)
	assert.Len(t, dev.Secret, 24)
	assert.Contains(t, dev.SIPID, "201-")
	_, err = d.AddDevice(ctx, "acme", pbxusers.Device{MAC: "00:1A:2B:3C:4D:5E"})
	requireConflict(t, err, "mac")
	_, err = d.AddDevice(ctx, "acme", pbxusers.Device{SIPID: dev.SIPID})
	requireConflict(t, err, "sipId")
	_, err = d.AddDevice(ctx, "acme", pbxusers.Device{MAC: "zz"})
	require.ErrorIs(t, err, pbxusers.ErrInvalid)

	hot, err := d.AddDevice(ctx, "acme", pbxusers.Device{HotDesk: true, Label: "Desk 4"})
	require.NoError(t, err)
	assert.Empty(t, hot.UserID)
	list, err := d.ListDevices(ctx, "acme", a.ID)
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Empty(t, list[0].Secret, "the secret is shown once, at creation or rotation")
	assert.Nil(t, list[0].Digest, "so are the HA1s; the PBX reads them with LookupSIPCredentials")
	creds, err := d.LookupSIPCredentials(ctx, "acme", dev.SIPID)
	require.NoError(t, err)
	assert.Equal(t, pbxusers.NewSIPDigest(dev.SIPID, "acme", dev.Secret), creds.Digest, "the digest is stored for the PBX")

	rotated, err := d.UpdateDevice(ctx, "acme", dev, true)
	require.NoError(t, err)
	assert.NotEqual(t, dev.Secret, rotated.Secret)
	require.NoError(t, d.RemoveDevice(ctx, "acme", hot.ID))

	_, err = d.AssignNumber(ctx, "acme", "not a number", a.ID, "")
	require.ErrorIs(t, err, pbxusers.ErrInvalid)
	n, err := d.AssignNumber(ctx, "acme", "+1 201-555-0123", "", "Main line")
	require.NoError(t, err)
	assert.Equal(t, "+12015550123", n.E164)
	n, err = d.AssignNumber(ctx, "acme", "+12015550123", a.ID, "Main line")
	require.NoError(t, err)
	assert.Equal(t, a.ID, n.UserID)
	mine, err := d.ListNumbers(ctx, "acme", a.ID)
	require.NoError(t, err)
	require.Len(t, mine, 1)

	// A number a caller ID shows or lists is in use: refused naming each
	// user and field; Cascade takes it out of those caller IDs.
	shows := person("carl", "203")
	shows.CallerID.Number = "+12015550123"
	carl := mustUser(t, d, "acme", shows)
	lists := person("dora", "204")
	lists.Features.MultipleCallerID = true
	lists.CallerID.Allowed = []string{"+12015550199", "+12015550123"}
	dora := mustUser(t, d, "acme", lists)
	requireInUse(t, d.ReleaseNumber(ctx, "acme", "+12015550123"),
		pbxusers.Reference{Entity: pbxusers.EntityUser, ID: dora.ID, Name: "dora", Field: "callerId.allowed"},
		pbxusers.Reference{Entity: pbxusers.EntityUser, ID: carl.ID, Name: "carl", Field: "callerId.number"})
	require.NoError(t, d.ReleaseNumber(ctx, "acme", "+12015550123", pbxusers.Cascade()))
	carl, err = d.GetUser(ctx, "acme", carl.ID)
	require.NoError(t, err)
	assert.Empty(t, carl.CallerID.Number)
	dora, err = d.GetUser(ctx, "acme", dora.ID)
	require.NoError(t, err)
	assert.Equal(t, []string{"+12015550199"}, dora.CallerID.Allowed)
	require.ErrorIs(t, d.ReleaseNumber(ctx, "acme", "+12015550123"), pbxusers.ErrNotFound)
}

func testTimeFramesInUse(t *testing.T, s pbxusers.Store) {
	ctx := context.Background()
	d := newDir(s)
	mustTenant(t, d, "acme")
	tf, err := d.CreateTimeFrame(ctx, "acme", pbxusers.TimeFrame{Name: "Business hours", Entries: []pbxusers.TimeFrameEntry{{
		Weekly: &pbxusers.Weekly{Days: []time.Weekday{time.Monday, time.Friday}, From: pbxusers.ClockAt(9, 0), To: pbxusers.ClockAt(17, 0)}}}})
	require.NoError(t, err)
	u := person("ada", "201")
	u.Routing.Rules = []pbxusers.AnsweringRule{{ID: "office", Name: "Office", Enabled: true,
		When: pbxusers.Condition{TimeFrames: []string{tf.ID}}}}
	a := mustUser(t, d, "acme", u)
	err = d.DeleteTimeFrame(ctx, "acme", tf.ID)
	require.ErrorIs(t, err, pbxusers.ErrInUse, "deleting a time frame in use would silently disable rules")
	_, err = d.ModifyUser(ctx, "acme", a.ID, func(u *pbxusers.User) error { u.Routing.Rules = nil; return nil })
	require.NoError(t, err)
	require.NoError(t, d.DeleteTimeFrame(ctx, "acme", tf.ID))

	bad := person("bob", "202")
	bad.Routing.Rules = []pbxusers.AnsweringRule{{ID: "x", Enabled: true, When: pbxusers.Condition{TimeFrames: []string{"missing"}}}}
	_, err = d.CreateUser(ctx, "acme", bad)
	require.ErrorIs(t, err, pbxusers.ErrInvalid)
}

func testChangeLog(t *testing.T, s pbxusers.Store) {
	ctx := context.Background()
	d := newDir(s)
	mustTenant(t, d, "acme")
	var got [][]pbxusers.Change
	var mu sync.Mutex
	cancel := d.Subscribe(func(_ context.Context, cs []pbxusers.Change) {
		mu.Lock()
		got = append(got, cs)
		mu.Unlock()
	})
	defer cancel()
	sctx := pbxusers.WithActor(ctx, pbxusers.Actor{Source: pbxusers.SourceSCIM, Name: "okta"})
	u, err := d.CreateUser(sctx, "acme", person("ada", "201"))
	require.NoError(t, err)
	_, err = d.ModifyUser(sctx, "acme", u.ID, func(u *pbxusers.User) error { u.Title = "Engineer"; return nil })
	require.NoError(t, err)
	_, err = d.ModifyUser(sctx, "acme", u.ID, func(u *pbxusers.User) error { u.Title = "x"; return errBoom })
	require.ErrorIs(t, err, errBoom)
	_, err = d.DeactivateUser(sctx, "acme", u.ID)
	require.NoError(t, err)
	require.NoError(t, d.DeleteUser(ctx, "acme", u.ID))

	log, err := d.Changes(ctx, "acme", pbxusers.ChangeQuery{Entity: "user", EntityID: u.ID})
	require.NoError(t, err)
	require.Len(t, log, 4, "the rolled-back change is not in the log")
	actions := []pbxusers.Action{log[0].Action, log[1].Action, log[2].Action, log[3].Action}
	assert.Equal(t, []pbxusers.Action{pbxusers.ActionCreate, pbxusers.ActionUpdate, pbxusers.ActionDeactivate, pbxusers.ActionDelete}, actions)
	assert.Equal(t, pbxusers.Actor{Source: pbxusers.SourceSCIM, Name: "okta"}, log[1].Actor)
	assert.Equal(t, pbxusers.SourceManual, log[3].Actor.Source)
	require.Len(t, log[1].Fields, 1)
	assert.Equal(t, "title", log[1].Fields[0].Field)
	assert.Equal(t, "Engineer", log[1].Fields[0].New)
	for i := 1; i < len(log); i++ {
		assert.Greater(t, log[i].Seq, log[i-1].Seq)
	}
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, got, 4, "subscribers hear committed changes only")
	assert.Equal(t, pbxusers.ActionCreate, got[0][0].Action)

	more, err := d.Changes(ctx, "acme", pbxusers.ChangeQuery{AfterSeq: log[1].Seq, Entity: "user"})
	require.NoError(t, err)
	assert.Len(t, more, 2)

	// Newest first, a page at a time going back.
	newest, err := d.Changes(ctx, "acme", pbxusers.ChangeQuery{Entity: "user", EntityID: u.ID, Newest: true, Limit: 3})
	require.NoError(t, err)
	require.Len(t, newest, 3)
	assert.Equal(t, []int64{log[3].Seq, log[2].Seq, log[1].Seq}, []int64{newest[0].Seq, newest[1].Seq, newest[2].Seq})
	older, err := d.Changes(ctx, "acme", pbxusers.ChangeQuery{Entity: "user", EntityID: u.ID, Newest: true, BeforeSeq: newest[2].Seq})
	require.NoError(t, err)
	require.Len(t, older, 1)
	assert.Equal(t, log[0].Seq, older[0].Seq)
}

func testTokens(t *testing.T, s pbxusers.Store) {
	ctx := context.Background()
	d := newDir(s)
	mustTenant(t, d, "acme")
	mustTenant(t, d, "beta")
	secret, tok, err := d.CreateToken(ctx, "acme", "okta")
	require.NoError(t, err)
	assert.Contains(t, secret, pbxusers.TokenPrefix+tok.ID+".")
	got, err := d.Authenticate(ctx, secret)
	require.NoError(t, err)
	assert.Equal(t, "acme", got.TenantID)
	for _, bad := range []string{"", "pbxg_", secret + "x", "pbxg_" + tok.ID + ".wrong", "Bearer " + secret, "pbxg_nope.abc"} {
		_, err := d.Authenticate(ctx, bad)
		require.ErrorIs(t, err, pbxusers.ErrUnauthenticated, "%q", bad)
	}
	assert.Equal(t, pbxusers.ScopeSCIM, got.Scope, "CreateToken makes SCIM tokens")
	list, err := d.ListTokens(ctx, "acme")
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.NotNil(t, list[0].LastUsed)
	assert.Equal(t, pbxusers.ScopeSCIM, list[0].Scope)
	// The scope is stored and read back, for every scope.
	for _, scope := range []pbxusers.TokenScope{pbxusers.ScopeAdmin, pbxusers.ScopeOperator} {
		sec, _, err := d.CreateScopedToken(ctx, "beta", string(scope), scope)
		require.NoError(t, err)
		got, err := d.Authenticate(ctx, sec)
		require.NoError(t, err)
		assert.Equal(t, scope, got.Scope)
	}
	_, _, err = d.CreateScopedToken(ctx, "beta", "x", "root")
	require.ErrorIs(t, err, pbxusers.ErrInvalid)
	require.ErrorIs(t, d.RevokeToken(ctx, "beta", tok.ID), pbxusers.ErrNotFound, "another tenant cannot revoke it")
	require.NoError(t, d.RevokeToken(ctx, "acme", tok.ID))
	require.NoError(t, d.RevokeToken(ctx, "acme", tok.ID))
	_, err = d.Authenticate(ctx, secret)
	require.ErrorIs(t, err, pbxusers.ErrUnauthenticated)
	// Only a hash is stored.
	err = s.View(ctx, func(tx pbxusers.Tx) error {
		st, err := tx.GetToken(ctx, tok.ID)
		require.NoError(t, err)
		assert.Len(t, st.Hash, 32)
		assert.NotContains(t, string(st.Hash), secret[len(secret)-20:])
		return nil
	})
	require.NoError(t, err)
}

func testExtensionAllocation(t *testing.T, s pbxusers.Store) {
	ctx := context.Background()
	d := newDir(s)
	_, err := d.CreateTenant(ctx, pbxusers.Tenant{ID: "acme", Extensions: pbxusers.ExtensionPlan{
		MinLength: 3, MaxLength: 3, PrefixFree: true, AutoAssign: true,
		Users: pbxusers.Range{From: "200", To: "204"}, System: pbxusers.Range{From: "800", To: "899"},
	}})
	require.NoError(t, err)
	mustUser(t, d, "acme", person("ada", "200"))
	mustUser(t, d, "acme", person("bob", "202"))
	next, err := d.NextExtension(ctx, "acme", pbxusers.KindPerson)
	require.NoError(t, err)
	assert.Equal(t, "201", next)
	c := mustUser(t, d, "acme", person("carol", ""))
	assert.Equal(t, "201", c.Extension)
	dv := mustUser(t, d, "acme", person("dave", ""))
	assert.Equal(t, "203", dv.Extension)
	q := mustUser(t, d, "acme", pbxusers.User{UserName: "q", Kind: pbxusers.KindCallQueue})
	assert.Equal(t, "800", q.Extension)
	mustUser(t, d, "acme", person("erin", ""))
	_, err = d.CreateUser(ctx, "acme", person("frank", ""))
	requireConflict(t, err, "extension")

	for _, tc := range []struct{ ext, why string }{{"20", "length"}, {"2a1", "digits"}, {"112", "reserved"}} {
		_, err := d.CreateUser(ctx, "acme", person("x"+tc.ext, tc.ext))
		require.ErrorIs(t, err, pbxusers.ErrInvalid, tc.why)
	}
	_, err = d.CreateTenant(ctx, pbxusers.Tenant{ID: "beta", Extensions: pbxusers.ExtensionPlan{PrefixFree: true}})
	require.NoError(t, err)
	mustUser(t, d, "beta", person("ada", "10"))
	_, err = d.CreateUser(ctx, "beta", person("bob", "100"))
	requireConflict(t, err, "extension")
	_, err = d.CreateUser(ctx, "beta", person("carol", "1"))
	requireConflict(t, err, "extension")
	mustUser(t, d, "beta", person("dave", "11"))
}

func testTimesAreUTC(t *testing.T, s pbxusers.Store) {
	ctx := context.Background()
	d := newDir(s)
	mustTenant(t, d, "acme")
	u := mustUser(t, d, "acme", person("ada", "201"))
	got, err := d.GetUser(ctx, "acme", u.ID)
	require.NoError(t, err)
	assert.Equal(t, time.UTC, got.Created.Location())
	assert.Equal(t, time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC), got.Created.Truncate(time.Second))
}

func testListOwned(t *testing.T, s pbxusers.Store) {
	ctx := context.Background()
	d := newDir(s)
	mustTenant(t, d, "acme")
	ldap := pbxusers.WithActor(ctx, pbxusers.Actor{Source: pbxusers.SourceLDAP, Name: "corp"})
	for i, ext := range []string{"c", "a", "b"} {
		u := person("l"+ext, fmt.Sprint(300+i))
		u.Owner = pbxusers.Owner{ExternalID: "guid-" + ext, Directory: "corp", Hash: "h-" + ext}
		_, err := d.CreateUser(ldap, "acme", u)
		require.NoError(t, err)
	}
	other := person("other", "310")
	other.Owner = pbxusers.Owner{Source: pbxusers.SourceLDAP, ExternalID: "guid-z", Directory: "branch"}
	mustUser(t, d, "acme", other)
	mustUser(t, d, "acme", person("manual", "311"))

	page, err := d.ListOwned(ctx, "acme", pbxusers.SourceLDAP, "corp", "", 2)
	require.NoError(t, err)
	require.Len(t, page, 2)
	assert.Equal(t, "guid-a", page[0].ExternalID)
	assert.Equal(t, "h-a", page[0].Hash)
	assert.Equal(t, "la", page[0].UserName)
	assert.Equal(t, pbxusers.StatusActive, page[0].Status)
	rest, err := d.ListOwned(ctx, "acme", pbxusers.SourceLDAP, "corp", page[1].ExternalID, 2)
	require.NoError(t, err)
	require.Len(t, rest, 1)
	assert.Equal(t, "guid-c", rest[0].ExternalID)
	all, err := d.ListOwned(ctx, "acme", pbxusers.SourceLDAP, "", "", 0)
	require.NoError(t, err)
	assert.Len(t, all, 4)

	_, err = d.DeactivateUser(ldap, "acme", page[0].ID)
	require.NoError(t, err)
	again, err := d.ListOwned(ctx, "acme", pbxusers.SourceLDAP, "corp", "", 1)
	require.NoError(t, err)
	assert.Equal(t, pbxusers.StatusInactive, again[0].Status)
	assert.Equal(t, pbxusers.SourceLDAP, again[0].DeactivatedBy)
}

func testUnfilteredTotals(t *testing.T, s pbxusers.Store) {
	ctx := context.Background()
	d := newDir(s)
	mustTenant(t, d, "acme")
	mustTenant(t, d, "beta")
	a := mustUser(t, d, "acme", person("ada", "201"))
	mustUser(t, d, "acme", person("bob", "202"))
	mustUser(t, d, "beta", person("carol", "203"))
	mustUser(t, d, "acme", pbxusers.User{UserName: "q", Kind: pbxusers.KindCallQueue})
	total := func(tenant string, system bool) int {
		t.Helper()
		page, err := d.ListUsers(ctx, tenant, pbxusers.UserQuery{IncludeSystem: system, Limit: -1})
		require.NoError(t, err)
		return page.Total
	}
	assert.Equal(t, 2, total("acme", false))
	assert.Equal(t, 3, total("acme", true))
	assert.Equal(t, 1, total("beta", false))
	require.NoError(t, d.DeleteUser(ctx, "acme", a.ID))
	assert.Equal(t, 1, total("acme", false), "totals follow deletes")
	_, err := d.ImportCSV(ctx, "acme", strings.NewReader("userName\nx1\nx2\n"), pbxusers.ImportOptions{DryRun: true})
	require.NoError(t, err)
	assert.Equal(t, 1, total("acme", false), "a rolled-back import leaves the totals alone")
}
