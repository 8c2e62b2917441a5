-- name: claim
-- Blocks behind a concurrent claim of the same key until it commits or rolls back.
INSERT INTO {schema}.idempotency_keys (principal, key, fingerprint)
VALUES (%(principal)s, %(key)s, %(fingerprint)s)
ON CONFLICT DO NOTHING
RETURNING key

-- name: stored
SELECT fingerprint, status, body, headers FROM {schema}.idempotency_keys
WHERE principal = %(principal)s AND key = %(key)s

-- name: complete
UPDATE {schema}.idempotency_keys SET status = %(status)s, body = %(body)s, headers = %(headers)s
WHERE principal = %(principal)s AND key = %(key)s
