-- Reports and follow-up texts are encrypted with a data key per case, wrapped by REVIEW_MASTER_KEY.
-- Review never holds the patient's own key (intake's); erasure deletes this one, which makes every
-- stored report, addendum and follow-up text of the case unreadable wherever it was copied.
CREATE TABLE {schema}.case_keys (
    case_id text PRIMARY KEY,
    wrapped_key bytea NOT NULL
);

-- The coordinator's follow-up questions: free text, so never in an event.
CREATE TABLE {schema}.follow_up_texts (
    follow_up_id uuid PRIMARY KEY,
    case_id uuid NOT NULL,
    ciphertext bytea NOT NULL
);
CREATE INDEX ON {schema}.follow_up_texts (case_id);
