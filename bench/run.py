"""`make bench`: start a throwaway stack in .run/bench, run every benchmark, print the figures and a
summary against the targets, write .run/bench/summary.json, stop the stack.

A benchmark that fails (a timeout, lost events, failed requests) prints "FAILED: why" and its
figures are null in the summary: a failure is never a number.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import (
    Figures,
    api,
    ceilings,
    console,
    eventsourcing_compare,
    growth,
    live,
    members,
    pipeline,
    produce_fetch,
    rebuild,
    scale,
    storage,
)
from bench.phases import Phase, run_all
from infra import objectstore
from infra.signin import stack_tokens
from infra.stack import LIVE, Stack

ROOT = Path(__file__).resolve().parent.parent
RUN_DIR = ROOT / ".run" / "bench"
SUMMARY = RUN_DIR / "summary.json"
BENCH_PARTITIONS = 6
KEYS = ("pipeline_events_per_s", "pipeline_events_per_s_two_members", "http_open_case_peak_rps",
        "http_open_case_p99_ms_at_half_peak", "http_driver_lateness_p99_ms", "http_driver_lateness_max_ms",
        "http_open_case_p99_ms_at_half_peak_loaded", "http_driver_lateness_p99_ms_loaded",
        "http_driver_lateness_max_ms_loaded",
        "commit_to_projection_p99_ms_at_500_eps", "ceiling_broker_produce_to_fetch_p99_ms",
        "relay_idempotent_events_per_s", "relay_plain_events_per_s", "relay_idempotent_commit_to_fetch_p99_ms",
        "relay_plain_commit_to_fetch_p99_ms", "rebuild_events_per_s", "ceiling_pg_copy_events_per_s",
        "ceiling_empty_endpoint_rps", "eventsourcing_ops_per_s", "store_ops_per_s", "live_events_per_s",
        "live_lag_grew", "worklist_first_page_ms_at_1m_events", "console_worklist_p95_ms_at_1k_cases",
        "console_case_page_p95_ms_at_1k_cases", "console_page_max_kb")


def _format(value: float, unit: str) -> str:
    if unit in ("ms", "s", "x", "MiB"):
        return f"{value:,.2f}" if unit != "ms" else f"{value:,.1f}"
    return f"{value:,.0f}"


def _print_table(title: str, figures: Figures, seconds: float) -> None:
    width = max((len(label) for label, _, _ in figures), default=10)
    print(f"\n{title}  ({seconds:.1f}s)")
    for label, value, unit in figures:
        print(f"  {label:<{width}}  {_format(value, unit):>10} {unit}")


def projection_bound(ceiling_p99_ms: float | None) -> float:
    """Issue 29: commit → projection p99 <= 150 ms, or <= 1.5x a message's produce → fetch p99 on
    the same broker with nothing of ours in between (measured in the same run), whichever is more."""
    return 150.0 if ceiling_p99_ms is None else max(150.0, 1.5 * ceiling_p99_ms)


def _targets(s: dict[str, Any]) -> list[tuple[str, float | None, str, bool | None]]:
    """(figure, value, target, met) for each target of the brief; met None: a figure is missing."""
    def get(key: str) -> float | None:
        value = s.get(key)
        return None if value is None else float(value)

    def ratio(a: str, b: str) -> float | None:
        x, y = get(a), get(b)
        return None if x is None or not y else x / y

    bound = projection_bound(get("ceiling_broker_produce_to_fetch_p99_ms"))
    rows: list[tuple[str, float | None, str, Callable[[float], bool]]] = [
        ("pipeline_events_per_s", get("pipeline_events_per_s"), ">= 3000", lambda v: v >= 3000),
        # Issue 30: two members per group at least as fast as one.
        ("pipeline_events_per_s_two_members / pipeline_events_per_s",
         ratio("pipeline_events_per_s_two_members", "pipeline_events_per_s"), ">= 1", lambda v: v >= 1),
        ("http_open_case_p99_ms_at_half_peak (pipeline idle)", get("http_open_case_p99_ms_at_half_peak"), "<= 50",
         lambda v: v <= 50),
        ("http_open_case_peak_rps / ceiling_empty_endpoint_rps",
         ratio("http_open_case_peak_rps", "ceiling_empty_endpoint_rps"), ">= 0.30", lambda v: v >= 0.30),
        ("commit_to_projection_p99_ms_at_500_eps (<= 150, or 1.5x the broker's produce → fetch p99)",
         get("commit_to_projection_p99_ms_at_500_eps"), f"<= {bound:.0f}", lambda v: v <= bound),
        ("rebuild_events_per_s", get("rebuild_events_per_s"), ">= 50000", lambda v: v >= 50000),
        ("live_events_per_s / pipeline_events_per_s", ratio("live_events_per_s", "pipeline_events_per_s"), ">= 1",
         lambda v: v >= 1),
        ("worklist_first_page_ms_at_1m_events", get("worklist_first_page_ms_at_1m_events"), "<= 20",
         lambda v: v <= 20),
        ("console_worklist_p95_ms_at_1k_cases", get("console_worklist_p95_ms_at_1k_cases"), "<= 150",
         lambda v: v <= 150),
        ("console_case_page_p95_ms_at_1k_cases", get("console_case_page_p95_ms_at_1k_cases"), "<= 150",
         lambda v: v <= 150),
        ("console_page_max_kb", get("console_page_max_kb"), "<= 200", lambda v: v <= 200),
        ("store / eventsourcing ops/s, concurrency 8", ratio("store_ops_per_s", "eventsourcing_ops_per_s"),
         ">= 2", lambda v: v >= 2),
        ("store / eventsourcing ops/s, concurrency 1",
         ratio("store_ops_per_s_concurrency_1", "eventsourcing_ops_per_s_concurrency_1"), ">= 1",
         lambda v: v >= 1),
    ]
    return [(name, value, target, None if value is None else check(value)) for name, value, target, check in rows]


def _print_summary(summary: dict[str, Any]) -> None:
    print("\nsummary (the same figures are in .run/bench/summary.json)")
    width = max(len(k) for k in summary)
    missing = "null (not run: BENCH_ONLY)" if os.environ.get("BENCH_ONLY") else "null (FAILED)"
    for key, value in summary.items():
        if isinstance(value, dict):
            continue  # nested figures (growth) are printed in their benchmark's table
        shown = missing if value is None else f"{value:,.2f}" if isinstance(value, float) else str(value)
        print(f"  {key:<{width}}  {shown}")
    print("\ntargets")
    rows = _targets(summary)
    width = max(len(r[0]) for r in rows)
    for name, value, target, met in rows:
        verdict = "missing" if met is None else "met" if met else "NOT met"
        shown = "-" if value is None else f"{value:,.2f}"
        print(f"  {name:<{width}}  {shown:>12}  target {target:<8}  {verdict}")


def main() -> None:
    # A dev shell exports the dev stack's servers, and Stack would reuse them instead of its own.
    for var in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS"):
        os.environ.pop(var, None)
    # The pipeline benchmark dates its facts, as the demo does.
    os.environ["CASE_LEDGER_SIMULATED_TIME"] = "true"
    # A topic of 6 partitions, as on a cluster (issue 30): the pipeline with one member and with two
    # per group (phase pipeline_two_members) on the same one, since two members share only
    # partitions. CASE_LEDGER_TOPIC_PARTITIONS=1 gives the embedded stack's own default.
    os.environ.setdefault("CASE_LEDGER_TOPIC_PARTITIONS", str(BENCH_PARTITIONS))
    # SIGTERM becomes SystemExit so the finally below still stops the stack.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    # BENCH_ONLY=console,api runs those phases (bench/phases.py) and keeps the other figures of the last summary.
    only = os.environ.get("BENCH_ONLY", "").strip()
    summary: dict[str, Any] = {**dict.fromkeys(KEYS), **(_last_summary() if only else {})}
    summary["bench_scale"] = scale()
    summary["load_average_before"] = list(os.getloadavg())
    # Ports of its own: BENCH_PORT_BASE / BENCH_BROKER_PORT when another stack holds the defaults.
    stack = Stack(run_dir=RUN_DIR, port_base=int(os.environ.get("BENCH_PORT_BASE", "8100")),
                  broker_port=int(os.environ.get("BENCH_BROKER_PORT", "19192")), owner=os.getpid())
    stack.down()
    shutil.rmtree(RUN_DIR, ignore_errors=True)
    started = time.monotonic()
    try:
        print(f"starting the benchmark stack in {RUN_DIR} ...", flush=True)
        urls = stack.up()
        db = urls["database"]
        failures = run_all(_benchmarks(stack, urls, summary), db, summary, scale(), _print_table)
    finally:
        print("\nstopping the benchmark stack ...", flush=True)
        stack.down()
    summary["load_average_after"] = list(os.getloadavg())
    summary["bench_seconds"] = time.monotonic() - started
    SUMMARY.parent.mkdir(parents=True, exist_ok=True)
    SUMMARY.write_text(json.dumps(summary, indent=2) + "\n")
    _print_summary(summary)
    if failures:
        sys.exit(1)


def _last_summary() -> dict[str, Any]:
    """The figures of the last whole run, kept beside a partial one's (BENCH_ONLY)."""
    try:
        last = json.loads(SUMMARY.read_text())
    except (OSError, ValueError):
        return {}
    return last if isinstance(last, dict) else {}


