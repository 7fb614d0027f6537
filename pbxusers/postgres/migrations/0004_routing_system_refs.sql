-- Answering rules that send calls to a call queue, auto attendant or
-- conference bridge are references to that system user, as forwards to a
-- person always were: record the ones saved before that was tracked, so
-- deleting the system user finds them.
INSERT INTO routing_user_refs (user_id, target_id)
	SELECT DISTINCT u.id, j.target FROM users u,
		LATERAL (SELECT jsonb_path_query(u.doc->'routing', 'strict $.**.target') #>> '{}' AS target) j
	WHERE EXISTS (SELECT 1 FROM users t WHERE t.id = j.target AND t.tenant_id = u.tenant_id)
	ON CONFLICT DO NOTHING;
