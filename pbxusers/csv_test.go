package pbxusers_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/pbxusers"
)

const goodCSV = `userName,givenName,familyName,email,extension,role,profiles,teams,features,workPhone,backupNumber,password
ada,Ada,Lovelace,ada@acme.example,201,agent,Agent,Sales,mobileApp;voicemail,030 1234567,+447911123456,
bob,Bob,Builder,bob@acme.example,202,supervisor,Agent;Supervisor,,webCalls,,,correct horse battery
"carol","Carol","Zoë Ünïcode",carol@acme.example,203,,,Sales,,,,
`

func mustFixtures(t *testing.T, d *pbxusers.Directory) { mustFixturesTB(t, d) }

func mustFixturesTB(t testing.TB, d *pbxusers.Directory) {
	t.Helper()
	ctx := context.Background()
	for _, n := range []string{"Agent", "Supervisor"} {
		_, err := d.CreateProfile(ctx, "acme", pbxusers.Profile{Name: n})
		require.NoError(t, err)
	}
	_, err := d.CreateTeam(ctx, "acme", pbxusers.Team{Name: "Sales"}, nil)
	require.NoError(t, err)
}

func TestImportCSV(t *testing.T) {
	d := mustDir(t)
	mustFixtures(t, d)
	ctx := context.Background()

	dry, err := d.ImportCSV(ctx, "acme", strings.NewReader(goodCSV), pbxusers.ImportOptions{DryRun: true})
	require.NoError(t, err)
	assert.Equal(t, pbxusers.ImportResult{Created: 3, MailQueued: 2, DryRun: true}, dry, "two rows have no password: two welcome mails")
	page, err := d.ListUsers(ctx, "acme", pbxusers.UserQuery{Limit: -1})
	require.NoError(t, err)
	assert.Zero(t, page.Total, "a dry run writes nothing")

	var progress []int
	res, err := d.ImportCSV(ctx, "acme", strings.NewReader("\xEF\xBB\xBF"+goodCSV), pbxusers.ImportOptions{
		Progress: func(done, total int) { progress = append(progress, done) }})
	require.NoError(t, err)
	assert.Equal(t, 3, res.Created)
	assert.Equal(t, []int{1, 2, 3}, progress)

	ada, err := d.LookupUser(ctx, "acme", pbxusers.KeyUserName, "ada")
	require.NoError(t, err)
	assert.Equal(t, "+49301234567", ada.PhoneNumbers[0].Number)
	assert.True(t, ada.Features.MobileApp && ada.Features.Voicemail)
	assert.Equal(t, "+447911123456", ada.Routing.BackupNumber())
	assert.Len(t, ada.Teams, 1)
	assert.Equal(t, pbxusers.PasswordInvite, ada.Password.Mode)
	bob, err := d.LookupUser(ctx, "acme", pbxusers.KeyUserName, "bob")
	require.NoError(t, err)
	assert.Len(t, bob.Profiles, 2)
	assert.True(t, bob.Password.IsSet)
	mail, err := d.ListMail(ctx, "acme", pbxusers.MailQuery{})
	require.NoError(t, err)
	assert.Len(t, mail, 2, "rows without a password get the welcome mail")

	// Export, then import the export into a fresh tenant: the same users.
	var buf bytes.Buffer
	n, err := d.ExportCSV(ctx, "acme", &buf, pbxusers.UserQuery{}, nil)
	require.NoError(t, err)
	assert.Equal(t, 3, n)
	assert.NotContains(t, buf.String(), "correct horse", "passwords are never exported")
	_, err = d.CreateTenant(ctx, pbxusers.Tenant{ID: "copy", Region: "DE"})
	require.NoError(t, err)
	for _, name := range []string{"Agent", "Supervisor"} {
		_, err := d.CreateProfile(ctx, "copy", pbxusers.Profile{Name: name})
		require.NoError(t, err)
	}
	_, err = d.CreateTeam(ctx, "copy", pbxusers.Team{Name: "Sales"}, nil)
	require.NoError(t, err)
	res, err = d.ImportCSV(ctx, "copy", bytes.NewReader(buf.Bytes()), pbxusers.ImportOptions{})
	require.NoError(t, err)
	assert.Equal(t, 3, res.Created)
	copied, err := d.LookupUser(ctx, "copy", pbxusers.KeyUserName, "carol")
	require.NoError(t, err)
	assert.Equal(t, "Zoë Ünïcode", copied.Name.Family)

	// Update mode changes only the columns in the file.
	res, err = d.ImportCSV(ctx, "acme", strings.NewReader("userName,title\nada,Analyst\nbob,\n"), pbxusers.ImportOptions{Update: true})
	require.NoError(t, err)
	assert.Equal(t, pbxusers.ImportResult{Updated: 1, Unchanged: 1}, res)
	ada2, err := d.LookupUser(ctx, "acme", pbxusers.KeyUserName, "ada")
	require.NoError(t, err)
	assert.Equal(t, "Analyst", ada2.Title)
	assert.Equal(t, "201", ada2.Extension)
}

