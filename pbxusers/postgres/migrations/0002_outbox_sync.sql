-- The mail outbox, set-password links, directory sync history and state,
-- and leases.

-- A message is pending, sent or failed; a worker leases pending messages
-- (claimed_by, claimed_until) while it sends them. claimed_until is NULL
-- while nobody holds it.
CREATE TABLE outbox (
	id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	tenant_id     text COLLATE "C" NOT NULL REFERENCES tenants(id),
	user_id       text COLLATE "C",
	kind          text COLLATE "C" NOT NULL,
	recipient     text NOT NULL,
	status        text COLLATE "C" NOT NULL,
	attempts      integer NOT NULL,
	next_attempt  timestamptz NOT NULL,
	last_error    text NOT NULL,
	created       timestamptz NOT NULL,
	updated       timestamptz NOT NULL,
	sent_at       timestamptz,
	claimed_by    text COLLATE "C" NOT NULL DEFAULT '',
	claimed_until timestamptz
);
-- Only pending messages are ever claimed: a partial index keeps the claim
-- query's scan to them.
CREATE INDEX outbox_due ON outbox (next_attempt, id) WHERE status = 'pending';
CREATE INDEX outbox_tenant ON outbox (tenant_id, id);
CREATE INDEX outbox_user ON outbox (user_id);

CREATE TABLE outbox_attempts (
	id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	message_id bigint NOT NULL REFERENCES outbox(id) ON DELETE CASCADE,
	at         timestamptz NOT NULL,
	ok         boolean NOT NULL,
	temporary  boolean NOT NULL,
	code       integer NOT NULL,
	error      text NOT NULL
);
CREATE INDEX outbox_attempts_message ON outbox_attempts (message_id, at, id);

CREATE TABLE setup_tokens (
	id        text COLLATE "C" PRIMARY KEY,
	tenant_id text COLLATE "C" NOT NULL REFERENCES tenants(id),
	user_id   text COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	purpose   text COLLATE "C" NOT NULL,
	hash      bytea NOT NULL,
	created   timestamptz NOT NULL,
	expires   timestamptz NOT NULL,
	used      timestamptz,
	revoked   timestamptz,
	failures  integer NOT NULL
);
CREATE INDEX setup_tokens_user ON setup_tokens (user_id);

CREATE TABLE sync_runs (
	id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	tenant_id text COLLATE "C" NOT NULL REFERENCES tenants(id),
	directory text COLLATE "C" NOT NULL,
	started   timestamptz NOT NULL,
	doc       jsonb NOT NULL
);
CREATE INDEX sync_runs_directory ON sync_runs (tenant_id, directory, id);

CREATE TABLE sync_state (
	tenant_id text COLLATE "C" NOT NULL REFERENCES tenants(id),
	directory text COLLATE "C" NOT NULL,
	doc       jsonb NOT NULL,
	PRIMARY KEY (tenant_id, directory)
);

-- Named leases (one LDAP sync of a directory at a time across processes).
CREATE TABLE leases (
	name  text COLLATE "C" PRIMARY KEY,
	owner text COLLATE "C" NOT NULL,
	until timestamptz NOT NULL
);
