-- revenue: every row also names its line (review or video), so refunds, voids and credits, which
-- the ledger records per line, net against the invoiced components of the same line.
-- travel_outcomes: a treatment type or travel reason exists only for patients who travelled, so
-- for those two dimensions the share is of all decided cases (how the 40% splits by reason).
DROP VIEW {target}.revenue;
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

DROP VIEW {target}.travel_outcomes;
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
