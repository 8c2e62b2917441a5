-- Personal data lives only here, encrypted with a per-patient key that is itself wrapped by the
-- service's master key. Erasure deletes the patient's key row: everything encrypted with it is
-- unreadable from then on, while the event store (which holds none of it) stays as it was.
CREATE TABLE {schema}.patient_keys (
    patient_ref  text        PRIMARY KEY,
    wrapped_key  bytea       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE {schema}.patients (
    patient_ref  text        PRIMARY KEY,
    identity     bytea       NOT NULL,  -- AES-GCM(patient key): name, date of birth, contact, passport
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE {schema}.erasures (
    patient_ref  text        PRIMARY KEY,
    erased_at    timestamptz NOT NULL
);

-- One row per case: its patient, its encrypted question, and its status for the timers' sweep.
CREATE TABLE {schema}.cases (
    case_id      uuid        PRIMARY KEY,
    patient_ref  text        NOT NULL,
    question     bytea,                 -- AES-GCM(patient key)
    status       text        NOT NULL,
    updated_at   timestamptz NOT NULL
);
CREATE INDEX ON {schema}.cases (patient_ref);
CREATE INDEX ON {schema}.cases (status);

-- Uploaded records: files are content-addressed (sha256 of the plaintext) under the data
-- directory, encrypted with the patient's key.
CREATE TABLE {schema}.record_files (
    record_id    uuid        PRIMARY KEY,
    case_id      uuid        NOT NULL,
    kind         text        NOT NULL,
    sha256       text        NOT NULL,
    size_bytes   bigint      NOT NULL,
    path         text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON {schema}.record_files (case_id);
