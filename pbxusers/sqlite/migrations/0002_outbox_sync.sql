-- The mail outbox, set-password links, directory sync history and state,
-- and leases.

CREATE TABLE outbox (
	id            INTEGER PRIMARY KEY AUTOINCREMENT,
	tenant_id     TEXT NOT NULL REFERENCES tenants(id),
	user_id       TEXT,
	kind          TEXT NOT NULL,
	recipient     TEXT NOT NULL,
	status        TEXT NOT NULL,
	attempts      INTEGER NOT NULL,
	next_attempt  INTEGER NOT NULL,
	last_error    TEXT NOT NULL,
	created       INTEGER NOT NULL,
	updated       INTEGER NOT NULL,
	sent_at       INTEGER,
	claimed_by    TEXT NOT NULL,
	claimed_until INTEGER NOT NULL
) STRICT;
CREATE INDEX outbox_due ON outbox(status, next_attempt, id);
CREATE INDEX outbox_tenant ON outbox(tenant_id, id);
CREATE INDEX outbox_user ON outbox(user_id);

CREATE TABLE outbox_attempts (
	message_id INTEGER NOT NULL REFERENCES outbox(id) ON DELETE CASCADE,
	at         INTEGER NOT NULL,
	ok         INTEGER NOT NULL,
	temporary  INTEGER NOT NULL,
	code       INTEGER NOT NULL,
	error      TEXT NOT NULL
) STRICT;
CREATE INDEX outbox_attempts_message ON outbox_attempts(message_id, at);

CREATE TABLE setup_tokens (
	id        TEXT PRIMARY KEY,
	tenant_id TEXT NOT NULL REFERENCES tenants(id),
	user_id   TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	purpose   TEXT NOT NULL,
	hash      BLOB NOT NULL,
	created   INTEGER NOT NULL,
	expires   INTEGER NOT NULL,
	used      INTEGER,
	revoked   INTEGER,
	failures  INTEGER NOT NULL
) STRICT;
CREATE INDEX setup_tokens_user ON setup_tokens(user_id);

CREATE TABLE sync_runs (
	id        INTEGER PRIMARY KEY AUTOINCREMENT,
	tenant_id TEXT NOT NULL REFERENCES tenants(id),
	directory TEXT NOT NULL,
	started   INTEGER NOT NULL,
	doc       TEXT NOT NULL
) STRICT;
CREATE INDEX sync_runs_directory ON sync_runs(tenant_id, directory, id);

CREATE TABLE sync_state (
	tenant_id TEXT NOT NULL REFERENCES tenants(id),
	directory TEXT NOT NULL,
	doc       TEXT NOT NULL,
	PRIMARY KEY (tenant_id, directory)
) STRICT, WITHOUT ROWID;

CREATE TABLE leases (
	name   TEXT PRIMARY KEY,
	owner  TEXT NOT NULL,
	until  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
