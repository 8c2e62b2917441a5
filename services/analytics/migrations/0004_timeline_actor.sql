-- Who acted on each event (the envelope's actor and the capacity they acted in): an access
-- token's opaque subject, service:<name> or system:timer. Events recorded before actors were
-- recorded have none.
ALTER TABLE {target}.case_timeline ADD COLUMN actor text, ADD COLUMN actor_role text;
COMMENT ON COLUMN {target}.case_timeline.actor IS
    'Who acted: a person''s opaque subject at the identity provider, service:<name> or system:timer.';
COMMENT ON COLUMN {target}.case_timeline.actor_role IS
    'The capacity the actor acted in: coordinator, billing, analyst, admin, centre:<id>, service or system.';
