-- Responses to commands sent with an Idempotency-Key, written in the command's own transaction:
-- a retry finds the first response, never a second append.
CREATE TABLE {schema}.idempotency_keys (
    principal    text        NOT NULL,
    key          text        NOT NULL,
    fingerprint  text        NOT NULL,
    status       integer,
    body         jsonb,
    headers      jsonb,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (principal, key)
);
