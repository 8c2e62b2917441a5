"""The live app (services/live, faust) on the real broker: its windows equal an independent recomputation
from the event stores, also after its worker is SIGKILLed mid-stream and supervisord restarts it.

The recomputation is SQL over the four services' event stores (the durable history), not the app's
own fold: per centre and UTC hour, CaseRouted (routing), ReviewAccepted, CaseDeclined and
ReviewDelivered (review); SLA clocks started, at risk and breached at the centre of the case's latest
acceptance before them; per centre and UTC day, a delivered case's first ending (TreatmentBooked:
travelled). The whole ledger is compared, every test's cases included.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import datetime
from typing import Any

import httpx
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from chaos.driver import CaseDriver, Outcome, drive_many
from demo.api import Api as DemoApi
from infra.stack import LIVE, SERVICES, Stack
from tests.integration.conftest import wait_for

pytestmark = pytest.mark.integration

HOURS = """
WITH counted AS (
    SELECT envelope->'payload'->>'centre_id' AS centre, 'flow.routed' AS kind, occurred_at
    FROM routing.events WHERE event_type = 'CaseRouted'
    UNION ALL
    SELECT envelope->'payload'->>'centre_id',
           CASE event_type WHEN 'ReviewAccepted' THEN 'flow.accepted' WHEN 'CaseDeclined' THEN 'flow.declined'
                           ELSE 'flow.delivered' END, occurred_at
    FROM review.events WHERE event_type IN ('ReviewAccepted', 'CaseDeclined', 'ReviewDelivered')
    UNION ALL
    SELECT coalesce(acc.centre, 'unknown'),
           CASE e.event_type WHEN 'SlaClockStarted' THEN 'sla.started' WHEN 'SlaAtRisk' THEN 'sla.at_risk'
                             ELSE 'sla.breached' END, e.occurred_at
    FROM review.events e
    LEFT JOIN LATERAL (SELECT a.envelope->'payload'->>'centre_id' AS centre FROM review.events a
                       WHERE a.stream_id = e.stream_id AND a.event_type = 'ReviewAccepted' AND a.version < e.version
                       ORDER BY a.version DESC LIMIT 1) acc ON true
    WHERE e.event_type IN ('SlaClockStarted', 'SlaAtRisk', 'SlaBreached')
)
SELECT centre, kind, (floor(extract(epoch FROM occurred_at) / 3600) * 3600)::bigint AS start, count(*) AS n
FROM counted GROUP BY 1, 2, 3
"""

DAYS = """
WITH delivered AS (
    SELECT case_id, (array_agg(envelope->'payload'->>'centre_id' ORDER BY version DESC))[1] AS centre
    FROM review.events WHERE event_type = 'ReviewDelivered' GROUP BY case_id
), decided AS (
    SELECT DISTINCT ON (e.case_id) e.case_id, d.centre, e.event_type, e.occurred_at
    FROM intake.events e JOIN delivered d USING (case_id)
    WHERE e.event_type IN ('TreatmentBooked', 'CaseClosed', 'CaseCancelled', 'CaseWithdrawn', 'CaseExpired')
    ORDER BY e.case_id, e.version
)
SELECT centre, kind, (floor(extract(epoch FROM occurred_at) / 86400) * 86400)::bigint AS start, count(*) AS n
FROM (SELECT centre, 'decided' AS kind, occurred_at FROM decided
      UNION ALL SELECT centre, 'travelled', occurred_at FROM decided WHERE event_type = 'TreatmentBooked') x
GROUP BY 1, 2, 3
"""

OUTBOXES = " + ".join(f"(SELECT count(*) FROM {s}.outbox WHERE published_at IS NULL)"
                      for s in ("intake", "routing", "review", "billing"))


def recomputed(db_url: str) -> tuple[dict[tuple[str, str, int], int], dict[tuple[str, str, int], int]]:
    with psycopg.connect(db_url, autocommit=True) as conn:
        hours = {(c, k, int(s)): int(n) for c, k, s, n in conn.execute(HOURS)}
        days = {(c, k, int(s)): int(n) for c, k, s, n in conn.execute(DAYS)}
    return hours, days


def published(db_url: str) -> bool:
    with psycopg.connect(db_url, autocommit=True) as conn:
        row = conn.execute(f"SELECT {OUTBOXES}").fetchone()
    return row is not None and row[0] == 0


def live_windows(stack: Stack) -> tuple[dict[tuple[str, str, int], int], dict[tuple[str, str, int], int]]:
    body = httpx.get(stack.url(LIVE) + "/windows", timeout=10).json()
    # /windows speaks ISO 8601; the recomputation keys windows by their start in epoch seconds.
    def start(text: str) -> int:
        return int(datetime.fromisoformat(text if "T" in text else text + "T00:00:00+00:00").timestamp())

    return ({(w["centre"], w["kind"], start(w["hour"])): w["count"] for w in body["hours"]},
            {(w["centre"], w["kind"], start(w["day"])): w["count"] for w in body["days"]})


def progress(stack: Stack) -> dict[str, Any] | None:
    try:
        r = httpx.get(stack.url(LIVE) + "/progress", timeout=5)
        return r.json() if r.status_code == 200 else None
    except httpx.HTTPError:
        return None


def metrics(stack: Stack) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(stack.url(LIVE) + "/metrics", timeout=10).text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def caught_up(stack: Stack, db_url: str) -> bool:
    p = progress(stack)
    return bool(p and p["ready"] and p["lag"] == 0 and published(db_url))


def assert_equal_to_the_stores(stack: Stack, db_url: str) -> None:
    last: dict[str, Any] = {}

    def equal() -> bool:
        if not caught_up(stack, db_url):
            return False
        last["live"], last["stores"] = live_windows(stack), recomputed(db_url)
        return last["live"] == last["stores"]

    try:
        wait_for(equal, 90, "the live windows to equal the recomputation from the event stores")
    except AssertionError:
        live, stores = last.get("live", ({}, {})), last.get("stores", ({}, {}))
        diff = {k: (live[0].get(k), stores[0].get(k)) for k in set(live[0]) | set(stores[0])
                if live[0].get(k) != stores[0].get(k)}
        diff |= {k: (live[1].get(k), stores[1].get(k)) for k in set(live[1]) | set(stores[1])
                 if live[1].get(k) != stores[1].get(k)}
        raise AssertionError(
            f"live != stores on {len(diff)} windows (live, stores): {sorted(diff.items())[:20]}") from None
    hours, _ = last["stores"]
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
