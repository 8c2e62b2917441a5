"""The analytics rebuild (the build `make rebuild` does before it compares and switches), in events
per second and peak memory: over the stack's own history, then over a generated one of
BENCH_HISTORY_EVENTS events (default 300,000 times BENCH_SCALE), which gives `rebuild_events_per_s`.

Each build runs in a child process (python -m bench.rebuild SOURCES...), so its peak resident
memory is its own, not what the rest of the bench left behind.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import BenchFailed, Figures, history, scaled
from events.db import open_pool
from events.registry import build_registry
from services.analytics import rebuild
from services.analytics.settings import AnalyticsSettings

ROOT = Path(__file__).resolve().parent.parent


def generated_size() -> int:
    raw = os.environ.get("BENCH_HISTORY_EVENTS")
    return int(raw) if raw else scaled(300_000, minimum=1_000)


def measure_build(database_url: str, sources: list[str]) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "bench.rebuild", database_url, *sources], cwd=ROOT,
                          capture_output=True, text=True, timeout=1800, check=False)
    if done.returncode != 0:
        raise BenchFailed(f"the rebuild failed: {done.stderr.strip()[-500:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run(database_url: str, summary: dict[str, Any]) -> Figures:
    live = measure_build(database_url, list(AnalyticsSettings.model_fields["rebuild_sources"].default))
    size = generated_size()
    pool = open_pool(database_url, max_size=2, name="bench-history")
    try:
        start = time.perf_counter()
        stored = history.generate(pool, size)
        generated_in = time.perf_counter() - start
        try:
            big = measure_build(database_url, history.sources())
        finally:
            history.drop(pool)
    finally:
        pool.close()
    if big["events"] != stored:
        raise BenchFailed(f"the rebuild read {big['events']} of {stored} generated events")
    summary["rebuild_events_per_s"] = big["events_per_s"]
    summary["rebuild_generated_events"] = stored
    summary["rebuild_peak_rss_mib"] = big["peak_rss_mib"]
    return [("stack's history: events", live["events"], ""),
            ("stack's history: rate", live["events_per_s"], "events/s"),
            ("stack's history: peak memory", live["peak_rss_mib"], "MiB"),
            ("generated history: events", stored, ""), ("generated in", generated_in, "s"),
            ("generated history: cases", big["cases"], ""), ("rebuild time", big["seconds"], "s"),
            ("rebuild rate", big["events_per_s"], "events/s"),
            ("rebuild peak memory (whole process)", big["peak_rss_mib"], "MiB")]


def clean_up(database_url: str) -> None:
    """Drops the generated stores and the scratch schema (also after the phase was killed)."""
    pool = open_pool(database_url, max_size=1, name="bench-rebuild-cleanup")
    try:
        history.drop(pool)
        rebuild.drop_scratch(pool)
    finally:
        pool.close()


def main(argv: list[str]) -> None:
    database_url, sources = argv[0], argv[1:]
    pool = open_pool(database_url, max_size=2, name="bench-rebuild")
    try:
        start = time.perf_counter()
        applied, per_source = rebuild.build(pool, build_registry(), sources)
        elapsed = time.perf_counter() - start
        with pool.connection() as conn:
            row = conn.execute(f"SELECT count(*) AS n FROM {rebuild.SCRATCH}.cases").fetchone()
            cases = int(row["n"]) if row else 0
        rebuild.drop_scratch(pool)
    finally:
        pool.close()
    events = sum(per_source.values())
    # ru_maxrss is in KiB on Linux.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"events": events, "applied": applied, "cases": cases, "seconds": elapsed,
                      "events_per_s": events / elapsed if elapsed else 0.0, "peak_rss_mib": peak}))


if __name__ == "__main__":
    main(sys.argv[1:])
