"""Metrics of the event plumbing, shared by every service.

API and worker are separate processes; prometheus-client's multiprocess mode (the directory in
PROMETHEUS_MULTIPROC_DIR) lets the API's /metrics report both. Labels stay low-cardinality:
service, consumer name, event type, reason code.
"""

from prometheus_client import Counter, Gauge, Histogram

EVENTS_APPENDED = Counter(
    "case_ledger_events_appended_total", "Events appended to a service's event store",
    ["service", "event_type"],
)
EVENTS_PUBLISHED = Counter(
    "case_ledger_events_published_total", "Outbox rows acknowledged by the broker", ["service"],
)
EVENTS_CONSUMED = Counter(
    "case_ledger_events_consumed_total", "Messages a consumer handled, by outcome",
    ["service", "consumer", "outcome"],
)
DLQ_MESSAGES = Counter(
    "case_ledger_dlq_messages_total", "Messages sent to the dead-letter topic",
    ["service", "consumer", "reason"],
)
OUTBOX_BACKLOG = Gauge(
    "case_ledger_outbox_backlog", "Outbox rows not yet acknowledged by the broker", ["service"],
    multiprocess_mode="max",
)
CONSUMER_LAG = Gauge(
    "case_ledger_consumer_lag", "Messages behind the partition high-water marks",
    ["service", "consumer"], multiprocess_mode="max",
)
RELAY_FAILURES = Counter(
    "case_ledger_relay_failures_total", "Relay rounds that failed to reach the broker", ["service"],
)
PROJECTION_DELAY = Histogram(
    "case_ledger_projection_delay_seconds", "From an event's recording to a consumer applying it",
    ["service", "consumer"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
HTTP_LATENCY = Histogram(
    "case_ledger_http_request_duration_seconds", "HTTP request latency",
    ["service", "method", "route", "status"],
)
TIMER_FAILURES = Counter(
    "case_ledger_timer_failures_total", "Cases a timer sweep failed on; each is retried by the next sweep",
    ["service"],
)
