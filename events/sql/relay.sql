-- name: unpublished
-- Every row not yet acknowledged, oldest first, except those of a case with a parked row: a
-- case's later events wait behind its parked one, other cases flow. A row whose transaction
-- commits late is still found here later: the relay never skips past it the way an
-- "id > last seen" cursor would.
-- The parked keys are collected first, once (there are almost never any): correlated per row,
-- the planner probed every unpublished row against all the others (7.4M buffer hits, seconds, for
-- a 6k-row backlog) and the relay fell to ~500 rows/s exactly when a backlog built up.
WITH parked AS MATERIALIZED (
    SELECT DISTINCT message_key FROM {schema}.outbox WHERE parked_at IS NOT NULL AND published_at IS NULL
)
SELECT o.id, o.event_id, o.topic, o.message_key, o.message FROM {schema}.outbox o
WHERE o.published_at IS NULL AND o.parked_at IS NULL
  AND NOT EXISTS (SELECT 1 FROM parked p WHERE p.message_key = o.message_key)
ORDER BY o.id LIMIT %(limit)s

-- name: mark_published
-- Records where each acknowledged row landed, so a later check can ask the broker for it.
UPDATE {schema}.outbox o SET published_at = now(), kafka_partition = a.partition, kafka_offset = a.kafka_offset
FROM unnest(%(ids)s::bigint[], %(partitions)s::integer[], %(offsets)s::bigint[]) AS a(id, partition, kafka_offset)
WHERE o.id = a.id

-- name: park
UPDATE {schema}.outbox SET parked_at = now(), park_reason = %(reason)s WHERE id = %(id)s

-- name: backlog
SELECT count(*) FILTER (WHERE parked_at IS NULL) AS backlog, count(*) FILTER (WHERE parked_at IS NOT NULL) AS parked
FROM {schema}.outbox WHERE published_at IS NULL

-- name: last_landed
-- The row of this partition acknowledged last: if the broker still holds it, it holds all before it.
SELECT kafka_offset, message FROM {schema}.outbox
WHERE kafka_partition = %(partition)s AND kafka_offset IS NOT NULL AND topic = %(topic)s
ORDER BY kafka_offset DESC LIMIT 1

-- name: republish_partition
-- The broker lost this partition's tail (or all of it): publish those rows again, in id order,
-- which is each case's order. Consumers drop what they had already applied by event id.
UPDATE {schema}.outbox SET published_at = NULL, kafka_partition = NULL, kafka_offset = NULL
WHERE topic = %(topic)s AND kafka_partition = %(partition)s AND kafka_offset >= %(from_offset)s

-- name: republish_topic
-- The topic was created anew: nothing acknowledged in the old one is in it.
UPDATE {schema}.outbox SET published_at = NULL, kafka_partition = NULL, kafka_offset = NULL
WHERE topic = %(topic)s AND published_at IS NOT NULL
