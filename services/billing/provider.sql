-- name: schema
CREATE SCHEMA IF NOT EXISTS {schema}

-- name: operations
-- The simulated provider's own books: one row per idempotency key.
CREATE TABLE IF NOT EXISTS {schema}.operations (
    key          text        PRIMARY KEY,
    operation    text        NOT NULL,
    amount_cents bigint      NOT NULL,
    reference    text,
    ref          text        NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now()
)

-- name: faults
-- An injected fault; with amount_cents set it hits only operations of that amount.
CREATE TABLE IF NOT EXISTS {schema}.faults (
    operation    text    PRIMARY KEY,
    mode         text    NOT NULL,
    remaining    integer NOT NULL,
    amount_cents bigint
)

-- name: faults_by_amount
ALTER TABLE {schema}.faults ADD COLUMN IF NOT EXISTS amount_cents bigint

-- name: set_fault
INSERT INTO {schema}.faults (operation, mode, remaining, amount_cents)
VALUES (%(operation)s, %(mode)s, %(remaining)s, %(amount_cents)s)
ON CONFLICT (operation) DO UPDATE SET mode = EXCLUDED.mode, remaining = EXCLUDED.remaining,
    amount_cents = EXCLUDED.amount_cents

-- name: perform
-- One round trip and one commit for a call: take an injected fault, if any is left; unless it
-- is a failure, record the operation once per key; answer what the key holds. A key recorded by
-- a concurrent call that committed after this statement's snapshot leaves the answer empty:
-- the caller then reads it with by_key.
-- Its commit does not wait for the disk (synchronous_commit off, for this statement only): the
-- ledger's own commit comes later in the same write-ahead log and flushes it too, so an
-- operation the ledger refers to is never lost; one a crash loses was never recorded by the
-- ledger, and the retry with the same key performs it again.
WITH fault AS (
    UPDATE {schema}.faults SET remaining = remaining - 1
    WHERE operation = %(operation)s AND remaining > 0
      AND (amount_cents IS NULL OR amount_cents = %(amount_cents)s)
    RETURNING mode
), recorded AS (
    INSERT INTO {schema}.operations (key, operation, amount_cents, reference, ref)
    SELECT %(key)s, %(operation)s, %(amount_cents)s, %(reference)s, %(ref)s
    WHERE NOT EXISTS (SELECT 1 FROM fault WHERE mode = 'fail')
    ON CONFLICT (key) DO NOTHING
    RETURNING operation, amount_cents, ref
)
SELECT f.mode, r.operation, r.amount_cents, r.ref
FROM (SELECT (SELECT mode FROM fault) AS mode,
             set_config('synchronous_commit', 'off', true) AS no_flush_wait) AS f
LEFT JOIN LATERAL (
    SELECT operation, amount_cents, ref FROM recorded
    UNION ALL
    SELECT operation, amount_cents, ref FROM {schema}.operations WHERE key = %(key)s
    LIMIT 1
) AS r ON true

-- name: by_key
SELECT operation, amount_cents, ref FROM {schema}.operations WHERE key = %(key)s

-- name: totals
SELECT operation, sum(amount_cents) AS total FROM {schema}.operations GROUP BY operation
