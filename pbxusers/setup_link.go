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

// SetupPurpose is what a set-password link is for.
type SetupPurpose string

// The set-password link purposes.
const (
	SetupWelcome SetupPurpose = "welcome"
	SetupReset   SetupPurpose = "reset"
	// SetupSignIn is a one-time console sign-in link (IssueSignInLink); it
	// sets no password.
	SetupSignIn SetupPurpose = "sign_in"
)

// DefaultSignInTTL is how long a one-time sign-in link works.
const DefaultSignInTTL = 10 * time.Minute

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

// IssueSetupLink makes a set-password token for a user, revoking every
// earlier one, and returns the token (to put in a link; never stored) and
// its record. ttl 0 means DefaultSetupTTL.
func (d *Directory) IssueSetupLink(ctx context.Context, tenant, userID string, purpose SetupPurpose, ttl time.Duration) (string, SetupToken, error) {
	return d.issueSetupLink(ctx, tenant, userID, purpose, ttl, strings.ToLower(randomSecret(16)), "")
}

// IssueSignInLink makes a one-time sign-in token for a user (an operator's
// way into the admin console without a password). It leaves the user's
// set-password links alone. ttl 0 means DefaultSignInTTL.
func (d *Directory) IssueSignInLink(ctx context.Context, tenant, userID string, ttl time.Duration) (string, SetupToken, error) {
	if ttl <= 0 {
		ttl = DefaultSignInTTL
	}
	return d.issueSetupLinkOpt(ctx, tenant, userID, SetupSignIn, ttl, strings.ToLower(randomSecret(16)), "", false)
}

// UseSignInLink checks a sign-in token and uses it up, in one transaction,
// so it works once. It fails with ErrSetupLink for any other token, and for
// a user who is inactive.
func (d *Directory) UseSignInLink(ctx context.Context, token string) (User, error) {
	var u User
	err := d.update(ctx, func(t *txn) error {
		st, err := t.setupToken(token)
		if err != nil {
			return err
		}
		if st.Purpose != SetupSignIn {
			return ErrSetupLink
		}
		if u, err = t.tx.GetUser(t.ctx, st.TenantID, st.UserID); isNotFound(err) || (err == nil && !u.Active()) {
			return ErrSetupLink
		} else if err != nil {
			return err
		}
		st.Used = &t.now
		return t.tx.UpdateSetupToken(t.ctx, &st)
	})
	return u, err
}

// IssueMailLink makes the set-password token that the queued mail m
// carries. The first link made for m revokes the user's earlier links, as
// IssueSetupLink does. A link made again for the same message, because its
// send is repeated (the worker died after the relay took the mail, or a
// retry), leaves the earlier links of that message working: every copy that
// reaches the user carries a link that works, until one of them is used
// (CompleteSetup then revokes the rest).
func (d *Directory) IssueMailLink(ctx context.Context, m OutboxMessage, purpose SetupPurpose, ttl time.Duration) (string, SetupToken, error) {
	first := fmt.Sprintf("m%d", m.ID)
	return d.issueSetupLink(ctx, m.TenantID, m.UserID, purpose, ttl, first+"r"+strings.ToLower(randomSecret(8)), first)
}

// issueSetupLink stores a new token with the id, or with firstID when that
// is set and unused so far, in which case the user's earlier tokens are
// revoked; with firstID "" they always are.
func (d *Directory) issueSetupLink(ctx context.Context, tenant, userID string, purpose SetupPurpose, ttl time.Duration, id, firstID string) (string, SetupToken, error) {
	return d.issueSetupLinkOpt(ctx, tenant, userID, purpose, ttl, id, firstID, true)
}

// issueSetupLinkOpt is issueSetupLink; with revokeOthers false it never
// revokes the user's other tokens.
func (d *Directory) issueSetupLinkOpt(ctx context.Context, tenant, userID string, purpose SetupPurpose, ttl time.Duration, id, firstID string, revokeOthers bool) (string, SetupToken, error) {
	if ttl <= 0 {
		ttl = DefaultSetupTTL
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return "", SetupToken{}, fmt.Errorf("read random: %w", err)
	}
	enc := base64.RawURLEncoding.EncodeToString(secret)
	sum := sha256.Sum256([]byte(enc))
	st := SetupToken{TenantID: tenant, UserID: userID, Purpose: purpose, Hash: sum[:]}
	err := d.store.Update(ctx, func(tx Tx) error {
		now := d.now().UTC().Truncate(time.Microsecond)
		if _, err := tx.GetUser(ctx, tenant, userID); err != nil {
			return err
		}
		st.ID = id
		revoke := firstID == ""
		if firstID != "" {
			_, err := tx.GetSetupToken(ctx, firstID)
			switch {
			case isNotFound(err):
				st.ID, revoke = firstID, true
			case err != nil:
				return err
			}
		}
		if revoke && revokeOthers {
			if _, err := tx.RevokeSetupTokens(ctx, tenant, userID, now); err != nil {
				return err
			}
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
		if st.Purpose == SetupSignIn { // signs in; never sets a password
			return ErrSetupLink
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
		// Other links (a repeated mail's copies, an older mail) die with
		// the use of this one.
		if _, err := t.tx.RevokeSetupTokens(t.ctx, cur.TenantID, cur.UserID, t.now); err != nil {
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
