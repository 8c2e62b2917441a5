-- One row per case with every fact analysts slice by, kept current by the projector. The views
-- below (case_funnel, sla_cases, sla_summary, travel_outcomes, review_outcomes, revenue) are
-- pure SQL over these tables, so a rebuild that reproduces the tables reproduces the views.
CREATE TABLE {target}.cases (
    case_id                 uuid PRIMARY KEY,
    quote_id                uuid,
    opened_at               timestamptz,
    tumour_site             text,
    histology               text,
    rare_tumour             boolean,
    stage_group             text,
    referral_reasons        text[] NOT NULL DEFAULT '{{}}',
    patient_country         text,
    wants_video             boolean,
    records_completed_at    timestamptz,
    routed_at               timestamptz,
    centre_id               text,
    routing_attempts        integer NOT NULL DEFAULT 0,
    declines                integer NOT NULL DEFAULT 0,
    accepted_at             timestamptz,
    delivered_at            timestamptz,
    recommended_pathway     text,
    diagnosis_change        text,
    treatment_change        text,
    decided_at              timestamptz,
    decision                text CHECK (decision IN ('booked_treatment', 'returned_home')),
    treatment_type          text,
    travel_reason           text,
    ended_at                timestamptz,
    ending                  text,
    sla_target_due          date,
    sla_limit_due           date,
    sla_paused_since        timestamptz,
    sla_paused_business_days integer,
    sla_business_days_used  integer,
    sla_within_target       boolean,
    sla_within_limit        boolean,
    sla_at_risk_at          timestamptz,
    sla_breached_at         timestamptz,
    sla_calendar_unknown    boolean NOT NULL DEFAULT false
);
COMMENT ON TABLE {target}.cases IS 'One row per case: its coded facts and milestones, in business time.';

CREATE TABLE {target}.quotes (
    quote_id           uuid PRIMARY KEY,
    issued_at          timestamptz NOT NULL,
    tumour_site        text NOT NULL,
    review_cents       bigint NOT NULL,
    video_cents        bigint NOT NULL,
    price_book_version text NOT NULL
);
COMMENT ON TABLE {target}.quotes IS 'One row per instant quote given to a prospective patient.';

-- Money as it moved, one row per billing event and component (cents; refunds and credits positive).
CREATE TABLE {target}.money_movements (
    event_id    uuid   NOT NULL,
    component   text   NOT NULL,
    case_id     uuid   NOT NULL,
    occurred_at timestamptz NOT NULL,
    kind        text   NOT NULL CHECK (kind IN ('invoiced', 'voided', 'captured', 'refunded', 'sla_credit',
                                                'credit_issued', 'credit_redeemed')),
    cents       bigint NOT NULL,
    PRIMARY KEY (event_id, component)
);
CREATE INDEX ON {target}.money_movements (case_id);
COMMENT ON TABLE {target}.money_movements IS 'One row per money movement and price component.';

-- The funnel, one row per case: quote -> case -> records complete -> accepted -> delivered -> decided.
CREATE VIEW {target}.case_funnel AS
SELECT c.case_id, c.quote_id, q.issued_at AS quoted_at, c.opened_at, c.records_completed_at, c.accepted_at,
       c.delivered_at, c.decided_at, c.decision, c.ending,
       CASE WHEN c.decided_at IS NOT NULL THEN 'decided'
            WHEN c.ending IS NOT NULL THEN 'ended_' || c.ending
            WHEN c.delivered_at IS NOT NULL THEN 'delivered'
            WHEN c.accepted_at IS NOT NULL THEN 'accepted'
            WHEN c.records_completed_at IS NOT NULL THEN 'records_complete'
            ELSE 'opened' END AS stage,
       extract(epoch FROM c.opened_at - q.issued_at) / 86400.0              AS days_quote_to_case,
       extract(epoch FROM c.records_completed_at - c.opened_at) / 86400.0   AS days_to_records_complete,
       extract(epoch FROM c.accepted_at - c.records_completed_at) / 86400.0 AS days_to_acceptance,
       extract(epoch FROM c.delivered_at - c.accepted_at) / 86400.0         AS days_to_delivery,
       extract(epoch FROM c.decided_at - c.delivered_at) / 86400.0          AS days_to_decision
