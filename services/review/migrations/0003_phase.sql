-- Where the review stands, for the SLA timer's sweep (accepted and not yet delivered).
ALTER TABLE {schema}.assignments ADD COLUMN phase text NOT NULL DEFAULT 'assigned';
CREATE INDEX ON {schema}.assignments (phase);
