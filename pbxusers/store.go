package pbxusers

import (
	"context"
	"time"
)

// Store is where a Directory keeps its data. Package
// github.com/pbxgate/pbxgate/pbxusers/sqlite is the default implementation;
// package storetest holds the conformance suite every implementation must
// pass.
//
// The contract every implementation keeps:
//
//   - Update runs fn in one read-write transaction: either everything fn
//     wrote is committed or nothing is. If fn returns an error, nothing it
//     wrote is kept and Update returns that error unchanged. fn runs exactly
//     once per call (never retried); it must not keep the Tx after it
//     returns. Implementations may commit several concurrent Update calls
//     together (group commit), as long as each call's writes are kept or
//     dropped as a unit and Update returns only after its own writes are
//     durable.
//   - View runs fn in a read-only transaction that sees one consistent
//     snapshot.
//   - Every read and write names the tenant; an object of another tenant is
//     ErrNotFound, whatever its id.
//   - Times are stored with at least microsecond precision and returned in
//     UTC.
//   - A write that breaks a uniqueness rule returns a *ConflictError naming
//     the field; a conditional update with a stale version returns an error
//     wrapping ErrVersionMismatch; a missing object returns an error
//     wrapping ErrNotFound. Driver errors never reach callers unwrapped.
//   - Deleting a user deletes its devices, team, profile and queue
//     memberships, unassigns its numbers and clears it as manager, all in
//     the same transaction.
//   - Change.Seq values are assigned in commit order and only grow.
type Store interface {
	Update(ctx context.Context, fn func(Tx) error) error
	View(ctx context.Context, fn func(Tx) error) error
	// Ping checks that the database is reachable and migrated.
	Ping(ctx context.Context) error
	Close() error
}

