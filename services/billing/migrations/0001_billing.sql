-- What billing knows of each case's review, from the stream (the refund policy depends on it).
CREATE TABLE {schema}.review_facts (
    case_id    uuid    PRIMARY KEY,
    centre_id  text,
    accepted   boolean NOT NULL DEFAULT false,
    delivered  boolean NOT NULL DEFAULT false,
    video_held boolean NOT NULL DEFAULT false
);

-- The double-entry journal: one row per line, written with the event that moved the money.
-- Debits are positive, credits negative; every event's lines sum to zero.
CREATE TABLE {schema}.journal_lines (
    event_id    uuid        NOT NULL,
    case_id     uuid        NOT NULL,
    account     text        NOT NULL,
    cents       bigint      NOT NULL,
    occurred_at timestamptz NOT NULL,
    PRIMARY KEY (event_id, account)
);
CREATE INDEX ON {schema}.journal_lines (case_id);

-- The per-case account: balance of each ledger account for each case.
CREATE VIEW {schema}.case_accounts AS
SELECT case_id, account, sum(cents)::bigint AS cents FROM {schema}.journal_lines GROUP BY case_id, account;
