"""Routing's own metrics (the plumbing's are in events/metrics.py)."""

from prometheus_client import Counter

# A handler retried after a rollback counts its case again: an alert on "any", not an exact tally.
ROUTED_OVER_CAPACITY = Counter(
    "case_ledger_routed_over_capacity_total", "Cases routed to a centre already at or over its capacity",
    ["centre"],
)

ASSIGNMENTS_WITHDRAWN = Counter(
    "case_ledger_assignments_withdrawn_total",
    "Cases routing withdrew from a centre that had not accepted them (no answer by the deadline, or the "
    "coordinator re-routed them)", ["centre", "reason"],
)
