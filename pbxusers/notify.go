package pbxusers

// userCreated runs in the transaction that created u, after the change log
// entry. It is where follow-up work that must commit with the user is queued.
func (t *txn) userCreated(tn Tenant, u *User) error {
	_ = tn
	_ = u
	return nil
}
