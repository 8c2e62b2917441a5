-- Events per business day, producer and type. Unlike the timeline it is not idempotent by
-- itself (it increments), so it relies on the consumer's processed-events row for exactly-once.
CREATE TABLE {target}.event_counts (
    day        date    NOT NULL,
    producer   text    NOT NULL,
    event_type text    NOT NULL,
    events     bigint  NOT NULL,
    PRIMARY KEY (day, producer, event_type)
);
COMMENT ON TABLE {target}.event_counts IS
    'One row per business day (UTC date of occurred_at), producing service and event type.';
