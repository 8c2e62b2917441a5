"""Events per second through relay → Kafka → analytics projection, and the commit-to-projection delay.

Two phases. Latency: a thread appends CaseOpened events straight into intake's store, one
transaction each, noting when each committed; meanwhile we poll analytics.case_timeline for
them. The schema gets no timestamp of its own, so an event's delay is when we first saw its row
minus its commit: polling every POLL seconds adds up to that much (about half on average).
Throughput: WRITERS threads append BATCH cases per transaction (as many concurrent commands
would), so the pipeline, not a single appender, is what limits the figure.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from uuid import UUID, uuid4

import psycopg
from psycopg_pool import ConnectionPool

from bench import Figures, percentiles, settle
from events.codes import ReferralReason, StageGroup, TumourSite
from events.contract import CaseOpened, Event
from events.db import open_pool, transaction
from events.registry import build_registry
from events.store import EventStore, utc_now
from services.common.kernel import Kernel
from services.intake import domain
from services.intake.application import new_patient_ref

CASES = 1500
THROUGHPUT_EVENTS = 10_000
WRITERS = 4
BATCH = 50
POLL = 0.02
QUIET = 3.0
TIMEOUT = 90.0
_SEEN = "SELECT event_id FROM analytics.case_timeline WHERE event_id = ANY(%(ids)s)"


def new_case_opened() -> CaseOpened:
    return CaseOpened(patient_ref=new_patient_ref(), tumour_site=TumourSite.BREAST, rare_tumour=False,
                      stage_group=StageGroup.STAGE_II, referral_reasons=[ReferralReason.STAGE_BORDERLINE],
                      patient_country="GB", language="en")


def _open(opened: CaseOpened) -> Callable[[domain.Case], list[Event]]:
    # The case id is fresh, so its stream is empty: nothing to decide against.
    return lambda _case: domain.open_case(opened, with_question=False)


def _append(pool: ConnectionPool[Any], cases: int, committed: queue.Queue[tuple[UUID, float]],
            stop: threading.Event, per_tx: int = 1) -> None:
    store = EventStore("intake", "intake", build_registry())
    kernel = Kernel(store, lambda conn, case_id: domain.Case(case_id), lambda case, event, at: case.apply(event, at))
    for _ in range(0, cases, per_tx):
        if stop.is_set():
            return
        ids = []
        with transaction(pool) as conn:
            for _ in range(per_tx):
                done = kernel.handle(conn, uuid4(), _open(new_case_opened()), occurred_at=utc_now())
                ids.append(done.appended[0].envelope.event_id)
        # Both clocks are read in this process, so a monotonic one serves.
        now = time.monotonic()
        for event_id in ids:
            committed.put((event_id, now))


def run(database_url: str, cases: int = CASES) -> Figures:
    latency = _measure(database_url, cases, writers=1, per_tx=1)
    settle(database_url)  # the reactions to the first phase must not share the second one's cores
    bulk = _measure(database_url, THROUGHPUT_EVENTS, writers=WRITERS, per_tx=BATCH)
    return ([(f"latency phase: {label}", value, unit) for label, value, unit in latency]
            + [(f"throughput phase: {label}", value, unit) for label, value, unit in bulk])


def run_alone(database_url: str, events: int = 2 * THROUGHPUT_EVENTS) -> Figures:
    """The pipeline's own capacity: the caller has stopped the services that react to CaseOpened."""
    return _measure(database_url, events, writers=WRITERS, per_tx=BATCH)


def _measure(database_url: str, cases: int, writers: int, per_tx: int) -> Figures:
    committed: queue.Queue[tuple[UUID, float]] = queue.Queue()
    pending: dict[UUID, float] = {}
    delays: list[float] = []
    first_commit = last_commit = last_seen = 0.0
    stop = threading.Event()
    pool = open_pool(database_url, max_size=writers, name="bench-pipeline")
    try:
        with ThreadPoolExecutor(writers) as executor, psycopg.connect(database_url, autocommit=True) as conn:
            rows_before = _timeline_rows(conn)
            started = time.monotonic()
            appenders = [executor.submit(_append, pool, cases // writers, committed, stop, per_tx)
                         for _ in range(writers)]
            try:
                while time.monotonic() < started + TIMEOUT:
                    done = all(a.done() for a in appenders)  # read before draining: nothing committed is missed
                    while not committed.empty():
                        event_id, commit = committed.get()
                        last_commit = max(last_commit, commit)
                        first_commit = min(first_commit or commit, commit)
                        pending[event_id] = last_commit
                    if done:
                        for a in appenders:
                            a.result()  # re-raises an appender's failure, if any
                    if pending:
                        rows = conn.execute(_SEEN, {"ids": list(pending)}).fetchall()
                        now = time.monotonic()
                        for row in rows:
                            delays.append(now - pending.pop(row[0]))
                            last_seen = now
                    elif done:
                        break
                    time.sleep(POLL)
            finally:
                stop.set()
            # The services react to every case opened (billing invoices and authorises, routing
            # records it), and those events go through the same relay, topic and projector.
            settle(database_url, quiet=QUIET)
            settled = time.monotonic() - QUIET
            all_rows = _timeline_rows(conn) - rows_before
    finally:
        pool.close()
    if pending:
        print(f"  pipeline: {len(pending)} events not projected within {TIMEOUT:.0f}s")
    appended = len(delays) + len(pending)
    p = percentiles(delays, (50, 99))
    wall = last_seen - first_commit
    return [("events appended", appended, ""),
            ("append rate", appended / (last_commit - started), "events/s"),
            ("projected", len(delays), "events"),
            ("first commit → last projected", wall, "s"),
            ("last commit → last projected", last_seen - last_commit, "s"),
            ("end-to-end throughput", len(delays) / wall, "events/s"),
            ("commit → projection p50", p[50] * 1000, "ms"),
            ("commit → projection p99", p[99] * 1000, "ms"),
            ("all events projected, with reactions", all_rows, "events"),
            ("all events: throughput until settled", all_rows / (settled - first_commit), "events/s")]


def _timeline_rows(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT count(*) FROM analytics.case_timeline").fetchone()
    return int(row[0]) if row else 0
