"""Review's own metrics (the plumbing's are in events/metrics.py)."""

from prometheus_client import Counter, Gauge

SLA_EVENTS = Counter("case_ledger_sla_events_total", "SLA events emitted", ["kind"])
SLA_CALENDAR_UNKNOWN = Gauge(
    "case_ledger_sla_calendar_unknown_cases", "Running SLA clocks blocked on a year the calendar does not know",
    multiprocess_mode="max",
)
CALENDAR_LAST_KNOWN_YEAR = Gauge(
    "case_ledger_sla_calendar_last_known_year", "The last year the centres' calendar knows", multiprocess_mode="max",
)