// Tx is a transaction of a Store. Methods that take a pointer fill in what
// the store assigns (Change.Seq) and otherwise store the object as given:
// ids, versions and timestamps are the caller's (the Directory's) job.
type Tx interface {
	CreateTenant(ctx context.Context, t *Tenant) error
	GetTenant(ctx context.Context, id string) (Tenant, error)
	// UpdateTenant replaces the tenant if its stored version is expect.
	UpdateTenant(ctx context.Context, t *Tenant, expect int64) error
	ListTenants(ctx context.Context) ([]Tenant, error)

	CreateUser(ctx context.Context, u *User) error
	GetUser(ctx context.Context, tenant, id string) (User, error)
	// LookupUser finds a user by a unique key, case-insensitively where the
	// key is (userName, email).
	LookupUser(ctx context.Context, tenant string, key UserKey, value string) (User, error)
	// UpdateUser replaces the user if its stored version is expect.
	// Memberships (Teams, Profiles, Queues) are replaced as given.
	UpdateUser(ctx context.Context, u *User, expect int64) error
	DeleteUser(ctx context.Context, tenant, id string) error
	ListUsers(ctx context.Context, tenant string, q UserQuery) (UserPage, error)
	// ListOwned returns summaries of the users a source owns (narrowed to
	// one directory when directory is set), ordered by external id, after
	// the external id after, at most limit.
	ListOwned(ctx context.Context, tenant string, source Source, directory, after string, limit int) ([]OwnedUser, error)
	// RoutingReferences returns the ids of users whose routing policy
	// forwards to or rings the user id.
	RoutingReferences(ctx context.Context, tenant, id string) ([]string, error)
	// AwaitingManager returns the ids of the tenant's users whose
	// ManagerRef is ref, in id order.
	AwaitingManager(ctx context.Context, tenant, ref string) ([]string, error)
	// Referrers returns every reference to the object of kind entity
	// (EntityUser, EntityProfile, EntityTimeFrame or EntityNumber, whose id
	// is the E.164 number) with the id, ordered by entity, field and id; see
	// Reference for what refers to what.
	Referrers(ctx context.Context, tenant string, entity Entity, id string) ([]Reference, error)
	// NextFreeExtension returns the lowest extension in r that no user of
	// the tenant holds, or "" when the range is full.
	NextFreeExtension(ctx context.Context, tenant string, r Range) (string, error)
	SetPasswordHash(ctx context.Context, tenant, userID string, hash []byte) error
	GetPasswordHash(ctx context.Context, tenant, userID string) ([]byte, error)

	CreateProfile(ctx context.Context, p *Profile) error
	GetProfile(ctx context.Context, tenant, id string) (Profile, error)
	// LookupProfile finds a profile by name, case-insensitively.
	LookupProfile(ctx context.Context, tenant, name string) (Profile, error)
	UpdateProfile(ctx context.Context, p *Profile, expect int64) error
	// DeleteProfile deletes a profile; ErrInUse while users or teams use it.
	DeleteProfile(ctx context.Context, tenant, id string) error
	ListProfiles(ctx context.Context, tenant string) ([]Profile, error)

	CreateTeam(ctx context.Context, t *Team) error
	GetTeam(ctx context.Context, tenant, id string) (Team, error)
	// LookupTeam finds a team by name (case-insensitively) or external id.
	LookupTeam(ctx context.Context, tenant string, key TeamKey, value string) (Team, error)
	UpdateTeam(ctx context.Context, t *Team, expect int64) error
	DeleteTeam(ctx context.Context, tenant, id string) error
	ListTeams(ctx context.Context, tenant string, q TeamQuery) (TeamPage, error)
	// AddTeamMembers adds users to a team and returns those that were not
	// members yet. Unknown user ids are ErrNotFound.
	AddTeamMembers(ctx context.Context, tenant, team string, users []string) ([]string, error)
	// RemoveTeamMembers removes users and returns those that were members.
	RemoveTeamMembers(ctx context.Context, tenant, team string, users []string) ([]string, error)
	// ListTeamMembers returns member user ids in a stable order and the total.
	ListTeamMembers(ctx context.Context, tenant, team string, offset, limit int) ([]string, int, error)

	CreateDevice(ctx context.Context, d *Device) error
	GetDevice(ctx context.Context, tenant, id string) (Device, error)
	UpdateDevice(ctx context.Context, d *Device, expect int64) error
	DeleteDevice(ctx context.Context, tenant, id string) error
	// ListDevices lists a user's devices, or every device when userID is "".
	ListDevices(ctx context.Context, tenant, userID string) ([]Device, error)

	// PutNumber stores n: as a new number when expect is 0 (a *ConflictError
	// when the tenant has it already), else over the stored one if its
	// version is expect (ErrVersionMismatch otherwise, ErrNotFound when it
	// is gone).
	PutNumber(ctx context.Context, n *Number, expect int64) error
	GetNumber(ctx context.Context, tenant, e164 string) (Number, error)
	DeleteNumber(ctx context.Context, tenant, e164 string) error
	// ListNumbers lists the tenant's numbers, or a user's when userID is set.
	ListNumbers(ctx context.Context, tenant, userID string) ([]Number, error)

	CreateTimeFrame(ctx context.Context, tf *StoredTimeFrame) error
	GetTimeFrame(ctx context.Context, tenant, id string) (StoredTimeFrame, error)
	UpdateTimeFrame(ctx context.Context, tf *StoredTimeFrame, expect int64) error
	// DeleteTimeFrame deletes a time frame; ErrInUse while a routing policy
	// refers to it.
	DeleteTimeFrame(ctx context.Context, tenant, id string) error
	ListTimeFrames(ctx context.Context, tenant string) ([]StoredTimeFrame, error)

	// AppendChange adds an entry to the change log and sets c.Seq.
	AppendChange(ctx context.Context, c *Change) error
	ListChanges(ctx context.Context, tenant string, q ChangeQuery) ([]Change, error)

	// EnqueueMail adds a message to the outbox and sets m.ID.
	EnqueueMail(ctx context.Context, m *OutboxMessage) error
	// ClaimMail leases up to limit pending messages due at now (and not
	// leased by another worker past now) to owner until until, oldest due
	// first. A message is leased to one worker at a time; messages owner
	// leased before and left unfinished (a batch it abandoned) are leased
	// to it again.
	ClaimMail(ctx context.Context, owner string, now, until time.Time, limit int) ([]OutboxMessage, error)
	// FinishMail stores m's status, attempts, next attempt and last error,
	// clears its lease and records the attempt. When m.ClaimedBy is set the
	// message must still be leased to that worker, else nothing is written
	// and a *ConflictError is returned (a worker whose lease ended must not
	// overwrite the outcome of the worker that claimed it next).
	FinishMail(ctx context.Context, m *OutboxMessage, a MailAttempt) error
	// ReleaseMail clears the leases owner holds on pending messages, so
	// any worker may claim them at once, and returns how many it released.
	// No attempt is recorded.
	ReleaseMail(ctx context.Context, owner string) (int, error)
	GetMail(ctx context.Context, tenant string, id int64) (OutboxMessage, error)
	ListMail(ctx context.Context, tenant string, q MailQuery) ([]OutboxMessage, error)
	ListMailAttempts(ctx context.Context, id int64) ([]MailAttempt, error)
	// CountMail counts the messages of every tenant by status.
	CountMail(ctx context.Context) (map[MailStatus]int, error)

	CreateSetupToken(ctx context.Context, t *SetupToken) error
	// GetSetupToken finds a set-password token by id in any tenant.
	GetSetupToken(ctx context.Context, id string) (SetupToken, error)
	UpdateSetupToken(ctx context.Context, t *SetupToken) error
	// RevokeSetupTokens revokes a user's unused, unrevoked tokens and
	// returns how many.
	RevokeSetupTokens(ctx context.Context, tenant, userID string, at time.Time) (int, error)

	// CreateSyncRun adds a sync run record and sets r.ID.
	CreateSyncRun(ctx context.Context, r *SyncRun) error
	UpdateSyncRun(ctx context.Context, r *SyncRun) error
	// ListSyncRuns lists runs newest first; directory "" means all.
	ListSyncRuns(ctx context.Context, tenant, directory string, limit int) ([]SyncRun, error)
	GetSyncState(ctx context.Context, tenant, directory string) (SyncState, error)
	PutSyncState(ctx context.Context, st *SyncState) error

	// AcquireLease takes or extends the named lease for owner; false when
	// another owner holds it past now.
	AcquireLease(ctx context.Context, name, owner string, now, until time.Time) (bool, error)
	ReleaseLease(ctx context.Context, name, owner string) error

	// CreateWebhook stores a new webhook, secret included.
	CreateWebhook(ctx context.Context, w *Webhook) error
	// GetWebhook returns a webhook of the tenant, secret included.
	GetWebhook(ctx context.Context, tenant, id string) (Webhook, error)
	// ListWebhooks lists the tenant's webhooks, oldest first.
	ListWebhooks(ctx context.Context, tenant string) ([]Webhook, error)
	DeleteWebhook(ctx context.Context, tenant, id string) error
	// ClaimWebhooks leases to owner until until up to limit webhooks of
	// any tenant that are active, due at now (NextAttempt), have change-log
	// entries of their tenant after DeliveredSeq, and are not leased by
	// another owner past now; oldest due first. A webhook is leased to one
	// worker at a time.
	ClaimWebhooks(ctx context.Context, owner string, now, until time.Time, limit int) ([]Webhook, error)
	// FinishWebhook stores w's delivery state (DeliveredSeq, PendingSeq,
	// Attempts, NextAttempt, LastError, LastAttempt, LastDelivered) and
	// clears its lease, if it is still leased to w.ClaimedBy: else nothing
	// is written and a *ConflictError is returned (ErrNotFound when the
	// webhook is gone).
	FinishWebhook(ctx context.Context, w *Webhook) error
	// ReleaseWebhooks clears the leases owner holds and returns how many.
	ReleaseWebhooks(ctx context.Context, owner string) (int, error)

	CreateToken(ctx context.Context, t *APIToken) error
	// GetToken finds a token by id in any tenant (authentication starts
	// from the token alone).
	GetToken(ctx context.Context, id string) (APIToken, error)
	UpdateToken(ctx context.Context, t *APIToken) error
	ListTokens(ctx context.Context, tenant string) ([]APIToken, error)
}

// UserKey is a unique key a user can be looked up by.
type UserKey string

// The unique user keys.
const (
	KeyUserName      UserKey = "userName"
	KeyEmail         UserKey = "email"
	KeyExtension     UserKey = "extension"
	KeyStationNumber UserKey = "stationNumber"
	KeyExternalID    UserKey = "externalId"
)

// TeamKey is a unique key a team can be looked up by.
type TeamKey string

// The unique team keys.
const (
	TeamKeyName       TeamKey = "name"
	TeamKeyExternalID TeamKey = "externalId"
)

// Page sizes for listings.
const (
	// DefaultPageSize is the page size when a query gives none.
	DefaultPageSize = 100
	// MaxPageSize is the largest page a listing returns; the SCIM endpoint
	// advertises it as filter.maxResults.
	MaxPageSize = 1000
)
