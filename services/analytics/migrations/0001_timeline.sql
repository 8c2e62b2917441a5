-- The projection schema {target}: `analytics`, which analysts query, or the scratch schema a
-- rebuild fills (services/analytics/ddl.py). The worker's own bookkeeping (processed events,
-- which of these files were applied) lives in schema analytics_state.
CREATE SCHEMA IF NOT EXISTS {target};

-- One row per event of a case, from every service: the case's timeline.
CREATE TABLE {target}.case_timeline (
    case_id        uuid        NOT NULL,
    event_id       uuid        NOT NULL PRIMARY KEY,
    event_type     text        NOT NULL,
    producer       text        NOT NULL,
    stream_version integer     NOT NULL,
    occurred_at    timestamptz NOT NULL,
    recorded_at    timestamptz NOT NULL
);
CREATE INDEX ON {target}.case_timeline (case_id, occurred_at);
COMMENT ON TABLE {target}.case_timeline IS
    'One row per event of a case (any service), in business time order by occurred_at.';

-- One row per case: where it stands, in business time.
CREATE VIEW {target}.case_summary AS
SELECT case_id,
       min(occurred_at) FILTER (WHERE event_type = 'CaseOpened')       AS opened_at,
       min(occurred_at) FILTER (WHERE event_type = 'RecordsCompleted') AS records_completed_at,
       min(occurred_at) FILTER (WHERE event_type = 'CaseRouted')       AS routed_at,
       min(occurred_at) FILTER (WHERE event_type = 'ReviewAccepted')   AS accepted_at,
       min(occurred_at) FILTER (WHERE event_type = 'ReviewDelivered')  AS delivered_at,
       min(occurred_at) FILTER (WHERE event_type = 'TreatmentBooked')  AS treatment_booked_at,
       min(occurred_at) FILTER (WHERE event_type = 'FeeCreditApplied') AS fee_credited_at,
       count(*)                                                         AS events
FROM {target}.case_timeline
GROUP BY case_id;
COMMENT ON VIEW {target}.case_summary IS 'One row per case: the business time of each milestone.';
