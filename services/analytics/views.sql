-- The analysts' views of schema {target}, the one definition of each. Views hold no data, so
-- unlike the tables (migrations/) they are dropped and created again from this file whenever the
-- migrations run (ddl.py): a rebuild and a live schema get the same views by construction, and a
-- change here reaches every database at the next start. Every column has a comment (\d+ explains
-- it; tests/integration/test_analytics_views.py holds every column to that).
-- Days are rounded to 0.1 day (2.4 hours), shares to 4 decimals, money stays in integer cents.

DROP VIEW IF EXISTS {target}.case_summary, {target}.funnel_summary, {target}.case_funnel,
    {target}.sla_summary, {target}.sla_cases, {target}.travel_outcomes, {target}.review_outcomes,
    {target}.revenue, {target}.actions_by_actor CASCADE;

-- One row per case: where it stands, in business time.
CREATE VIEW {target}.case_summary AS
SELECT case_id,
       min(occurred_at) FILTER (WHERE event_type = 'CaseOpened')       AS opened_at,
       min(occurred_at) FILTER (WHERE event_type = 'RecordsCompleted') AS records_completed_at,
       min(occurred_at) FILTER (WHERE event_type = 'CaseRouted')       AS routed_at,
       min(occurred_at) FILTER (WHERE event_type = 'ReviewAccepted')   AS accepted_at,
       min(occurred_at) FILTER (WHERE event_type = 'ReviewDelivered')  AS delivered_at,
       min(occurred_at) FILTER (WHERE event_type = 'TreatmentBooked')  AS treatment_booked_at,
       min(occurred_at) FILTER (WHERE event_type = 'FeeCreditApplied') AS fee_credited_at,
       count(*)                                                         AS events
FROM {target}.case_timeline
GROUP BY case_id
ORDER BY opened_at NULLS LAST, case_id;
COMMENT ON VIEW {target}.case_summary IS 'One row per case: the business time of each milestone.';
COMMENT ON COLUMN {target}.case_summary.case_id IS 'The case.';
COMMENT ON COLUMN {target}.case_summary.opened_at IS 'When intake opened the case (CaseOpened).';
COMMENT ON COLUMN {target}.case_summary.records_completed_at IS 'When the required records were complete.';
COMMENT ON COLUMN {target}.case_summary.routed_at IS 'When routing first sent the case to a centre.';
COMMENT ON COLUMN {target}.case_summary.accepted_at IS 'When a centre first accepted the case.';
COMMENT ON COLUMN {target}.case_summary.delivered_at IS 'When the centre delivered its written review.';
COMMENT ON COLUMN {target}.case_summary.treatment_booked_at IS 'When the patient booked treatment in China.';
COMMENT ON COLUMN {target}.case_summary.fee_credited_at IS 'When the review fee was credited to the treatment.';
COMMENT ON COLUMN {target}.case_summary.events IS 'Events of the case, from every service.';

-- The funnel, one row per case: quote -> case -> records complete -> accepted -> delivered -> decided.
CREATE VIEW {target}.case_funnel AS
SELECT c.case_id, c.quote_id, q.issued_at AS quoted_at, c.opened_at, c.records_completed_at, c.accepted_at,
       c.delivered_at, c.decided_at, c.decision, c.ending, c.status, c.waiting_on, c.waiting_since,
       CASE WHEN c.decided_at IS NOT NULL THEN 'decided'
            WHEN c.ending IS NOT NULL THEN 'ended_' || c.ending
            WHEN c.delivered_at IS NOT NULL THEN 'delivered'
            WHEN c.accepted_at IS NOT NULL THEN 'accepted'
            WHEN c.records_completed_at IS NOT NULL THEN 'records_complete'
            ELSE 'opened' END AS stage,
       round(extract(epoch FROM c.opened_at - q.issued_at) / 86400, 1)              AS days_quote_to_case,
       round(extract(epoch FROM c.records_completed_at - c.opened_at) / 86400, 1)   AS days_to_records_complete,
       round(extract(epoch FROM c.accepted_at - c.records_completed_at) / 86400, 1) AS days_to_acceptance,
       round(extract(epoch FROM c.delivered_at - c.accepted_at) / 86400, 1)         AS days_to_delivery,
       round(extract(epoch FROM c.decided_at - c.delivered_at) / 86400, 1)          AS days_to_decision
