-- Who asked for the case: a coordinator, or the patient through the console's quote wizard (its
-- machine identity, role portal: docs/console.md). The worklist and the case view show it.
ALTER TABLE {schema}.cases ADD COLUMN requested_by text NOT NULL DEFAULT 'coordinator'
    CHECK (requested_by IN ('coordinator', 'patient'));
