-- Users per tenant and kind, kept by triggers, so that an unfiltered listing
-- (an IdP's import, the portals' user list) knows its total without counting
-- the tenant's users on every page.
CREATE TABLE user_counts (
	tenant_id TEXT NOT NULL,
	kind      TEXT NOT NULL,
	n         INTEGER NOT NULL,
	PRIMARY KEY (tenant_id, kind)
) STRICT, WITHOUT ROWID;
INSERT INTO user_counts (tenant_id, kind, n) SELECT tenant_id, kind, count(*) FROM users GROUP BY tenant_id, kind;
CREATE TRIGGER user_counts_insert AFTER INSERT ON users BEGIN
	INSERT INTO user_counts (tenant_id, kind, n) VALUES (NEW.tenant_id, NEW.kind, 1)
		ON CONFLICT (tenant_id, kind) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER user_counts_delete AFTER DELETE ON users BEGIN
	UPDATE user_counts SET n = n - 1 WHERE tenant_id = OLD.tenant_id AND kind = OLD.kind;
END;
CREATE TRIGGER user_counts_kind AFTER UPDATE OF kind ON users WHEN NEW.kind <> OLD.kind BEGIN
	UPDATE user_counts SET n = n - 1 WHERE tenant_id = OLD.tenant_id AND kind = OLD.kind;
	INSERT INTO user_counts (tenant_id, kind, n) VALUES (NEW.tenant_id, NEW.kind, 1)
		ON CONFLICT (tenant_id, kind) DO UPDATE SET n = n + 1;
END;
