-- Analysts query schema `analytics`; this worker's own bookkeeping lives in {schema}.
CREATE SCHEMA IF NOT EXISTS analytics;

-- One row per event of a case, from every service: the case's timeline.
CREATE TABLE analytics.case_timeline (
    case_id        uuid        NOT NULL,
    event_id       uuid        NOT NULL PRIMARY KEY,
    event_type     text        NOT NULL,
    producer       text        NOT NULL,
    stream_version integer     NOT NULL,
    occurred_at    timestamptz NOT NULL,
    recorded_at    timestamptz NOT NULL
);
CREATE INDEX ON analytics.case_timeline (case_id, occurred_at);
COMMENT ON TABLE analytics.case_timeline IS
    'One row per event of a case (any service), in business time order by occurred_at.';

-- One row per case: where it stands, in business time.
CREATE VIEW analytics.case_summary AS
SELECT case_id,
       min(occurred_at) FILTER (WHERE event_type = 'CaseOpened')       AS opened_at,
       min(occurred_at) FILTER (WHERE event_type = 'RecordsCompleted') AS records_completed_at,
       min(occurred_at) FILTER (WHERE event_type = 'CaseRouted')       AS routed_at,
       min(occurred_at) FILTER (WHERE event_type = 'ReviewAccepted')   AS accepted_at,
       min(occurred_at) FILTER (WHERE event_type = 'ReviewDelivered')  AS delivered_at,
       min(occurred_at) FILTER (WHERE event_type = 'TreatmentBooked')  AS treatment_booked_at,
       min(occurred_at) FILTER (WHERE event_type = 'FeeCreditApplied') AS fee_credited_at,
       count(*)                                                         AS events
FROM analytics.case_timeline
GROUP BY case_id;
COMMENT ON VIEW analytics.case_summary IS 'One row per case: the business time of each milestone.';