func TestImportCSVErrors(t *testing.T) {
	d := mustDir(t)
	mustFixtures(t, d)
	ctx := context.Background()
	cases := []struct {
		name string
		csv  string
		want []string // "line/column" of every problem
	}{
		{"empty file", "", []string{"1/"}},
		{"unknown column", "userName,shoeSize\nada,42\n", []string{"1/shoeSize"}},
		{"missing userName column", "email\nada@acme.example\n", []string{"1/userName"}},
		{"bad cells on several lines",
			"userName,email,extension,profiles,features\n" +
				"ada,ada@acme.example,201,,\n" +
				"bob,not-an-email,20x,Nobody,\n" +
				"carol,carol@acme.example,203,,teleport\n",
			[]string{"3/email", "3/extension", "3/profiles", "4/features"}},
		{"duplicate inside the file", "userName,extension\nada,201\nADA,202\n", []string{"3/userName"}},
		{"wrong cell count", "userName,extension\nada,201,extra\n", []string{"2/"}},
		{"weak password", "userName,password\nada,short\n", []string{"2/password"}},
		{"conflict with an existing user on the last row", "userName,extension\nzed,250\nyan,299\n", []string{"3/extension"}},
	}
	_, err := d.CreateUser(ctx, "acme", pbxusers.User{UserName: "existing", Extension: "299"})
	require.NoError(t, err)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := d.ImportCSV(ctx, "acme", strings.NewReader(tc.csv), pbxusers.ImportOptions{})
			require.ErrorIs(t, err, pbxusers.ErrInvalid)
			var ie *pbxusers.ImportError
			require.True(t, errors.As(err, &ie), "%T %v", err, err)
			var got []string
			for _, r := range ie.Rows {
				got = append(got, strings.TrimSuffix(string(rune('0'+r.Line))+"/"+r.Column, ""))
			}
			for _, w := range tc.want {
				assert.Contains(t, got, w, "%v", err)
			}
			assert.Contains(t, err.Error(), "nothing applied")
		})
	}
	page, err := d.ListUsers(ctx, "acme", pbxusers.UserQuery{Limit: -1})
	require.NoError(t, err)
	assert.Equal(t, 1, page.Total, "no row of a rejected file was applied")
}

