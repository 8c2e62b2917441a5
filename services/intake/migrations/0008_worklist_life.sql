-- The worklist as events.lifecycle folds it (issue 25): each case's whole life as jsonb, and the
-- answers the module reads from it, one column each, indexed for the list's filters and order. The
-- list filters and sorts these columns; nothing recomputes a status or a party in SQL.
ALTER TABLE {schema}.worklist
    ADD COLUMN life            jsonb,
    ADD COLUMN status          text,
    ADD COLUMN waiting_on      text,
    ADD COLUMN waiting_since   timestamptz,
    ADD COLUMN deadline        date,
    ADD COLUMN sort_key        text,       -- the deadline as ISO text; '-infinity' / 'infinity' without one
    ADD COLUMN ended           boolean NOT NULL DEFAULT false,
    ADD COLUMN centre_id       text,
    ADD COLUMN tumour_site     text,
    ADD COLUMN accept_by       date,
    ADD COLUMN follow_ups_open integer NOT NULL DEFAULT 0,
    ADD COLUMN follow_up_due   date;
-- The facts worklist_clock kept in columns are in `life` now.
ALTER TABLE {schema}.worklist
    DROP COLUMN accepted, DROP COLUMN at_risk, DROP COLUMN breached, DROP COLUMN calendar_blocked,
    DROP COLUMN delivered, DROP COLUMN within_limit, DROP COLUMN information_since, DROP COLUMN payment_since,
    DROP COLUMN finally_declined;
-- Rows of the old shape have no life: the worklist consumer, under its new name, folds the whole
-- topic again and fills them.
DELETE FROM {schema}.worklist WHERE life IS NULL;
CREATE INDEX worklist_page ON {schema}.worklist (ended, sort_key, case_id);
CREATE INDEX ON {schema}.worklist (status);
CREATE INDEX ON {schema}.worklist (waiting_on);
CREATE INDEX ON {schema}.worklist (centre_id);
CREATE INDEX ON {schema}.worklist (sla_state);
-- Follow-ups are in the life; intake's own status is the worklist's.
DROP TABLE {schema}.worklist_follow_ups;
DROP INDEX IF EXISTS {schema}.cases_status_idx;
ALTER TABLE {schema}.cases DROP COLUMN status, DROP COLUMN status_since, DROP COLUMN tumour_site;

-- A walk is the order of its cases: the first page's as served, the rest fixed when the second
-- page is asked for (see worklist.sql, block `snapshot`).
DROP TABLE {schema}.worklist_walks;
CREATE UNLOGGED TABLE {schema}.worklist_walks (
    walk_id      uuid        NOT NULL,
    position     integer     NOT NULL,
    case_id      uuid        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (walk_id, position)
);
CREATE UNIQUE INDEX ON {schema}.worklist_walks (walk_id, case_id);
CREATE INDEX ON {schema}.worklist_walks (created_at);
-- Who holds a case (for the package's access check) and routing's final decline are in the life
-- too: the tables intake kept of them beside the worklist go.
DROP TABLE {schema}.assignments;
DROP TABLE {schema}.final_declines;
