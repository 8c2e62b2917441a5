-- name: remember_case
INSERT INTO {schema}.cases (case_id, tumour_site, rare_tumour, preferred_centre, opened_at)
VALUES (%(case_id)s, %(tumour_site)s, %(rare_tumour)s, %(preferred_centre)s, %(opened_at)s)
ON CONFLICT (case_id) DO NOTHING

-- name: case_facts
SELECT tumour_site, rare_tumour, preferred_centre FROM {schema}.cases WHERE case_id = %(case_id)s

