-- name: ensure_facts
INSERT INTO {schema}.review_facts (case_id) VALUES (%(case_id)s) ON CONFLICT (case_id) DO NOTHING

-- name: accepted
UPDATE {schema}.review_facts SET accepted = true, centre_id = %(centre_id)s WHERE case_id = %(case_id)s

-- name: declined
-- A decline releases the acceptance: the next centre has not accepted yet.
UPDATE {schema}.review_facts SET accepted = false, centre_id = NULL WHERE case_id = %(case_id)s

-- name: delivered
UPDATE {schema}.review_facts SET delivered = true WHERE case_id = %(case_id)s

-- name: video_held
UPDATE {schema}.review_facts SET video_held = true WHERE case_id = %(case_id)s

-- name: facts
SELECT accepted, delivered, video_held FROM {schema}.review_facts WHERE case_id = %(case_id)s

-- name: journal_line
INSERT INTO {schema}.journal_lines (event_id, case_id, account, cents, occurred_at)
VALUES (%(event_id)s, %(case_id)s, %(account)s, %(cents)s, %(occurred_at)s)

-- name: case_balances
SELECT account, cents FROM {schema}.case_accounts WHERE case_id = %(case_id)s AND cents <> 0 ORDER BY account

-- name: ledger_total
-- Across every case the journal must sum to zero.
SELECT coalesce(sum(cents), 0)::bigint AS total, count(DISTINCT case_id) AS cases FROM {schema}.journal_lines
