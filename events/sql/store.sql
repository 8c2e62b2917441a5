-- name: stream_version
-- The current version of a stream, 0 when it has no event yet.
SELECT coalesce(max(version), 0) AS version FROM {schema}.events WHERE stream_id = %(stream_id)s

-- name: insert_event
-- Fails with a unique violation when another writer appended this version first.
INSERT INTO {schema}.events
    (stream_id, version, event_id, event_type, schema_version, case_id, occurred_at, recorded_at, envelope)
VALUES
    (%(stream_id)s, %(version)s, %(event_id)s, %(event_type)s, %(schema_version)s, %(case_id)s,
     %(occurred_at)s, %(recorded_at)s, %(envelope)s)

-- name: insert_outbox
INSERT INTO {schema}.outbox (event_id, topic, message_key, message)
VALUES (%(event_id)s, %(topic)s, %(message_key)s, %(message)s)

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
