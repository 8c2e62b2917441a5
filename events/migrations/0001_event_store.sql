-- The append-only event store of one service. (stream_id, version) is the primary key: two
-- writers that read the same version cannot both append the next one.
CREATE TABLE {schema}.events (
    stream_id      text        NOT NULL,
    version        integer     NOT NULL CHECK (version >= 1),
    event_id       uuid        NOT NULL UNIQUE,
    event_type     text        NOT NULL,
    schema_version integer     NOT NULL,
    case_id        uuid        NOT NULL,
    occurred_at    timestamptz NOT NULL,
    recorded_at    timestamptz NOT NULL,
    envelope       jsonb       NOT NULL,
    PRIMARY KEY (stream_id, version)
);
CREATE INDEX ON {schema}.events (case_id);

-- Written in the same transaction as the event; the relay publishes it. Rows are picked by
-- "not yet published", never by "id above a cursor": ids come from a sequence, and a
-- transaction holding a lower id can commit after one holding a higher id.
CREATE TABLE {schema}.outbox (
    id           bigserial   PRIMARY KEY,
    event_id     uuid        NOT NULL UNIQUE,
    topic        text        NOT NULL,
    message_key  bytea       NOT NULL,
    message      bytea       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX outbox_unpublished ON {schema}.outbox (id) WHERE published_at IS NULL;

-- Events this service's consumers have applied, written in the same transaction as the effect.
CREATE TABLE {schema}.processed_events (
    consumer     text        NOT NULL,
    event_id     uuid        NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
