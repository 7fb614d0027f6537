-- Text-message handling lives in one place: the texts.answer permission.
-- A user whose features said textMessages=true without an override of
-- texts.answer gets that override; the feature key is dropped everywhere.
UPDATE users SET doc = jsonb_set(doc, '{overrides}',
		COALESCE(doc->'overrides', '{}'::jsonb) || '{"texts.answer": true}'::jsonb)
	WHERE doc->'features'->'textMessages' = 'true'::jsonb
	AND NOT (COALESCE(doc->'overrides', '{}'::jsonb) ? 'texts.answer');
UPDATE users SET doc = doc #- '{features,textMessages}'
	WHERE doc->'features' ? 'textMessages';
