"""Benchmarks of the Case Ledger, run by `make bench` (python -m bench.run): they print, never assert.

A benchmark that cannot finish (a timeout, lost events) raises `BenchFailed`: `make bench` prints
that line instead of a figure and records the figure as null. `BENCH_SCALE` (default 1) scales
every count, e.g. 0.2 for a quick look; the rates it gives are then noisier.
"""

from __future__ import annotations

import os
import time
from statistics import quantiles
from typing import Any

import psycopg
from psycopg import sql

# (label, value, unit) rows that bench.run prints as a table.
Figures = list[tuple[str, float, str]]

# Schemas whose relays publish; the analytics worker only consumes.
OUTBOX_SCHEMAS = ("intake", "routing", "review", "billing")


class BenchFailed(Exception):
    """The benchmark could not produce its figure; the message says why."""


def scale() -> float:
    raw = os.environ.get("BENCH_SCALE", "1")
    try:
        value = float(raw)
    except ValueError:
        raise SystemExit(f"BENCH_SCALE must be a number, not {raw!r}") from None
    if not 0.01 <= value <= 10:
        raise SystemExit("BENCH_SCALE must be between 0.01 and 10")
    return value


def scaled(n: int, minimum: int = 1) -> int:
    return max(minimum, round(n * scale()))


def percentiles(samples: list[float], points: tuple[int, ...] = (50, 95, 99)) -> dict[int, float]:
    if len(samples) < 2:
        raise BenchFailed(f"{len(samples)} samples are too few for percentiles")
    cuts = quantiles(samples, n=100, method="inclusive")
    return {p: cuts[p - 1] for p in points}


def stored_events(conn: psycopg.Connection[Any]) -> int:
    """Every event the four stores hold: commands and reactions alike."""
    total = sql.SQL(" + ").join(sql.SQL("(SELECT count(*) FROM {}.events)").format(sql.Identifier(s))
                                for s in OUTBOX_SCHEMAS)
    row = conn.execute(sql.SQL("SELECT {}").format(total)).fetchone()
    return int(row[0]) if row else 0


def projected_events(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT count(*) FROM analytics.case_timeline").fetchone()
    return int(row[0]) if row else 0


def settle(database_url: str, timeout: float = 60.0, quiet: float = 1.0) -> bool:
    """Wait until every outbox is published and the timeline stops growing.

    One benchmark's events (and what the services do in reaction) would otherwise still be
    flowing through the stack, on the same two cores, while the next benchmark runs.
    """
    backlog = sql.SQL(" + ").join(
        sql.SQL("(SELECT count(*) FROM {}.outbox WHERE published_at IS NULL)").format(sql.Identifier(s))
        for s in OUTBOX_SCHEMAS)
    query = sql.SQL("SELECT {} AS backlog, (SELECT count(*) FROM analytics.case_timeline) AS rows").format(
        backlog)
    deadline = time.monotonic() + timeout
    last: tuple[int, int] | None = None
    since = time.monotonic()
    with psycopg.connect(database_url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(query).fetchone()
            assert row is not None
            current, now = (int(row[0]), int(row[1])), time.monotonic()
            if current != last:
                last, since = current, now
            elif current[0] == 0 and now - since >= quiet:
                return True
            time.sleep(0.1)
    return False
