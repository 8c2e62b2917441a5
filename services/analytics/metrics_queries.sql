-- Read at every Prometheus scrape: small aggregates over the projections.

-- name: cases_by_state
SELECT stage AS state, count(*) AS n FROM {schema}.case_funnel GROUP BY stage

-- name: sla_states
SELECT state, count(*) AS n FROM {schema}.sla_cases GROUP BY state

-- name: travel
SELECT decided, travelled, share FROM {schema}.travel_outcomes WHERE dimension = 'overall'

-- name: money
SELECT kind, component, sum(cents)::bigint AS cents FROM {schema}.money_movements GROUP BY kind, component

-- name: review_changes
SELECT 'diagnosis' AS kind, diagnosis_change AS tier, count(*) AS n FROM {schema}.cases
WHERE delivered_at IS NOT NULL GROUP BY diagnosis_change
UNION ALL
SELECT 'treatment', treatment_change, count(*) FROM {schema}.cases
WHERE delivered_at IS NOT NULL GROUP BY treatment_change

-- name: freshness
SELECT extract(epoch FROM max(recorded_at)) AS ts FROM {schema}.case_timeline
