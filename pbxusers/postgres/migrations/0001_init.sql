-- pbxgate PostgreSQL schema, version 1: the tables of the SQLite backend.
--
-- Times are timestamptz (microsecond precision; the store returns them in
-- UTC). Objects are JSON documents (doc) next to the columns that queries
-- filter, sort or join on: the columns are the index, the document is the
-- object. Every text column is COLLATE "C", so comparisons, ranges and sort
-- order are byte order (code point order) as in SQLite, whatever the
-- database's locale, and its B-tree indexes serve the range a "starts with"
-- filter compiles to. The lowercased *_lc columns are computed in Go (as the
-- SQLite backend does), so both backends fold non-ASCII case alike.

CREATE TABLE tenants (
	id      text COLLATE "C" PRIMARY KEY,
	doc     jsonb NOT NULL,
	version bigint NOT NULL,
	created timestamptz NOT NULL,
	updated timestamptz NOT NULL
);

CREATE TABLE users (
	id             text COLLATE "C" PRIMARY KEY,
	tenant_id      text COLLATE "C" NOT NULL REFERENCES tenants(id),
	kind           text COLLATE "C" NOT NULL,
	active         boolean NOT NULL,
	source         text COLLATE "C" NOT NULL,
	external_id    text COLLATE "C",
	directory      text COLLATE "C" NOT NULL DEFAULT '',
	sync_hash      text COLLATE "C" NOT NULL DEFAULT '',
	deactivated_by text COLLATE "C" NOT NULL DEFAULT '',
	user_name_lc   text COLLATE "C" NOT NULL,
	display_lc     text COLLATE "C" NOT NULL,
	given_lc       text COLLATE "C" NOT NULL,
	family_lc      text COLLATE "C" NOT NULL,
	location_lc    text COLLATE "C" NOT NULL,
	extension      text COLLATE "C",
	station        text COLLATE "C",
	manager_id     text COLLATE "C" REFERENCES users(id) ON DELETE SET NULL,
	search         text COLLATE "C" NOT NULL,
	version        bigint NOT NULL,
	created        timestamptz NOT NULL,
	updated        timestamptz NOT NULL,
	password_hash  bytea,
	doc            jsonb NOT NULL
);
-- The indexes a listing pages through INCLUDE id and kind, so that the
-- "page the ids first" query (people only, in a sort order, at an offset)
-- is an index-only scan.
CREATE UNIQUE INDEX users_user_name ON users (tenant_id, user_name_lc) INCLUDE (id, kind);
CREATE UNIQUE INDEX users_extension ON users (tenant_id, extension NULLS FIRST) INCLUDE (id, kind);
CREATE UNIQUE INDEX users_station ON users (tenant_id, station);
CREATE UNIQUE INDEX users_external_id ON users (tenant_id, source, external_id);
CREATE INDEX users_external_id_any ON users (tenant_id, external_id NULLS FIRST);
CREATE INDEX users_owned ON users (tenant_id, source, directory, external_id);
CREATE INDEX users_kind ON users (tenant_id, kind, id);
CREATE INDEX users_tenant ON users (tenant_id, id);
CREATE INDEX users_display ON users (tenant_id, display_lc, id) INCLUDE (kind);
CREATE INDEX users_family ON users (tenant_id, family_lc, id) INCLUDE (kind);
CREATE INDEX users_given ON users (tenant_id, given_lc, id) INCLUDE (kind);
CREATE INDEX users_created ON users (tenant_id, created, id) INCLUDE (kind);
CREATE INDEX users_updated ON users (tenant_id, updated, id) INCLUDE (kind);
CREATE INDEX users_manager ON users (manager_id);

-- How many users of each kind a tenant has, kept by the triggers below:
-- the total of an unfiltered listing (a SCIM client paging through all
-- users) without counting 100,000 index entries per page. Statement-level
-- triggers with transition tables update a count once per statement.
CREATE TABLE user_counts (
	tenant_id text COLLATE "C" NOT NULL,
	kind      text COLLATE "C" NOT NULL,
	n         bigint NOT NULL,
	PRIMARY KEY (tenant_id, kind)
);

CREATE FUNCTION user_counts_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO user_counts AS c (tenant_id, kind, n)
		SELECT tenant_id, kind, count(*) FROM new_rows GROUP BY tenant_id, kind
		ON CONFLICT (tenant_id, kind) DO UPDATE SET n = c.n + excluded.n;
	RETURN NULL;
END
$$;
CREATE FUNCTION user_counts_remove() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	UPDATE user_counts c SET n = c.n - d.n
		FROM (SELECT tenant_id, kind, count(*) AS n FROM old_rows GROUP BY tenant_id, kind) d
		WHERE c.tenant_id = d.tenant_id AND c.kind = d.kind;
	RETURN NULL;
