-- Each case's life (events.lifecycle, the module the worklist and the live views fold with too)
-- and the answers read from it: its status, whose move it is and since when. `ending` and
-- `ended_at` are read from the life from now on (the first ending by event time).
ALTER TABLE {target}.cases
    ADD COLUMN life          jsonb NOT NULL DEFAULT '{{}}',
    ADD COLUMN status        text,
    ADD COLUMN waiting_on    text,
    ADD COLUMN waiting_since timestamptz;
COMMENT ON COLUMN {target}.cases.status IS 'Where the case stands (events.lifecycle): collecting_records, ready_for_review, review_delivered, or its ending.';
COMMENT ON COLUMN {target}.cases.waiting_on IS 'Whose move it is: patient, centre, coordinator, billing, or nobody once it ended.';
COMMENT ON COLUMN {target}.cases.waiting_since IS 'Since when that party has had the move (event time).';
