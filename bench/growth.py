"""Cost as the work grows: at 10k, 100k and 1M stored events (times BENCH_SCALE), the latency of one
command (open-case over HTTP), the rebuild's time, and a worklist query (GET /cases).

The history is generated (bench.history) into the live event stores themselves, outbox-free so
nothing is published, and each generated case also gets its rows (intake.cases and its worklist
row), as if intake had opened it: what the worklist query scans is then as
large as the history says. It runs first, on the fresh stack, so that the sizes are what they say;
then it deletes what it generated, and the other benchmarks find the stores as it found them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import psycopg

from bench import Figures, history, percentiles, scaled, stored_events
from bench.api import OPEN_BODY
from bench.rebuild import measure_build
from events.db import open_pool

SIZES = (10_000, 100_000, 1_000_000)

# The generated cases as intake would list them: in review at the centre, clock running, due two
# weeks after opening (so the worklist's deadline order has something to sort). Their lives are
# empty: the list reads the columns events.lifecycle's summary fills, never the life itself.
_WORKLIST_ROWS = (
    """INSERT INTO intake.cases (case_id, patient_ref, updated_at)
       SELECT case_id, 'pr_' || md5(case_id::text), occurred_at
       FROM intake.events WHERE event_type = 'CaseOpened' ON CONFLICT (case_id) DO NOTHING""",
    """INSERT INTO intake.worklist (case_id, life, status, waiting_on, waiting_since, deadline, sort_key, sla_state,
                                  ended, centre_id, tumour_site, limit_due, updated_at)
       SELECT case_id, '{}'::jsonb, 'ready_for_review', 'centre', occurred_at, (occurred_at + interval '14 days')::date,
              to_char(occurred_at + interval '14 days', 'YYYY-MM-DD'), 'on_track', false, 'wch', 'lung',
              (occurred_at + interval '14 days')::date, occurred_at
       FROM intake.events WHERE event_type = 'CaseOpened' ON CONFLICT (case_id) DO NOTHING""",
    "ANALYZE intake.cases", "ANALYZE intake.worklist",
)
_GENERATED_CASES = "SELECT case_id FROM intake.events WHERE stream_id LIKE %(generated)s"
_CLEAN_UP = (
    f"DELETE FROM intake.worklist WHERE case_id IN ({_GENERATED_CASES})",
    f"DELETE FROM intake.cases WHERE case_id IN ({_GENERATED_CASES})",
    *(f"DELETE FROM {store}.events WHERE stream_id LIKE %(generated)s" for store in history.SERVICES),
)


def clean_up(database_url: str) -> None:
    """Deletes every generated case from the live stores (also after the phase was killed)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        for statement in _CLEAN_UP:
            conn.execute(statement, {"generated": f"{history.GENERATED}%"})
        # Now, rather than by autovacuum in the middle of the next benchmark.
        for table in ("intake.worklist", "intake.cases", *(f"{store}.events" for store in history.SERVICES)):
            conn.execute(f"VACUUM ANALYZE {table}")


def _timed(client: httpx.Client, n: int, send: Any, expect: int) -> dict[int, float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        r = send(client)
        if r.status_code != expect:
            raise RuntimeError(f"{r.status_code}: {r.text[:200]}")
        samples.append((time.perf_counter() - start) * 1000)
    return percentiles(samples, (50, 99))


def run(intake_url: str, token: Callable[[], str], database_url: str, summary: dict[str, Any]) -> Figures:
    stores = {service: service for service in history.SERVICES}
    figures: Figures = []
    growth: dict[str, Any] = {}
    pool = open_pool(database_url, max_size=2, name="bench-growth")
    try:
        with psycopg.connect(database_url, autocommit=True) as conn:
            total = stored_events(conn)
        for size in (scaled(n, minimum=1_000) for n in SIZES):
            if size > total:
                # ~12 events a case: successive additions continue the case numbering in time.
                total += history.append(pool, size - total, stores, start_at=total // 12)
            with psycopg.connect(database_url, autocommit=True) as conn:
                for statement in _WORKLIST_ROWS:
                    conn.execute(statement)
                row = conn.execute("SELECT count(*) FROM intake.cases").fetchone()
                cases = int(row[0]) if row else 0
            with httpx.Client(base_url=intake_url, headers={"Authorization": f"Bearer {token()}"},
                              timeout=30.0) as client:
                command = _timed(client, 100, lambda c: c.post("/cases", json=OPEN_BODY), 201)
                first_page = _timed(client, 30, lambda c: c.get("/cases", params={"limit": 50}), 200)
                filtered = _timed(client, 30, lambda c: c.get("/cases", params={"limit": 50,
                                                                                "waiting_on": "patient"}), 200)
            rebuilt = measure_build(database_url, list(stores.values()))
            label = f"{total / 1000:,.0f}k events"
            figures += [(f"{label}: cases listed", cases, ""),
                        (f"{label}: open-case p50", command[50], "ms"), (f"{label}: open-case p99", command[99], "ms"),
                        (f"{label}: rebuild", rebuilt["seconds"], "s"),
                        (f"{label}: rebuild peak memory", rebuilt["peak_rss_mib"], "MiB"),
                        (f"{label}: worklist first page p50", first_page[50], "ms"),
                        (f"{label}: worklist waiting_on=patient p50", filtered[50], "ms")]
            growth[str(total)] = {"cases": cases, "open_case_p50_ms": command[50], "open_case_p99_ms": command[99],
                                  "rebuild_s": rebuilt["seconds"], "rebuild_events_per_s": rebuilt["events_per_s"],
                                  "rebuild_peak_rss_mib": rebuilt["peak_rss_mib"],
                                  "worklist_first_page_p50_ms": first_page[50],
                                  "worklist_waiting_on_patient_p50_ms": filtered[50]}
    finally:
        clean_up(database_url)
        pool.close()
    summary["growth"] = growth
    if growth:
        # The largest history measured (1M events at the default scale): the list's first page.
        largest = max(growth, key=int)
        summary["worklist_first_page_ms_at_1m_events"] = growth[largest]["worklist_first_page_p50_ms"]
    return figures