END
$$;
-- A row-level trigger for the rare update that moves a user between
-- counts: its WHEN clause costs every other update nothing.
CREATE FUNCTION user_counts_move() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	UPDATE user_counts SET n = n - 1 WHERE tenant_id = OLD.tenant_id AND kind = OLD.kind;
	INSERT INTO user_counts AS c (tenant_id, kind, n) VALUES (NEW.tenant_id, NEW.kind, 1)
		ON CONFLICT (tenant_id, kind) DO UPDATE SET n = c.n + 1;
	RETURN NULL;
END
$$;
CREATE FUNCTION user_counts_clear() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	DELETE FROM user_counts;
	RETURN NULL;
END
$$;
CREATE TRIGGER users_count_insert AFTER INSERT ON users
	REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION user_counts_add();
CREATE TRIGGER users_count_delete AFTER DELETE ON users
	REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION user_counts_remove();
CREATE TRIGGER users_count_update AFTER UPDATE OF tenant_id, kind ON users FOR EACH ROW
	WHEN (OLD.tenant_id IS DISTINCT FROM NEW.tenant_id OR OLD.kind IS DISTINCT FROM NEW.kind)
	EXECUTE FUNCTION user_counts_move();
CREATE TRIGGER users_count_truncate AFTER TRUNCATE ON users
	FOR EACH STATEMENT EXECUTE FUNCTION user_counts_clear();

CREATE TABLE user_emails (
	user_id    text COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	pos        integer NOT NULL,
	tenant_id  text COLLATE "C" NOT NULL,
	address_lc text COLLATE "C" NOT NULL,
	type       text COLLATE "C" NOT NULL,
	is_primary boolean NOT NULL,
	PRIMARY KEY (user_id, pos)
);
CREATE UNIQUE INDEX user_emails_address ON user_emails (tenant_id, address_lc);

CREATE TABLE profiles (
	id        text COLLATE "C" PRIMARY KEY,
	tenant_id text COLLATE "C" NOT NULL REFERENCES tenants(id),
	name_lc   text COLLATE "C" NOT NULL,
	doc       jsonb NOT NULL,
	version   bigint NOT NULL,
	created   timestamptz NOT NULL,
	updated   timestamptz NOT NULL
);
CREATE UNIQUE INDEX profiles_name ON profiles (tenant_id, name_lc);

CREATE TABLE user_profiles (
	user_id    text COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	profile_id text COLLATE "C" NOT NULL REFERENCES profiles(id),
	pos        integer NOT NULL,
	PRIMARY KEY (user_id, profile_id)
);
CREATE INDEX user_profiles_profile ON user_profiles (profile_id);

