-- Blocks whose name starts with "_" are fragments: `{_name}` in another block is replaced by them.

-- name: _filters
-- The list's filters (each NULL: any). `scope` open, ended or all; the table's columns are
-- events.lifecycle's answers, so nothing here decides a status or a party.
    (%(scope)s = 'all' OR i.ended = (%(scope)s = 'ended'))
    AND (%(status)s::text IS NULL OR i.status = %(status)s)
    AND (%(centre)s::text IS NULL OR i.centre_id = %(centre)s)
    AND (%(sla_state)s::text IS NULL OR i.sla_state = %(sla_state)s)
    AND (%(waiting_on)s::text IS NULL OR i.waiting_on = %(waiting_on)s)

-- name: _columns
-- What the list shows of a case, as of `now` (the service's clock: only `waited_days` reads it).
    i.case_id, i.status, i.tumour_site, i.centre_id, i.sla_state, i.target_due, i.limit_due, i.accept_by,
    i.follow_up_due, i.follow_ups_open, i.deadline, i.waiting_on, i.waiting_since,
    round((greatest(0, extract(epoch FROM %(now)s::timestamptz - i.waiting_since)) / 86400)::numeric, 1)
        AS waited_days,
    i.information_open, i.payment_failed, i.status = 'declined_by_all_centres' AS finally_declined, i.updated_at,
    (SELECT c.requested_by FROM {schema}.cases c WHERE c.case_id = i.case_id) AS requested_by

-- name: lives
-- The lives of a batch's cases, locked while their events are folded in (in case order: two
-- writers lock the same rows in the same order, so they never deadlock).
SELECT case_id, life FROM {schema}.worklist WHERE case_id = ANY(%(case_ids)s) ORDER BY case_id FOR UPDATE

-- name: save
-- Each case's life and its answers (events.lifecycle's summary), in one statement per batch.
INSERT INTO {schema}.worklist (case_id, life, status, waiting_on, waiting_since, deadline, sort_key, sla_state,
    ended, centre_id, tumour_site, accept_by, target_due, limit_due, follow_ups_open, follow_up_due,
    information_open, payment_failed, updated_at)
SELECT r.case_id, r.life, r.status, r.waiting_on, r.waiting_since, r.deadline, r.sort_key, r.sla_state, r.ended,
    r.centre_id, r.tumour_site, r.accept_by, r.target_due, r.limit_due, r.follow_ups_open, r.follow_up_due,
    r.information_open, r.payment_failed, r.updated_at
FROM jsonb_to_recordset(%(rows)s) AS r(case_id uuid, life jsonb, status text, waiting_on text,
    waiting_since timestamptz, deadline date, sort_key text, sla_state text, ended boolean, centre_id text,
    tumour_site text, accept_by date, target_due date, limit_due date, follow_ups_open integer,
    follow_up_due date, information_open boolean, payment_failed boolean, updated_at timestamptz)
ON CONFLICT (case_id) DO UPDATE SET life = EXCLUDED.life, status = EXCLUDED.status,
    waiting_on = EXCLUDED.waiting_on, waiting_since = EXCLUDED.waiting_since, deadline = EXCLUDED.deadline,
    sort_key = EXCLUDED.sort_key, sla_state = EXCLUDED.sla_state, ended = EXCLUDED.ended,
    centre_id = EXCLUDED.centre_id, tumour_site = EXCLUDED.tumour_site, accept_by = EXCLUDED.accept_by,
    target_due = EXCLUDED.target_due, limit_due = EXCLUDED.limit_due, follow_ups_open = EXCLUDED.follow_ups_open,
    follow_up_due = EXCLUDED.follow_up_due, information_open = EXCLUDED.information_open,
    payment_failed = EXCLUDED.payment_failed, updated_at = EXCLUDED.updated_at

-- name: collecting
-- The timers' sweep: only cases still waiting for records can be reminded or expire.
SELECT case_id FROM {schema}.worklist WHERE status = 'collecting_records' ORDER BY case_id

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

-- name: item
-- One case as the list shows it (the FHIR export reads it too).
SELECT {_columns} FROM {schema}.worklist i WHERE i.case_id = %(case_id)s

-- name: first_page
-- The first page of a walk: nearest deadline first (sort_key: the deadline as ISO text, a running
-- clock the calendar cannot date '-infinity', no deadline 'infinity'), on the index
-- (ended, sort_key, case_id).
SELECT {_columns} FROM {schema}.worklist i
WHERE {_filters}
ORDER BY i.sort_key, i.case_id
LIMIT %(limit)s

-- name: expire_walks
-- A walk lasts an hour: its cursors then answer 422 and the client starts again from the first page.
DELETE FROM {schema}.worklist_walks WHERE created_at < now() - interval '1 hour'

-- name: remember_shown
-- A walk with more than one page keeps its first page's cases, in their order.
INSERT INTO {schema}.worklist_walks (walk_id, position, case_id)
SELECT %(walk_id)s, n, c FROM unnest(%(case_ids)s::uuid[]) WITH ORDINALITY AS shown(c, n)

-- name: snapshot
-- At its second page a walk fixes the order of the rest: every case its filters match now and
-- that the first page did not show, nearest deadline first. Pages then follow that order, so no
-- case is listed twice or skipped however the deadlines move. The cost is paid once, by a walk
-- that goes on; the first page stays an index scan.
INSERT INTO {schema}.worklist_walks (walk_id, position, case_id)
SELECT %(walk_id)s, %(shown)s + row_number() OVER (ORDER BY i.sort_key, i.case_id), i.case_id
FROM {schema}.worklist i
WHERE {_filters}
  AND NOT EXISTS (SELECT 1 FROM {schema}.worklist_walks w WHERE w.walk_id = %(walk_id)s AND w.case_id = i.case_id)

-- name: walk_exists
SELECT 1 AS found FROM {schema}.worklist_walks WHERE walk_id = %(walk_id)s LIMIT 1

-- name: walk_page
-- One page of a walk after the cursor's position, each case as it is now; a case that no longer
-- matches the filters is left out.
SELECT w.position, {_columns}
FROM {schema}.worklist_walks w JOIN {schema}.worklist i ON i.case_id = w.case_id
WHERE w.walk_id = %(walk_id)s AND w.position > %(after)s AND {_filters}
ORDER BY w.position
LIMIT %(limit)s
