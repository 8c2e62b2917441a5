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

-- name: take_fault
-- Consumes one injected fault for this operation, if any is left.
UPDATE {schema}.faults SET remaining = remaining - 1
WHERE operation = %(operation)s AND remaining > 0
  AND (amount_cents IS NULL OR amount_cents = %(amount_cents)s)
RETURNING mode

-- name: record
INSERT INTO {schema}.operations (key, operation, amount_cents, reference, ref)
VALUES (%(key)s, %(operation)s, %(amount_cents)s, %(reference)s, %(ref)s)
ON CONFLICT (key) DO NOTHING

-- name: by_key
SELECT operation, amount_cents, ref FROM {schema}.operations WHERE key = %(key)s

-- name: totals
SELECT operation, sum(amount_cents) AS total FROM {schema}.operations GROUP BY operation
