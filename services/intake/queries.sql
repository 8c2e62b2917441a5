-- name: record_delivery
-- First delivery wins; a re-delivered review of the same case keeps the first one.
INSERT INTO {schema}.deliveries (case_id, event_id, occurred_at, payload)
VALUES (%(case_id)s, %(event_id)s, %(occurred_at)s, %(payload)s)
ON CONFLICT (case_id) DO NOTHING

-- name: delivery
-- The delivered review's payload, and its event time: a booking or closure comes after it.
SELECT payload, occurred_at FROM {schema}.deliveries WHERE case_id = %(case_id)s


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
INSERT INTO {schema}.cases (case_id, patient_ref, question, updated_at, requested_by)
VALUES (%(case_id)s, %(patient_ref)s, %(question)s, %(updated_at)s, %(requested_by)s)

-- name: case_row
SELECT case_id, patient_ref, question, requested_by FROM {schema}.cases WHERE case_id = %(case_id)s

-- name: set_question
UPDATE {schema}.cases SET question = %(question)s WHERE case_id = %(case_id)s

-- name: patient_cases
SELECT case_id FROM {schema}.cases WHERE patient_ref = %(patient_ref)s ORDER BY case_id

-- name: insert_record_file
INSERT INTO {schema}.record_files (record_id, case_id, kind, sha256, size_bytes, path)
VALUES (%(record_id)s, %(case_id)s, %(kind)s, %(sha256)s, %(size_bytes)s, %(path)s)

-- name: record_file
SELECT record_id, kind, sha256, size_bytes, path FROM {schema}.record_files
WHERE case_id = %(case_id)s AND record_id = %(record_id)s

-- name: record_access
INSERT INTO {schema}.record_accesses (case_id, record_id, centre_id, subject, what, accessed_at)
VALUES (%(case_id)s, %(record_id)s, %(centre_id)s, %(subject)s, %(what)s, %(at)s)

-- name: accesses
SELECT centre_id, subject, what, record_id, accessed_at FROM {schema}.record_accesses
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
