-- Routing's final decline of a case (CaseFinallyDeclined), as seen on the stream: no centre will
-- review it, so intake ends it (its status becomes declined_by_all_centres, and a later cancellation
-- or withdrawal is refused) without writing routing's fact into its own stream a second time.
CREATE TABLE {schema}.final_declines (
    case_id      uuid        PRIMARY KEY,
    event_id     uuid        NOT NULL,
    occurred_at  timestamptz NOT NULL
);
