-- The worklist as "my work" (issue 24): each case's tumour site and since when its status holds,
-- the acceptance deadline and the times a centre took or lost a case, the SLA clock as its facts
-- (services/intake/worklist_clock.py folds them, whatever order the services' events arrive in),
-- when each follow-up was asked and answered, and the walks that keep a paged list stable.

ALTER TABLE {schema}.cases
    ADD COLUMN tumour_site   text,
    ADD COLUMN status_since  timestamptz;       -- when the status last changed (event time)
UPDATE {schema}.cases c SET tumour_site = e.envelope->'payload'->>'tumour_site', status_since = c.updated_at
FROM {schema}.events e WHERE e.case_id = c.case_id AND e.event_type = 'CaseOpened';
UPDATE {schema}.cases SET status_since = updated_at WHERE status_since IS NULL;

ALTER TABLE {schema}.assignments
    ADD COLUMN accept_by     date,              -- the centre's last day to accept (CaseRouted v2)
    ADD COLUMN routed_at     timestamptz,
    ADD COLUMN released_at   timestamptz;       -- when the centre declined, or no centre would

ALTER TABLE {schema}.worklist
    ADD COLUMN accepted          boolean NOT NULL DEFAULT false,
    ADD COLUMN target_due        date,
    ADD COLUMN at_risk           boolean NOT NULL DEFAULT false,
    ADD COLUMN breached          boolean NOT NULL DEFAULT false,
    ADD COLUMN calendar_blocked  boolean NOT NULL DEFAULT false,
    ADD COLUMN delivered         boolean NOT NULL DEFAULT false,
    ADD COLUMN within_limit      boolean,
    ADD COLUMN information_since timestamptz,
    ADD COLUMN payment_since     timestamptz;
-- Rows kept before: their facts as far as the last state tells them.
UPDATE {schema}.worklist SET
    accepted = sla_state <> 'not_started',
    at_risk = sla_state = 'at_risk',
    breached = sla_state IN ('breached', 'delivered_late'),
    calendar_blocked = sla_state = 'calendar_unknown',
    delivered = sla_state IN ('delivered_on_time', 'delivered_late'),
    within_limit = CASE sla_state WHEN 'delivered_on_time' THEN true WHEN 'delivered_late' THEN false END;

ALTER TABLE {schema}.worklist_follow_ups
    ADD COLUMN asked_at      timestamptz,
    ADD COLUMN answered_at   timestamptz;

-- A walk through the worklist: the order its cases had when its first page was served (their
-- sort key then), so following `next_cursor` repeats and skips no case while deadlines move.
-- Unlogged: a walk is disposable (a crash ends it; the client starts a new one); kept one hour.
CREATE UNLOGGED TABLE {schema}.worklist_walks (
    walk_id      uuid        NOT NULL,
    sort_key     date        NOT NULL,          -- the deadline then; -infinity/infinity without one
    case_id      uuid        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (walk_id, sort_key, case_id)
);
CREATE INDEX ON {schema}.worklist_walks (created_at);
