package pbxusers

import (
	"github.com/trustelem/zxcvbn"

	"context"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
)

// hashPassword hashes a new password outside any transaction (bcrypt is
// slow on purpose).
func (d *Directory) hashPassword(u *User) ([]byte, error) {
	if u.Password.New == "" {
		return nil, nil
	}
	if err := CheckPasswordPolicy(u.Password.New, u.UserName); err != nil {
		return nil, Invalid("password", "%s", err.Error())
	}
	h, err := bcrypt.GenerateFromPassword([]byte(u.Password.New), d.cost)
	if err != nil {
		return nil, fmt.Errorf("hash password: %w", err)
	}
	return h, nil
}

// SetPassword checks a new password against the policy and stores its hash.
// It clears MustChange and revokes nothing else.
func (d *Directory) SetPassword(ctx context.Context, tenant, id, password string) error {
	var userName string
	if err := d.view(ctx, func(t *txn) error {
		u, err := t.tx.GetUser(t.ctx, tenant, id)
		userName = u.UserName
		return err
	}); err != nil {
		return err
	}
	if err := CheckPasswordPolicy(password, userName); err != nil {
		return Invalid("password", "%s", err.Error())
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), d.cost)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	return d.update(ctx, func(t *txn) error { return t.setPasswordHash(tenant, id, hash) })
}

func (t *txn) setPasswordHash(tenant, id string, hash []byte) error {
	old, err := t.tx.GetUser(t.ctx, tenant, id)
	if err != nil {
		return err
	}
	u := old.Clone()
	u.Password.IsSet, u.Password.SetAt, u.Password.MustChange = true, &t.now, false
	u.Version, u.Updated = old.Version+1, t.now
	if err := t.tx.UpdateUser(t.ctx, &u, old.Version); err != nil {
		return err
	}
	if err := t.tx.SetPasswordHash(t.ctx, tenant, id, hash); err != nil {
		return err
	}
	return t.record(Change{TenantID: tenant, Entity: EntityUser, EntityID: id, Action: ActionSetPassword,
		Summary: u.UserName, Fields: []FieldChange{{Field: "password", New: "[redacted]"}}, Version: u.Version})
}

// dummyHash makes a login for an unknown user take as long as a real one.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("pbxgate-timing-equaliser"), bcrypt.MinCost)

// Login checks a user's password. Unknown users, inactive users, users with
// no password and wrong passwords all fail with ErrUnauthenticated.
func (d *Directory) Login(ctx context.Context, tenant, userName, password string) (User, error) {
	var u User
	var hash []byte
	err := d.view(ctx, func(t *txn) error {
		var err error
		if u, err = t.tx.LookupUser(t.ctx, tenant, KeyUserName, userName); err != nil {
			return err
		}
		hash, err = t.tx.GetPasswordHash(t.ctx, tenant, u.ID)
		return err
	})
	if err != nil && !isNotFound(err) {
		return User{}, err
	}
	if len(hash) == 0 {
		_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(password))
		return User{}, ErrUnauthenticated
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil || !u.Active() {
		return User{}, ErrUnauthenticated
	}
	return u, nil
}

// Password policy for passwords set through the library.
const (
	// MinPasswordLength is the fewest characters a password may have.
	MinPasswordLength = 8
	// MaxPasswordBytes is the longest password in bytes (bcrypt's limit).
	MaxPasswordBytes = 72
	// MinPasswordGuesses is the fewest guesses, as zxcvbn estimates them, a
	// password must take: below it the password is a well-known one, a
	// dictionary word or name, a keyboard pattern, a sequence or the login
	// with a few changes (NIST SP 800-63B §5.1.1.2).
	MinPasswordGuesses = 1e6
)

// ErrCommonPassword is the reason a password is refused as too common or
// too easy to guess; CheckPasswordPolicy returns it as is.
var ErrCommonPassword = errorString("is too common or too easy to guess (a well-known password, a word or name, " +
	"a keyboard pattern or a sequence): a few unrelated words make a strong password")

// CheckPasswordPolicy says why a password is not acceptable, or returns nil.
// The policy follows NIST SP 800-63B: a minimum length and no composition
// rules, plus a check against the user's own login.
func CheckPasswordPolicy(password, userName string) error {
	switch {
	case utf8.RuneCountInString(password) < MinPasswordLength:
		return errorString("must be at least " + strconv.Itoa(MinPasswordLength) + " characters long")
	case len(password) > MaxPasswordBytes:
		return errorString("must be at most " + strconv.Itoa(MaxPasswordBytes) + " bytes long")
	case userName != "" && strings.EqualFold(password, userName):
		return errorString("must not be the same as the login")
	case strings.TrimSpace(password) == "":
		return errorString("must not be only spaces")
	case zxcvbn.PasswordStrength(password, []string{userName}).Guesses < MinPasswordGuesses:
		return ErrCommonPassword
	}
	return nil
}
