-- The projector's statements, bound to its target schema ({schema}): `analytics` for the live
-- consumer, the scratch schema for a rebuild, so both run the very same SQL.

-- name: add_to_timeline
-- event_id is the key: the processed-events row already guards redelivery; this guards replays.
INSERT INTO {schema}.case_timeline
    (case_id, event_id, event_type, producer, stream_version, occurred_at, recorded_at)
VALUES (%(case_id)s, %(event_id)s, %(event_type)s, %(producer)s, %(stream_version)s, %(occurred_at)s,
        %(recorded_at)s)
ON CONFLICT (event_id) DO NOTHING

-- name: timeline
SELECT event_type, producer, stream_version, occurred_at, recorded_at, event_id
FROM {schema}.case_timeline WHERE case_id = %(case_id)s ORDER BY occurred_at, recorded_at, event_type

-- name: count_event
INSERT INTO {schema}.event_counts (day, producer, event_type, events)
VALUES ((%(occurred_at)s AT TIME ZONE 'UTC')::date, %(producer)s, %(event_type)s, 1)
ON CONFLICT (day, producer, event_type) DO UPDATE SET events = {schema}.event_counts.events + 1
