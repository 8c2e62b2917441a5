-- name: clock
-- The worklist consumer's row of one case, locked while an event is folded into it.
SELECT accepted, target_due, limit_due, at_risk, breached, calendar_blocked, delivered, within_limit,
       information_open, information_since, payment_failed, payment_since, finally_declined, updated_at
FROM {schema}.worklist WHERE case_id = %(case_id)s FOR UPDATE

-- name: save_clock
-- The row after the fold (services/intake/worklist_clock.py); sla_state is the fold's, without the
-- case's ending, which the list adds when it reads intake's status.
INSERT INTO {schema}.worklist (case_id, sla_state, accepted, target_due, limit_due, at_risk, breached,
    calendar_blocked, delivered, within_limit, information_open, information_since, payment_failed, payment_since,
    finally_declined, updated_at)
VALUES (%(case_id)s, %(sla_state)s, %(accepted)s, %(target_due)s, %(limit_due)s, %(at_risk)s, %(breached)s,
    %(calendar_blocked)s, %(delivered)s, %(within_limit)s, %(information_open)s, %(information_since)s,
    %(payment_failed)s, %(payment_since)s, %(finally_declined)s, %(updated_at)s)
ON CONFLICT (case_id) DO UPDATE SET sla_state = EXCLUDED.sla_state, accepted = EXCLUDED.accepted,
    target_due = EXCLUDED.target_due, limit_due = EXCLUDED.limit_due, at_risk = EXCLUDED.at_risk,
    breached = EXCLUDED.breached, calendar_blocked = EXCLUDED.calendar_blocked, delivered = EXCLUDED.delivered,
    within_limit = EXCLUDED.within_limit, information_open = EXCLUDED.information_open,
    information_since = EXCLUDED.information_since, payment_failed = EXCLUDED.payment_failed,
    payment_since = EXCLUDED.payment_since, finally_declined = EXCLUDED.finally_declined,
    updated_at = EXCLUDED.updated_at

-- name: follow_up_asked
INSERT INTO {schema}.worklist_follow_ups (follow_up_id, case_id, due, asked_at)
VALUES (%(follow_up_id)s, %(case_id)s, %(due)s, %(at)s)
ON CONFLICT (follow_up_id) DO NOTHING

-- name: follow_up_answered
UPDATE {schema}.worklist_follow_ups SET answered = true, answered_at = %(at)s WHERE follow_up_id = %(follow_up_id)s

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

