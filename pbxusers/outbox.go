package pbxusers

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// MailKind is what a queued mail is for.
type MailKind string

// The kinds of mail.
const (
	// MailWelcome greets a new invite-type user with a set-password link.
	MailWelcome MailKind = "welcome"
	// MailPasswordReset carries a link to set a new password.
	MailPasswordReset MailKind = "password_reset"
	// MailTest checks the relay (pbxgate mail test ADDRESS).
	MailTest MailKind = "test"
)

// MailStatus is where a queued mail is in its life.
type MailStatus string

// The mail statuses.
const (
	MailPending MailStatus = "pending"
	MailSent    MailStatus = "sent"
	// MailFailed is a permanent failure (the relay answered 5xx), or a
	// message that used up its attempts. It is retried only by hand.
	MailFailed MailStatus = "failed"
	// MailCancelled is a message whose reason went away before it was sent
	// (the user was deleted or deactivated).
	MailCancelled MailStatus = "cancelled"
)

// OutboxMessage is a mail in the durable outbox. It is queued in the same
// transaction as the change that caused it, so a committed change always has
// its mail and a rolled-back one never does. The message holds no secret:
// the set-password link is made when the mail is sent.
type OutboxMessage struct {
	ID       int64    `json:"id"`
	TenantID string   `json:"tenantId"`
	UserID   string   `json:"userId,omitempty"`
	Kind     MailKind `json:"kind"`
	// To is the recipient address when the message was queued (for a test
	// mail, the only address).
	To     string     `json:"to"`
	Status MailStatus `json:"status"`
	// Attempts counts delivery attempts so far.
	Attempts int `json:"attempts"`
	// NextAttempt is when the worker may try next.
	NextAttempt time.Time `json:"nextAttempt"`
	// LastError is the last failure: the relay's reply or the local error.
	LastError string     `json:"lastError,omitempty"`
	Created   time.Time  `json:"created"`
	Updated   time.Time  `json:"updated"`
	SentAt    *time.Time `json:"sentAt,omitempty"`
	// ClaimedBy and ClaimedUntil are the worker lease while it is sending.
	ClaimedBy    string    `json:"claimedBy,omitempty"`
	ClaimedUntil time.Time `json:"claimedUntil,omitzero"`
}

// MailAttempt records one delivery attempt.
type MailAttempt struct {
	MessageID int64     `json:"messageId"`
	At        time.Time `json:"at"`
	// OK is true when the relay accepted the message.
	OK bool `json:"ok"`
	// Temporary says a failure may succeed later (4xx, refused, timeout).
	Temporary bool `json:"temporary,omitempty"`
	// Code is the SMTP reply code, when the relay answered.
	Code  int    `json:"code,omitempty"`
	Error string `json:"error,omitempty"`
}

// MailQuery selects outbox messages, newest first.
type MailQuery struct {
	// Status narrows to one status; "" is all.
	Status MailStatus
	// UserID narrows to one user's mail.
	UserID string
	Limit  int
}

// welcomeDue reports whether a newly created user gets a welcome mail: a
// person with an invite-type password, no password yet, an email address,
// active, in a tenant that has welcome mail on.
func welcomeDue(tn Tenant, u *User) bool {
	return u.Kind == KindPerson && u.Password.Mode == PasswordInvite && !u.Password.IsSet &&
		u.PrimaryEmail() != "" && u.Active() && !tn.DisableWelcomeMail
}

func (t *txn) enqueueMail(tenant, userID string, kind MailKind, to string) (OutboxMessage, error) {
	m := OutboxMessage{TenantID: tenant, UserID: userID, Kind: kind, To: to, Status: MailPending,
		NextAttempt: t.now, Created: t.now, Updated: t.now}
	if err := t.tx.EnqueueMail(t.ctx, &m); err != nil {
		return m, fmt.Errorf("queue %s mail: %w", kind, err)
	}
	t.mailQueued++
	return m, nil
}

