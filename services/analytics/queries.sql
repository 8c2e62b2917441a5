-- The projector's statements, bound to its target schema ({schema}): `analytics` for the live
-- consumer, or any other schema the same migrations made (tests project scenarios into one).
-- The projector writes a consumer batch's rows in one statement per table (services.analytics.
-- facts folds the events): the rows parameter is a JSON array of row objects, made the table's own
-- row type by jsonb_populate_recordset, so the columns and their types are the table's.

-- name: timeline
-- Business time first. Events one command appended together share both instants (RecordsReceived
-- and the RecordsCompleted it caused): their stream version keeps the order they were decided in.
SELECT event_type, producer, stream_version, occurred_at, recorded_at, event_id, actor, actor_role
FROM {schema}.case_timeline WHERE case_id = %(case_id)s
ORDER BY occurred_at, recorded_at, producer, stream_version

-- name: add_to_timeline
-- event_id is the key: the processed-events row already guards redelivery; this guards replays.
INSERT INTO {schema}.case_timeline
SELECT * FROM jsonb_populate_recordset(NULL::{schema}.case_timeline, %(rows)s::jsonb)
ON CONFLICT (event_id) DO NOTHING

-- name: count_events
-- Unlike the timeline it is not idempotent by itself (it adds), so it relies on the consumer's
-- processed-events row for exactly-once. Each (day, producer, type) comes once per statement.
INSERT INTO {schema}.event_counts
SELECT * FROM jsonb_populate_recordset(NULL::{schema}.event_counts, %(rows)s::jsonb)
ON CONFLICT (day, producer, event_type) DO UPDATE SET events = {schema}.event_counts.events + EXCLUDED.events

-- name: cases_for_update
-- The rows the batch's events fold into; locked, although the projector is their only writer,
-- so that a second one (a stray process) would wait instead of losing an update.
SELECT * FROM {schema}.cases WHERE case_id = ANY(%(case_ids)s::uuid[]) FOR UPDATE

-- name: put_cases
-- The folded rows, whole: {assignments} sets every column but the key from EXCLUDED.
INSERT INTO {schema}.cases
SELECT * FROM jsonb_populate_recordset(NULL::{schema}.cases, %(rows)s::jsonb)
ON CONFLICT (case_id) DO UPDATE SET {assignments}

-- name: add_quotes
INSERT INTO {schema}.quotes
SELECT * FROM jsonb_populate_recordset(NULL::{schema}.quotes, %(rows)s::jsonb)
ON CONFLICT (quote_id) DO NOTHING

-- name: add_money
INSERT INTO {schema}.money_movements
SELECT * FROM jsonb_populate_recordset(NULL::{schema}.money_movements, %(rows)s::jsonb)
ON CONFLICT (event_id, component) DO NOTHING
