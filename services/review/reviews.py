"""Review's application layer. A centre acts on its own cases only; others do not exist for it."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg

from events import metrics as event_metrics
from events.codes import CentreId
from events.consumer import Consumer
from events.contract import CaseRouted, Event
from events.db import ConcurrencyConflict, Conn, DatabaseUnavailable, Queries
from events.registry import Decoded
from services.common.commands import case_stream, decide_and_append, timed
from services.common.errors import NotFound, Rejected
from services.common.runtime import Runtime
from services.review import domain, metrics
from services.review.calendar import BusinessCalendar
from services.review.sla import sla_state

log = logging.getLogger(__name__)
_Q = Queries(Path(__file__).with_name("queries.sql"), "review")
Decide = Callable[[domain.Review], list[Event] | list[tuple[Event, datetime]]]


@dataclass
class Review(Runtime):
    calendar: BusinessCalendar


def _assignment(conn: Conn, case_id: UUID, centre: CentreId | None) -> dict[str, Any]:
    row = conn.execute(_Q["assignment"], {"case_id": case_id}).fetchone()
    # Another centre's case answers 404, not 403: a reviewer must not learn that it exists.
    if row is None or (centre is not None and row["centre_id"] != centre.value):
        raise NotFound(f"case {case_id} not found")
    return row


def load_review(rt: Review, conn: Conn, case_id: UUID) -> domain.Review:
    return domain.fold(timed(rt.store.load(conn, case_stream(case_id))))


def describe(rt: Review, conn: Conn, row: dict[str, Any], now: datetime) -> dict[str, Any]:
    review = load_review(rt, conn, row["case_id"])
    sla = None
    if review.accepted_at is not None:
        sla = sla_state(rt.calendar, review.accepted_at, review.pauses, review.delivered_at,
                        domain.clock_now(review, now))
    state = domain.state_seen_by(review, CentreId(row["centre_id"]))
    return {**row, "state": state, "version": review.version, "video": review.video,
            "open_information_request": review.open_request.model_dump(mode="json") if review.open_request else None,
            "sla": sla}


def list_cases(rt: Review, centre: CentreId) -> list[dict[str, Any]]:
    with rt.pool.connection() as conn:
        rows = conn.execute(_Q["centre_cases"], {"centre_id": centre.value}).fetchall()
        return [describe(rt, conn, r, rt.store.clock()) for r in rows]


def get_case(rt: Review, conn: Conn, case_id: UUID, centre: CentreId) -> dict[str, Any]:
    return describe(rt, conn, _assignment(conn, case_id, centre), rt.store.clock())


def command(rt: Review, conn: Conn, case_id: UUID, centre: CentreId | None, decide: Decide, at: datetime,
            expected_version: int | None = None, cause: Decoded | None = None) -> int:
    """Runs a review command for `centre` (None: a reaction of the service itself)."""
    row = _assignment(conn, case_id, centre)
    if row["stopped_by"] and centre is not None:
        raise Rejected(f"processing stopped: {row['stopped_by']}", "processing_stopped")
    version, envelopes = decide_and_append(
        rt.store, conn, case_id, lambda h: decide(domain.fold(timed(h))), occurred_at=at,
        expected_version=expected_version,
        correlation_id=cause.envelope.correlation_id if cause else None,
        causation_id=cause.envelope.event_id if cause else None)
    for env in envelopes:
        if env.event_type.startswith("Sla"):
            metrics.SLA_EVENTS.labels(env.event_type).inc()
    phase = domain.state_seen_by(load_review(rt, conn, case_id), CentreId(row["centre_id"]))
    conn.execute(_Q["set_phase"], {"case_id": case_id, "phase": phase})
    return version


def _given(events: list[tuple[Event, datetime]], _: domain.Review) -> list[tuple[Event, datetime]]:
    return events


def run_timers(rt: Review, now: datetime) -> int:
    """Emits the SLA events due by `now` (event time); one transaction per running clock."""
    appended, blocked = 0, 0
    with rt.pool.connection() as conn:
        running = [r["case_id"] for r in conn.execute(_Q["clock_running"]).fetchall()]
    for case_id in running:
        try:
            with rt.pool.connection() as conn, conn.transaction():
                review = load_review(rt, conn, case_id)
                due = domain.due_sla_events(review, rt.calendar, now)
                if due:
                    command(rt, conn, case_id, None, functools.partial(_given, due), now)
                    appended += len(due)
                blocked += review.clock_blocked or any(e.event_type == "SlaClockBlocked" for e, _ in due)
        except ConcurrencyConflict:
            # A reviewer's command won the race; the next sweep decides on the new history.
            continue
        except (psycopg.OperationalError, DatabaseUnavailable):
            raise
        except Exception:
            # One clock's failure (bad data, a bug) must not stop the SLA events of every other case.
            log.exception("SLA sweep: case %s failed; it is retried by the next sweep", case_id)
            event_metrics.TIMER_FAILURES.labels("review").inc()
    metrics.SLA_CALENDAR_UNKNOWN.set(blocked)
    return appended


def reactions(rt: Review) -> Consumer:
    def on_routed(conn: Conn, decoded: Decoded) -> None:
        routed = decoded.event
        assert isinstance(routed, CaseRouted)
        conn.execute(_Q["assign"], {"case_id": decoded.envelope.case_id, "centre_id": routed.centre_id.value,
                                    "routed_at": decoded.envelope.occurred_at, "attempt": routed.attempt})

    def on_stopped(conn: Conn, decoded: Decoded) -> None:
        conn.execute(_Q["stop"], {"case_id": decoded.envelope.case_id, "event_type": decoded.envelope.event_type})

    def on_records(conn: Conn, decoded: Decoded) -> None:
        # New records at intake answer an open information request: the SLA clock resumes.
        case_id = decoded.envelope.case_id
        if conn.execute(_Q["assignment"], {"case_id": case_id}).fetchone() is None:
            return
        review = load_review(rt, conn, case_id)
        if review.open_request is None or review.delivered_at is not None:
            return
        at = decoded.envelope.occurred_at
        command(rt, conn, case_id, None, lambda r: domain.receive_information(r, None, rt.calendar, at), at,
                cause=decoded)

    return Consumer("assignments", {
        "CaseRouted": on_routed,
        "RecordsReceived": on_records,
        "GlassSlidesReceived": on_records,
        **{t: on_stopped for t in ("CaseWithdrawn", "CaseCancelled", "PatientDataErased", "CaseExpired")},
    })
