"""The live app (services/live, faust) on the real broker: its windows equal an independent recomputation
from the event stores (chaos/live_check.py), also after its worker is SIGKILLed mid-stream and
supervisord restarts it. The whole ledger is compared, every test's cases included.
"""

from __future__ import annotations

import threading
import time
from collections import Counter

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from chaos.driver import CaseDriver, Outcome, drive_many
from chaos.live_check import compare, differences, progress
from demo.api import Api as DemoApi
from infra.stack import LIVE, SERVICES, Stack
from tests.integration.conftest import wait_for

pytestmark = pytest.mark.integration


def metrics(stack: Stack) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(stack.url(LIVE) + "/metrics", timeout=10).text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def assert_equal_to_the_stores(stack: Stack, db_url: str) -> None:
    equal, live, stores = compare(stack, db_url)
    if not equal:
        diff = differences(live, stores)
        raise AssertionError(f"live != stores on {len(diff)} windows (live, stores): {sorted(diff.items())[:20]}")
    hours, _ = stores
    exported = metrics(stack)
    totals: Counter[tuple[str, str]] = Counter()
    for (centre, kind, _), n in hours.items():
        totals[(centre, kind)] += n
    for (centre, kind), n in totals.items():
        family, what = kind.split(".")
        name, label = (("case_ledger_live_flow_events_total", "kind") if family == "flow"
                       else ("case_ledger_live_sla_events_total", "state"))
        assert exported[(name, tuple(sorted({"centre": centre, label: what}.items())))] == n, (centre, kind)


def test_the_live_windows_equal_a_recomputation_from_the_event_stores(stack: Stack, db_url: str):
    stack.wait_ready()
    assert_equal_to_the_stores(stack, db_url)


def test_a_sigkilled_live_worker_neither_loses_nor_double_counts_a_window(stack: Stack, db_url: str,
                                                                         tokens: dict[str, str]):
    stack.wait_ready()
    api = DemoApi({s: stack.url(s) for s in SERVICES}, tokens)
    outcomes: list[Outcome] = []
    driver = threading.Thread(target=lambda: outcomes.extend(drive_many(CaseDriver(api), 10, threads=3)))
    driver.start()
    try:
        kills: list[float] = []
        replayed = 0.0  # duplicates skipped by the restarted apps, each read before the next kill
        held: dict[str, int] = {}  # what the app had applied when it was found holding uncommitted work
        # Two kills at least; up to four while no kill happened to land between a batch and its
        # commit (the commit comes within a second of the check, sooner on a busy machine).
        while len(kills) < 2 or (replayed == 0 and len(kills) < 4):
            # Kill between two commits, with applied batches not yet committed: their messages come
            # again after the restart, and their changelog writes are already on the broker.
            def uncommitted() -> bool:
                p = progress(stack)
                if not p or not p["ready"]:
                    return False
                applied, committed = p["applied"], p["committed"]
                held.clear()
                held.update({part: int(o) for part, o in applied.items()})
                return any(int(o) + 1 > committed.get(part, 0) for part, o in applied.items())

            wait_for(uncommitted, 120, "the live app to hold applied but uncommitted messages")
            time.sleep(0.1)  # the producer's linger (50 ms): the batch's writes are sent
            old = stack.kill(LIVE)
            killed = time.monotonic()
            stack.wait_restarted(LIVE, old, timeout=60)
            wait_for(lambda: (p := progress(stack)) and p["ready"], 120, "the restarted live app to be ready")
            kills.append(time.monotonic() - killed)
            # Past what the killed app had applied, the restarted one has seen every message again.
            wait_for(lambda: (p := progress(stack)) and all(int(p["applied"].get(k, -1)) >= o
                                                            for k, o in held.items()),
                     120, "the restarted live app past the killed one's position")
            replayed += metrics(stack)[("case_ledger_live_messages_total", (("outcome", "duplicate"),))]
        print(f"live app ready again {', '.join(f'{s:.1f}' for s in kills)} s after each SIGKILL; "
              f"{replayed:.0f} messages replayed and skipped")
    finally:
        driver.join(timeout=600)
        api.close()
    assert len(outcomes) == 10 and all(o.finished for o in outcomes), [o.error for o in outcomes if o.error]
    assert_equal_to_the_stores(stack, db_url)
    # The replay path ran: messages applied before a kill came again and were skipped.
    assert replayed > 0