FROM {target}.cases c LEFT JOIN {target}.quotes q USING (quote_id)
WHERE c.opened_at IS NOT NULL;
COMMENT ON VIEW {target}.case_funnel IS 'One row per case: its stage in the funnel and the days between stages.';

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

-- The SLA clock per case, as the review service's clock reported it (business days, Asia/Shanghai).
CREATE VIEW {target}.sla_cases AS
SELECT case_id, centre_id, accepted_at, sla_target_due AS target_due, sla_limit_due AS limit_due,
       sla_business_days_used AS business_days_used, sla_paused_business_days AS paused_business_days,
       sla_at_risk_at AS at_risk_at, sla_breached_at AS breached_at, delivered_at,
       CASE WHEN sla_calendar_unknown AND delivered_at IS NULL THEN 'calendar_unknown'
            WHEN delivered_at IS NOT NULL AND sla_within_limit THEN 'delivered_on_time'
            WHEN delivered_at IS NOT NULL AND sla_within_limit IS NOT NULL THEN 'delivered_late'
            WHEN delivered_at IS NOT NULL THEN 'delivered'
            WHEN ending IS NOT NULL THEN 'stopped'
            WHEN sla_breached_at IS NOT NULL THEN 'breached'
            WHEN sla_paused_since IS NOT NULL THEN 'paused'
            WHEN sla_at_risk_at IS NOT NULL THEN 'at_risk'
            ELSE 'on_track' END AS state
FROM {target}.cases WHERE accepted_at IS NOT NULL;
COMMENT ON VIEW {target}.sla_cases IS 'One row per accepted case: due dates, business days used, paused days, state.';

-- Delivered reviews per centre and month of delivery (Asia/Shanghai).
CREATE VIEW {target}.sla_summary AS
SELECT centre_id, date_trunc('month', delivered_at AT TIME ZONE 'Asia/Shanghai')::date AS month,
       count(*) AS delivered,
       avg((business_days_used <= 7)::int)::numeric(5, 4) AS share_within_7,
       avg((state = 'delivered_on_time')::int)::numeric(5, 4) AS share_within_10,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY business_days_used) AS median_business_days,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY business_days_used) AS p90_business_days
FROM {target}.sla_cases WHERE delivered_at IS NOT NULL AND business_days_used IS NOT NULL
GROUP BY centre_id, month;
COMMENT ON VIEW {target}.sla_summary IS 'One row per centre and month: SLA compliance of delivered reviews.';

