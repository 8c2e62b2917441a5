-- name: stream_version
-- The current version of a stream, 0 when it has no event yet.
SELECT coalesce(max(version), 0) AS version FROM {schema}.events WHERE stream_id = %(stream_id)s

-- name: append
-- One statement appends a command's events and their outbox rows: a round trip per statement
-- was most of a command's time. The rows come as one JSON array; each
-- envelope is serialised once, stored as the event (jsonb) and sent as the message (its text,
-- kept as written: a json column, unlike jsonb, keeps the text). Outbox ids
-- follow the events' order (the relay publishes a case in id order). Fails with a unique
-- violation when another writer appended one of these versions first.
WITH input AS (
    SELECT * FROM ROWS FROM (json_to_recordset(%(rows)s::json)
        AS (version integer, event_id uuid, event_type text, schema_version integer, occurred_at timestamptz,
            envelope json)) WITH ORDINALITY AS i(version, event_id, event_type, schema_version, occurred_at,
                                                  envelope, n)
), stored AS (
    INSERT INTO {schema}.events
        (stream_id, version, event_id, event_type, schema_version, case_id, occurred_at, recorded_at, envelope)
    SELECT %(stream_id)s, version, event_id, event_type, schema_version, %(case_id)s, occurred_at,
           %(recorded_at)s, envelope::jsonb
    FROM input
), queued AS (
    INSERT INTO {schema}.outbox (event_id, topic, message_key, message)
    SELECT event_id, %(topic)s, %(message_key)s, convert_to(envelope::text, 'UTF8') FROM input ORDER BY n
    RETURNING id
)
SELECT count(*) AS appended FROM queued

-- name: notify_outbox
-- Wakes the relay at commit; NOTIFY is delivered only if the transaction commits.
SELECT pg_notify(%(channel)s, '')

-- name: load_stream
SELECT envelope::text AS envelope FROM {schema}.events WHERE stream_id = %(stream_id)s ORDER BY version

-- name: mark_processed_many
-- A batch's events in one statement: returns the ids this consumer had not seen. An id twice in
-- the batch (the relay re-sent it) is inserted once; the second copy conflicts and is skipped.
INSERT INTO {schema}.processed_events (consumer, event_id)
SELECT %(consumer)s, e FROM unnest(%(event_ids)s::uuid[]) AS e
ON CONFLICT DO NOTHING
RETURNING event_id

-- name: mark_processed
-- Returns a row only the first time a consumer sees an event.
INSERT INTO {schema}.processed_events (consumer, event_id) VALUES (%(consumer)s, %(event_id)s)
ON CONFLICT DO NOTHING
RETURNING event_id

-- name: load_streams
-- A consumer batch's streams in one statement: a round trip per case was most of a reaction's
-- wait. Ordered so each stream's events come in version order.
SELECT stream_id, envelope::text AS envelope FROM {schema}.events
WHERE stream_id = ANY(%(stream_ids)s::text[]) ORDER BY stream_id, version

-- name: append_many
-- Every stream a consumer batch decided, events and outbox rows, in one statement (like append,
-- with the stream and case on each row). Outbox ids follow the rows' order: a case's events in
-- the order they were decided. A unique violation means one of the streams moved on.
WITH input AS (
    SELECT * FROM ROWS FROM (json_to_recordset(%(rows)s::json)
        AS (stream_id text, case_id uuid, version integer, event_id uuid, event_type text,
            schema_version integer, occurred_at timestamptz, envelope json))
        WITH ORDINALITY AS i(stream_id, case_id, version, event_id, event_type, schema_version, occurred_at,
                             envelope, n)
), stored AS (
    INSERT INTO {schema}.events
        (stream_id, version, event_id, event_type, schema_version, case_id, occurred_at, recorded_at, envelope)
    SELECT stream_id, version, event_id, event_type, schema_version, case_id, occurred_at,
           %(recorded_at)s, envelope::jsonb
    FROM input
), queued AS (
    INSERT INTO {schema}.outbox (event_id, topic, message_key, message)
    SELECT event_id, %(topic)s, convert_to(case_id::text, 'UTF8'), convert_to(envelope::text, 'UTF8')
    FROM input ORDER BY n
    RETURNING id
)
SELECT count(*) AS appended FROM queued