FROM {target}.cases c LEFT JOIN {target}.quotes q USING (quote_id)
WHERE c.opened_at IS NOT NULL
ORDER BY c.opened_at, c.case_id;
COMMENT ON VIEW {target}.case_funnel IS 'One row per case: its stage in the funnel and the days between stages.';
COMMENT ON COLUMN {target}.case_funnel.case_id IS 'The case.';
COMMENT ON COLUMN {target}.case_funnel.quote_id IS 'The instant quote the case was opened from, if any.';
COMMENT ON COLUMN {target}.case_funnel.quoted_at IS 'When that quote was issued.';
COMMENT ON COLUMN {target}.case_funnel.opened_at IS 'When intake opened the case.';
COMMENT ON COLUMN {target}.case_funnel.records_completed_at IS 'When the required records were complete.';
COMMENT ON COLUMN {target}.case_funnel.accepted_at IS 'When the centre now holding the case accepted it.';
COMMENT ON COLUMN {target}.case_funnel.delivered_at IS 'When the written review was delivered.';
COMMENT ON COLUMN {target}.case_funnel.decided_at IS 'When the travel decision was recorded (booked, or went home).';
COMMENT ON COLUMN {target}.case_funnel.decision IS 'booked_treatment or returned_home; null while undecided.';
COMMENT ON COLUMN {target}.case_funnel.ending IS 'How the case ended early, the first ending in event time: cancelled, withdrawn, expired, declined_by_all_centres, erased.';
COMMENT ON COLUMN {target}.case_funnel.status IS 'Where the case stands, as the worklist and the live views say (events.lifecycle): collecting_records, ready_for_review, review_delivered, or its ending.';
COMMENT ON COLUMN {target}.case_funnel.waiting_on IS 'Whose move it is, as the worklist says: patient, centre, coordinator, billing, or nobody once ended.';
COMMENT ON COLUMN {target}.case_funnel.waiting_since IS 'Since when that party has had the move (event time).';
COMMENT ON COLUMN {target}.case_funnel.stage IS 'The furthest stage: opened, records_complete, accepted, delivered, decided or ended_<ending>.';
COMMENT ON COLUMN {target}.case_funnel.days_quote_to_case IS 'Days from the quote to the case, to 0.1 day.';
COMMENT ON COLUMN {target}.case_funnel.days_to_records_complete IS 'Days from opening to complete records, to 0.1 day.';
COMMENT ON COLUMN {target}.case_funnel.days_to_acceptance IS 'Days from complete records to acceptance, to 0.1 day.';
COMMENT ON COLUMN {target}.case_funnel.days_to_delivery IS 'Calendar days from acceptance to delivery, to 0.1 day (business days: sla_cases).';
COMMENT ON COLUMN {target}.case_funnel.days_to_decision IS 'Days from delivery to the travel decision, to 0.1 day.';

-- Quotes that never became a case count at the top of the funnel.
CREATE VIEW {target}.funnel_summary AS
SELECT (SELECT count(*) FROM {target}.quotes)                                   AS quotes,
       (SELECT count(*) FROM {target}.case_funnel WHERE quote_id IS NOT NULL)   AS cases_from_quotes,
       count(*)                                                                 AS cases,
       count(records_completed_at)                                              AS records_complete,
       count(accepted_at)                                                       AS accepted,
       count(delivered_at)                                                      AS delivered,
       count(decided_at)                                                        AS decided,
       count(*) FILTER (WHERE decision = 'booked_treatment')                    AS booked_treatment
FROM {target}.case_funnel;
COMMENT ON VIEW {target}.funnel_summary IS 'One row: how many quotes and cases reached each stage.';
COMMENT ON COLUMN {target}.funnel_summary.quotes IS 'Instant quotes issued, whether or not they became a case.';
COMMENT ON COLUMN {target}.funnel_summary.cases_from_quotes IS 'Cases opened from a quote.';
COMMENT ON COLUMN {target}.funnel_summary.cases IS 'Cases opened.';
COMMENT ON COLUMN {target}.funnel_summary.records_complete IS 'Cases whose required records were complete.';
COMMENT ON COLUMN {target}.funnel_summary.accepted IS 'Cases a centre holds as accepted.';
COMMENT ON COLUMN {target}.funnel_summary.delivered IS 'Cases with a delivered review.';
COMMENT ON COLUMN {target}.funnel_summary.decided IS 'Cases with a recorded travel decision.';
COMMENT ON COLUMN {target}.funnel_summary.booked_treatment IS 'Cases whose patient booked treatment in China.';

