-- name: record_delivery
-- First delivery wins; a re-delivered review of the same case keeps the first one.
INSERT INTO {schema}.deliveries (case_id, event_id, occurred_at, payload)
VALUES (%(case_id)s, %(event_id)s, %(occurred_at)s, %(payload)s)
ON CONFLICT (case_id) DO NOTHING

-- name: delivery
SELECT payload FROM {schema}.deliveries WHERE case_id = %(case_id)s
