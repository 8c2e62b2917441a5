"""Benchmarks of the Case Ledger, run by `make bench` (python -m bench.run): they print, never assert."""

from __future__ import annotations

import time
from statistics import quantiles

import psycopg
from psycopg import sql

# (label, value, unit) rows that bench.run prints as a table.
Figures = list[tuple[str, float, str]]

# Schemas whose relays publish; the analytics worker only consumes.
OUTBOX_SCHEMAS = ("intake", "routing", "review", "billing")


def percentiles(samples: list[float], points: tuple[int, ...] = (50, 95, 99)) -> dict[int, float]:
    cuts = quantiles(samples, n=100, method="inclusive")
    return {p: cuts[p - 1] for p in points}


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