// SendWelcome queues a welcome mail for a user again (an admin's "resend
// welcome"); the link it carries revokes every earlier one.
func (d *Directory) SendWelcome(ctx context.Context, tenant, userID string) (OutboxMessage, error) {
	return d.queueUserMail(ctx, tenant, userID, MailWelcome, false)
}

// ForcePasswordReset marks the user to change the password at the next login
// and queues a password-reset mail with a fresh link.
func (d *Directory) ForcePasswordReset(ctx context.Context, tenant, userID string) (OutboxMessage, error) {
	return d.queueUserMail(ctx, tenant, userID, MailPasswordReset, true)
}

func (d *Directory) queueUserMail(ctx context.Context, tenant, userID string, kind MailKind, mustChange bool) (OutboxMessage, error) {
	var m OutboxMessage
	err := d.update(ctx, func(t *txn) error {
		u, err := t.tx.GetUser(t.ctx, tenant, userID)
		if err != nil {
			return err
		}
		switch {
		case u.Kind.System():
			return Invalid("kind", "system users (%s) get no mail", u.Kind)
		case u.PrimaryEmail() == "":
			return Invalid("emails", "user %q has no email address", u.UserName)
		case !u.Active():
			return Invalid("status", "user %q is inactive", u.UserName)
		}
		if mustChange && !u.Password.MustChange {
			next := u.Clone()
			next.Password.MustChange = true
			next.Version, next.Updated = u.Version+1, t.now
			if err := t.tx.UpdateUser(t.ctx, &next, u.Version); err != nil {
				return err
			}
			if err := t.record(Change{TenantID: tenant, Entity: EntityUser, EntityID: u.ID, Action: ActionUpdate,
				Summary: u.UserName, Fields: Diff(u, next), Version: next.Version}); err != nil {
				return err
			}
		}
		m, err = t.enqueueMail(tenant, u.ID, kind, u.PrimaryEmail())
		return err
	})
	return m, err
}

// QueueTestMail queues a test mail to an address, to check the relay.
func (d *Directory) QueueTestMail(ctx context.Context, tenant, address string) (OutboxMessage, error) {
	var p Problems
	checkText(&p, "address", address, 320)
	if !strings.Contains(address, "@") {
		p.Add("address", "%q is not an email address", address)
	}
	if err := p.Err(); err != nil {
		return OutboxMessage{}, err
	}
	var m OutboxMessage
	err := d.update(ctx, func(t *txn) error {
		if _, err := t.tenant(tenant); err != nil {
			return err
		}
		var err error
		m, err = t.enqueueMail(tenant, "", MailTest, address)
		return err
	})
	return m, err
}

// ClaimMail leases up to limit pending messages that are due to the worker
// named owner until now+lease. Messages claimed by a worker that died are
// claimed again once its lease ends; messages owner itself claimed and left
// unfinished are claimed again at once. Owner names must be unique per
// worker.
func (d *Directory) ClaimMail(ctx context.Context, owner string, lease time.Duration, limit int) ([]OutboxMessage, error) {
	var out []OutboxMessage
	err := d.store.Update(ctx, func(tx Tx) error {
		now := d.now().UTC().Truncate(time.Microsecond)
		var err error
		out, err = tx.ClaimMail(ctx, owner, now, now.Add(lease), limit)
		return err
	})
	return out, err
}

// FinishMail records a delivery attempt of a claimed message and sets its
// outcome: m.Status (sent, pending for a retry at m.NextAttempt, failed) and
// m.LastError come from the caller.
func (d *Directory) FinishMail(ctx context.Context, m OutboxMessage, a MailAttempt) error {
	return d.store.Update(ctx, func(tx Tx) error {
		now := d.now().UTC().Truncate(time.Microsecond)
		m.Updated, a.At, a.MessageID = now, now, m.ID
		if m.Status == MailSent {
			m.SentAt = &now
		}
		return tx.FinishMail(ctx, &m, a)
	})
}

// ReleaseMail gives back the messages the worker named owner claimed and
// did not finish, so another worker, or the next start, sends them at once
// instead of after the lease. A worker calls it when it stops.
func (d *Directory) ReleaseMail(ctx context.Context, owner string) (int, error) {
	var n int
	err := d.store.Update(ctx, func(tx Tx) error {
		var err error
		n, err = tx.ReleaseMail(ctx, owner)
		return err
	})
	return n, err
}

