-- The cases' keys move to the table every service's vault keeps its keys in
-- (services/common/vault.sql): the owner is the case id. The keys themselves are unchanged.
ALTER TABLE {schema}.case_keys RENAME TO owner_keys;
ALTER TABLE {schema}.owner_keys RENAME COLUMN case_id TO owner;
ALTER TABLE {schema}.owner_keys ADD COLUMN created_at timestamptz NOT NULL DEFAULT now();
