-- Reviews delivered by the centres, as seen on the stream: a booking needs one.
CREATE TABLE {schema}.deliveries (
    case_id      uuid        PRIMARY KEY,
    event_id     uuid        NOT NULL,
    occurred_at  timestamptz NOT NULL,
    payload      jsonb       NOT NULL
);
