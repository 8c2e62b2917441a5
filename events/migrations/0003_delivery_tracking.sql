-- Where the broker acknowledged each row (the relay checks the broker still holds it), and rows
-- that cannot be published at all: parked with their reason, holding back only their own case.
ALTER TABLE {schema}.outbox
    ADD COLUMN kafka_partition integer,
    ADD COLUMN kafka_offset    bigint,
    ADD COLUMN parked_at       timestamptz,
    ADD COLUMN park_reason     text;
CREATE INDEX outbox_parked ON {schema}.outbox (message_key) WHERE parked_at IS NOT NULL;
CREATE INDEX outbox_landed ON {schema}.outbox (kafka_partition, kafka_offset) WHERE kafka_offset IS NOT NULL;

-- The identity of each topic as this service's relay and consumers last saw it: a topic with
-- the same name but another id was deleted and created again, and nothing in it is ours.
CREATE TABLE {schema}.broker_topics (
    observer   text        NOT NULL,  -- 'relay' or a consumer's name
    topic      text        NOT NULL,
    topic_id   text        NOT NULL,
    seen_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (observer, topic)
);
