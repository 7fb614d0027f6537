package pbxusers

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
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

// SetupPurpose is what a set-password link is for.
type SetupPurpose string

// The set-password link purposes.
const (
	SetupWelcome SetupPurpose = "welcome"
	SetupReset   SetupPurpose = "reset"
)

// SetupToken is a set-password link's record: only a SHA-256 hash of its
// secret is stored; it is single use and expires.
type SetupToken struct {
	ID       string       `json:"id"`
	TenantID string       `json:"tenantId"`
	UserID   string       `json:"userId"`
	Purpose  SetupPurpose `json:"purpose"`
	Hash     []byte       `json:"-"`
	Created  time.Time    `json:"created"`
	Expires  time.Time    `json:"expires"`
	Used     *time.Time   `json:"used,omitempty"`
	Revoked  *time.Time   `json:"revoked,omitempty"`
	// Failures counts rejected attempts to set a password with the link;
	// the link is revoked after MaxSetupFailures.
	Failures int `json:"failures"`
}

// Defaults for set-password links.
const (
	// DefaultSetupTTL is how long a set-password link works.
	DefaultSetupTTL = 24 * time.Hour
	// MaxSetupFailures is how many rejected attempts revoke a link.
	MaxSetupFailures = 5
	// SetupTokenPrefix starts every set-password token.
	SetupTokenPrefix = "pbxs_"
)

// ErrSetupLink is returned for a set-password link that is unknown, used,
// expired or revoked. It does not say which.
var ErrSetupLink = fmt.Errorf("set-password link is invalid or has expired: %w", ErrUnauthenticated)

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

// IssueSetupLink makes a set-password token for a user, revoking every
// earlier one, and returns the token (to put in a link; never stored) and
// its record. ttl 0 means DefaultSetupTTL.
func (d *Directory) IssueSetupLink(ctx context.Context, tenant, userID string, purpose SetupPurpose, ttl time.Duration) (string, SetupToken, error) {
	if ttl <= 0 {
		ttl = DefaultSetupTTL
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return "", SetupToken{}, fmt.Errorf("read random: %w", err)
	}
	enc := base64.RawURLEncoding.EncodeToString(secret)
	sum := sha256.Sum256([]byte(enc))
	st := SetupToken{ID: strings.ToLower(randomSecret(16)), TenantID: tenant, UserID: userID, Purpose: purpose, Hash: sum[:]}
	err := d.store.Update(ctx, func(tx Tx) error {
		now := d.now().UTC().Truncate(time.Microsecond)
		if _, err := tx.GetUser(ctx, tenant, userID); err != nil {
			return err
		}
		if _, err := tx.RevokeSetupTokens(ctx, tenant, userID, now); err != nil {
			return err
		}
		st.Created, st.Expires = now, now.Add(ttl)
		return tx.CreateSetupToken(ctx, &st)
	})
	if err != nil {
		return "", SetupToken{}, err
	}
	return SetupTokenPrefix + st.ID + "." + enc, st, nil
}

// CheckSetupLink returns the user a set-password token belongs to, without
// using it up (a link scanner's GET must not consume the link). Unknown,
// used, revoked and expired tokens fail with ErrSetupLink.
func (d *Directory) CheckSetupLink(ctx context.Context, token string) (SetupToken, User, error) {
	var st SetupToken
	var u User
	err := d.view(ctx, func(t *txn) error {
		var err error
		if st, err = t.setupToken(token); err != nil {
			return err
		}
		u, err = t.tx.GetUser(t.ctx, st.TenantID, st.UserID)
		if isNotFound(err) {
			return ErrSetupLink
		}
		return err
	})
	return st, u, err
}

// setupToken finds and checks a token in any tenant.
func (t *txn) setupToken(token string) (SetupToken, error) {
	rest, ok := strings.CutPrefix(token, SetupTokenPrefix)
	if !ok {
		return SetupToken{}, ErrSetupLink
	}
	id, secret, ok := strings.Cut(rest, ".")
	if !ok || id == "" || len(id) > 64 || secret == "" {
		return SetupToken{}, ErrSetupLink
	}
	st, err := t.tx.GetSetupToken(t.ctx, id)
	sum := sha256.Sum256([]byte(secret))
	if isNotFound(err) {
		return SetupToken{}, ErrSetupLink
	}
	if err != nil {
		return SetupToken{}, err
	}
	if !equalSecret(sum[:], st.Hash) || st.Used != nil || st.Revoked != nil || !t.d.now().Before(st.Expires) {
		return SetupToken{}, ErrSetupLink
	}
	return st, nil
}

// CompleteSetup sets a user's password through a set-password token: the
// token must be valid, the password must pass the policy. The password and
// the token's use are stored in one transaction, so a link works once. A
// password the policy rejects counts as a failure; MaxSetupFailures revoke
// the link. The returned error for a bad password is a *ValidationError
// naming "password".
func (d *Directory) CompleteSetup(ctx context.Context, token, password string) (User, error) {
	st, u, err := d.CheckSetupLink(ctx, token)
	if err != nil {
		return User{}, err
	}
	if perr := CheckPasswordPolicy(password, u.UserName); perr != nil {
		_ = d.store.Update(ctx, func(tx Tx) error {
			cur, err := tx.GetSetupToken(ctx, st.ID)
			if err != nil {
				return err
			}
			cur.Failures++
			if cur.Failures >= MaxSetupFailures && cur.Revoked == nil {
				now := d.now().UTC().Truncate(time.Microsecond)
				cur.Revoked = &now
			}
			return tx.UpdateSetupToken(ctx, &cur)
		})
		return User{}, Invalid("password", "%s", perr.Error())
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), d.cost)
	if err != nil {
		return User{}, fmt.Errorf("hash password: %w", err)
	}
	var out User
	err = d.update(WithActor(ctx, Actor{Source: SourceManual, Name: "set-password link"}), func(t *txn) error {
		cur, err := t.setupToken(token) // again, inside the write: single use under races
		if err != nil {
			return err
		}
		cur.Used = &t.now
		if err := t.tx.UpdateSetupToken(t.ctx, &cur); err != nil {
			return err
		}
		if err := t.setPasswordHash(cur.TenantID, cur.UserID, hash); err != nil {
			return err
		}
		out, err = t.tx.GetUser(t.ctx, cur.TenantID, cur.UserID)
		return err
	})
	return out, err
}
