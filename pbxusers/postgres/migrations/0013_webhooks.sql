-- Webhooks: a tenant's receivers of its change log. delivered_seq is the
-- seq of the last change the receiver acknowledged (the durable cursor);
-- pending_seq, when above it, ends the delivery being retried. The secret is
-- the HMAC key, stored as is because signing needs it. A worker leases a
-- webhook (claimed_by, claimed_until; NULL while nobody holds it) while it
-- delivers.
CREATE TABLE webhooks (
	id             text COLLATE "C" PRIMARY KEY,
	tenant_id      text COLLATE "C" NOT NULL REFERENCES tenants(id),
	url            text NOT NULL,
	secret         text NOT NULL,
	active         boolean NOT NULL,
	created        timestamptz NOT NULL,
	delivered_seq  bigint NOT NULL,
	pending_seq    bigint NOT NULL,
	attempts       integer NOT NULL,
	next_attempt   timestamptz NOT NULL,
	last_error     text NOT NULL,
	last_attempt   timestamptz,
	last_delivered timestamptz,
	claimed_by     text COLLATE "C" NOT NULL DEFAULT '',
	claimed_until  timestamptz
);
CREATE INDEX webhooks_tenant ON webhooks (tenant_id, created, id);
CREATE INDEX webhooks_due ON webhooks (next_attempt, id);
