-- Users waiting for a manager who is not a user yet (User.ManagerRef) are
-- found by that reference whenever a user is created: index it.
CREATE INDEX users_manager_ref ON users (tenant_id, json_extract(doc, '$.managerRef'));
