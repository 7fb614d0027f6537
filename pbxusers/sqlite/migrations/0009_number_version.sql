-- Numbers get a version, like every other mutable object, so the admin
-- API can answer an ETag and refuse a stale If-Match with 412.
ALTER TABLE numbers ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
