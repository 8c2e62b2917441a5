-- name: assign
-- A later routing attempt (after a decline) replaces the earlier centre.
INSERT INTO {schema}.assignments (case_id, centre_id, routed_at, attempt)
VALUES (%(case_id)s, %(centre_id)s, %(routed_at)s, %(attempt)s)
-- A row made by a stop that came first (see `stop`) has no attempt yet, and keeps its stop.
ON CONFLICT (case_id) DO UPDATE SET centre_id = EXCLUDED.centre_id, routed_at = EXCLUDED.routed_at,
    attempt = EXCLUDED.attempt, phase = 'assigned'
WHERE coalesce({schema}.assignments.attempt, 0) < EXCLUDED.attempt

-- name: assignment
SELECT case_id, centre_id, routed_at, stopped_by, phase FROM {schema}.assignments WHERE case_id = %(case_id)s

-- name: stop
-- The first stop is kept, except that erasure overrides any: it is the one readers must be told.
-- A case's events come from four relays: its ending can reach review before its routing does
-- (routed while intake cancelled). The stop then makes the row, and the routing that follows
-- assigns the centre to a case that is already stopped, so no centre can take it up.
INSERT INTO {schema}.assignments (case_id, stopped_by) VALUES (%(case_id)s, %(event_type)s)
ON CONFLICT (case_id) DO UPDATE SET stopped_by = EXCLUDED.stopped_by
WHERE {schema}.assignments.stopped_by IS NULL OR EXCLUDED.stopped_by = 'PatientDataErased'

-- name: set_phase
UPDATE {schema}.assignments SET phase = %(phase)s WHERE case_id = %(case_id)s

-- name: centre_cases
SELECT case_id, centre_id, routed_at, stopped_by, phase FROM {schema}.assignments WHERE centre_id = %(centre_id)s
ORDER BY routed_at

-- name: clock_running
-- The timer's sweep: a main clock running, or a follow-up question open after delivery.
SELECT case_id FROM {schema}.assignments
WHERE phase IN ('accepted', 'awaiting_information', 'answering_follow_up') AND stopped_by IS NULL ORDER BY case_id

-- name: delete_texts
DELETE FROM {schema}.follow_up_texts WHERE case_id = %(case_id)s

-- name: insert_text
INSERT INTO {schema}.follow_up_texts (follow_up_id, case_id, ciphertext)
VALUES (%(follow_up_id)s, %(case_id)s, %(ciphertext)s)

-- name: texts
SELECT follow_up_id, ciphertext FROM {schema}.follow_up_texts WHERE case_id = %(case_id)s
