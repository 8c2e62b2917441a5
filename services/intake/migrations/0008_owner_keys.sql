-- The patients' keys move to the table every service's vault keeps its keys in
-- (services/common/vault.sql): the owner is the patient ref. The keys themselves are unchanged.
ALTER TABLE {schema}.patient_keys RENAME TO owner_keys;
ALTER TABLE {schema}.owner_keys RENAME COLUMN patient_ref TO owner;
