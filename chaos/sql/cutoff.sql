-- name: _landed
-- Where the broker acknowledged each event of the stores on the event topic: the relays record
-- its partition and offset in the outbox row when the broker answers.
(SELECT event_id, kafka_partition, kafka_offset FROM intake.outbox
  WHERE topic = %(topic)s AND kafka_offset IS NOT NULL
 UNION ALL SELECT event_id, kafka_partition, kafka_offset FROM routing.outbox
  WHERE topic = %(topic)s AND kafka_offset IS NOT NULL
 UNION ALL SELECT event_id, kafka_partition, kafka_offset FROM review.outbox
  WHERE topic = %(topic)s AND kafka_offset IS NOT NULL
 UNION ALL SELECT event_id, kafka_partition, kafka_offset FROM billing.outbox
  WHERE topic = %(topic)s AND kafka_offset IS NOT NULL)

-- name: processed_by
-- The events of these partitions that the consumer had applied by a moment: its tracking rows,
-- dated when their transaction began, with where each event landed on the topic.
SELECT l.kafka_partition AS partition, l.kafka_offset AS "offset", l.event_id, p.processed_at
  FROM {_landed} AS l
  JOIN {schema}.processed_events AS p ON p.event_id = l.event_id AND p.consumer = %(consumer)s
 WHERE l.kafka_partition = ANY(%(partitions)s) AND p.processed_at <= %(at)s
 ORDER BY 1, 2

-- name: reactions_untracked
-- Half-applied one way: an event the service appended in reaction to an event of the topic
-- (its causation) while its consumer holds no tracking row for that event.
SELECT e.event_id, e.event_type
  FROM {schema}.events AS e
  JOIN {_landed} AS l ON l.event_id = (e.envelope ->> 'causation_id')::uuid
  LEFT JOIN {schema}.processed_events AS p ON p.consumer = %(consumer)s AND p.event_id = l.event_id
 WHERE p.event_id IS NULL AND e.case_id = ANY(%(cases)s)

-- name: tracked_unanswered
-- Half-applied the other way: a case's opening the consumer tracked as applied without the
-- invoice it always appends for it (billing invoices every opened case, in that transaction).
SELECT p.event_id
  FROM {schema}.processed_events AS p
  JOIN intake.events AS o ON o.event_id = p.event_id AND o.event_type = 'CaseOpened'
 WHERE p.consumer = %(consumer)s AND o.case_id = ANY(%(cases)s)
   AND NOT EXISTS (SELECT 1 FROM {schema}.events AS e
                    WHERE (e.envelope ->> 'causation_id')::uuid = p.event_id)
