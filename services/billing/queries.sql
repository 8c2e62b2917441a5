-- name: ensure_facts
INSERT INTO {schema}.review_facts (case_id) VALUES (%(case_id)s) ON CONFLICT (case_id) DO NOTHING

-- name: reviewed
UPDATE {schema}.review_facts SET reviewed_by = %(centre_id)s WHERE case_id = %(case_id)s

-- name: booked
-- The first booking is the one credited (intake allows one); a redelivered one changes nothing.
UPDATE {schema}.review_facts SET booked_centre = %(centre_id)s, booking_event_id = %(booking_event_id)s,
    booked_at = %(booked_at)s
WHERE case_id = %(case_id)s AND booking_event_id IS NULL

-- name: credit_facts
SELECT reviewed_by, booked_centre, booking_event_id, booked_at FROM {schema}.review_facts WHERE case_id = %(case_id)s

-- name: journal_line
INSERT INTO {schema}.journal_lines (event_id, case_id, account, cents, occurred_at)
VALUES (%(event_id)s, %(case_id)s, %(account)s, %(cents)s, %(occurred_at)s)

-- name: case_balances
SELECT account, cents FROM {schema}.case_accounts WHERE case_id = %(case_id)s AND cents <> 0 ORDER BY account

-- name: ledger_total
-- Across every case the journal must sum to zero.
SELECT coalesce(sum(cents), 0)::bigint AS total, count(DISTINCT case_id) AS cases FROM {schema}.journal_lines
