-- API tokens carry a scope: scim (the SCIM endpoint, what every token made
-- before this migration was for), admin (the admin API for its tenant) or
-- operator (the admin API for every tenant).
ALTER TABLE api_tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'scim';
