package smtp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strconv"

	gosmtp "github.com/emersion/go-smtp"
)

// Stage is the step of a delivery attempt that failed.
type Stage string

// Stages of a delivery attempt, in order.
const (
	StageCompose Stage = "compose" // building the message; never retried
	StageConnect Stage = "connect" // dial, greeting, EHLO
	StageTLS     Stage = "tls"     // STARTTLS or the TLS handshake
	StageAuth    Stage = "auth"    // AUTH
	StageMail    Stage = "mail"    // RSET, MAIL FROM
	StageRcpt    Stage = "rcpt"    // RCPT TO
	StageData    Stage = "data"    // DATA, the message, the final reply
	StageWrite   Stage = "write"   // writing a file (Dir)
)

// ErrSTARTTLSUnavailable is wrapped by the error of a relay that does not
// offer STARTTLS while RelayConfig.TLS is "starttls". Nothing, in particular
// no credentials and no message, has been sent when it is returned.
var ErrSTARTTLSUnavailable = errors.New("relay does not offer STARTTLS")

// Error is the error of a failed delivery attempt. Every error a [Sender]
// returns is, or wraps, an *Error.
//
// Permanent failures will fail again if retried unchanged: a 5xx reply, a
// certificate that does not verify, a relay without STARTTLS, a message
// that cannot be composed. Everything else (4xx replies, refused or dropped
// connections, timeouts, cancelled contexts, handshake I/O errors) is
// temporary.
//
// Permanent failures at StageConnect, StageTLS and StageAuth concern the
// relay or the configuration, not the message: an outbox should keep such
// messages queued and alert the operator, rather than give up on them.
type Error struct {
	// Stage is the step that failed.
	Stage Stage
	// Permanent is true when retrying unchanged will fail again.
	Permanent bool
	// Code is the relay's reply code (e.g. 421, 550), 0 when the failure
	// was not a reply.
	Code int
	// EnhancedCode is the RFC 3463 enhanced status code, e.g. "5.1.1",
	// empty when the relay sent none.
	EnhancedCode string
	// Reply is the relay's reply text, empty when there was no reply.
	Reply string
	// Err is the underlying error.
	Err error

	action string // what failed, e.g. "send RCPT command"
}

// Error formats the failure with the relay's reply when there was one, e.g.
// "send RCPT command: relay replied 550 5.1.1 No such user (permanent)".
func (e *Error) Error() string {
	kind := "temporary"
	if e.Permanent {
		kind = "permanent"
	}
	if e.Code != 0 {
		code := strconv.Itoa(e.Code)
		if e.EnhancedCode != "" {
			code += " " + e.EnhancedCode
		}
		action := e.action
		if action == "" {
			action = string(e.Stage)
		}
		return fmt.Sprintf("%s: relay replied %s %s (%s)", action, code, e.Reply, kind)
	}
	return fmt.Sprintf("%v (%s)", e.Err, kind)
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Temporary reports whether a retry may succeed.
func (e *Error) Temporary() bool { return !e.Permanent }

// Retryable reports whether a delivery that failed with err may succeed if
// retried later. It is false only for errors that wrap a permanent *Error;
// unknown errors count as retryable so that nothing is dropped by mistake.
func Retryable(err error) bool {
	if err == nil {
		return false
	}
	var e *Error
	if errors.As(err, &e) {
		return !e.Permanent
	}
	return true
}

// classify turns err into an *Error for the given stage, wrapping it with
// the action that failed ("send RCPT command").
func classify(stage Stage, action string, err error) *Error {
	var out *Error
	if errors.As(err, &out) {
		return out
	}
	out = &Error{Stage: stage, Err: fmt.Errorf("%s: %w", action, err), action: action}

	var smtpErr *gosmtp.SMTPError
	var certErr *tls.CertificateVerificationError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalidCert x509.CertificateInvalidError
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		// Temporary: the caller gave up, the relay did not refuse.
	case errors.As(err, &smtpErr):
		out.Code = smtpErr.Code
		if c := smtpErr.EnhancedCode; c != gosmtp.EnhancedCodeNotSet && c != gosmtp.NoEnhancedCode && c[0] > 0 {
			out.EnhancedCode = fmt.Sprintf("%d.%d.%d", c[0], c[1], c[2])
		}
		out.Reply = smtpErr.Message
		out.Permanent = smtpErr.Code >= 500 && smtpErr.Code <= 599
	case errors.Is(err, ErrSTARTTLSUnavailable),
		errors.As(err, &certErr), errors.As(err, &unknownCA),
		errors.As(err, &hostErr), errors.As(err, &invalidCert):
		out.Permanent = true
	case stage == StageCompose:
		out.Permanent = true
	}
	return out
}
