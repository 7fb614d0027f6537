package smtp_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/smtp"
	"github.com/pbxgate/pbxgate/smtp/smtptest"
)

func TestDirWritesParseableEml(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "outbox")
	d, err := smtp.NewDir(dir, testFrom, testLogger(t))
	require.NoError(t, err)
	assert.Equal(t, "directory "+dir, d.String())

	tpl := mustTemplates(t, "")
	content, err := tpl.Welcome("", welcomeData("en"))
	require.NoError(t, err)
	msg := content.Message(smtp.Address{Name: "Jürgen Weiß", Address: "jweiss@mueller.example"})
	msg.MessageID = "welcome.42@example.net"
	for i := 0; i < 2; i++ {
		retry, err := d.Send(context.Background(), msg)
		require.NoError(t, err)
		assert.False(t, retry)
	}

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 2, "one file per message, no temporary files left")
	for _, e := range entries {
		assert.Regexp(t, regexp.MustCompile(`^\d{8}T\d{6}\.\d{9}Z-welcome\.42@example\.net\.eml$`), e.Name())
		info, err := e.Info()
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())

		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		p, err := smtptest.Parse(data)
		require.NoError(t, err)
		subject, err := p.Header.Subject()
		require.NoError(t, err)
		assert.Equal(t, content.Subject, subject)
		to, err := p.Header.AddressList("To")
		require.NoError(t, err)
		assert.Equal(t, "Jürgen Weiß", to[0].Name)
		id, err := p.Header.MessageID()
		require.NoError(t, err)
		assert.Equal(t, "welcome.42@example.net", id)
		assert.Equal(t, []string{"text/plain", "text/html"}, p.PartTypes)
		assert.Contains(t, p.Text, testLink)
	}
	info, err := os.Stat(dir)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), info.Mode().Perm())
}

func TestDirErrors(t *testing.T) {
	d, err := smtp.NewDir(t.TempDir(), testFrom, nil)
	require.NoError(t, err)
	msg := simpleMessage("a@example.com")
	msg.To.Name = "x\ny"
	retry, err := d.Send(context.Background(), msg)
	require.Error(t, err)
	assert.False(t, retry, "a message that cannot be composed is permanent")

	gone := filepath.Join(t.TempDir(), "gone")
	d, err = smtp.NewDir(gone, testFrom, nil)
	require.NoError(t, err)
	require.NoError(t, os.Remove(gone))
	retry, err = d.Send(context.Background(), simpleMessage("a@example.com"))
	require.Error(t, err)
	assert.True(t, retry, "a write failure is temporary")
	var e *smtp.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, smtp.StageWrite, e.Stage)

	_, err = smtp.NewDir(t.TempDir(), smtp.Address{Address: "nope"}, nil)
	assert.ErrorContains(t, err, "from.address")
}
