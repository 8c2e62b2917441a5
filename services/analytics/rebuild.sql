-- Statements of the rebuild (rebuild.py). Identifiers are passed as psycopg.sql.Identifier:
-- {schema}, {scratch}, {relation} (schema-qualified), {tables} and {views} (lists of them).

-- name: take_rebuild_lock
-- One rebuild at a time: they would share, and drop, the same scratch schema. Session-level, so
-- it spans the build and the switch transactions and ends with the connection if the process dies.
SELECT pg_try_advisory_lock(%(key)s) AS locked

-- name: release_rebuild_lock
SELECT pg_advisory_unlock(%(key)s)

-- name: snapshot
-- The build reads every event store in one snapshot: a reaction in one service's store is then
-- never replayed without the event in another's that caused it (which committed first).
SET TRANSACTION ISOLATION LEVEL REPEATABLE READ

-- name: drop_scratch
-- The scratch schema is only ever the rebuild's (see take_rebuild_lock): whatever an earlier run
-- left there, for inspection or by dying, goes.
DROP SCHEMA IF EXISTS {scratch} CASCADE

-- name: stored_events
-- One store's history in the replay's order (rebuild._order), as the envelopes' text: the
-- registry decodes it once, as it does a message.
SELECT envelope::text FROM {store} ORDER BY recorded_at, stream_id, version

-- name: copy_in
COPY {table} ({columns}) FROM STDIN

-- name: schema_exists
SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = %(schema)s) AS present

-- name: store_exists
-- A source without an event store is a misconfiguration, not an empty history: say so.
SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_tables
               WHERE schemaname = %(schema)s AND tablename = 'events') AS present

-- name: relations
-- What a projection schema holds that a rebuild must reproduce: its tables and views.
SELECT c.relname AS name, CASE c.relkind WHEN 'v' THEN 'view' ELSE 'table' END AS kind
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %(schema)s AND c.relkind IN ('r', 'v')
ORDER BY c.relname

-- name: checksum
-- A fingerprint of the relation's rows whatever its keys (views have none): the md5 of every
-- row's text, sorted bytewise, hashed again. Same rows, same checksum, in any physical order;
-- only the 32-character row hashes are aggregated, not whole rows. Rows of a table with random
-- uuid keys are still comparable: the same events give the same uuids, taken from the envelopes.
SELECT count(*) AS row_count,
       md5(coalesce(string_agg(row_hash, '' ORDER BY row_hash COLLATE "C"), '')) AS checksum
FROM (SELECT md5(r::text) AS row_hash FROM {relation} AS r) AS hashed

-- name: lock_timeout
-- Bounds the switch's wait for its locks: analysts' queries would queue behind a waiting lock.
SELECT set_config('lock_timeout', %(timeout)s, true)

-- name: lock_live_tables
-- Writes wait (the live projector's INSERTs), reads go on, until the switch commits. A projector
-- transaction already writing finishes first, so the checksums taken next include it. Tables come
-- in name order, today also the projector's write order (case_timeline, then event_counts), so
-- the two cannot deadlock; were they to, PostgreSQL aborts one side and each retries.
LOCK TABLE {tables} IN EXCLUSIVE MODE

-- name: rename_schema
-- Views follow: they refer to their tables by oid, not by name, so the rebuilt case_summary
-- keeps reading the rebuilt case_timeline under its new schema name.
ALTER SCHEMA {schema} RENAME TO {new_name}

-- name: drop_views
-- No CASCADE, here or below: an object the migrations did not create that depends on the old
-- tables (an analyst's view in another schema) fails the switch rather than vanishing with them.
DROP VIEW {views}

-- name: drop_tables
DROP TABLE {tables}

-- name: drop_schema
DROP SCHEMA {schema}
