-- Keep a team's member count in the team row, maintained by triggers (which
-- also see the deletes that cascade from a deleted user), instead of
-- counting a 10,000-member team on every read.
ALTER TABLE teams ADD COLUMN member_count INTEGER NOT NULL DEFAULT 0;
UPDATE teams SET member_count = (SELECT count(*) FROM team_members m WHERE m.team_id = teams.id);
CREATE TRIGGER team_members_count_insert AFTER INSERT ON team_members BEGIN
	UPDATE teams SET member_count = member_count + 1 WHERE id = NEW.team_id;
END;
CREATE TRIGGER team_members_count_delete AFTER DELETE ON team_members BEGIN
	UPDATE teams SET member_count = member_count - 1 WHERE id = OLD.team_id;
END;