// TestImportCSVReportsEverything checks that one import reports every
// problem of every row: a bad email on one line does not hide a duplicate
// extension on the next, in-file duplicates name both lines, and a quote
// left open is reported where its record starts.
func TestImportCSVReportsEverything(t *testing.T) {
	d := mustDir(t)
	ctx := context.Background()
	_, err := d.CreateUser(ctx, "acme", pbxusers.User{UserName: "existing", Extension: "299", Emails: []pbxusers.Email{{Value: "taken@acme.example"}}})
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		csv  string
		want []pbxusers.RowError
	}{
		{"bad email, then a duplicate extension in the file",
			"userName,email,extension\nada,not-an-email,201\nbob,bob@acme.example,201\n",
			[]pbxusers.RowError{{Line: 2, Column: "email", Reason: `"not-an-email" is not an email address`},
				{Line: 3, Column: "extension", Reason: `"201" is also on line 2`}}},
		{"every conflict of one row with existing users",
			"userName,email,extension\nEXISTING,taken@acme.example,299\n",
			[]pbxusers.RowError{
				{Line: 2, Column: "userName", Reason: `user with userName "EXISTING" already exists`},
				{Line: 2, Column: "extension", Reason: `user with extension "299" already exists`}}},
		{"a validation problem and a conflict on one row",
			"userName,extension,language\nzed,299,xx-not-a-tag-at-all\n",
			[]pbxusers.RowError{
				{Line: 2, Column: "language", Reason: `"xx-not-a-tag-at-all" is not a BCP 47 language tag (e.g. en-US, de)`},
				{Line: 2, Column: "extension", Reason: `user with extension "299" already exists`}}},
		{"unclosed quote", "userName,title\nada,ok\nbob,\"never closed\ncarol,x\n",
			[]pbxusers.RowError{{Line: 3, Reason: `extraneous or missing " in quoted-field`}}},
		{"a typo in the header", "userName,emial\nada,a@b.example\n",
			[]pbxusers.RowError{{Line: 1, Column: "emial", Reason: `unknown column; did you mean "email"?`}}},
		{"bad JSON cell", "userName,routing\nada,\"{\"\"answerMode\"\":\"\"apps\"\",\"\"nope\"\":1}\"\n",
			[]pbxusers.RowError{{Line: 2, Column: "routing", Reason: `not valid JSON for this column: unknown field "nope"`}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := d.ImportCSV(ctx, "acme", strings.NewReader(tc.csv), pbxusers.ImportOptions{})
			var ie *pbxusers.ImportError
			require.ErrorAs(t, err, &ie)
			assert.Equal(t, tc.want, ie.Rows)
		})
	}
}

// TestImportCSVWelcomeMail checks --no-welcome-mail and the count of mails
// an import queues.
func TestImportCSVWelcomeMail(t *testing.T) {
	d := mustDir(t)
	ctx := context.Background()
	in := "userName,email\nada,ada@acme.example\nbob,bob@acme.example\ncarl,\n"
	res, err := d.ImportCSV(ctx, "acme", strings.NewReader(in), pbxusers.ImportOptions{NoWelcomeMail: true})
	require.NoError(t, err)
	assert.Equal(t, pbxusers.ImportResult{Created: 3}, res)
	mail, err := d.ListMail(ctx, "acme", pbxusers.MailQuery{})
	require.NoError(t, err)
	assert.Empty(t, mail)

	res, err = d.ImportCSV(ctx, "acme", strings.NewReader("userName,email\ndan,dan@acme.example\n"), pbxusers.ImportOptions{})
	require.NoError(t, err)
	assert.Equal(t, pbxusers.ImportResult{Created: 1, MailQueued: 1}, res)
}

// TestImportRowOutcomes: OnRow is told every row's outcome in file order,
// for a dry run and a real import alike.
func TestImportRowOutcomes(t *testing.T) {
	ctx := context.Background()
	d := mustDir(t)
	csv := "userName,extension\nada@example.com,201\nbob@example.com,202\n"
	var rows []pbxusers.ImportRow
	opts := pbxusers.ImportOptions{DryRun: true, NoWelcomeMail: true, OnRow: func(r pbxusers.ImportRow) { rows = append(rows, r) }}
	_, err := d.ImportCSV(ctx, "acme", strings.NewReader(csv), opts)
	require.NoError(t, err)
	assert.Equal(t, []pbxusers.ImportRow{{Line: 2, UserName: "ada@example.com", Outcome: "created"}, {Line: 3, UserName: "bob@example.com", Outcome: "created"}}, rows)

	rows, opts.DryRun = nil, false
	_, err = d.ImportCSV(ctx, "acme", strings.NewReader(csv), opts)
	require.NoError(t, err)
	require.Len(t, rows, 2)
	assert.NotEmpty(t, rows[0].UserID)

	rows, opts.Update = nil, true
	_, err = d.ImportCSV(ctx, "acme", strings.NewReader("userName,extension\nada@example.com,201\nbob@example.com,209\n"), opts)
	require.NoError(t, err)
	assert.Equal(t, []string{"unchanged", "updated"}, []string{rows[0].Outcome, rows[1].Outcome})
}
