-- name: remember_case
INSERT INTO {schema}.cases (case_id, tumour_site, rare_tumour, preferred_centre, opened_at, question_topics)
VALUES (%(case_id)s, %(tumour_site)s, %(rare_tumour)s, %(preferred_centre)s, %(opened_at)s, %(question_topics)s)
ON CONFLICT (case_id) DO NOTHING

-- name: case_facts
SELECT tumour_site, rare_tumour, preferred_centre, question_topics, records_complete, processing_consent,
       transfer_centres, ended, assigned_centre, declined, queued, coordinator_pick, attempts,
       accept_by, accepted, withdrawn_at, withdrawal_reason, reassign_to
FROM {schema}.cases WHERE case_id = %(case_id)s FOR UPDATE

-- name: records_complete
UPDATE {schema}.cases SET records_complete = true WHERE case_id = %(case_id)s

-- name: processing_consent
UPDATE {schema}.cases SET processing_consent = %(given)s WHERE case_id = %(case_id)s

-- name: transfer_consent
UPDATE {schema}.cases SET transfer_centres = %(centres)s WHERE case_id = %(case_id)s

-- name: ended
UPDATE {schema}.cases SET ended = true, queued = false WHERE case_id = %(case_id)s

-- name: assigned
-- A new centre holds the case: its own deadline, nothing accepted or withdrawn yet.
UPDATE {schema}.cases SET assigned_centre = %(centre_id)s, queued = false, attempts = attempts + 1,
    coordinator_pick = %(coordinator_pick)s, accept_by = %(accept_by)s, accepted = false,
    withdrawn_at = NULL, withdrawal_reason = NULL, reassign_to = NULL
WHERE case_id = %(case_id)s

-- name: accepted
-- The centre holding the case accepted it (an acceptance that came first cancels a withdrawal).
UPDATE {schema}.cases SET accepted = true, withdrawn_at = NULL, withdrawal_reason = NULL, reassign_to = NULL
WHERE case_id = %(case_id)s

-- name: withdrawing
UPDATE {schema}.cases SET withdrawn_at = %(at)s, withdrawal_reason = %(reason)s, reassign_to = %(reassign_to)s
WHERE case_id = %(case_id)s

-- name: awaiting_acceptance
-- The acceptance timer's sweep: cases at a centre that has not answered and whose deadline day
-- ended before today (Asia/Shanghai), oldest deadline first.
SELECT case_id FROM {schema}.cases
WHERE assigned_centre IS NOT NULL AND NOT accepted AND withdrawn_at IS NULL AND NOT ended
  AND accept_by < %(today)s
ORDER BY accept_by, case_id

-- name: declined
UPDATE {schema}.cases SET declined = array_append(declined, %(centre_id)s), assigned_centre = NULL,
    accepted = false, withdrawn_at = NULL, withdrawal_reason = NULL, reassign_to = NULL
WHERE case_id = %(case_id)s

-- name: queued
UPDATE {schema}.cases SET queued = %(queued)s WHERE case_id = %(case_id)s

-- name: release
-- The case no longer occupies its centre (delivered, declined or ended); returns that centre.
UPDATE {schema}.cases c SET assigned_centre = NULL
FROM (SELECT case_id, assigned_centre FROM {schema}.cases WHERE case_id = %(case_id)s FOR UPDATE) old
WHERE c.case_id = old.case_id AND old.assigned_centre IS NOT NULL
RETURNING old.assigned_centre AS centre_id

-- name: load
SELECT centre_id, active FROM {schema}.centre_load

-- name: add_load
INSERT INTO {schema}.centre_load (centre_id, active) VALUES (%(centre_id)s, 1)
ON CONFLICT (centre_id) DO UPDATE SET active = {schema}.centre_load.active + 1

-- name: drop_load
-- A plain UPDATE: PostgreSQL checks CHECK constraints on an upsert's proposed row (-1) before
-- it sees the conflict, so a decrement cannot be written as an upsert.
UPDATE {schema}.centre_load SET active = active - 1 WHERE centre_id = %(centre_id)s

-- name: queue
-- The coordinator queue: cases routing could not place, oldest first.
SELECT case_id, tumour_site, rare_tumour, declined, opened_at FROM {schema}.cases
WHERE queued AND NOT ended ORDER BY opened_at

-- name: in_queue
SELECT case_id FROM {schema}.cases WHERE case_id = %(case_id)s AND queued AND NOT ended FOR UPDATE
