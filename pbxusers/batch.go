package pbxusers

import "context"

// Batch runs fn with a Batch whose writes all commit in one transaction, or
// none do: for imports and syncs that apply many changes together. Changes
// are published to subscribers after the commit.
func (d *Directory) Batch(ctx context.Context, tenant string, fn func(b *Batch) error) error {
	return d.update(ctx, func(t *txn) error {
		if _, err := t.tenant(tenant); err != nil {
			return err
		}
		return fn(&Batch{t: t, tenant: tenant})
	})
}

// Batch is a set of writes to one tenant inside one transaction. Its methods
// behave like the Directory methods of the same name. A Batch is valid only
// inside the function given to Directory.Batch.
type Batch struct {
	t      *txn
	tenant string
}

// CreateUser creates a user in the batch. A password in u.Password.New is
// hashed inside the transaction (slow: prefer invite-type users in bulk).
func (b *Batch) CreateUser(u User) (User, error) {
	hash, err := b.t.d.hashPassword(&u)
	if err != nil {
		return User{}, err
	}
	return b.t.createUser(b.tenant, u, hash)
}

// GetUser returns a user as the batch sees it.
func (b *Batch) GetUser(id string) (User, error) { return b.t.tx.GetUser(b.t.ctx, b.tenant, id) }

// LookupUser finds a user by a unique key as the batch sees it.
func (b *Batch) LookupUser(key UserKey, value string) (User, error) {
	return b.t.tx.LookupUser(b.t.ctx, b.tenant, key, value)
}

// ListUsers lists users as the batch sees them.
func (b *Batch) ListUsers(q UserQuery) (UserPage, error) {
	if err := ValidateUserFilter(q.Filter); err != nil {
		return UserPage{}, err
	}
	return b.t.tx.ListUsers(b.t.ctx, b.tenant, clampQuery(q))
}

// ModifyUser changes a user in the batch.
func (b *Batch) ModifyUser(id string, fn func(*User) error) (User, error) {
	old, err := b.t.tx.GetUser(b.t.ctx, b.tenant, id)
	if err != nil {
		return User{}, err
	}
	u := old.Clone()
	if err := fn(&u); err != nil {
		return User{}, err
	}
	u.ID = old.ID
	hash, err := b.t.d.hashPassword(&u)
	if err != nil {
		return User{}, err
	}
	return b.t.updateUser(old, u, hash)
}

// DeleteUser deletes a user in the batch, as Directory.DeleteUser does.
func (b *Batch) DeleteUser(id string, opts ...DeleteOption) error {
	return b.t.deleteUser(b.tenant, id, nil, deleteOpts(opts))
}

// LookupTeam finds a team as the batch sees it.
func (b *Batch) LookupTeam(key TeamKey, value string) (Team, error) {
	return b.t.tx.LookupTeam(b.t.ctx, b.tenant, key, value)
}

// LookupProfile finds a profile by name as the batch sees it.
func (b *Batch) LookupProfile(name string) (Profile, error) {
	return b.t.tx.LookupProfile(b.t.ctx, b.tenant, name)
}
