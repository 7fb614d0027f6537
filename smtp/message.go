package smtp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/mail"
	"net/textproto"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	gomail "github.com/emersion/go-message/mail"
)

// Message is one mail to one recipient. Text is required; HTML is optional
// and, when set, the mail is multipart/alternative with the text part first.
// Values are checked before anything is written: CR, LF and other control
// characters in names, the subject or header values are rejected, so no
// caller-supplied value can add a header.
type Message struct {
	// To is the recipient, used for the To header and RCPT TO.
	To Address
	// Subject is the subject line, any Unicode text on one line.
	Subject string
	// Text is the text/plain body (UTF-8). Required.
	Text string
	// HTML is the text/html body (UTF-8). Optional.
	HTML string
	// MessageID is the Message-ID without angle brackets. Empty means a new
	// one is generated with the sender's domain (see NewMessageID). Callers
	// that retry (the outbox) set it once and keep it, so every attempt
	// carries the same id and duplicates can be spotted downstream.
	MessageID string
	// Date is the Date header. Zero means the time of composition.
	Date time.Time
	// Headers are extra header fields, e.g. "X-Pbxgate-Purpose". Structural
	// fields (From, To, Subject, Date, Message-ID, MIME-Version,
	// Content-*) cannot be set here.
	Headers map[string]string
}

// reservedHeaders are set by Compose and cannot be overridden by Headers.
var reservedHeaders = map[string]bool{
	"From": true, "To": true, "Cc": true, "Bcc": true, "Sender": true,
	"Subject": true, "Date": true, "Message-Id": true, "Mime-Version": true,
	"Content-Type": true, "Content-Transfer-Encoding": true,
	"Content-Disposition": true, "Return-Path": true,
}

