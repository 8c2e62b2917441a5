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
OUTBOX_PARKED = Gauge(
    "case_ledger_outbox_parked", "Outbox rows parked because they can never be published; each holds back its case",
    ["service"], multiprocess_mode="max",
)
ROWS_PARKED = Counter(
    "case_ledger_outbox_rows_parked_total", "Outbox rows the relay parked", ["service"],
)
RELAY_RECOVERIES = Counter(
    "case_ledger_relay_recoveries_total", "Times the relay found the broker had lost acknowledged records",
    ["service", "reason"],
)
EVENTS_REPUBLISHED = Counter(
    "case_ledger_events_republished_total", "Outbox rows queued again because the broker lost them", ["service"],
)
RECOVERY_DURATION = Histogram(
    "case_ledger_relay_recovery_seconds", "From noticing a broker's loss to having queued the rows again",
    ["service"], buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
TOPIC_PARTITIONS = Gauge(
    "case_ledger_topic_partitions", "Partitions of a topic as the broker reports them", ["service", "topic"],
    multiprocess_mode="max",
)
TOPIC_MISCONFIGURED = Gauge(
    "case_ledger_topic_misconfigured", "1 when a topic's partition count is not the configured one",
    ["service", "topic"], multiprocess_mode="max",
)
CONSUMER_REWINDS = Counter(
    "case_ledger_consumer_rewinds_total", "Times a consumer rewound because the topic was recreated or truncated",
    ["service", "consumer", "reason"],
)
CONSUMER_RESTARTS = Counter(
    "case_ledger_consumer_restarts_total", "Times a consumer's client was restarted (errors, or the stall watchdog)",
    ["service", "consumer", "reason"],
)
CONSUMER_OFFSET_GAPS = Counter(
    "case_ledger_consumer_offset_gaps_total",
    "Holes in a fetch (a later batch served before a lower offset was readable): fetched again, or passed",
    ["service", "consumer", "outcome"],
)
CONSUMER_LAST_PROGRESS = Gauge(
    "case_ledger_consumer_last_progress_timestamp_seconds",
    "When a consumer last handled a message (or found none waiting)",
    ["service", "consumer"], multiprocess_mode="max",
)
