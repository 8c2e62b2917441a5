"""`make bench`: start a throwaway stack in .run/bench, run every benchmark, print the figures, stop it."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bench import Figures, api, eventsourcing_compare, pipeline, settle
from infra.stack import Stack

ROOT = Path(__file__).resolve().parent.parent
RUN_DIR = ROOT / ".run" / "bench"


def _format(value: float, unit: str) -> str:
    if unit in ("ms", "s", "x"):
        return f"{value:,.2f}" if unit != "ms" else f"{value:,.1f}"
    return f"{value:,.0f}"


def _print_table(title: str, figures: Figures, seconds: float) -> None:
    width = max(len(label) for label, _, _ in figures)
    print(f"\n{title}  ({seconds:.1f}s)")
    for label, value, unit in figures:
        print(f"  {label:<{width}}  {_format(value, unit):>10} {unit}")


def _alone(stack: Stack, db: str) -> Figures:
    for service in ("routing", "review", "billing"):
        stack.stop(f"{service}-worker")
    return pipeline.run_alone(db)


def main() -> None:
    # A dev shell exports the dev stack's servers, and Stack would reuse them instead of its own.
    for var in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS"):
        os.environ.pop(var, None)
    # The pipeline benchmark dates its facts, as the demo does.
    os.environ["CASE_LEDGER_SIMULATED_TIME"] = "true"
    # SIGTERM becomes SystemExit so the finally below still stops the stack.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    stack = Stack(run_dir=RUN_DIR, port_base=8100, broker_port=19192)
    stack.down()
    shutil.rmtree(RUN_DIR, ignore_errors=True)
    try:
        print(f"starting the benchmark stack in {RUN_DIR} ...", flush=True)
        urls = stack.up()
        db = urls["database"]
        token = stack.tokens()["COORDINATOR_TOKEN"]
        benchmarks: list[tuple[str, Callable[[], Figures]]] = [
            (f"(a) intake HTTP API, {api.THREADS} client threads, {api.CASES} cases",
             lambda: api.run(urls["intake"], token)),
            (f"(b) relay → Kafka → analytics projection: {pipeline.CASES} single appends, then "
             f"{pipeline.THROUGHPUT_EVENTS:,} by {pipeline.WRITERS} writers in batches of {pipeline.BATCH}",
             lambda: pipeline.run(db)),
            (f"(b2) the same pipeline alone (routing, review and billing workers stopped, so no reactions): "
             f"{2 * pipeline.THROUGHPUT_EVENTS:,} events",
             lambda: _alone(stack, db)),
            (f"(c) event store vs eventsourcing, {eventsourcing_compare.CASES} cases each, single thread",
             lambda: eventsourcing_compare.run(db)),
        ]
        for title, bench in benchmarks:
            # The previous benchmark's events must not still be flowing through the stack.
            if not settle(db):
                print("  (the stack did not settle within 60s; figures below may be disturbed)")
            start = time.monotonic()
            figures = bench()
            _print_table(title, figures, time.monotonic() - start)
    finally:
        print("\nstopping the benchmark stack ...", flush=True)
        stack.down()


if __name__ == "__main__":
    main()
