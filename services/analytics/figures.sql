-- The analysts' figures the console draws (GET /figures): small aggregates over the views.

-- name: travel_by_centre
-- The 40/60 split per reviewing centre and overall, with the view's 95% Wilson interval.
SELECT dimension, value, decided, travelled, share, ci95_low, ci95_high, undecided
FROM {schema}.travel_outcomes WHERE dimension IN ('overall', 'centre') ORDER BY dimension DESC, value

-- name: change_rates
SELECT dimension, value, reviews, diagnosis_changed, diagnosis_changed_reference_low,
       diagnosis_changed_reference_high, treatment_changed, treatment_changed_reference_low,
       treatment_changed_reference_high
FROM {schema}.review_outcomes WHERE dimension IN ('overall', 'centre') ORDER BY dimension DESC, value

-- name: sla_by_month
-- Every centre's deliveries together, per month of delivery (Asia/Shanghai): the on-time share.
SELECT month, sum(delivered)::int AS delivered,
       round(sum(share_within_10 * delivered) / nullif(sum(delivered), 0), 4) AS on_time_share,
       round(sum(share_within_7 * delivered) / nullif(sum(delivered), 0), 4) AS within_target_share
FROM {schema}.sla_summary GROUP BY month ORDER BY month