def _benchmarks(stack: Stack, urls: dict[str, str], summary: dict[str, Any]) -> list[Phase]:
    """Every benchmark, in the order it runs, on the started stack."""
    db = urls["database"]
    bootstrap = stack.bootstrap_servers()
    tokens = stack_tokens(stack.run_dir, stack.port_base)

    def token() -> str:
        return tokens["COORDINATOR_TOKEN"]
    # The embedded object store's request counters; a store of your own has none we know of.
    store_metrics = None if os.environ.get("S3_ENDPOINT") else objectstore.metrics_url(stack.port_base)
    broker_bucket = stack.s3_env()["S3_BROKER_BUCKET"]

    def requests() -> storage.Requests | None:
        return storage.read(store_metrics, broker_bucket)

    return [
        # First, on the empty stores: its sizes are then what it says. It deletes what it made.
        Phase("growth", "cost as the work grows: one command, the rebuild, the worklist",
              lambda: growth.run(urls["intake"], token, db, summary), 240, lambda: growth.clean_up(db)),
        Phase("ceiling_pg", "ceilings: PostgreSQL", lambda: ceilings.postgres(db, summary), 60),
        Phase("console", f"console pages, open loop at {console.RATE:.0f} pages/s, {console.CASES:,} cases stored",
              lambda: console.run(urls["console"], urls["intake"], token, stack.provider.passwords()["coordinator"],
                                  summary), 240),
        Phase("ceiling_kafka", "ceilings: kafka-python on the stack's broker",
              lambda: ceilings.kafka(bootstrap, summary), 120),
        Phase("ceiling_broker", "ceiling: produce → fetch on the stack's broker, nothing of ours in between",
              lambda: produce_fetch.ceiling(bootstrap, summary, stack.topic_partitions()), 90),
        Phase("ceiling_http", "ceiling: an empty endpoint on the services' server settings",
              lambda: api.empty_endpoint(summary, stack.port_base), 60),
        Phase("api", f"intake HTTP API: open-case peak ({api.THREADS} clients), then open loop at half of it",
              lambda: api.run(urls["intake"], token, db, summary, stack), 240),
        Phase("pipeline", f"pipeline throughput: cases opened by {pipeline.WRITERS} writers, {pipeline.BATCH} a "
              "transaction; every event counted until projected", lambda: pipeline.throughput(db, summary, requests),
              240),
        Phase("pipeline_two_members", "pipeline throughput with 2 members in billing's and analytics' groups "
              "(the second ones started for it, stopped after)",
              lambda: members.run(stack, db, summary, requests), 300),
        Phase("latency", f"commit → projection at ~{pipeline.RATE:.0f} events/s offered (open loop), reactions "
              "included", lambda: pipeline.latency(db, summary, requests), 120),
        Phase("relay_idempotence", "the outbox relay with Kafka's idempotent producer on and off (A/B, "
              f"alternating, {produce_fetch.ROUNDS} rounds each), on a scratch outbox and topic",
              lambda: produce_fetch.relay_ab(db, bootstrap, summary, stack.topic_partitions(), requests), 240),
        Phase("live", "live app (faust): sustained events/s at the pipeline's rate, and its lag",
              lambda: live.run(urls[LIVE], db, summary), 150),
        Phase("rebuild", f"analytics rebuild: the stack's history, then {rebuild.generated_size():,} generated events",
              lambda: rebuild.run(db, summary), 240, lambda: rebuild.clean_up(db)),
        Phase("eventsourcing", f"event store vs eventsourcing, concurrency 1 and {eventsourcing_compare.CONCURRENCY}",
              lambda: eventsourcing_compare.run(db, summary), 150),
    ]


if __name__ == "__main__":
    main()