CREATE TABLE teams (
	id          text COLLATE "C" PRIMARY KEY,
	tenant_id   text COLLATE "C" NOT NULL REFERENCES tenants(id),
	name_lc     text COLLATE "C" NOT NULL,
	external_id text COLLATE "C",
	version     bigint NOT NULL,
	created     timestamptz NOT NULL,
	updated     timestamptz NOT NULL,
	doc         jsonb NOT NULL,
	-- Kept by the team_members triggers below, so reading a 10,000-member
	-- team does not count its members.
	member_count integer NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX teams_name ON teams (tenant_id, name_lc);
CREATE UNIQUE INDEX teams_external_id ON teams (tenant_id, external_id NULLS FIRST);
CREATE INDEX teams_tenant ON teams (tenant_id, id);
CREATE INDEX teams_created ON teams (tenant_id, created, id);
CREATE INDEX teams_updated ON teams (tenant_id, updated, id);

CREATE TABLE team_profiles (
	team_id    text COLLATE "C" NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
	profile_id text COLLATE "C" NOT NULL REFERENCES profiles(id),
	pos        integer NOT NULL,
	PRIMARY KEY (team_id, profile_id)
);
CREATE INDEX team_profiles_profile ON team_profiles (profile_id);

CREATE TABLE team_members (
	team_id text COLLATE "C" NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
	user_id text COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_members_user ON team_members (user_id, team_id);

-- Statement-level triggers with transition tables: one update per team and
-- statement (adding 10,000 members is one update of the team row, not
-- 10,000), and they also see the deletes that cascade from a deleted user
-- or team.
CREATE FUNCTION team_members_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'INSERT' THEN
		UPDATE teams t SET member_count = t.member_count + d.n
		FROM (SELECT team_id, count(*) AS n FROM new_rows GROUP BY team_id) d WHERE t.id = d.team_id;
	ELSE
		UPDATE teams t SET member_count = t.member_count - d.n
		FROM (SELECT team_id, count(*) AS n FROM old_rows GROUP BY team_id) d WHERE t.id = d.team_id;
	END IF;
	RETURN NULL;
END
$$;
CREATE TRIGGER team_members_count_insert AFTER INSERT ON team_members
	REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION team_members_count();
CREATE TRIGGER team_members_count_delete AFTER DELETE ON team_members
	REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION team_members_count();

CREATE TABLE queue_members (
	user_id          text COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	queue_id         text COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	pos              integer NOT NULL,
	priority         integer NOT NULL,
	default_outbound boolean NOT NULL,
	PRIMARY KEY (user_id, queue_id)
);
CREATE INDEX queue_members_queue ON queue_members (queue_id);

CREATE TABLE timeframes (
	id        text COLLATE "C" PRIMARY KEY,
	tenant_id text COLLATE "C" NOT NULL REFERENCES tenants(id),
	doc       jsonb NOT NULL,
	version   bigint NOT NULL,
	created   timestamptz NOT NULL,
	updated   timestamptz NOT NULL
);
CREATE INDEX timeframes_tenant ON timeframes (tenant_id, id);

-- Which users' routing policies forward to or ring which users and use which
-- time frames: the index behind "delete never leaves dangling references".
CREATE TABLE routing_user_refs (
	user_id   text COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	target_id text COLLATE "C" NOT NULL,
	PRIMARY KEY (user_id, target_id)
);
CREATE INDEX routing_user_refs_target ON routing_user_refs (target_id);

CREATE TABLE routing_timeframe_refs (
	user_id      text COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	timeframe_id text COLLATE "C" NOT NULL REFERENCES timeframes(id),
	PRIMARY KEY (user_id, timeframe_id)
);
CREATE INDEX routing_timeframe_refs_tf ON routing_timeframe_refs (timeframe_id);

CREATE TABLE devices (
	id        text COLLATE "C" PRIMARY KEY,
	tenant_id text COLLATE "C" NOT NULL REFERENCES tenants(id),
	user_id   text COLLATE "C" REFERENCES users(id) ON DELETE CASCADE,
	sip_id    text COLLATE "C" NOT NULL,
	mac       text COLLATE "C",
	version   bigint NOT NULL,
	created   timestamptz NOT NULL,
	updated   timestamptz NOT NULL,
	doc       jsonb NOT NULL
);
CREATE UNIQUE INDEX devices_sip_id ON devices (tenant_id, sip_id);
CREATE UNIQUE INDEX devices_mac ON devices (tenant_id, mac);
CREATE INDEX devices_user ON devices (user_id);

CREATE TABLE numbers (
	tenant_id text COLLATE "C" NOT NULL REFERENCES tenants(id),
	e164      text COLLATE "C" NOT NULL,
	user_id   text COLLATE "C" REFERENCES users(id) ON DELETE SET NULL,
	label     text NOT NULL,
	created   timestamptz NOT NULL,
	updated   timestamptz NOT NULL,
	CONSTRAINT numbers_pkey PRIMARY KEY (tenant_id, e164)
);
CREATE INDEX numbers_user ON numbers (user_id);

-- The change log. seq comes from an identity sequence (CACHE 1: one
-- sequence for every session), and every write transaction holds the
-- store's write lock from its start to its commit, so seq order is commit
-- order; see the Store type's documentation.
CREATE TABLE changes (
	seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	tenant_id    text COLLATE "C" NOT NULL,
	at           timestamptz NOT NULL,
	actor_source text COLLATE "C" NOT NULL,
	actor_name   text NOT NULL,
	entity       text COLLATE "C" NOT NULL,
	entity_id    text COLLATE "C" NOT NULL,
	action       text COLLATE "C" NOT NULL,
	summary      text NOT NULL,
	fields       jsonb,
	version      bigint NOT NULL
);
CREATE INDEX changes_tenant ON changes (tenant_id, seq);
CREATE INDEX changes_entity ON changes (tenant_id, entity, entity_id, seq);

CREATE TABLE api_tokens (
	id        text COLLATE "C" PRIMARY KEY,
	tenant_id text COLLATE "C" NOT NULL REFERENCES tenants(id),
	name      text NOT NULL,
	hash      bytea NOT NULL,
	created   timestamptz NOT NULL,
	last_used timestamptz,
	revoked   timestamptz,
	expires   timestamptz
);
CREATE INDEX api_tokens_tenant ON api_tokens (tenant_id, created, id);
