-- name: touch
-- Every case the worklist consumer hears of gets its row, with the defaults until a fact says more.
INSERT INTO {schema}.worklist (case_id, updated_at) VALUES (%(case_id)s, %(at)s)
ON CONFLICT (case_id) DO NOTHING

-- name: set_clock
-- An at-risk event in a year the calendar does not know has no limit date: the one known stays.
UPDATE {schema}.worklist SET sla_state = %(sla_state)s, updated_at = %(at)s,
    limit_due = CASE WHEN %(keep_due)s THEN coalesce(%(limit_due)s, limit_due) ELSE %(limit_due)s END
WHERE case_id = %(case_id)s

-- name: set_information_open
UPDATE {schema}.worklist SET information_open = %(open)s, updated_at = %(at)s WHERE case_id = %(case_id)s

-- name: set_finally_declined
UPDATE {schema}.worklist SET finally_declined = true, updated_at = %(at)s WHERE case_id = %(case_id)s

-- name: set_payment_failed
UPDATE {schema}.worklist SET payment_failed = %(failed)s, updated_at = %(at)s WHERE case_id = %(case_id)s

-- name: follow_up_asked
INSERT INTO {schema}.worklist_follow_ups (follow_up_id, case_id, due) VALUES (%(follow_up_id)s, %(case_id)s, %(due)s)
ON CONFLICT (follow_up_id) DO NOTHING

-- name: follow_up_answered
UPDATE {schema}.worklist_follow_ups SET answered = true WHERE follow_up_id = %(follow_up_id)s

-- name: document_stored
INSERT INTO {schema}.case_documents (document_id, case_id, kind, version, sha256, size_bytes, page_count, stored_at)
VALUES (%(document_id)s, %(case_id)s, %(kind)s, %(version)s, %(sha256)s, %(size_bytes)s, %(page_count)s, %(at)s)
ON CONFLICT (document_id) DO NOTHING

-- name: report_delivered
-- The delivery names the uploaded report: it becomes version 1.
UPDATE {schema}.case_documents SET version = 1 WHERE document_id = %(document_id)s AND case_id = %(case_id)s

-- name: documents
SELECT document_id, kind, version, sha256, size_bytes, page_count, stored_at FROM {schema}.case_documents
WHERE case_id = %(case_id)s AND (kind = 'addendum' OR version IS NOT NULL) ORDER BY stored_at, document_id

-- name: page
-- One page of the worklist, nearest deadline first (the main clock's limit or an open follow-up's
-- due date; none last), then by case id, resumed after the cursor's (deadline, case_id).
-- "Waiting on": whose move it is, first match: an ended case nobody's; missing records, consents
-- or requested information the patient's; a failed payment billing's; a case no centre holds (not
-- yet routed, blocked, declined by all) the coordinator's; a case at a centre, or an open follow-up,
-- the centre's; a delivered review the patient's (their decision on treatment).
WITH listed AS (
    SELECT c.case_id, c.status, a.centre_id, coalesce(w.sla_state, 'not_started') AS sla_state,
           w.limit_due, f.follow_up_due, coalesce(f.follow_ups_open, 0) AS follow_ups_open,
           coalesce(w.information_open, false) AS information_open,
           coalesce(w.payment_failed, false) AS payment_failed,
           coalesce(w.finally_declined, false) AS finally_declined, c.updated_at
    FROM {schema}.cases c
    LEFT JOIN {schema}.assignments a ON a.case_id = c.case_id
    LEFT JOIN {schema}.worklist w ON w.case_id = c.case_id
    -- Open follow-ups grouped once and hash-joined: a lateral probe per case made the page 4x
    -- slower at 124k cases (bench/growth.py). The page still scans and sorts every case.
    LEFT JOIN (
        SELECT case_id, min(due) AS follow_up_due, count(*) AS follow_ups_open FROM {schema}.worklist_follow_ups
        WHERE NOT answered GROUP BY case_id
    ) f ON f.case_id = c.case_id
), ranked AS (
    SELECT *,
        CASE
            WHEN status IN ('treatment_booked', 'closed', 'cancelled', 'withdrawn', 'expired', 'erased', 'declined_by_all_centres') THEN 'nobody'
            WHEN status = 'collecting_records' OR information_open THEN 'patient'
            WHEN payment_failed THEN 'billing'
            WHEN follow_ups_open > 0 THEN 'centre'
            WHEN status = 'review_delivered' THEN 'patient'
            WHEN centre_id IS NULL THEN 'coordinator'
            ELSE 'centre'
        END AS waiting_on,
        CASE WHEN status IN ('treatment_booked', 'closed', 'cancelled', 'withdrawn', 'expired', 'erased', 'declined_by_all_centres') THEN NULL
             ELSE least(CASE WHEN sla_state IN ('on_track', 'at_risk', 'breached') THEN limit_due END,
                        follow_up_due)
        END AS deadline
    FROM listed
)
SELECT case_id, status, centre_id, sla_state, limit_due, follow_up_due, follow_ups_open, waiting_on, deadline,
       information_open, payment_failed, finally_declined, updated_at
FROM ranked
WHERE (%(case_id)s::uuid IS NULL OR case_id = %(case_id)s)
  AND (%(status)s::text IS NULL OR status = %(status)s)
  AND (%(centre)s::text IS NULL OR centre_id = %(centre)s)
  AND (%(sla_state)s::text IS NULL OR sla_state = %(sla_state)s)
  AND (%(waiting_on)s::text IS NULL OR waiting_on = %(waiting_on)s)
  AND (%(after_deadline)s::date IS NULL
       OR (coalesce(deadline, 'infinity'::date), case_id) > (%(after_deadline)s::date, %(after_case)s::uuid))
ORDER BY coalesce(deadline, 'infinity'::date), case_id
LIMIT %(limit)s
