package pbxusers

// userCreated runs in the transaction that created u: a welcome mail that is
// due is queued in the outbox here, so it commits (or rolls back) with the
// user.
func (t *txn) userCreated(tn Tenant, u *User) error {
	if !welcomeDue(tn, u) {
		return nil
	}
	_, err := t.enqueueMail(tn.ID, u.ID, MailWelcome, u.PrimaryEmail())
	return err
}

// userUpdated runs in the transaction that changed old into u: set-password
// links stop working when the user is deactivated or its address changes.
func (t *txn) userUpdated(old, u *User) error {
	if (old.Active() && !u.Active()) || old.PrimaryEmail() != u.PrimaryEmail() {
		if _, err := t.tx.RevokeSetupTokens(t.ctx, u.TenantID, u.ID, t.now); err != nil {
			return err
		}
	}
	return nil
}
