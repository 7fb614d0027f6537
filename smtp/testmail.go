package smtp

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// SendTest renders the test mail (Templates.Test, tenant overrides of
// tenant) and sends it to to with s at once, without the outbox. It
// returns the message as sent (with its Message-ID when s has a From()
// Address method, as Relay and Dir have) or the Sender's error,
// an *Error whose Stage, Code and Reply say what the relay objected to.
//
// "pbxgate mail test ADDRESS" has two ways to send, both offered here:
// through the outbox (the default: Directory.QueueTestMail, then WaitMail
// until the running server's Worker has sent it, or Worker.Drain when no
// server runs), which tests the whole path the welcome mail takes and
// leaves a record; or directly with SendTest (a --direct flag), which
// reports the relay's answer at once without a database.
func SendTest(ctx context.Context, s Sender, t *Templates, tenant string, to Address, d TestData) (Message, error) {
	if d.Via == "" {
		d.Via = describe(s)
	}
	content, err := t.Test(tenant, d)
	if err != nil {
		return Message{}, err
	}
	msg := content.Message(to)
	if d := senderDomain(s); d != "" {
		if msg.MessageID, err = NewMessageID(d); err != nil {
			return Message{}, err
		}
	}
	msg.Headers["Auto-Submitted"] = "auto-generated"
	msg.Headers["X-Pbxgate-Kind"] = string(pbxusers.MailTest)
	if err := msg.Validate(); err != nil {
		return Message{}, fmt.Errorf("test mail: %w", err)
	}
	if _, err := s.Send(ctx, msg); err != nil {
		return msg, err
	}
	return msg, nil
}

// WaitMail polls an outbox message every poll (0 means 200ms) until it is
// no longer pending, and returns it with its attempts. It returns ctx's
// error, with the message as last seen, when ctx ends first; a message
// still pending after a relay problem shows it in LastError.
func WaitMail(ctx context.Context, dir *pbxusers.Directory, tenant string, id int64, poll time.Duration) (pbxusers.OutboxMessage, []pbxusers.MailAttempt, error) {
	if poll <= 0 {
		poll = 200 * time.Millisecond
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	var m pbxusers.OutboxMessage
	var attempts []pbxusers.MailAttempt
	for {
		cur, curAttempts, err := dir.GetMail(ctx, tenant, id)
		switch {
		case ctx.Err() != nil:
		case err == nil:
			m, attempts = cur, curAttempts
			if m.Status != pbxusers.MailPending {
				return m, attempts, nil
			}
		case !errors.Is(err, pbxusers.ErrUnavailable):
			return m, attempts, fmt.Errorf("wait for mail %d: %w", id, err)
		}
		select {
		case <-ctx.Done():
			return m, attempts, fmt.Errorf("wait for mail %d: %w", id, ctx.Err())
		case <-t.C:
		}
	}
}