-- The SLA clock per case, as the review service's clock reported it (business days, Asia/Shanghai).
CREATE VIEW {target}.sla_cases AS
SELECT case_id, centre_id, accepted_at, sla_target_due AS target_due, sla_limit_due AS limit_due,
       sla_business_days_used AS business_days_used, sla_paused_business_days AS paused_business_days,
       sla_within_target AS within_target, sla_at_risk_at AS at_risk_at, sla_breached_at AS breached_at,
       delivered_at,
       -- The order review's clock and the worklist use (services/intake/worklist_clock.py): a verdict,
       -- an ending before one, a breach, a year the calendar lacks (a delivery's verdict too), a pause.
       CASE WHEN delivered_at IS NOT NULL AND sla_within_limit THEN 'delivered_on_time'
            WHEN delivered_at IS NOT NULL AND sla_within_limit IS NOT NULL THEN 'delivered_late'
            WHEN ending IS NOT NULL THEN 'stopped'
            WHEN sla_breached_at IS NOT NULL THEN 'breached'
            WHEN sla_calendar_unknown THEN 'calendar_unknown'
            WHEN sla_paused_since IS NOT NULL THEN 'paused'
            WHEN sla_at_risk_at IS NOT NULL THEN 'at_risk'
            ELSE 'on_track' END AS state
FROM {target}.cases WHERE accepted_at IS NOT NULL
ORDER BY accepted_at, case_id;
COMMENT ON VIEW {target}.sla_cases IS 'One row per accepted case: due dates, business days used, paused days, state.';
COMMENT ON COLUMN {target}.sla_cases.case_id IS 'The case.';
COMMENT ON COLUMN {target}.sla_cases.centre_id IS 'The centre whose acceptance started the clock.';
COMMENT ON COLUMN {target}.sla_cases.accepted_at IS 'The acceptance; business day 1 is the next business day.';
COMMENT ON COLUMN {target}.sla_cases.target_due IS 'Date of the 7th counted business day (the target), given the pauses so far.';
COMMENT ON COLUMN {target}.sla_cases.limit_due IS 'Date of the 10th counted business day (the limit), given the pauses so far.';
COMMENT ON COLUMN {target}.sla_cases.business_days_used IS 'Business days counted at delivery; null before, or if counting needs a year the calendar lacks.';
COMMENT ON COLUMN {target}.sla_cases.paused_business_days IS 'Business days not counted because the centre waited on the patient.';
COMMENT ON COLUMN {target}.sla_cases.within_target IS 'Delivered within 7 business days; null before delivery.';
COMMENT ON COLUMN {target}.sla_cases.at_risk_at IS 'When 2 business days were left (end of day 8), if it came.';
COMMENT ON COLUMN {target}.sla_cases.breached_at IS 'When the 10-business-day limit passed (end of day 10), if it did.';
COMMENT ON COLUMN {target}.sla_cases.delivered_at IS 'When the review was delivered, stopping the clock.';
COMMENT ON COLUMN {target}.sla_cases.state IS 'First match: delivered_on_time, delivered_late, stopped (ended before a verdict), breached, calendar_unknown, paused, at_risk, on_track.';

-- Delivered reviews per centre and month of delivery (Asia/Shanghai), those with a verdict.
CREATE VIEW {target}.sla_summary AS
SELECT centre_id, date_trunc('month', delivered_at AT TIME ZONE 'Asia/Shanghai')::date AS month,
       count(*) AS delivered,
       avg(within_target::int)::numeric(5, 4) AS share_within_7,
       avg((state = 'delivered_on_time')::int)::numeric(5, 4) AS share_within_10,
       round((percentile_cont(0.5) WITHIN GROUP (ORDER BY business_days_used))::numeric, 1) AS median_business_days,
       round((percentile_cont(0.9) WITHIN GROUP (ORDER BY business_days_used))::numeric, 1) AS p90_business_days
FROM {target}.sla_cases WHERE state IN ('delivered_on_time', 'delivered_late')
GROUP BY centre_id, month
ORDER BY month, centre_id;
COMMENT ON VIEW {target}.sla_summary IS 'One row per centre and month: SLA compliance of delivered reviews.';
COMMENT ON COLUMN {target}.sla_summary.centre_id IS 'The reviewing centre.';
COMMENT ON COLUMN {target}.sla_summary.month IS 'Month of delivery in Asia/Shanghai (its first day).';
COMMENT ON COLUMN {target}.sla_summary.delivered IS 'Reviews delivered that month whose on-time verdict is known.';
COMMENT ON COLUMN {target}.sla_summary.share_within_7 IS 'Share delivered within the 7-business-day target.';
COMMENT ON COLUMN {target}.sla_summary.share_within_10 IS 'Share delivered within the 10-business-day limit.';
COMMENT ON COLUMN {target}.sla_summary.median_business_days IS 'Median business days used, to 0.1 (reviews whose count is known).';
COMMENT ON COLUMN {target}.sla_summary.p90_business_days IS '90th percentile of business days used, to 0.1 (reviews whose count is known).';

-- The 40/60 split: share of decided cases that booked treatment, 95% Wilson interval (z = 1.96).
-- Decided: a recorded decision, or a delivered case that then ended (cancelled, withdrawn,
-- erased): its patient has the opinion and closed the case without booking, so it did not travel
-- (`returned_home`); no TreatmentBooked can follow an ending. Delivered cases still open and
-- without a decision are undecided, counted apart and never in the denominator. A treatment type
-- or travel reason exists only for patients who travelled, so for those two dimensions the share
-- is of all decided cases (how the ~40% split by type and reason).
CREATE VIEW {target}.travel_outcomes AS
WITH delivered AS (
    SELECT *, coalesce(decision, CASE WHEN ending IS NOT NULL THEN 'returned_home' END) AS outcome,
           decision IS NULL AND ending IS NOT NULL AS ended_after_delivery
    FROM {target}.cases WHERE delivered_at IS NOT NULL
), by_case AS (
    SELECT 'overall' AS dimension, 'all' AS value, outcome, ended_after_delivery, false AS of_all FROM delivered
    UNION ALL SELECT 'centre', centre_id, outcome, ended_after_delivery, false FROM delivered
    UNION ALL SELECT 'tumour_site', tumour_site, outcome, ended_after_delivery, false FROM delivered
    UNION ALL SELECT 'recommended_pathway', recommended_pathway, outcome, ended_after_delivery, false FROM delivered
    UNION ALL SELECT 'treatment_type', treatment_type, outcome, false, true FROM delivered WHERE treatment_type IS NOT NULL
    UNION ALL SELECT 'travel_reason', travel_reason, outcome, false, true FROM delivered WHERE travel_reason IS NOT NULL
), totals AS (
    SELECT count(*) FILTER (WHERE outcome IS NOT NULL)::numeric AS decided FROM delivered
), counts AS (
    SELECT b.dimension, b.value,
           CASE WHEN bool_or(b.of_all) THEN max(t.decided)
                ELSE count(*) FILTER (WHERE b.outcome IS NOT NULL) END::numeric AS decided,
           count(*) FILTER (WHERE b.outcome = 'booked_treatment')::numeric AS travelled,
           CASE WHEN bool_or(b.of_all) THEN NULL
                ELSE count(*) FILTER (WHERE b.ended_after_delivery) END AS ended_after_delivery,
           CASE WHEN bool_or(b.of_all) THEN NULL
                ELSE count(*) FILTER (WHERE b.outcome IS NULL) END AS undecided
    FROM by_case b CROSS JOIN totals t WHERE b.value IS NOT NULL GROUP BY b.dimension, b.value
)
SELECT dimension, value, decided::int, travelled::int, ended_after_delivery, undecided,
       CASE WHEN decided > 0 THEN round(travelled / decided, 4) END AS share,
       CASE WHEN decided > 0 THEN round(((travelled / decided + 1.9208 / decided)
            - 1.96 * sqrt((travelled / decided) * (1 - travelled / decided) / decided + 0.9604 / decided ^ 2))
            / (1 + 3.8416 / decided), 4) END AS ci95_low,
       CASE WHEN decided > 0 THEN round(((travelled / decided + 1.9208 / decided)
            + 1.96 * sqrt((travelled / decided) * (1 - travelled / decided) / decided + 0.9604 / decided ^ 2))
            / (1 + 3.8416 / decided), 4) END AS ci95_high
FROM counts
ORDER BY dimension, value;
COMMENT ON VIEW {target}.travel_outcomes IS
    'One row per dimension value: decided cases, share that booked treatment (for treatment_type and '
    'travel_reason: share of all decided cases), 95% Wilson interval; undecided counted apart.';
COMMENT ON COLUMN {target}.travel_outcomes.dimension IS 'overall, centre, tumour_site, recommended_pathway, treatment_type or travel_reason.';
COMMENT ON COLUMN {target}.travel_outcomes.value IS 'The value of the dimension (all for overall).';
COMMENT ON COLUMN {target}.travel_outcomes.decided IS 'Delivered cases with an outcome: booked, went home, or ended after delivery (the denominator).';
COMMENT ON COLUMN {target}.travel_outcomes.travelled IS 'Of those, cases whose patient booked treatment in China.';
COMMENT ON COLUMN {target}.travel_outcomes.ended_after_delivery IS 'Decided cases counted as not travelled because they ended after delivery without a decision.';
COMMENT ON COLUMN {target}.travel_outcomes.undecided IS 'Delivered cases still open without a decision; never in the denominator.';
COMMENT ON COLUMN {target}.travel_outcomes.share IS 'travelled / decided, 4 decimals; null without decided cases.';
COMMENT ON COLUMN {target}.travel_outcomes.ci95_low IS 'Lower bound of the 95% Wilson interval of share.';
COMMENT ON COLUMN {target}.travel_outcomes.ci95_high IS 'Upper bound of the 95% Wilson interval of share.';

-- Diagnosis and treatment change rates beside the literature's ranges (context, not targets).
CREATE VIEW {target}.review_outcomes AS
WITH dims AS (
    SELECT 'overall' AS dimension, 'all' AS value, diagnosis_change, treatment_change
    FROM {target}.cases WHERE delivered_at IS NOT NULL
    UNION ALL SELECT 'referral_reason', unnest(referral_reasons), diagnosis_change, treatment_change
    FROM {target}.cases WHERE delivered_at IS NOT NULL
    UNION ALL SELECT 'tumour_site', tumour_site, diagnosis_change, treatment_change
    FROM {target}.cases WHERE delivered_at IS NOT NULL
    UNION ALL SELECT 'centre', centre_id, diagnosis_change, treatment_change
    FROM {target}.cases WHERE delivered_at IS NOT NULL
)
SELECT dimension, value, count(*) AS reviews,
       round(avg((diagnosis_change = 'concordant')::int), 4)   AS diagnosis_concordant,
       round(avg((diagnosis_change = 'refined')::int), 4)      AS diagnosis_refined,
       round(avg((diagnosis_change = 'major_change')::int), 4) AS diagnosis_major_change,
       round(avg((diagnosis_change <> 'concordant')::int), 4)  AS diagnosis_changed,
       0.10 AS diagnosis_changed_reference_low, 0.20 AS diagnosis_changed_reference_high,
       round(avg((treatment_change = 'concordant')::int), 4)   AS treatment_concordant,
       round(avg((treatment_change = 'refined')::int), 4)      AS treatment_refined,
       round(avg((treatment_change = 'major_change')::int), 4) AS treatment_major_change,
       round(avg((treatment_change <> 'concordant')::int), 4)  AS treatment_changed,
       0.30 AS treatment_changed_reference_low, 0.40 AS treatment_changed_reference_high
FROM dims WHERE value IS NOT NULL GROUP BY dimension, value
ORDER BY dimension, value;
COMMENT ON VIEW {target}.review_outcomes IS
    'One row per dimension value: change rates of delivered reviews, with the literature range as context.';
COMMENT ON COLUMN {target}.review_outcomes.dimension IS 'overall, referral_reason, tumour_site or centre.';
COMMENT ON COLUMN {target}.review_outcomes.value IS 'The value of the dimension (all for overall).';
COMMENT ON COLUMN {target}.review_outcomes.reviews IS 'Delivered reviews.';
COMMENT ON COLUMN {target}.review_outcomes.diagnosis_concordant IS 'Share whose diagnosis the centre confirmed.';
COMMENT ON COLUMN {target}.review_outcomes.diagnosis_refined IS 'Share whose diagnosis the centre refined.';
COMMENT ON COLUMN {target}.review_outcomes.diagnosis_major_change IS 'Share whose diagnosis the centre changed materially.';
COMMENT ON COLUMN {target}.review_outcomes.diagnosis_changed IS 'Share with any diagnosis change (refined or major).';
COMMENT ON COLUMN {target}.review_outcomes.diagnosis_changed_reference_low IS 'Literature: low end of the diagnosis change rate (context).';
COMMENT ON COLUMN {target}.review_outcomes.diagnosis_changed_reference_high IS 'Literature: high end of the diagnosis change rate (context).';
COMMENT ON COLUMN {target}.review_outcomes.treatment_concordant IS 'Share whose treatment plan the centre confirmed.';
COMMENT ON COLUMN {target}.review_outcomes.treatment_refined IS 'Share whose treatment plan the centre refined.';
COMMENT ON COLUMN {target}.review_outcomes.treatment_major_change IS 'Share whose treatment plan the centre changed materially.';
COMMENT ON COLUMN {target}.review_outcomes.treatment_changed IS 'Share with any treatment change (refined or major).';
COMMENT ON COLUMN {target}.review_outcomes.treatment_changed_reference_low IS 'Literature: low end of the treatment change rate (context).';
COMMENT ON COLUMN {target}.review_outcomes.treatment_changed_reference_high IS 'Literature: high end of the treatment change rate (context).';

-- Revenue by month (Asia/Shanghai), reviewing centre, line and price component, on two bases:
-- invoiced (what was billed, less voids, refunds and credits) and captured (the cash actually
-- taken, less refunds and credits). An authorised payment never captured is invoiced revenue,
-- then voided; it is never captured revenue. Every row names its line (review or video), so
-- refunds, voids and credits, which the ledger records per line, net against the invoiced
-- components of the same line: the net columns are meaningful summed per line or more.
CREATE VIEW {target}.revenue AS
WITH rows AS (
    SELECT date_trunc('month', m.occurred_at AT TIME ZONE 'Asia/Shanghai')::date AS month,
           coalesce(c.centre_id, 'unassigned') AS centre_id,
           CASE WHEN m.component IN ('video', 'video_consultation') THEN 'video' ELSE 'review' END AS line,
           m.component, m.kind, m.cents
    FROM {target}.money_movements m LEFT JOIN {target}.cases c USING (case_id)
)
SELECT month, centre_id, line, component,
       -- sum() of bigint is numeric, and numeric / 100.0 prints 16 decimals: cents stay bigint.
       coalesce(sum(cents) FILTER (WHERE kind = 'invoiced'), 0)::bigint        AS invoiced_cents,
       coalesce(sum(cents) FILTER (WHERE kind = 'voided'), 0)::bigint          AS voided_cents,
       coalesce(sum(cents) FILTER (WHERE kind = 'captured'), 0)::bigint        AS captured_cents,
       coalesce(sum(cents) FILTER (WHERE kind = 'refunded'), 0)::bigint        AS refunded_cents,
       coalesce(sum(cents) FILTER (WHERE kind = 'sla_credit'), 0)::bigint      AS sla_credit_cents,
       coalesce(sum(cents) FILTER (WHERE kind = 'credit_issued'), 0)::bigint   AS credits_issued_cents,
       coalesce(sum(cents) FILTER (WHERE kind = 'credit_redeemed'), 0)::bigint AS credits_redeemed_cents,
       (coalesce(sum(cents) FILTER (WHERE kind = 'invoiced'), 0)
         - coalesce(sum(cents) FILTER (WHERE kind IN ('voided', 'refunded', 'sla_credit')), 0))::bigint AS net_invoiced_cents,
       (coalesce(sum(cents) FILTER (WHERE kind = 'captured'), 0)
         - coalesce(sum(cents) FILTER (WHERE kind IN ('refunded', 'sla_credit')), 0))::bigint         AS net_captured_cents
FROM rows
GROUP BY month, centre_id, line, component
ORDER BY month, centre_id, line, component;
COMMENT ON VIEW {target}.revenue IS
    'One row per month, centre, line (review/video) and component: invoiced, voided, captured, refunded, '
    'credits, and net revenue on the invoiced and on the captured basis.';
COMMENT ON COLUMN {target}.revenue.month IS 'Month of the money movement in Asia/Shanghai (its first day).';
COMMENT ON COLUMN {target}.revenue.centre_id IS 'The reviewing centre; unassigned before routing.';
COMMENT ON COLUMN {target}.revenue.line IS 'review or video: the level at which the ledger refunds and credits.';
COMMENT ON COLUMN {target}.revenue.component IS 'A price-book component when invoiced; review or video for voids, captures, refunds, credits.';
COMMENT ON COLUMN {target}.revenue.invoiced_cents IS 'Invoiced (FeeInvoiced), cents.';
COMMENT ON COLUMN {target}.revenue.voided_cents IS 'Invoices written off because the payment was never captured, cents.';
COMMENT ON COLUMN {target}.revenue.captured_cents IS 'Payments captured: cash received, cents.';
COMMENT ON COLUMN {target}.revenue.refunded_cents IS 'Refunds for cancellation, withdrawal or declines, cents.';
COMMENT ON COLUMN {target}.revenue.sla_credit_cents IS 'SLA breach credits paid back, cents.';
COMMENT ON COLUMN {target}.revenue.credits_issued_cents IS 'Review fees credited against treatment (FeeCreditApplied), cents; not a deduction here.';
COMMENT ON COLUMN {target}.revenue.credits_redeemed_cents IS 'Fee credits deducted from a treatment bill (FeeCreditRedeemed), cents.';
COMMENT ON COLUMN {target}.revenue.net_invoiced_cents IS 'Invoiced basis: invoiced less voided, refunded and SLA credits, cents.';
COMMENT ON COLUMN {target}.revenue.net_captured_cents IS 'Cash basis: captured less refunded and SLA credits, cents.';

-- Who did what, and how often: one row per actor, capacity and kind of event. People are opaque
-- subjects (docs/auth.md says how an administrator finds whose); services and timers by name.
CREATE VIEW {target}.actions_by_actor AS
SELECT actor, actor_role,
       CASE WHEN actor_role IN ('service', 'system') THEN actor_role ELSE 'person' END AS kind,
       producer, event_type, count(*) AS events, count(DISTINCT case_id) AS cases,
       min(occurred_at) AS first_at, max(occurred_at) AS last_at
FROM {target}.case_timeline
WHERE actor IS NOT NULL
GROUP BY actor, actor_role, producer, event_type
ORDER BY actor_role, actor, producer, event_type;
COMMENT ON VIEW {target}.actions_by_actor IS
    'One row per actor, role and event type: how often each person, service and timer acted, and on how many cases.';
COMMENT ON COLUMN {target}.actions_by_actor.actor IS 'Who: a person''s opaque subject, service:<name> or system:timer.';
COMMENT ON COLUMN {target}.actions_by_actor.actor_role IS 'The capacity: coordinator, billing, analyst, admin, centre:<id>, service, system.';
COMMENT ON COLUMN {target}.actions_by_actor.kind IS 'person, service (a reaction to another event) or system (a timer).';
COMMENT ON COLUMN {target}.actions_by_actor.producer IS 'The service that recorded the events.';
COMMENT ON COLUMN {target}.actions_by_actor.event_type IS 'What was done (the event type).';
COMMENT ON COLUMN {target}.actions_by_actor.events IS 'How many such events this actor caused in this role.';
COMMENT ON COLUMN {target}.actions_by_actor.cases IS 'On how many distinct cases.';
COMMENT ON COLUMN {target}.actions_by_actor.first_at IS 'Business time of the first such event.';
COMMENT ON COLUMN {target}.actions_by_actor.last_at IS 'Business time of the latest such event.';
