"""The broker paused and a consumer killed: nothing lost, nothing counted twice."""

from __future__ import annotations

import os
import signal
import threading
import time

from infra.stack import Stack
from tests.integration.conftest import Api, open_case, wait_for, wait_until_projected


def test_commands_succeed_while_the_broker_is_paused_and_the_backlog_drains(stack: Stack, api: Api, db, env):
    broker = stack.pid_of("broker")
    assert broker
    os.kill(broker, signal.SIGSTOP)
    started = time.monotonic()
    try:
        cases = [open_case(api) for _ in range(25)]
        # Commands only touch PostgreSQL: they stay fast with the broker frozen.
        assert time.monotonic() - started < 20
        backlog = db.execute("SELECT count(*) AS n FROM intake.outbox WHERE published_at IS NULL").fetchone()["n"]
        assert backlog >= 25
        # Frozen 12 s in all, counted from the stop: longer than the clients' request timeout
        # (10 s), so the consumers' requests time out and they reconnect.
        time.sleep(max(0.0, 12 - (time.monotonic() - started)))
    finally:
        os.kill(broker, signal.SIGCONT)
    wait_for(lambda: db.execute("SELECT count(*) AS n FROM intake.outbox WHERE published_at IS NULL")
             .fetchone()["n"] == 0, timeout=90, what="the intake outbox to drain")
    wait_for(lambda: db.execute(
        "SELECT count(*) AS n FROM billing.events WHERE event_type = 'FeeInvoiced' AND case_id = ANY(%s)",
        (cases,)).fetchone()["n"] == len(cases), timeout=90, what="billing to invoice every case")
    wait_until_projected(db, timeout=90)
    rows = db.execute("SELECT case_id, count(*) AS n FROM analytics.case_timeline "
                      "WHERE case_id = ANY(%s) AND event_type = 'CaseOpened' GROUP BY case_id", (cases,)).fetchall()
    assert sorted(r["n"] for r in rows) == [1] * len(cases)
    metrics = api.call("intake", "GET", "/metrics", token=None).text
    assert "case_ledger_relay_failures_total" in metrics


def test_a_consumer_killed_mid_stream_loses_and_double_counts_nothing(stack: Stack, api: Api, db, env):
    done = threading.Event()
    opened: list[object] = []

    def load() -> None:
        while not done.is_set() and len(opened) < 150:
            opened.append(open_case(api))

    writer = threading.Thread(target=load)
    writer.start()
    try:
        wait_for(lambda: len(opened) >= 30, what="traffic")
        restarts = stack.restarts().get("analytics-worker", 0)
        pid = stack.kill("analytics-worker", signal.SIGKILL)
        # Nobody starts it again by hand: the supervisor does.
        stack.wait_restarted("analytics-worker", pid, timeout=30)
        assert stack.restarts().get("analytics-worker", 0) == restarts + 1
        wait_for(lambda: len(opened) >= 80, what="more traffic")
    finally:
        done.set()
        writer.join()
    wait_until_projected(db, timeout=120)
    dupes = db.execute("SELECT count(*) - count(DISTINCT event_id) AS n FROM analytics.case_timeline").fetchone()
    assert dupes["n"] == 0
    assert db.execute("SELECT count(*) AS n FROM analytics.case_timeline WHERE case_id = ANY(%s) "
                      "AND event_type = 'CaseOpened'", (opened,)).fetchone()["n"] == len(opened)
