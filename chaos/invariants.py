"""What a fault must not break, judged from the event stores (the durable truth), never from the broker."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import dict_row

from chaos.driver import Outcome

SCHEMAS = ("intake", "routing", "review", "billing")
# The reactions a driven case must have exactly once, by the store that holds them.
ONCE = {
    "intake": ("CaseOpened", "RecordsCompleted"),
    "routing": ("CaseRouted",),
    "review": ("ReviewAccepted", "ReportUploaded", "ReviewDelivered", "SlaClockStarted", "SlaClockStopped"),
    "billing": ("FeeInvoiced", "PaymentAuthorised", "PaymentCaptured"),
}


@dataclass
class Verdict:
    cases: int = 0
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    stuck: list[str] = field(default_factory=list)
    unbalanced_cents: int = 0

    @property
    def clean(self) -> bool:
        return not (self.lost or self.duplicated or self.stuck or self.unbalanced_cents)


def _conn(db_url: str) -> psycopg.Connection[dict[str, Any]]:
    return psycopg.connect(db_url, autocommit=True, row_factory=dict_row)


def _one(conn: psycopg.Connection[dict[str, Any]], query: str) -> dict[str, Any]:
    row = conn.execute(query).fetchone()
    assert row is not None
    return row


def backlog(db_url: str) -> int:
    with _conn(db_url) as conn:
        return sum(_one(conn, f"SELECT count(*) AS n FROM {s}.outbox WHERE published_at IS NULL")["n"]
                   for s in SCHEMAS)


def projection_gap(db_url: str, case_ids: list[UUID]) -> int:
    """Events of these cases in the stores that the analytics timeline does not hold yet."""
    with _conn(db_url) as conn:
        stored = {r["event_id"] for s in SCHEMAS for r in conn.execute(
            f"SELECT event_id FROM {s}.events WHERE case_id = ANY(%s)", (case_ids,))}
        projected = {r["event_id"] for r in conn.execute(
            "SELECT event_id FROM analytics.case_timeline WHERE case_id = ANY(%s)", (case_ids,))}
    return len(stored - projected)


def wait_quiet(db_url: str, case_ids: list[UUID], timeout: float = 300.0) -> float:
    """Waits until every outbox is drained and the projection holds every event; returns the seconds."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if backlog(db_url) == 0 and projection_gap(db_url, case_ids) == 0:
            return time.monotonic() - started
        time.sleep(0.5)
    return time.monotonic() - started


def judge(db_url: str, outcomes: list[Outcome]) -> Verdict:
    verdict = Verdict(cases=len(outcomes))
    cases = [o.case_id for o in outcomes if o.case_id is not None]
    for o in outcomes:
        if not o.finished:
            verdict.stuck.append(f"case {o.case_id}: driver stopped: {(o.error or '').splitlines()[0][:200]}")
    with _conn(db_url) as conn:
        counts: Counter[tuple[str, UUID, str]] = Counter()
        for schema in SCHEMAS:
            for r in conn.execute(f"SELECT case_id, event_type, count(*) AS n FROM {schema}.events "
                                  "WHERE case_id = ANY(%s) GROUP BY 1, 2", (cases,)):
                counts[(schema, r["case_id"], r["event_type"])] = r["n"]
        for o in outcomes:
            if o.case_id is None or not o.finished:
                continue
            expected = {(s, t): 1 for s, types in ONCE.items() for t in types}
            expected[("billing", "FeeCreditApplied")] = 1 if o.booked else 0
            expected[("intake", "TreatmentBooked" if o.booked else "CaseClosed")] = 1
            for (schema, event_type), n in expected.items():
                got = counts[(schema, o.case_id, event_type)]
                if got < n:
                    verdict.lost.append(f"case {o.case_id}: {schema} has {got} {event_type}, expected {n}")
                elif got > n:
                    verdict.duplicated.append(f"case {o.case_id}: {schema} has {got} {event_type}, expected {n}")
        stored = {r["event_id"] for s in SCHEMAS for r in conn.execute(
            f"SELECT event_id FROM {s}.events WHERE case_id = ANY(%s)", (cases,))}
        timeline = Counter(r["event_id"] for r in conn.execute(
            "SELECT event_id FROM analytics.case_timeline WHERE case_id = ANY(%s)", (cases,)))
        verdict.lost += [f"analytics never projected event {e}" for e in stored - set(timeline)]
        verdict.duplicated += [f"analytics projected event {e} {n} times" for e, n in timeline.items() if n > 1]
        for schema in SCHEMAS:
            row = _one(conn, f"SELECT count(*) FILTER (WHERE parked_at IS NULL) AS waiting, "
                             f"count(*) FILTER (WHERE parked_at IS NOT NULL) AS parked "
                             f"FROM {schema}.outbox WHERE published_at IS NULL")
            if row["waiting"] or row["parked"]:
                verdict.stuck.append(f"{schema} outbox: {row['waiting']} unpublished, {row['parked']} parked")
        total = _one(conn, "SELECT coalesce(sum(cents), 0)::bigint AS t FROM billing.journal_lines")
        verdict.unbalanced_cents = int(total["t"])
    return verdict
