package smtptest

import (
	"bytes"
	"errors"
	"io"
	"testing"

	gomail "github.com/emersion/go-message/mail"
)

// Parsed is a received message decoded with go-message.
type Parsed struct {
	// Header is the top-level header; its Subject, AddressList, Date and
	// MessageID methods decode RFC 2047 words.
	Header gomail.Header
	// ContentType is the top-level media type, e.g. "multipart/alternative".
	ContentType string
	// PartTypes are the media types of the inline parts, in order.
	PartTypes []string
	// Text and HTML are the decoded text/plain and text/html parts.
	Text string
	HTML string
}

// Parse decodes the message, failing tb if it is not well-formed.
func (m Message) Parse(tb testing.TB) Parsed {
	tb.Helper()
	p, err := Parse(m.Data)
	if err != nil {
		tb.Fatalf("smtptest: parse message: %v", err)
	}
	return p
}

// Parse decodes a raw RFC 5322 message (e.g. an .eml file).
func Parse(data []byte) (Parsed, error) {
	r, err := gomail.CreateReader(bytes.NewReader(data))
	if err != nil {
		return Parsed{}, err
	}
	defer r.Close()
	p := Parsed{Header: r.Header}
	p.ContentType, _, _ = r.Header.ContentType()
	for i := 0; i < 100; i++ {
		part, err := r.NextPart()
		if errors.Is(err, io.EOF) {
			return p, nil
		}
		if err != nil {
			return p, err
		}
		h, ok := part.Header.(*gomail.InlineHeader)
		if !ok {
			continue
		}
		t, _, _ := h.ContentType()
		body, err := io.ReadAll(part.Body)
		if err != nil {
			return p, err
		}
		p.PartTypes = append(p.PartTypes, t)
		switch t {
		case "text/plain":
			p.Text = string(body)
		case "text/html":
			p.HTML = string(body)
		}
	}
	return p, errors.New("more than 100 parts")
}
