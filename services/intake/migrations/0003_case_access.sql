-- The centre each case is assigned to now, learnt from routing's events: the one centre that may
-- read the case package, and only while the patient's transfer consent names it.
CREATE TABLE {schema}.assignments (
    case_id      uuid        PRIMARY KEY,
    centre_id    text,                  -- NULL once the centre declined or the case was finally declined
    attempt      integer     NOT NULL
);

-- Every read of a case package or a record file by a centre. An audit table, not an event: a
-- read decides nothing, no other service reacts to it, and a row per download would otherwise
-- flood the topic every consumer reads. PHI-free all the same: ids, a centre code and a time.
CREATE TABLE {schema}.record_accesses (
    access_id    bigserial   PRIMARY KEY,
    case_id      uuid        NOT NULL,
    record_id    uuid,                  -- NULL: the package (the question and the record list)
    centre_id    text        NOT NULL,
    what         text        NOT NULL CHECK (what IN ('package', 'record')),
    accessed_at  timestamptz NOT NULL
);
CREATE INDEX ON {schema}.record_accesses (case_id, accessed_at);
