"""Timer sweeps: one case's failure never stops the others; a lost database stops the sweep."""

from __future__ import annotations

import threading
from uuid import UUID, uuid4

import psycopg
import pytest

from events.db import ConcurrencyConflict, Conn
from services.common.runtime import live_timers
from services.common.sweeps import sweep
from tests.unit.fakes import FakePool


def test_a_sweep_skips_a_conflicting_or_failing_case_and_counts_the_rest():
    cases = [uuid4() for _ in range(4)]
    seen: list[UUID] = []

    def handle(conn: Conn, case_id: UUID) -> int:
        seen.append(case_id)
        if case_id == cases[0]:
            raise ConcurrencyConflict("case", 1, 2)
        if case_id == cases[1]:
            raise ValueError("bad data in one case")
        return 2

    assert sweep(FakePool(), cases, handle, service="intake") == 4
    assert seen == cases


def test_a_sweep_stops_when_the_database_is_gone():
    def handle(conn: Conn, case_id: UUID) -> int:
        raise psycopg.OperationalError("connection lost")

    with pytest.raises(psycopg.OperationalError):
        sweep(FakePool(), [uuid4(), uuid4()], handle, service="review")


def test_no_live_timer_thread_when_a_simulator_drives_time():
    assert live_timers(0, lambda: None) == {}


def test_the_live_timer_keeps_sweeping_after_a_failed_sweep():
    runs: list[int] = []
    stop = threading.Event()

    def flaky() -> None:
        runs.append(1)
        if len(runs) == 1:
            raise RuntimeError("first sweep fails")
        if len(runs) >= 3:
            stop.set()

    thread = threading.Thread(target=live_timers(0.01, flaky)["timers"], args=(stop,))
    thread.start()
    thread.join(5)
    assert not thread.is_alive() and len(runs) >= 3


def test_a_sweep_acts_as_the_timer_whoever_started_it():
    from services.common import actor

    seen: list[actor.Actor | None] = []

    def handle(conn: Conn, case_id: UUID) -> int:
        seen.append(actor.current())
        return 0

    with actor.acting_as(actor.Actor("an-admin-subject", "admin")):
        sweep(FakePool(), [uuid4(), uuid4()], handle, service="review")
        assert actor.current() == actor.Actor("an-admin-subject", "admin")
    assert seen == [actor.Actor("system:timer", "system")] * 2
