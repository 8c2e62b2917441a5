-- Which centre each case is routed to; a reviewer sees only its own centre's rows.
CREATE TABLE {schema}.assignments (
    case_id    uuid        PRIMARY KEY,
    centre_id  text        NOT NULL,
    routed_at  timestamptz NOT NULL,
    attempt    integer     NOT NULL
);
CREATE INDEX ON {schema}.assignments (centre_id);
