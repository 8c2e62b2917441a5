-- Where each case stands in routing, and each centre's load (cases routed, not yet finished).
ALTER TABLE {schema}.cases
    ADD COLUMN question_topics    text[]  NOT NULL DEFAULT '{{}}',
    ADD COLUMN assigned_centre    text,
    ADD COLUMN declined           text[]  NOT NULL DEFAULT '{{}}',
    ADD COLUMN queued             boolean NOT NULL DEFAULT false,
    ADD COLUMN coordinator_pick   boolean NOT NULL DEFAULT false,
    ADD COLUMN attempts           integer NOT NULL DEFAULT 0;

CREATE TABLE {schema}.centre_load (
    centre_id  text    PRIMARY KEY,
    active     integer NOT NULL CHECK (active >= 0)
);
