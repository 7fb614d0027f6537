-- Answering rules that send calls to a call queue, auto attendant or
-- conference bridge are references to that system user, as forwards to a
-- person always were: record the ones saved before that was tracked, so
-- deleting the system user finds them.
INSERT OR IGNORE INTO routing_user_refs (user_id, target_id)
	SELECT u.id, j.value FROM users u, json_tree(u.doc, '$.routing') j
	WHERE j.key = 'target' AND j.type = 'text'
	AND EXISTS (SELECT 1 FROM users t WHERE t.id = j.value AND t.tenant_id = u.tenant_id);
