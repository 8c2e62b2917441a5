"""Every metric of the console, in one place (its own process: no multiprocess directory)."""

from prometheus_client import CollectorRegistry, Counter, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

PAGE_SECONDS = Histogram(
    "case_ledger_console_page_seconds", "Time to render a console page, by route and status",
    ["route", "status"], registry=REGISTRY,
    buckets=(0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2.5, 5),
)
API_SECONDS = Histogram(
    "case_ledger_console_api_seconds", "Time of one call to a service's API", ["service"], registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
API_CALLS = Counter(
    "case_ledger_console_api_calls_total", "Calls to the services' APIs by answer class",
    ["service", "outcome"], registry=REGISTRY,
)
SIGN_INS = Counter(
    "case_ledger_console_sign_ins_total", "Sign-ins by outcome (completed, refused, csrf)", ["outcome"],
    registry=REGISTRY,
)
REFUSED = Counter(
    "case_ledger_console_refused_total", "Requests refused before any API call (csrf, rate, size, input)",
    ["reason"], registry=REGISTRY,
)
