"""Events per second through the whole pipeline (outbox → relay → Kafka → every consumer group), and
the commit-to-projection delay at a stated offered rate.

Throughput: WRITERS threads open cases straight in intake's store, BATCH per transaction (as many
concurrent commands would). Every event counts, the services' reactions included (billing
invoices and authorises, routing records the case, ...): the figure is all events the four
stores gained over the time from the first commit until the analytics projection holds every
one of them. It runs with all five services' consumer groups at work.

Latency: an open-loop appender opens cases one per transaction at a fixed rate, chosen so that
with their reactions the system carries ~RATE events/s; a poller looks for each in
analytics.case_timeline every POLL s (which bounds the figure's resolution).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from uuid import UUID, uuid4

import psycopg

from bench import OUTBOX_SCHEMAS, BenchFailed, Figures, percentiles, projected_events, scaled, settle, stored_events
from bench.openloop import open_loop
from bench.storage import Requests, per_event
from events.codes import ReferralReason, StageGroup, TumourSite
from events.contract import CaseOpened, Event
from events.db import Pool, open_pool, transaction
from events.registry import build_registry
from events.store import EventStore, utc_now
from services.common import actor
from services.common.kernel import Kernel
from services.intake import domain
from services.intake.application import new_patient_ref

WRITERS = 4
BATCH = 50
RATE = 500.0
POLL = 0.01
# The stores must stay still this long before the count ends: a consumer that pauses (a rebalance,
# a fetch retried) for less does not cut the count short. The figure is timed to the start of
# the quiet spell, not its end.
QUIET = 8.0
_SEEN = "SELECT event_id FROM analytics.case_timeline WHERE event_id = ANY(%(ids)s)"
_BACKLOG = " + ".join(f"(SELECT count(*) FROM {s}.outbox WHERE published_at IS NULL)" for s in OUTBOX_SCHEMAS)


def new_case_opened() -> CaseOpened:
    return CaseOpened(patient_ref=new_patient_ref(), tumour_site=TumourSite.BREAST, rare_tumour=False,
                      stage_group=StageGroup.STAGE_II, referral_reasons=[ReferralReason.STAGE_BORDERLINE],
                      patient_country="GB", language="en")


def _open(opened: CaseOpened) -> Callable[[domain.Case], list[Event]]:
    # The case id is fresh, so its stream is empty: nothing to decide against.
    return lambda _case: domain.open_case(opened, with_question=False)


def _kernel() -> Kernel[domain.Case]:
    store = EventStore("intake", "intake", build_registry())
    return Kernel(store, lambda conn, case_id: domain.Case(case_id), lambda case, event, at: case.apply(event, at))


# The bench's writers act as a coordinator would through the API: every event records an actor.
BENCH_ACTOR = actor.Actor("bench-writer", "coordinator")


def _open_cases(pool: Pool, kernel: Kernel[domain.Case], count: int) -> list[UUID]:
    with actor.acting_as(BENCH_ACTOR), transaction(pool) as conn:
        return [kernel.handle(conn, uuid4(), _open(new_case_opened()), occurred_at=utc_now()).appended[0]
                .envelope.event_id for _ in range(count)]


def _until_projected(conn: psycopg.Connection[Any], stored_before: int, projected_before: int,
                     timeout: float) -> tuple[float, int]:
    """Waits until the projection holds every stored event, no outbox has a backlog, and the stores
    have stopped growing for QUIET s (the services' reactions are done too); (when first so, events)."""
    deadline = time.monotonic() + timeout
    stored = projected = 0
    caught_up: float | None = None
    last_stored = -1
    while time.monotonic() < deadline:
        stored = stored_events(conn) - stored_before
        projected = projected_events(conn) - projected_before
        row = conn.execute(f"SELECT {_BACKLOG}").fetchone()
        now = time.monotonic()
        if projected >= stored and row is not None and int(row[0]) == 0 and stored == last_stored:
            caught_up = caught_up or now
            if now - caught_up >= QUIET:
                return caught_up, stored
        else:
            caught_up = None
        last_stored = stored
        time.sleep(0.05)
    raise BenchFailed(f"pipeline: {projected:,} of {stored:,} stored events projected after {timeout:.0f}s")


def throughput(database_url: str, summary: dict[str, Any],
               storage: Callable[[], Requests | None] = lambda: None, key: str = "pipeline_events_per_s") -> Figures:
    cases = scaled(8000, WRITERS * BATCH)
    pool = open_pool(database_url, max_size=WRITERS, name="bench-pipeline")
    kernel = _kernel()
    try:
        with psycopg.connect(database_url, autocommit=True) as conn:
            stored_before, projected_before = stored_events(conn), projected_events(conn)
            requests_before = storage()
            first = time.monotonic()

            def writer(n: int) -> None:
                for _ in range(0, n, BATCH):
                    _open_cases(pool, kernel, BATCH)

            with ThreadPoolExecutor(WRITERS) as executor:
                for f in [executor.submit(writer, cases // WRITERS) for _ in range(WRITERS)]:
                    f.result()
            appended = time.monotonic()
            done, events = _until_projected(conn, stored_before, projected_before, timeout=max(120.0, cases / 20))
            requests_after = storage()
    finally:
        pool.close()
    rate = events / (done - first)
    summary[key] = rate
    if key == "pipeline_events_per_s":
        summary["pipeline_reactions_per_case"] = events / cases - 1
    return [("cases opened", cases, ""), ("events stored, reactions included", events, ""),
            ("reactions per case", events / cases - 1, "x"),
            ("append rate (opens only)", cases / (appended - first), "events/s"),
            ("first commit → every event projected", done - first, "s"),
            ("pipeline throughput, every event", rate, "events/s"),
            *per_event(requests_before, requests_after, events)]


def latency(database_url: str, summary: dict[str, Any],
            storage: Callable[[], Requests | None] = lambda: None) -> Figures:
    reactions = float(summary.get("pipeline_reactions_per_case") or 3.0)
    opens_per_s = RATE / (1 + reactions)
    duration = max(5.0, 15.0 * min(1.0, scaled(100) / 100))
    pool = open_pool(database_url, max_size=8, name="bench-latency")
    kernel = _kernel()
    pending: dict[UUID, float] = {}
    lock = threading.Lock()
    delays: list[float] = []
    stop = threading.Event()

    def send(_: int) -> None:
        (event_id,) = _open_cases(pool, kernel, 1)
        committed = time.monotonic()
        with lock:
            pending[event_id] = committed

    def poll() -> None:
        with psycopg.connect(database_url, autocommit=True) as conn:
            while not stop.is_set() or pending:
                with lock:
                    ids = list(pending)
                if ids:
                    seen = [r[0] for r in conn.execute(_SEEN, {"ids": ids}).fetchall()]
                    now = time.monotonic()
                    with lock:
                        delays.extend(now - pending.pop(i) for i in seen)
                time.sleep(POLL)
                if stop.is_set() and time.monotonic() > give_up:
                    return

    give_up = float("inf")
    with psycopg.connect(database_url, autocommit=True) as conn:
        stored_before = stored_events(conn)
    requests_before = storage()
    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        result = open_loop(send, opens_per_s, duration, workers=16)
    finally:
        give_up = time.monotonic() + 60
        stop.set()
        poller.join()
        pool.close()
    if pending:
        raise BenchFailed(f"latency: {len(pending)} events not projected within 60 s of the last commit")
    settle(database_url)  # the reactions too, before the broker's work is counted
    requests_after = storage()
    with psycopg.connect(database_url, autocommit=True) as conn:
        carried = stored_events(conn) - stored_before
    p = percentiles(delays, (50, 99))
    summary["commit_to_projection_p99_ms_at_500_eps"] = p[99] * 1000
    return [("offered opens (open loop)", opens_per_s, "cases/s"),
            ("events offered, with reactions", opens_per_s * (1 + reactions), "events/s"),
            ("opens achieved", result.achieved_rate, "cases/s"),
            ("commit → projection p50", p[50] * 1000, "ms"), ("commit → projection p99", p[99] * 1000, "ms"),
            *per_event(requests_before, requests_after, carried)]
