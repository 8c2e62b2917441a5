-- name: record_delivery
-- First delivery wins; a re-delivered review of the same case keeps the first one.
INSERT INTO {schema}.deliveries (case_id, event_id, occurred_at, payload)
VALUES (%(case_id)s, %(event_id)s, %(occurred_at)s, %(payload)s)
ON CONFLICT (case_id) DO NOTHING

-- name: delivery
SELECT payload FROM {schema}.deliveries WHERE case_id = %(case_id)s

-- name: record_final_decline
-- The first final decline stands; a redelivered one changes nothing.
INSERT INTO {schema}.final_declines (case_id, event_id, occurred_at)
VALUES (%(case_id)s, %(event_id)s, %(occurred_at)s)
ON CONFLICT (case_id) DO NOTHING

-- name: final_decline
SELECT occurred_at FROM {schema}.final_declines WHERE case_id = %(case_id)s

-- name: lock_case
-- Serialises what decides a case's status: a command, and a reaction to another service's ending
-- or delivery, each read the facts only after the one before it committed.
SELECT case_id FROM {schema}.cases WHERE case_id = %(case_id)s FOR UPDATE

-- name: record_erasure
-- The patient's erasure, kept after their key is shredded: a case opened for them without a new
-- identity is refused (their old one is unreadable).
INSERT INTO {schema}.erasures (patient_ref, erased_at) VALUES (%(patient_ref)s, %(erased_at)s)
ON CONFLICT (patient_ref) DO NOTHING

-- name: erased_at
SELECT erased_at FROM {schema}.erasures WHERE patient_ref = %(patient_ref)s

-- name: upsert_patient
INSERT INTO {schema}.patients (patient_ref, identity) VALUES (%(patient_ref)s, %(identity)s)
ON CONFLICT (patient_ref) DO UPDATE SET identity = EXCLUDED.identity

-- name: patient
SELECT identity FROM {schema}.patients WHERE patient_ref = %(patient_ref)s

-- name: insert_case
INSERT INTO {schema}.cases (case_id, patient_ref, question, status, updated_at, tumour_site, status_since)
VALUES (%(case_id)s, %(patient_ref)s, %(question)s, %(status)s, %(updated_at)s, %(tumour_site)s, %(updated_at)s)

-- name: case_row
SELECT case_id, patient_ref, question, status FROM {schema}.cases WHERE case_id = %(case_id)s

-- name: set_question
UPDATE {schema}.cases SET question = %(question)s WHERE case_id = %(case_id)s

-- name: set_status
-- status_since moves only when the status changes: how long a case has been where it is.
UPDATE {schema}.cases SET status = %(status)s, updated_at = %(updated_at)s,
    status_since = CASE WHEN status = %(status)s THEN status_since ELSE %(updated_at)s END
WHERE case_id = %(case_id)s

-- name: patient_cases
SELECT case_id FROM {schema}.cases WHERE patient_ref = %(patient_ref)s ORDER BY case_id

-- name: cases_collecting
-- The timers' sweep: only cases still waiting for records can be reminded or expire.
SELECT case_id FROM {schema}.cases WHERE status = 'collecting_records' ORDER BY case_id

-- name: insert_record_file
INSERT INTO {schema}.record_files (record_id, case_id, kind, sha256, size_bytes, path)
VALUES (%(record_id)s, %(case_id)s, %(kind)s, %(sha256)s, %(size_bytes)s, %(path)s)

-- name: set_status_if
UPDATE {schema}.cases SET status = %(status)s, updated_at = %(updated_at)s, status_since = %(updated_at)s
WHERE case_id = %(case_id)s AND status = %(from_status)s AND status <> %(status)s

-- name: assign_centre
-- The centre routing sent the case to, and its deadline to accept; a later attempt (after a
-- decline) replaces an earlier one.
INSERT INTO {schema}.assignments (case_id, centre_id, attempt, accept_by, routed_at)
VALUES (%(case_id)s, %(centre_id)s, %(attempt)s, %(accept_by)s, %(routed_at)s)
ON CONFLICT (case_id) DO UPDATE SET centre_id = EXCLUDED.centre_id, attempt = EXCLUDED.attempt,
    accept_by = EXCLUDED.accept_by, routed_at = EXCLUDED.routed_at, released_at = NULL
WHERE {schema}.assignments.attempt < EXCLUDED.attempt

-- name: release_centre
-- The centre declined, or no centre will review the case: nobody holds it.
UPDATE {schema}.assignments SET centre_id = NULL, released_at = %(at)s
WHERE case_id = %(case_id)s AND (%(centre_id)s::text IS NULL OR centre_id = %(centre_id)s)

-- name: assigned_centre
SELECT centre_id FROM {schema}.assignments WHERE case_id = %(case_id)s

-- name: record_file
SELECT record_id, kind, sha256, size_bytes, path FROM {schema}.record_files
WHERE case_id = %(case_id)s AND record_id = %(record_id)s

-- name: record_access
INSERT INTO {schema}.record_accesses (case_id, record_id, centre_id, what, accessed_at)
VALUES (%(case_id)s, %(record_id)s, %(centre_id)s, %(what)s, %(at)s)

-- name: accesses
SELECT centre_id, what, record_id, accessed_at FROM {schema}.record_accesses
WHERE case_id = %(case_id)s ORDER BY accessed_at, access_id

-- name: served_file
-- A centre's copy of one record, if derived by this recipe; an older recipe's row is stale.
SELECT media_type, sha256, size_bytes, held FROM {schema}.served_files
WHERE record_id = %(record_id)s AND recipe = %(recipe)s

-- name: save_served_file
-- Two first reads at once derive the same facts: the later write changes nothing.
INSERT INTO {schema}.served_files (record_id, recipe, media_type, sha256, size_bytes, held)
VALUES (%(record_id)s, %(recipe)s, %(media_type)s, %(sha256)s, %(size_bytes)s, %(held)s)
ON CONFLICT (record_id) DO UPDATE SET recipe = EXCLUDED.recipe, media_type = EXCLUDED.media_type,
    sha256 = EXCLUDED.sha256, size_bytes = EXCLUDED.size_bytes, held = EXCLUDED.held
