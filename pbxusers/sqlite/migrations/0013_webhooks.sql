-- Webhooks: a tenant's receivers of its change log. delivered_seq is the
-- seq of the last change the receiver acknowledged (the durable cursor);
-- pending_seq, when above it, ends the delivery being retried. The secret is
-- the HMAC key, stored as is because signing needs it. A worker leases a
-- webhook (claimed_by, claimed_until; NULL while nobody holds it) while it
-- delivers.
CREATE TABLE webhooks (
	id             TEXT PRIMARY KEY,
	tenant_id      TEXT NOT NULL REFERENCES tenants(id),
	url            TEXT NOT NULL,
	secret         TEXT NOT NULL,
	active         INTEGER NOT NULL,
	created        INTEGER NOT NULL,
	delivered_seq  INTEGER NOT NULL,
	pending_seq    INTEGER NOT NULL,
	attempts       INTEGER NOT NULL,
	next_attempt   INTEGER NOT NULL,
	last_error     TEXT NOT NULL,
	last_attempt   INTEGER,
	last_delivered INTEGER,
	claimed_by     TEXT NOT NULL,
	claimed_until  INTEGER
) STRICT;
CREATE INDEX webhooks_tenant ON webhooks(tenant_id, created, id);
CREATE INDEX webhooks_due ON webhooks(next_attempt, id);
