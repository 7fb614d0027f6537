// Package pbxusers is the embeddable library at the heart of pbxgate: the
// tenants, users, devices, permission profiles, teams, numbers and routing
// policies of a hosted phone system, and the answer to "where does a call to
// this user ring right now, and why?".
//
// Every identity source — an admin, SCIM (Okta, Entra ID), an LDAP/AD sync,
// a CSV import — reads and writes through a [Directory], which validates
// input, enforces which source owns a user, records every change in an
// append-only change log in the same transaction, and tells subscribers
// about committed changes only. Storage sits behind the small [Store]
// interface; package [github.com/pbxgate/pbxgate/pbxusers/sqlite] is the
// default implementation and needs nothing but a file path:
//
//	store, err := sqlite.Open(ctx, "pbx.db")
//	if err != nil { ... }
//	defer store.Close()
//	dir := pbxusers.New(store, pbxusers.Options{})
//
//	t, err := dir.CreateTenant(ctx, pbxusers.Tenant{ID: "acme", Name: "Acme Inc."})
//	u, err := dir.CreateUser(ctx, t.ID, pbxusers.User{
//		UserName:  "ada@acme.example",
//		Name:      pbxusers.Name{Given: "Ada", Family: "Lovelace"},
//		Emails:    []pbxusers.Email{{Value: "ada@acme.example", Type: "work", Primary: true}},
//		Extension: "201",
//	})
//	plan, err := dir.Route(ctx, t.ID, u.ID, pbxusers.Call{From: "+4930123456", At: time.Now()}, "")
//
// The tenant is a parameter of every call: nothing in the API reads or
// changes another tenant's data, and an id from another tenant is simply
// [ErrNotFound].
//
// Errors are typed: [ErrNotFound], [ErrConflict] (a *[ConflictError] naming
// the field, including [ErrVersionMismatch] for a stale version), and
// [ErrInvalid] (a *[ValidationError] listing every bad field with the reason).
package pbxusers
