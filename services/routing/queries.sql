-- name: remember_case
INSERT INTO {schema}.cases (case_id, tumour_site, rare_tumour, preferred_centre, opened_at)
VALUES (%(case_id)s, %(tumour_site)s, %(rare_tumour)s, %(preferred_centre)s, %(opened_at)s)
ON CONFLICT (case_id) DO NOTHING

-- name: case_facts
SELECT tumour_site, rare_tumour, preferred_centre, records_complete, processing_consent, transfer_centres, ended
FROM {schema}.cases WHERE case_id = %(case_id)s

-- name: records_complete
UPDATE {schema}.cases SET records_complete = true WHERE case_id = %(case_id)s

-- name: processing_consent
UPDATE {schema}.cases SET processing_consent = %(given)s WHERE case_id = %(case_id)s

-- name: transfer_consent
UPDATE {schema}.cases SET transfer_centres = %(centres)s WHERE case_id = %(case_id)s

-- name: ended
UPDATE {schema}.cases SET ended = true WHERE case_id = %(case_id)s
