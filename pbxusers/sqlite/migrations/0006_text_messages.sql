-- Text-message handling lives in one place: the texts.answer permission.
-- A user whose features said textMessages=true without an override of
-- texts.answer gets that override; the feature key is dropped everywhere.
UPDATE users SET doc = json_set(doc, '$.overrides."texts.answer"', json('true'))
	WHERE json_extract(doc, '$.features.textMessages') = 1
	AND json_type(doc, '$.overrides."texts.answer"') IS NULL;
UPDATE users SET doc = json_remove(doc, '$.features.textMessages')
	WHERE json_type(doc, '$.features.textMessages') IS NOT NULL;
