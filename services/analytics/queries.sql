-- The projector's statements, bound to its target schema ({schema}): `analytics` for the live
-- consumer, the scratch schema for a rebuild, so both run the very same SQL.

-- name: add_to_timeline
-- event_id is the key: the processed-events row already guards redelivery; this guards replays.
INSERT INTO {schema}.case_timeline
    (case_id, event_id, event_type, producer, stream_version, occurred_at, recorded_at)
VALUES (%(case_id)s, %(event_id)s, %(event_type)s, %(producer)s, %(stream_version)s, %(occurred_at)s,
        %(recorded_at)s)
ON CONFLICT (event_id) DO NOTHING

-- name: timeline
-- Business time first. Events one command appended together share both instants (RecordsReceived
-- and the RecordsCompleted it caused): their stream version keeps the order they were decided in.
SELECT event_type, producer, stream_version, occurred_at, recorded_at, event_id
FROM {schema}.case_timeline WHERE case_id = %(case_id)s
ORDER BY occurred_at, recorded_at, producer, stream_version

-- name: count_event
INSERT INTO {schema}.event_counts (day, producer, event_type, events)
VALUES ((%(occurred_at)s AT TIME ZONE 'UTC')::date, %(producer)s, %(event_type)s, 1)
ON CONFLICT (day, producer, event_type) DO UPDATE SET events = {schema}.event_counts.events + 1

-- name: ensure_case
-- Facts of one case come from several services; whichever arrives first creates the row.
INSERT INTO {schema}.cases (case_id) VALUES (%(case_id)s) ON CONFLICT (case_id) DO NOTHING

-- name: case_opened
UPDATE {schema}.cases SET opened_at = %(at)s, quote_id = %(quote_id)s, tumour_site = %(tumour_site)s,
    histology = %(histology)s, rare_tumour = %(rare_tumour)s, stage_group = %(stage_group)s,
    referral_reasons = %(referral_reasons)s, patient_country = %(patient_country)s, wants_video = %(wants_video)s
WHERE case_id = %(case_id)s

-- name: records_completed
UPDATE {schema}.cases SET records_completed_at = coalesce(records_completed_at, %(at)s) WHERE case_id = %(case_id)s

-- name: routed
UPDATE {schema}.cases SET routed_at = %(at)s, centre_id = %(centre_id)s, routing_attempts = routing_attempts + 1
WHERE case_id = %(case_id)s

-- name: declined
-- A decline resets the review: the next centre's acceptance starts a new clock.
UPDATE {schema}.cases SET declines = declines + 1, accepted_at = NULL, sla_target_due = NULL,
    sla_limit_due = NULL, sla_paused_since = NULL, sla_at_risk_at = NULL, sla_breached_at = NULL
WHERE case_id = %(case_id)s

-- name: accepted
UPDATE {schema}.cases SET accepted_at = %(at)s, centre_id = %(centre_id)s WHERE case_id = %(case_id)s

-- name: sla_clock
UPDATE {schema}.cases SET sla_target_due = %(target_due)s, sla_limit_due = %(limit_due)s,
    sla_paused_business_days = coalesce(%(paused)s, sla_paused_business_days), sla_paused_since = NULL
WHERE case_id = %(case_id)s

-- name: paused
UPDATE {schema}.cases SET sla_paused_since = %(at)s WHERE case_id = %(case_id)s

-- name: sla_stopped
UPDATE {schema}.cases SET sla_business_days_used = %(used)s, sla_paused_business_days = %(paused)s,
    sla_within_target = %(within_target)s, sla_within_limit = %(within_limit)s, sla_paused_since = NULL
WHERE case_id = %(case_id)s

-- name: at_risk
UPDATE {schema}.cases SET sla_at_risk_at = %(at)s WHERE case_id = %(case_id)s

-- name: breached
UPDATE {schema}.cases SET sla_breached_at = %(at)s WHERE case_id = %(case_id)s

-- name: calendar_unknown
UPDATE {schema}.cases SET sla_calendar_unknown = true WHERE case_id = %(case_id)s

-- name: delivered
UPDATE {schema}.cases SET delivered_at = %(at)s, recommended_pathway = %(pathway)s,
    diagnosis_change = %(diagnosis_change)s, treatment_change = %(treatment_change)s
WHERE case_id = %(case_id)s

-- name: decided
UPDATE {schema}.cases SET decided_at = %(at)s, decision = %(decision)s, treatment_type = %(treatment_type)s,
    travel_reason = %(travel_reason)s
WHERE case_id = %(case_id)s

-- name: ended
UPDATE {schema}.cases SET ended_at = coalesce(ended_at, %(at)s), ending = coalesce(ending, %(ending)s)
WHERE case_id = %(case_id)s

-- name: quote
INSERT INTO {schema}.quotes (quote_id, issued_at, tumour_site, review_cents, video_cents, price_book_version)
VALUES (%(quote_id)s, %(at)s, %(tumour_site)s, %(review_cents)s, %(video_cents)s, %(version)s)
ON CONFLICT (quote_id) DO NOTHING

-- name: money
INSERT INTO {schema}.money_movements (event_id, component, case_id, occurred_at, kind, cents)
VALUES (%(event_id)s, %(component)s, %(case_id)s, %(at)s, %(kind)s, %(cents)s)
ON CONFLICT (event_id, component) DO NOTHING
