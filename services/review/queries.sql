-- name: assign
-- A later routing attempt (after a decline) replaces the earlier centre.
INSERT INTO {schema}.assignments (case_id, centre_id, routed_at, attempt)
VALUES (%(case_id)s, %(centre_id)s, %(routed_at)s, %(attempt)s)
ON CONFLICT (case_id) DO UPDATE SET centre_id = EXCLUDED.centre_id, routed_at = EXCLUDED.routed_at,
    attempt = EXCLUDED.attempt, phase = 'assigned'
WHERE {schema}.assignments.attempt < EXCLUDED.attempt

-- name: assignment
SELECT case_id, centre_id, routed_at, stopped_by, phase FROM {schema}.assignments WHERE case_id = %(case_id)s

-- name: stop
UPDATE {schema}.assignments SET stopped_by = %(event_type)s WHERE case_id = %(case_id)s AND stopped_by IS NULL

-- name: set_phase
UPDATE {schema}.assignments SET phase = %(phase)s WHERE case_id = %(case_id)s

-- name: centre_cases
SELECT case_id, centre_id, routed_at, stopped_by, phase FROM {schema}.assignments WHERE centre_id = %(centre_id)s
ORDER BY routed_at

-- name: clock_running
-- The SLA timer's sweep: accepted, not delivered, not stopped.
SELECT case_id FROM {schema}.assignments
WHERE phase IN ('accepted', 'awaiting_information') AND stopped_by IS NULL ORDER BY case_id
