-- Set when the case ends on the patient's side (withdrawal, cancellation, erasure, expiry):
-- the centre must stop working on it.
ALTER TABLE {schema}.assignments ADD COLUMN stopped_by text;
