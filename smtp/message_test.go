package smtp_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/smtp"
	"github.com/pbxgate/pbxgate/smtp/smtptest"
)

var testFrom = smtp.Address{Name: "Müller & Söhne PBX", Address: "pbx@example.net"}

func TestComposeMultipartAlternative(t *testing.T) {
	date := time.Date(2025, 11, 23, 14, 5, 0, 0, time.FixedZone("CET", 3600))
	var buf bytes.Buffer
	msg, err := smtp.Compose(&buf, testFrom, smtp.Message{
		To:      smtp.Address{Name: "Jürgen Weiß", Address: "juergen@example.com"},
		Subject: "Ihr neues Konto – bitte einrichten",
		Text:    "Hallo Jürgen,\nhttps://pbx.example.net/set-password?token=abc\n",
		HTML:    "<p>Hallo Jürgen</p>",
		Date:    date,
		Headers: map[string]string{"Auto-Submitted": "auto-generated"},
	})
	require.NoError(t, err)
	raw := buf.String()

	// On the wire: ASCII only, CRLF, RFC 2047 encoded words.
	for i, r := range raw {
		require.Less(t, r, rune(128), "non-ASCII byte at %d", i)
	}
	assert.NotContains(t, strings.ReplaceAll(raw, "\r\n", ""), "\n", "bare LF")
	assert.Contains(t, raw, "Subject: =?utf-8?q?")
	assert.Contains(t, raw, "To: =?utf-8?q?J=C3=BCrgen_Wei=C3=9F?= <juergen@example.com>")

	assert.True(t, strings.HasSuffix(msg.MessageID, "@example.net"), msg.MessageID)
	p, err := smtptest.Parse(buf.Bytes())
	require.NoError(t, err)
	subject, err := p.Header.Subject()
	require.NoError(t, err)
	assert.Equal(t, "Ihr neues Konto – bitte einrichten", subject)
	to, err := p.Header.AddressList("To")
	require.NoError(t, err)
	require.Len(t, to, 1)
	assert.Equal(t, "Jürgen Weiß", to[0].Name)
	from, err := p.Header.AddressList("From")
	require.NoError(t, err)
	assert.Equal(t, "Müller & Söhne PBX", from[0].Name)
	assert.Equal(t, "pbx@example.net", from[0].Address)
	id, err := p.Header.MessageID()
	require.NoError(t, err)
	assert.Equal(t, msg.MessageID, id)
	d, err := p.Header.Date()
	require.NoError(t, err)
	assert.True(t, d.Equal(date), d)
	assert.Equal(t, "auto-generated", p.Header.Get("Auto-Submitted"))
	assert.Equal(t, "multipart/alternative", p.ContentType)
	assert.Equal(t, []string{"text/plain", "text/html"}, p.PartTypes)
	assert.Equal(t, "Hallo Jürgen,\r\nhttps://pbx.example.net/set-password?token=abc\r\n", p.Text)
	assert.Equal(t, "<p>Hallo Jürgen</p>", p.HTML)
}

func TestComposeTextOnly(t *testing.T) {
	var buf bytes.Buffer
	msg, err := smtp.Compose(&buf, testFrom, smtp.Message{
		To:        smtp.Address{Address: "anna@example.com"},
		Subject:   "Plain",
		Text:      "only text",
		MessageID: "fixed.1@example.net",
	})
	require.NoError(t, err)
	assert.Equal(t, "fixed.1@example.net", msg.MessageID)
	assert.False(t, msg.Date.IsZero())
	p, err := smtptest.Parse(buf.Bytes())
	require.NoError(t, err)
	assert.Equal(t, "text/plain", p.ContentType)
	assert.Equal(t, "only text", p.Text)
	assert.Empty(t, p.HTML)
}

func TestComposeRejectsBadInput(t *testing.T) {
	ok := smtp.Message{To: smtp.Address{Name: "Anna", Address: "anna@example.com"}, Subject: "Hi", Text: "x"}
	tests := []struct {
		name    string
		edit    func(*smtp.Message)
		wantErr string
	}{
		{"CRLF in subject", func(m *smtp.Message) { m.Subject = "Hi\r\nBcc: evil@example.org" }, "subject: contains a line break at byte 2"},
		{"LF in name", func(m *smtp.Message) { m.To.Name = "Anna\nBcc: evil@example.org" }, "to.name: contains a line break at byte 4"},
		{"CR in name", func(m *smtp.Message) { m.To.Name = "Anna\r" }, "to.name: contains a line break at byte 4"},
		{"NUL in subject", func(m *smtp.Message) { m.Subject = "a\x00" }, "subject: contains control character U+0000 at byte 1"},
		{"address with name", func(m *smtp.Message) { m.To.Address = "Eve <eve@example.org>" }, `to.address: "Eve <eve@example.org>" must be an ASCII addr-spec`},
		{"two addresses", func(m *smtp.Message) { m.To.Address = "a@example.org,b@example.org" }, `to.address: "a@example.org,b@example.org" is not an addr-spec`},
		{"CRLF in address", func(m *smtp.Message) { m.To.Address = "a@example.org\r\nRCPT TO:<b@example.org>" }, "to.address:"},
		{"non-ASCII address", func(m *smtp.Message) { m.To.Address = "jürgen@example.com" }, "must be an ASCII addr-spec"},
		{"no text", func(m *smtp.Message) { m.Text = " \n" }, "text: required"},
		{"header injection", func(m *smtp.Message) { m.Headers = map[string]string{"X-A": "1\r\nBcc: evil@example.org"} }, "headers.X-A: contains a line break"},
		{"reserved header", func(m *smtp.Message) { m.Headers = map[string]string{"bcc": "evil@example.org"} }, "headers.bcc: is set by the composer"},
		{"bad header name", func(m *smtp.Message) { m.Headers = map[string]string{"X A:": "1"} }, "headers.X A:: not a header field name"},
		{"bad message id", func(m *smtp.Message) { m.MessageID = "<a@b>" }, `messageID: "<a@b>" contains '<'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := ok
			tt.edit(&m)
			var buf bytes.Buffer
			_, err := smtp.Compose(&buf, testFrom, m)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.Zero(t, buf.Len(), "nothing written on error")
		})
	}
}

func TestNewMessageID(t *testing.T) {
	a, err := smtp.NewMessageID("example.net")
	require.NoError(t, err)
	b, err := smtp.NewMessageID("example.net")
	require.NoError(t, err)
	assert.NotEqual(t, a, b)
	assert.Regexp(t, `^[0-9A-Z]+\.[0-9A-Z]+@example\.net$`, a)
	_, err = smtp.NewMessageID("")
	assert.Error(t, err)
}
