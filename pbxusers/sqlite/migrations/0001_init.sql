-- pbxgate schema, version 1. Times are INTEGER microseconds since the Unix
-- epoch, UTC. Objects are stored as JSON documents (doc) next to the columns
-- that queries filter, sort or join on; the columns are the index, the
-- document is the object.

CREATE TABLE tenants (
	id      TEXT PRIMARY KEY,
	doc     TEXT NOT NULL,
	version INTEGER NOT NULL,
	created INTEGER NOT NULL,
	updated INTEGER NOT NULL
) STRICT;

CREATE TABLE users (
	id            TEXT PRIMARY KEY,
	tenant_id     TEXT NOT NULL REFERENCES tenants(id),
	kind          TEXT NOT NULL,
	active        INTEGER NOT NULL,
	source        TEXT NOT NULL,
	external_id   TEXT,
	user_name_lc  TEXT NOT NULL,
	display_lc    TEXT NOT NULL,
	given_lc      TEXT NOT NULL,
	family_lc     TEXT NOT NULL,
	location_lc   TEXT NOT NULL,
	extension     TEXT,
	station       TEXT,
	manager_id    TEXT REFERENCES users(id) ON DELETE SET NULL,
	search        TEXT NOT NULL,
	version       INTEGER NOT NULL,
	created       INTEGER NOT NULL,
	updated       INTEGER NOT NULL,
	password_hash BLOB,
	doc           TEXT NOT NULL
) STRICT;
CREATE UNIQUE INDEX users_user_name ON users(tenant_id, user_name_lc);
CREATE UNIQUE INDEX users_extension ON users(tenant_id, extension);
CREATE UNIQUE INDEX users_station ON users(tenant_id, station);
CREATE UNIQUE INDEX users_external_id ON users(tenant_id, source, external_id);
CREATE INDEX users_external_id_any ON users(tenant_id, external_id);
CREATE INDEX users_kind ON users(tenant_id, kind, id);
CREATE INDEX users_tenant ON users(tenant_id, id);
CREATE INDEX users_display ON users(tenant_id, display_lc, id);
CREATE INDEX users_family ON users(tenant_id, family_lc, id);
CREATE INDEX users_given ON users(tenant_id, given_lc, id);
CREATE INDEX users_created ON users(tenant_id, created, id);
CREATE INDEX users_updated ON users(tenant_id, updated, id);
CREATE INDEX users_manager ON users(manager_id);

CREATE TABLE user_emails (
	user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	pos        INTEGER NOT NULL,
	tenant_id  TEXT NOT NULL,
	address_lc TEXT NOT NULL,
	type       TEXT NOT NULL,
	is_primary INTEGER NOT NULL,
	PRIMARY KEY (user_id, pos)
) STRICT, WITHOUT ROWID;
CREATE UNIQUE INDEX user_emails_address ON user_emails(tenant_id, address_lc);