-- The 40/60 split: share of decided cases that booked treatment, 95% Wilson interval (z = 1.96).
-- Undecided delivered cases are counted apart and never enter the denominator. A treatment type
-- or travel reason exists only for patients who travelled, so for those two dimensions the share
-- is of all decided cases (how the ~40% split by type and reason).
CREATE VIEW {target}.travel_outcomes AS
WITH decided AS (
    SELECT * FROM {target}.cases WHERE delivered_at IS NOT NULL
), by_case AS (
    SELECT 'overall' AS dimension, 'all' AS value, decision, false AS of_all FROM decided
    UNION ALL SELECT 'centre', centre_id, decision, false FROM decided
    UNION ALL SELECT 'tumour_site', tumour_site, decision, false FROM decided
    UNION ALL SELECT 'recommended_pathway', recommended_pathway, decision, false FROM decided
    UNION ALL SELECT 'treatment_type', treatment_type, decision, true FROM decided WHERE treatment_type IS NOT NULL
    UNION ALL SELECT 'travel_reason', travel_reason, decision, true FROM decided WHERE travel_reason IS NOT NULL
), totals AS (
    SELECT count(*) FILTER (WHERE decision IS NOT NULL)::numeric AS decided FROM decided
), counts AS (
    SELECT b.dimension, b.value,
           CASE WHEN bool_or(b.of_all) THEN max(t.decided)
                ELSE count(*) FILTER (WHERE b.decision IS NOT NULL) END::numeric AS decided,
           count(*) FILTER (WHERE b.decision = 'booked_treatment')::numeric AS travelled,
           CASE WHEN bool_or(b.of_all) THEN NULL
                ELSE count(*) FILTER (WHERE b.decision IS NULL) END AS undecided
    FROM by_case b CROSS JOIN totals t WHERE b.value IS NOT NULL GROUP BY b.dimension, b.value
)
SELECT dimension, value, decided::int, travelled::int, undecided,
       CASE WHEN decided > 0 THEN round(travelled / decided, 4) END AS share,
       CASE WHEN decided > 0 THEN round(((travelled / decided + 1.9208 / decided)
            - 1.96 * sqrt((travelled / decided) * (1 - travelled / decided) / decided + 0.9604 / decided ^ 2))
            / (1 + 3.8416 / decided), 4) END AS ci95_low,
       CASE WHEN decided > 0 THEN round(((travelled / decided + 1.9208 / decided)
            + 1.96 * sqrt((travelled / decided) * (1 - travelled / decided) / decided + 0.9604 / decided ^ 2))
            / (1 + 3.8416 / decided), 4) END AS ci95_high
FROM counts;
COMMENT ON VIEW {target}.travel_outcomes IS
    'One row per dimension value: decided cases, share that booked treatment (for treatment_type and '
    'travel_reason: share of all decided cases), 95% Wilson interval; undecided counted apart.';

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
FROM dims WHERE value IS NOT NULL GROUP BY dimension, value;
COMMENT ON VIEW {target}.review_outcomes IS
    'One row per dimension value: change rates of delivered reviews, with the literature range as context.';

-- Revenue by month (Asia/Shanghai), reviewing centre, line and price component. Every row names
-- its line (review or video), so refunds, voids and credits, which the ledger records per line,
-- net against the invoiced components of the same line.
CREATE VIEW {target}.revenue AS
SELECT date_trunc('month', m.occurred_at AT TIME ZONE 'Asia/Shanghai')::date AS month,
       coalesce(c.centre_id, 'unassigned') AS centre_id,
       CASE WHEN m.component IN ('video', 'video_consultation') THEN 'video' ELSE 'review' END AS line,
       m.component,
       sum(m.cents) FILTER (WHERE m.kind = 'invoiced')        AS invoiced_cents,
       sum(m.cents) FILTER (WHERE m.kind = 'voided')          AS voided_cents,
       sum(m.cents) FILTER (WHERE m.kind = 'captured')        AS captured_cents,
       sum(m.cents) FILTER (WHERE m.kind = 'refunded')        AS refunded_cents,
       sum(m.cents) FILTER (WHERE m.kind = 'sla_credit')      AS sla_credit_cents,
       sum(m.cents) FILTER (WHERE m.kind = 'credit_issued')   AS credits_issued_cents,
       sum(m.cents) FILTER (WHERE m.kind = 'credit_redeemed') AS credits_redeemed_cents,
       coalesce(sum(m.cents) FILTER (WHERE m.kind = 'invoiced'), 0)
         - coalesce(sum(m.cents) FILTER (WHERE m.kind IN ('voided', 'refunded', 'sla_credit')), 0)
         AS net_revenue_cents
FROM {target}.money_movements m LEFT JOIN {target}.cases c USING (case_id)
GROUP BY 1, 2, 3, 4;
COMMENT ON VIEW {target}.revenue IS
    'One row per month, centre, line (review/video) and component: invoiced, voided, refunded, credits.';
