-- The vault's wrapped data keys (services/common/vault.py), one row per owner, in the table
-- owner_keys of the schema of the service that holds them (intake: patients; review: cases).

-- name: insert_key
-- An owner's key is made once: a second create (the patient's next case, a case's next upload)
-- finds the first.
INSERT INTO {schema}.owner_keys (owner, wrapped_key) VALUES (%(owner)s, %(wrapped_key)s)
ON CONFLICT (owner) DO NOTHING

-- name: wrapped_key
SELECT wrapped_key FROM {schema}.owner_keys WHERE owner = %(owner)s

-- name: shred_key
-- Crypto-shredding: without the wrapped key nothing encrypted for the owner can be read again.
DELETE FROM {schema}.owner_keys WHERE owner = %(owner)s
