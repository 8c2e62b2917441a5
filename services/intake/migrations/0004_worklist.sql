-- The coordinators' worklist, kept by intake's `worklist` consumer from review's and billing's
-- events: the SLA clock, open questions either way, payment trouble. The case's status and centre
-- come from intake.cases and intake.assignments; the list is a join, never a replay of streams.
CREATE TABLE {schema}.worklist (
    case_id             uuid        PRIMARY KEY,
    sla_state           text        NOT NULL DEFAULT 'not_started',
    limit_due           date,                   -- the 10th business day while the main clock runs
    information_open    boolean     NOT NULL DEFAULT false,  -- the centre waits on the patient
    payment_failed      boolean     NOT NULL DEFAULT false,
    finally_declined    boolean     NOT NULL DEFAULT false,  -- no consented centre takes the case
    updated_at          timestamptz NOT NULL
);

-- Follow-up questions after delivery, each with its own due date, until answered.
CREATE TABLE {schema}.worklist_follow_ups (
    follow_up_id        uuid        PRIMARY KEY,
    case_id             uuid        NOT NULL,
    due                 date,
    answered            boolean     NOT NULL DEFAULT false
);
CREATE INDEX ON {schema}.worklist_follow_ups (case_id) WHERE NOT answered;

-- The stored PDFs review announced (reports, their versions, addenda): what the FHIR export
-- lists as DocumentReferences. Ids, hashes and counts only, as the events carry them.
CREATE TABLE {schema}.case_documents (
    document_id         uuid        PRIMARY KEY,
    case_id             uuid        NOT NULL,
    kind                text        NOT NULL CHECK (kind IN ('report', 'addendum')),
    version             integer,                -- NULL: uploaded, not (yet) the delivered report
    sha256              text        NOT NULL,
    size_bytes          bigint      NOT NULL,
    page_count          integer     NOT NULL,
    stored_at           timestamptz NOT NULL
);
CREATE INDEX ON {schema}.case_documents (case_id);
