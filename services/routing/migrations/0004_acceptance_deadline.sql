-- The acceptance deadline of the centre holding each case, whether that centre's acceptance reached
-- routing, and a withdrawal (AssignmentWithdrawn) awaiting review's answer: when it was made, why,
-- and the coordinator's pick it re-routes to.
ALTER TABLE {schema}.cases
    ADD COLUMN accept_by          date,
    ADD COLUMN accepted           boolean NOT NULL DEFAULT false,
    ADD COLUMN withdrawn_at       timestamptz,
    ADD COLUMN withdrawal_reason  text,
    ADD COLUMN reassign_to        text;

-- The timer's sweep: cases at a centre that has not answered, by deadline.
CREATE INDEX ON {schema}.cases (accept_by)
    WHERE assigned_centre IS NOT NULL AND NOT accepted AND withdrawn_at IS NULL AND NOT ended;