-- name: items
-- Every case as the worklist lists it (the other blocks filter and page it), as of `now`, the
-- service's clock (only `waited_days` reads it). From intake's own rows (status, tumour site), the
-- centre holding the case (intake.assignments) and what the other services' events say
-- (intake.worklist, its follow-ups).
--   ended: booked, closed, cancelled, withdrawn, expired, erased or declined by all centres.
--   sla_state: the worklist consumer's (worklist_clock.py), `stopped` when the case ended (other
--     than by a booking or closure, which follow a delivery) while its clock ran.
--   accept_by: the centre's deadline to accept, while it has not.
--   waiting_on, whose move it is, first match: an ended case nobody's; missing records, consents or
--     requested information the patient's; a failed payment billing's; an open follow-up the
--     centre's; a delivered review the patient's (their decision on treatment); a case no centre
--     holds (not yet routed, declined, queued) the coordinator's; a case at a centre the centre's.
--   waiting_since: since when that party has had the move (event time): the ending; the opening,
--     the information request, or the delivery (or last answered follow-up); the failed payment;
--     the oldest open follow-up; the case's readiness or the last release by a centre; the routing
--     to the centre, or the later moment the move came back to it (information received, payment
--     through).
--   deadline, nearest first: the SLA limit while the clock runs (its target while the calendar
--     lacks the limit's year), an open follow-up's due date, the acceptance deadline; none once
--     ended. sort_key orders by it; a running clock with no date the calendar can tell sorts first
--     (its breach cannot be foreseen), cases without a deadline last.
SELECT i.*,
    CASE WHEN i.deadline IS NOT NULL THEN i.deadline
         WHEN i.clock_runs AND i.sla_state = 'calendar_unknown' THEN '-infinity'::date
         ELSE 'infinity'::date END AS sort_key,
    round((greatest(0, extract(epoch FROM %(now)s::timestamptz - i.waiting_since)) / 86400)::numeric, 1)
        AS waited_days
FROM (
    SELECT l.*,
        CASE WHEN l.ended THEN 'nobody'
             WHEN l.status = 'collecting_records' OR l.information_open THEN 'patient'
             WHEN l.payment_failed THEN 'billing'
             WHEN l.follow_ups_open > 0 THEN 'centre'
             WHEN l.status = 'review_delivered' THEN 'patient'
             WHEN l.centre_id IS NULL THEN 'coordinator'
             ELSE 'centre' END AS waiting_on,
        CASE WHEN l.ended THEN l.status_since
             WHEN l.status = 'collecting_records' THEN l.status_since
             WHEN l.information_open THEN l.information_since
             WHEN l.payment_failed THEN l.payment_since
             WHEN l.follow_ups_open > 0 THEN l.follow_up_asked_at
             WHEN l.status = 'review_delivered' THEN greatest(l.status_since, l.last_answered_at)
             WHEN l.centre_id IS NULL THEN greatest(l.status_since, l.released_at)
             ELSE greatest(l.routed_at, l.information_since, l.payment_since) END AS waiting_since,
        CASE WHEN l.ended THEN NULL
             ELSE least(CASE WHEN l.clock_runs THEN coalesce(l.limit_due, l.target_due) END, l.follow_up_due,
                        l.accept_by) END AS deadline
    FROM (
        SELECT c.case_id, c.status, c.tumour_site, c.status_since, a.centre_id, a.routed_at, a.released_at,
               c.status IN ('treatment_booked', 'closed', 'cancelled', 'withdrawn', 'expired', 'erased',
                            'declined_by_all_centres') AS ended,
               -- worklist_clock.with_ending: a booking or closure follows a delivery, whose clock had stopped.
               CASE WHEN c.status IN ('cancelled', 'withdrawn', 'expired', 'erased', 'declined_by_all_centres')
                         AND coalesce(w.sla_state, 'not_started') IN ('on_track', 'at_risk', 'breached', 'paused',
                                                                      'calendar_unknown')
                    THEN 'stopped' ELSE coalesce(w.sla_state, 'not_started') END AS sla_state,
               coalesce(w.accepted, false) AND NOT coalesce(w.delivered, false)
                   AND coalesce(w.sla_state, 'not_started') IN ('on_track', 'at_risk', 'breached', 'calendar_unknown')
                   AS clock_runs,
               CASE WHEN a.centre_id IS NOT NULL AND NOT coalesce(w.accepted, false) AND c.status = 'ready_for_review'
                    THEN a.accept_by END AS accept_by,
               w.target_due, w.limit_due, f.follow_up_due, coalesce(f.follow_ups_open, 0) AS follow_ups_open,
               f.follow_up_asked_at, f.last_answered_at,
               coalesce(w.information_open, false) AS information_open, w.information_since,
               coalesce(w.payment_failed, false) AS payment_failed, w.payment_since,
               coalesce(w.finally_declined, false) AS finally_declined,
               greatest(c.updated_at, w.updated_at) AS updated_at
        FROM {schema}.cases c
        LEFT JOIN {schema}.assignments a ON a.case_id = c.case_id
        LEFT JOIN {schema}.worklist w ON w.case_id = c.case_id
        -- Follow-ups grouped once and hash-joined: a lateral probe per case made the page 4x
        -- slower at 124k cases (bench/growth.py). The page still scans and sorts every case.
        LEFT JOIN (
            SELECT case_id, min(due) FILTER (WHERE NOT answered) AS follow_up_due,
                   count(*) FILTER (WHERE NOT answered) AS follow_ups_open,
                   min(asked_at) FILTER (WHERE NOT answered) AS follow_up_asked_at,
                   max(answered_at) AS last_answered_at
            FROM {schema}.worklist_follow_ups GROUP BY case_id
        ) f ON f.case_id = c.case_id
    ) l
) i

-- name: item
-- One case as the list shows it (the FHIR export reads it too).
SELECT case_id, status, tumour_site, centre_id, sla_state, target_due, limit_due, accept_by, follow_up_due,
       follow_ups_open, deadline, waiting_on, waiting_since, waited_days, information_open, payment_failed,
       finally_declined, updated_at
FROM ({items}) i WHERE case_id = %(case_id)s

-- name: expire_walks
-- A walk lasts an hour: its cursors then answer 422 and the client starts again from the first page.
DELETE FROM {schema}.worklist_walks WHERE created_at < now() - interval '1 hour'

-- name: start_walk
-- A walk begins: every case its filters match, with its sort key now. Its pages follow that order
-- whatever the deadlines do meanwhile, so no case is listed twice or skipped.
INSERT INTO {schema}.worklist_walks (walk_id, sort_key, case_id)
SELECT %(walk_id)s, sort_key, case_id FROM ({items}) i
WHERE (%(scope)s = 'all' OR ended = (%(scope)s = 'ended'))
  AND (%(status)s::text IS NULL OR status = %(status)s)
  AND (%(centre)s::text IS NULL OR centre_id = %(centre)s)
  AND (%(sla_state)s::text IS NULL OR sla_state = %(sla_state)s)
  AND (%(waiting_on)s::text IS NULL OR waiting_on = %(waiting_on)s)

-- name: walk_exists
SELECT 1 AS found FROM {schema}.worklist_walks WHERE walk_id = %(walk_id)s LIMIT 1

-- name: end_walk
-- A walk that fits on its first page gives out no cursor: nothing to keep.
DELETE FROM {schema}.worklist_walks WHERE walk_id = %(walk_id)s

-- name: walk_page
-- One page of a walk, after the cursor's (sort key, case id), each case as it is now. A case that no
-- longer matches the filters is left out; one that began to match after the walk began is in the next.
SELECT i.case_id, i.status, i.tumour_site, i.centre_id, i.sla_state, i.target_due, i.limit_due, i.accept_by,
       i.follow_up_due, i.follow_ups_open, i.deadline, i.waiting_on, i.waiting_since, i.waited_days,
       i.information_open, i.payment_failed, i.finally_declined, i.updated_at, w.sort_key::text AS walk_key
FROM {schema}.worklist_walks w JOIN ({items}) i ON i.case_id = w.case_id
WHERE w.walk_id = %(walk_id)s
  AND (%(after_key)s::date IS NULL OR (w.sort_key, w.case_id) > (%(after_key)s::date, %(after_case)s::uuid))
  AND (%(scope)s = 'all' OR i.ended = (%(scope)s = 'ended'))
  AND (%(status)s::text IS NULL OR i.status = %(status)s)
  AND (%(centre)s::text IS NULL OR i.centre_id = %(centre)s)
  AND (%(sla_state)s::text IS NULL OR i.sla_state = %(sla_state)s)
  AND (%(waiting_on)s::text IS NULL OR i.waiting_on = %(waiting_on)s)
ORDER BY w.sort_key, w.case_id
LIMIT %(limit)s
