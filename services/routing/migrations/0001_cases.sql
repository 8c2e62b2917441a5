-- The coded facts routing needs about each case, from CaseOpened.
CREATE TABLE {schema}.cases (
    case_id          uuid        PRIMARY KEY,
    tumour_site      text        NOT NULL,
    rare_tumour      boolean     NOT NULL,
    preferred_centre text,
    opened_at        timestamptz NOT NULL
);
