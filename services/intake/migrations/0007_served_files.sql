-- What a centre receives of each record file, as the named de-identification recipe makes it:
-- for DICOM the de-identified copy's hash and size (the package and the FHIR export show a
-- centre these, never the original's), or why the file is held back (burned-in annotation).
-- Derived from the file on its first read and again once the recipe changes; no patient data.
CREATE TABLE {schema}.served_files (
    record_id    uuid        PRIMARY KEY,
    recipe       text        NOT NULL,
    media_type   text        NOT NULL,
    sha256       text,                  -- NULL while held
    size_bytes   bigint,
    held         text                   -- e.g. burned_in_annotation; NULL: served
);