// GetMail returns one outbox message of the tenant.
func (d *Directory) GetMail(ctx context.Context, tenant string, id int64) (OutboxMessage, []MailAttempt, error) {
	var m OutboxMessage
	var attempts []MailAttempt
	err := d.view(ctx, func(t *txn) error {
		var err error
		if m, err = t.tx.GetMail(t.ctx, tenant, id); err != nil {
			return err
		}
		attempts, err = t.tx.ListMailAttempts(t.ctx, id)
		return err
	})
	return m, attempts, err
}

// ListMail lists a tenant's outbox, newest first.
func (d *Directory) ListMail(ctx context.Context, tenant string, q MailQuery) ([]OutboxMessage, error) {
	if q.Limit <= 0 || q.Limit > MaxPageSize {
		q.Limit = DefaultPageSize
	}
	var out []OutboxMessage
	err := d.view(ctx, func(t *txn) error {
		if _, err := t.tenant(tenant); err != nil {
			return err
		}
		var err error
		out, err = t.tx.ListMail(t.ctx, tenant, q)
		return err
	})
	return out, err
}

// RetryMail puts a failed or pending message back in the queue, due now.
func (d *Directory) RetryMail(ctx context.Context, tenant string, id int64) error {
	return d.store.Update(ctx, func(tx Tx) error {
		m, err := tx.GetMail(ctx, tenant, id)
		if err != nil {
			return err
		}
		if m.Status == MailSent {
			return Invalid("status", "message %d was already sent", id)
		}
		now := d.now().UTC().Truncate(time.Microsecond)
		m.Status, m.NextAttempt, m.Updated, m.ClaimedBy, m.ClaimedUntil = MailPending, now, now, "", time.Time{}
		return tx.FinishMail(ctx, &m, MailAttempt{MessageID: id, At: now, Error: "retry requested by an admin", Temporary: true})
	})
}

// MailCounts returns how many messages of every tenant are in each status
// (for metrics: outbox depth and failures).
func (d *Directory) MailCounts(ctx context.Context) (map[MailStatus]int, error) {
	var out map[MailStatus]int
	err := d.store.View(ctx, func(tx Tx) error {
		var err error
		out, err = tx.CountMail(ctx)
		return err
	})
	return out, err
}

// userCreated runs in the transaction that created u: a welcome mail that is
// due is queued in the outbox here, so it commits (or rolls back) with the
// user.
func (t *txn) userCreated(tn Tenant, u *User) error {
	if t.noWelcome || !welcomeDue(tn, u) {
		return nil
	}
	_, err := t.enqueueMail(tn.ID, u.ID, MailWelcome, u.PrimaryEmail())
	return err
}

// userUpdated runs in the transaction that changed old into u: set-password
// links stop working when the user is deactivated or its address changes,
// and a user who could not get a welcome mail before (inactive, or without
// an address) and now can gets one, unless one was queued for them before
// or the tenant turned that off.
func (t *txn) userUpdated(tn Tenant, old, u *User) error {
	if (old.Active() && !u.Active()) || old.PrimaryEmail() != u.PrimaryEmail() {
		if _, err := t.tx.RevokeSetupTokens(t.ctx, u.TenantID, u.ID, t.now); err != nil {
			return err
		}
	}
	if t.noWelcome || tn.DisableWelcomeOnActivation || welcomeDue(tn, old) || !welcomeDue(tn, u) {
		return nil
	}
	mail, err := t.tx.ListMail(t.ctx, tn.ID, MailQuery{UserID: u.ID, Limit: MaxPageSize})
	if err != nil {
		return err
	}
	for _, m := range mail {
		if m.Kind == MailWelcome && (m.Status == MailSent || m.Status == MailPending) {
			return nil
		}
	}
	_, err = t.enqueueMail(tn.ID, u.ID, MailWelcome, u.PrimaryEmail())
	return err
}
