"""The live app's windows against an independent recomputation from the event stores.

The recomputation is SQL over the four services' event stores (the durable history), not the app's
own fold: per centre and UTC hour, CaseRouted (routing), ReviewAccepted, CaseDeclined and
ReviewDelivered (review); SLA clocks started, at risk and breached at the centre of the case's latest
acceptance before them; per centre and UTC day, a delivered case's first ending (TreatmentBooked:
travelled). `make chaos` compares them after every fault; tests/integration/test_live.py too.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import httpx
import psycopg

from infra.stack import LIVE, Stack

Windows = tuple[dict[tuple[str, str, int], int], dict[tuple[str, str, int], int]]

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


def recomputed(db_url: str) -> Windows:
    with psycopg.connect(db_url, autocommit=True) as conn:
        hours = {(c, k, int(s)): int(n) for c, k, s, n in conn.execute(HOURS)}
        days = {(c, k, int(s)): int(n) for c, k, s, n in conn.execute(DAYS)}
    return hours, days


def published(db_url: str) -> bool:
    with psycopg.connect(db_url, autocommit=True) as conn:
        row = conn.execute(f"SELECT {OUTBOXES}").fetchone()
    return row is not None and row[0] == 0


def live_windows(stack: Stack) -> Windows:
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


def caught_up(stack: Stack, db_url: str) -> bool:
    p = progress(stack)
    return bool(p and p["ready"] and p["lag"] == 0 and published(db_url))


def compare(stack: Stack, db_url: str, timeout: float = 90.0) -> tuple[bool, Windows, Windows]:
    """Waits until the app has caught up and its windows equal the stores' (True), or `timeout`
    passed (False); returns the last two views compared."""
    live: Windows = ({}, {})
    stores: Windows = ({}, {})
    deadline = time.monotonic() + timeout
    while True:
        try:
            if caught_up(stack, db_url):
                live, stores = live_windows(stack), recomputed(db_url)
                if live == stores:
                    return True, live, stores
        except (httpx.HTTPError, psycopg.OperationalError):
            pass  # the app or the database is coming back: ask again
        if time.monotonic() > deadline:
            return False, live, stores
        time.sleep(1.0)


def differences(live: Windows, stores: Windows) -> dict[tuple[str, str, int], tuple[int | None, int | None]]:
    """Each window whose counts differ: (live, stores)."""
    out: dict[tuple[str, str, int], tuple[int | None, int | None]] = {}
    for mine, theirs in zip(live, stores, strict=True):
        out |= {k: (mine.get(k), theirs.get(k)) for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k)}
    return out