CREATE TABLE profiles (
	id        TEXT PRIMARY KEY,
	tenant_id TEXT NOT NULL REFERENCES tenants(id),
	name_lc   TEXT NOT NULL,
	doc       TEXT NOT NULL,
	version   INTEGER NOT NULL,
	created   INTEGER NOT NULL,
	updated   INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX profiles_name ON profiles(tenant_id, name_lc);

CREATE TABLE user_profiles (
	user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	profile_id TEXT NOT NULL REFERENCES profiles(id),
	pos        INTEGER NOT NULL,
	PRIMARY KEY (user_id, profile_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX user_profiles_profile ON user_profiles(profile_id);

CREATE TABLE teams (
	id          TEXT PRIMARY KEY,
	tenant_id   TEXT NOT NULL REFERENCES tenants(id),
	name_lc     TEXT NOT NULL,
	external_id TEXT,
	version     INTEGER NOT NULL,
	created     INTEGER NOT NULL,
	updated     INTEGER NOT NULL,
	doc         TEXT NOT NULL
) STRICT;
CREATE UNIQUE INDEX teams_name ON teams(tenant_id, name_lc);
CREATE UNIQUE INDEX teams_external_id ON teams(tenant_id, external_id);
CREATE INDEX teams_created ON teams(tenant_id, created, id);
CREATE INDEX teams_updated ON teams(tenant_id, updated, id);

CREATE TABLE team_profiles (
	team_id    TEXT NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
	profile_id TEXT NOT NULL REFERENCES profiles(id),
	pos        INTEGER NOT NULL,
	PRIMARY KEY (team_id, profile_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX team_profiles_profile ON team_profiles(profile_id);

CREATE TABLE team_members (
	team_id TEXT NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
	user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	PRIMARY KEY (team_id, user_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX team_members_user ON team_members(user_id, team_id);

CREATE TABLE queue_members (
	user_id          TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	queue_id         TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	pos              INTEGER NOT NULL,
	priority         INTEGER NOT NULL,
	default_outbound INTEGER NOT NULL,
	PRIMARY KEY (user_id, queue_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX queue_members_queue ON queue_members(queue_id);

CREATE TABLE timeframes (
	id        TEXT PRIMARY KEY,
	tenant_id TEXT NOT NULL REFERENCES tenants(id),
	doc       TEXT NOT NULL,
	version   INTEGER NOT NULL,
	created   INTEGER NOT NULL,
	updated   INTEGER NOT NULL
) STRICT;
CREATE INDEX timeframes_tenant ON timeframes(tenant_id);

-- Which users' routing policies forward to or ring which users and use which
-- time frames: the index behind "delete never leaves dangling references".
CREATE TABLE routing_user_refs (
	user_id   TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	target_id TEXT NOT NULL,
	PRIMARY KEY (user_id, target_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX routing_user_refs_target ON routing_user_refs(target_id);

CREATE TABLE routing_timeframe_refs (
	user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	timeframe_id TEXT NOT NULL REFERENCES timeframes(id),
	PRIMARY KEY (user_id, timeframe_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX routing_timeframe_refs_tf ON routing_timeframe_refs(timeframe_id);

CREATE TABLE devices (
	id        TEXT PRIMARY KEY,
	tenant_id TEXT NOT NULL REFERENCES tenants(id),
	user_id   TEXT REFERENCES users(id) ON DELETE CASCADE,
	sip_id    TEXT NOT NULL,
	mac       TEXT,
	version   INTEGER NOT NULL,
	created   INTEGER NOT NULL,
	updated   INTEGER NOT NULL,
	doc       TEXT NOT NULL
) STRICT;
CREATE UNIQUE INDEX devices_sip_id ON devices(tenant_id, sip_id);
CREATE UNIQUE INDEX devices_mac ON devices(tenant_id, mac);
CREATE INDEX devices_user ON devices(user_id);

CREATE TABLE numbers (
	tenant_id TEXT NOT NULL REFERENCES tenants(id),
	e164      TEXT NOT NULL,
	user_id   TEXT REFERENCES users(id) ON DELETE SET NULL,
	label     TEXT NOT NULL,
	created   INTEGER NOT NULL,
	updated   INTEGER NOT NULL,
	PRIMARY KEY (tenant_id, e164)
) STRICT, WITHOUT ROWID;
CREATE INDEX numbers_user ON numbers(user_id);

CREATE TABLE changes (
	seq          INTEGER PRIMARY KEY AUTOINCREMENT,
	tenant_id    TEXT NOT NULL,
	at           INTEGER NOT NULL,
	actor_source TEXT NOT NULL,
	actor_name   TEXT NOT NULL,
	entity       TEXT NOT NULL,
	entity_id    TEXT NOT NULL,
	action       TEXT NOT NULL,
	summary      TEXT NOT NULL,
	fields       TEXT,
	version      INTEGER NOT NULL
) STRICT;
CREATE INDEX changes_tenant ON changes(tenant_id, seq);
CREATE INDEX changes_entity ON changes(tenant_id, entity, entity_id, seq);

CREATE TABLE api_tokens (
	id        TEXT PRIMARY KEY,
	tenant_id TEXT NOT NULL REFERENCES tenants(id),
	name      TEXT NOT NULL,
	hash      BLOB NOT NULL,
	created   INTEGER NOT NULL,
	last_used INTEGER,
	revoked   INTEGER,
	expires   INTEGER
) STRICT;
CREATE INDEX api_tokens_tenant ON api_tokens(tenant_id);
