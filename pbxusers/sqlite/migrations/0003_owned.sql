-- Columns a directory sync reads for every user it owns, without decoding
-- the user document: which directory, the source's fingerprint, and who
-- deactivated the user.
ALTER TABLE users ADD COLUMN directory TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN sync_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN deactivated_by TEXT NOT NULL DEFAULT '';
UPDATE users SET directory = coalesce(json_extract(doc, '$.owner.directory'), ''),
	sync_hash = coalesce(json_extract(doc, '$.owner.hash'), ''),
	deactivated_by = coalesce(json_extract(doc, '$.deactivatedBy'), '');
CREATE INDEX users_owned ON users(tenant_id, source, directory, external_id);