// Validate reports every problem of the message at once.
func (m Message) Validate() error {
	var errs []error
	errs = append(errs, m.To.validate("to")...)
	if err := checkText(m.Subject); err != nil {
		errs = append(errs, fieldErr("subject", err.Error()))
	}
	if strings.TrimSpace(m.Text) == "" {
		errs = append(errs, fieldErr("text", "required"))
	}
	if m.MessageID != "" {
		if err := checkMessageID(m.MessageID); err != nil {
			errs = append(errs, fieldErr("messageID", err.Error()))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(m.Headers)) {
		v := m.Headers[k]
		path := "headers." + k
		switch {
		case !validFieldName(k):
			errs = append(errs, fieldErr(path, "not a header field name (printable ASCII without ':' or spaces)"))
		case reservedHeaders[canonicalKey(k)]:
			errs = append(errs, fieldErr(path, "is set by the composer and cannot be overridden"))
		}
		if err := checkText(v); err != nil {
			errs = append(errs, fieldErr(path, err.Error()))
		}
	}
	return errors.Join(errs...)
}

// Compose writes msg from the given sender as an RFC 5322 message with
// CRLF line endings: multipart/alternative (text, then HTML) when HTML is
// set, else a single text/plain part, both quoted-printable UTF-8. It fills
// in a missing Message-ID (sender's domain) and Date (now) and returns the
// message as composed.
func Compose(w io.Writer, from Address, msg Message) (Message, error) {
	if errs := from.validate("from"); len(errs) > 0 {
		return msg, errors.Join(errs...)
	}
	if err := msg.Validate(); err != nil {
		return msg, err
	}
	if msg.MessageID == "" {
		id, err := NewMessageID(from.Domain())
		if err != nil {
			return msg, err
		}
		msg.MessageID = id
	}
	if msg.Date.IsZero() {
		msg.Date = time.Now()
	}

	var h gomail.Header
	h.SetDate(msg.Date)
	h.SetAddressList("From", []*gomail.Address{{Name: from.Name, Address: from.Address}})
	h.SetAddressList("To", []*gomail.Address{{Name: msg.To.Name, Address: msg.To.Address}})
	h.SetSubject(msg.Subject)
	h.SetMessageID(msg.MessageID)
	for _, k := range slices.Sorted(maps.Keys(msg.Headers)) {
		h.SetText(k, msg.Headers[k])
	}

	textHeader := func(mediaType string) gomail.InlineHeader {
		var ih gomail.InlineHeader
		ih.SetContentType(mediaType, map[string]string{"charset": "utf-8"})
		return ih
	}
	if msg.HTML == "" {
		h.SetContentType("text/plain", map[string]string{"charset": "utf-8"})
		h.Set("Content-Transfer-Encoding", "quoted-printable")
		body, err := gomail.CreateSingleInlineWriter(w, h)
		if err != nil {
			return msg, fmt.Errorf("write header: %w", err)
		}
		if _, err := io.WriteString(body, crlf(msg.Text)); err != nil {
			return msg, fmt.Errorf("write text part: %w", err)
		}
		if err := body.Close(); err != nil {
			return msg, fmt.Errorf("write text part: %w", err)
		}
		return msg, nil
	}

	mw, err := gomail.CreateInlineWriter(w, h)
	if err != nil {
		return msg, fmt.Errorf("write header: %w", err)
	}
	for _, p := range []struct{ mediaType, body string }{
		{"text/plain", msg.Text},
		{"text/html", msg.HTML},
	} {
		pw, err := mw.CreatePart(textHeader(p.mediaType))
		if err != nil {
			return msg, fmt.Errorf("create %s part: %w", p.mediaType, err)
		}
		if _, err := io.WriteString(pw, crlf(p.body)); err != nil {
			return msg, fmt.Errorf("write %s part: %w", p.mediaType, err)
		}
		if err := pw.Close(); err != nil {
			return msg, fmt.Errorf("write %s part: %w", p.mediaType, err)
		}
	}
	if err := mw.Close(); err != nil {
		return msg, fmt.Errorf("close multipart: %w", err)
	}
	return msg, nil
}

// composeBytes is Compose into memory.
func composeBytes(from Address, msg Message) (Message, []byte, error) {
	var buf bytes.Buffer
	msg, err := Compose(&buf, from, msg)
	if err != nil {
		return msg, nil, err
	}
	return msg, buf.Bytes(), nil
}

// NewMessageID returns a new globally unique Message-ID (without angle
// brackets) whose right-hand side is domain, e.g.
// "1D2X7K9Q3.5F8A1C0B2E4D@example.com".
func NewMessageID(domain string) (string, error) {
	if domain == "" {
		return "", errors.New("new message id: empty domain")
	}
	var h gomail.Header
	if err := h.GenerateMessageIDWithHostname(domain); err != nil {
		return "", fmt.Errorf("new message id: %w", err)
	}
	id, err := h.MessageID()
	if err != nil {
		return "", fmt.Errorf("new message id: %w", err)
	}
	return id, nil
}

// crlf normalises line endings to CRLF.
func crlf(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return strings.ReplaceAll(s, "\n", "\r\n")
}

// checkText rejects control characters (CR and LF included) in a value that
// ends up in a header.
func checkText(s string) error {
	for i, r := range s {
		if r == '\r' || r == '\n' {
			return fmt.Errorf("contains a line break at byte %d", i)
		}
		if unicode.IsControl(r) && r != '\t' {
			return fmt.Errorf("contains control character %U at byte %d", r, i)
		}
	}
	if !utf8.ValidString(s) {
		return errors.New("is not valid UTF-8")
	}
	return nil
}

// checkAddrSpec accepts a bare ASCII addr-spec such as "anna@example.com".
func checkAddrSpec(s string) error {
	if s == "" {
		return errors.New("required")
	}
	for _, r := range s {
		if r > unicode.MaxASCII || unicode.IsControl(r) || r == ' ' {
			return fmt.Errorf("%q must be an ASCII addr-spec (IDN domains in xn-- form)", s)
		}
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return fmt.Errorf("%q is not an addr-spec like user@example.com", s)
	}
	if !strings.Contains(s, "@") {
		return fmt.Errorf("%q has no domain", s)
	}
	return nil
}

// checkMessageID accepts id-left "@" id-right without brackets or spaces.
func checkMessageID(s string) error {
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return fmt.Errorf("%q is not of the form left@right", s)
	}
	for _, r := range s {
		if r <= ' ' || r >= unicode.MaxASCII || strings.ContainsRune("<>()[]\\,;:\"", r) {
			return fmt.Errorf("%q contains %q", s, r)
		}
	}
	return nil
}

func validFieldName(k string) bool {
	if k == "" {
		return false
	}
	for _, r := range k {
		if r <= ' ' || r >= unicode.MaxASCII || r == ':' {
			return false
		}
	}
	return true
}

func canonicalKey(k string) string { return textproto.CanonicalMIMEHeaderKey(k) }
