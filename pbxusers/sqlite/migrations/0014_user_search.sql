-- The Users page lists people by userName, filtered by kind, status and
-- source, and searched as you type (UserQuery.Search: text anywhere in the
-- search column, which no index can seek). An index in userName order
-- that holds those columns lets SQLite count and page such a listing
-- from the index alone instead of reading every user's whole row: at
-- 100,000 users a search or a filtered page then takes a few tens of
-- milliseconds instead of over a hundred.
CREATE INDEX users_name_search ON users (tenant_id, user_name_lc, id, kind, active, source, search);
