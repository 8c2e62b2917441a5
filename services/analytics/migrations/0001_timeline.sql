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

-- The views over these tables are in ../views.sql, created again whenever migrations run.
