"""Review's application layer. A centre acts on its own cases only; others do not exist for it.

Where the SLA deadline is decided: `domain.accept` starts the clock on the next business day, and
`domain.due_sla_events` (timers) and `domain.deliver` decide at-risk, breach and the verdict.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from uuid import UUID, uuid4

from events.codes import CentreId, DeclineReason, InformationTopic
from events.consumer import Consumer
from events.contract import CaseRouted, ReviewDelivered
from events.db import Conn
from events.registry import Decoded
from services.common.errors import NotFound, Rejected
from services.common.kernel import Decision, Handled, Kernel
from services.common.runtime import Runtime
from services.common.sweeps import sweep
from services.review import domain, metrics
from services.review.assignments import AssignmentBook, Row
from services.review.calendar import BusinessCalendar
from services.review.sla import sla_state


@dataclass
class CaseReview:
    """A case as review sees it: routing's assignment (read model) and the review's own history."""

    assignment: Row | None
    review: domain.Review


Decide = Callable[[domain.Review], Decision]


@dataclass
class ReviewRuntime(Runtime):
    calendar: BusinessCalendar
    assignments: AssignmentBook

    @functools.cached_property
    def kernel(self) -> Kernel[CaseReview]:
        def start(conn: Conn, case_id: UUID) -> CaseReview:
            return CaseReview(self.assignments.get(conn, case_id), domain.Review())

        return Kernel(self.store, start, lambda s, event, at: s.review.apply(event, at), self._on_appended)

    def _on_appended(self, conn: Conn, state: CaseReview, appended: list[Decoded]) -> None:
        assert state.assignment is not None
        for d in appended:
            if d.envelope.event_type.startswith("Sla"):
                metrics.SLA_EVENTS.labels(d.envelope.event_type).inc()
        phase = domain.state_seen_by(state.review, CentreId(state.assignment["centre_id"]))
        self.assignments.set_phase(conn, appended[0].envelope.case_id, phase)
        state.assignment = {**state.assignment, "phase": phase}  # the state answers as the row now reads


# ------------------------------------------------------------------ reading

def _visible(row: Row | None, case_id: UUID, centre: CentreId | None) -> Row:
    # Another centre's case answers 404, not 403: a reviewer must not learn that it exists.
    if row is None or (centre is not None and row["centre_id"] != centre.value):
        raise NotFound(f"case {case_id} not found")
    return row


def describe(rt: ReviewRuntime, state: CaseReview, now: datetime) -> dict[str, Any]:
    row, review = state.assignment, state.review
    assert row is not None
    sla = None
    if review.accepted_at is not None:
        sla = sla_state(rt.calendar, review.accepted_at, review.pauses, review.delivered_at,
                        domain.clock_now(review, now))
    return {**row, "state": domain.state_seen_by(review, CentreId(row["centre_id"])), "version": review.version,
            "video": review.video,
            "open_information_request": review.open_request.model_dump(mode="json") if review.open_request else None,
            "sla": sla}


def list_cases(rt: ReviewRuntime, centre: CentreId) -> list[dict[str, Any]]:
    with rt.pool.connection() as conn:
        rows = rt.assignments.of_centre(conn, centre.value)
        return [describe(rt, rt.kernel.load(conn, r["case_id"]).state, rt.store.clock()) for r in rows]


def get_case(rt: ReviewRuntime, conn: Conn, case_id: UUID, centre: CentreId) -> dict[str, Any]:
    state = rt.kernel.load(conn, case_id).state
    _visible(state.assignment, case_id, centre)
    return describe(rt, state, rt.store.clock())


# ------------------------------------------------------------------ commands

def command(rt: ReviewRuntime, conn: Conn, case_id: UUID, centre: CentreId | None, decide: Decide, at: datetime,
            expected_version: int | None = None, cause: Decoded | None = None) -> Handled[CaseReview]:
    """Runs a review command for `centre` (None: a reaction of the service itself)."""
    def guarded(state: CaseReview) -> Decision:
        row = _visible(state.assignment, case_id, centre)
        if row["stopped_by"] and centre is not None:
            raise Rejected(f"processing stopped: {row['stopped_by']}", "processing_stopped")
        return decide(state.review)

    return rt.kernel.handle(conn, case_id, guarded, occurred_at=at, expected_version=expected_version, cause=cause)


def accept(rt: ReviewRuntime, conn: Conn, case_id: UUID, centre: CentreId, at: datetime,
           expected: int | None = None) -> Handled[CaseReview]:
    return command(rt, conn, case_id, centre, lambda r: domain.accept(r, centre, rt.calendar, at), at, expected)


def decline(rt: ReviewRuntime, conn: Conn, case_id: UUID, centre: CentreId, reason: DeclineReason, at: datetime,
            expected: int | None = None) -> Handled[CaseReview]:
    return command(rt, conn, case_id, centre, lambda r: domain.decline(r, centre, reason), at, expected)


def request_information(rt: ReviewRuntime, conn: Conn, case_id: UUID, centre: CentreId,
                        topics: Sequence[InformationTopic], at: datetime,
                        expected: int | None = None) -> Handled[CaseReview]:
    return command(rt, conn, case_id, centre, lambda r: domain.request_information(r, uuid4(), list(topics)), at,
                   expected)


def resolve_information(rt: ReviewRuntime, conn: Conn, case_id: UUID, centre: CentreId, request_id: UUID,
                        at: datetime, expected: int | None = None) -> Handled[CaseReview]:
    return command(rt, conn, case_id, centre, lambda r: domain.receive_information(r, request_id, rt.calendar, at),
                   at, expected)


def deliver(rt: ReviewRuntime, conn: Conn, case_id: UUID, centre: CentreId, delivery: ReviewDelivered,
            at: datetime, expected: int | None = None) -> Handled[CaseReview]:
    return command(rt, conn, case_id, centre, lambda r: domain.deliver(r, delivery, rt.calendar, at), at, expected)


def video(rt: ReviewRuntime, conn: Conn, case_id: UUID, centre: CentreId,
          step: Literal["request", "schedule", "held", "missed"], scheduled: datetime | None, at: datetime,
          expected: int | None = None) -> Handled[CaseReview]:
    return command(rt, conn, case_id, centre, lambda r: domain.video(r, step, scheduled), at, expected)


def run_timers(rt: ReviewRuntime, now: datetime) -> int:
    """Emits the SLA events due by `now` (event time); one transaction per running clock."""
    blocked: set[UUID] = set()
    with rt.pool.connection() as conn:
        running = rt.assignments.with_running_clock(conn)

    def fire(conn: Conn, case_id: UUID) -> int:
        done = command(rt, conn, case_id, None, lambda r: domain.due_sla_events(r, rt.calendar, now), now)
        if done.state.review.clock_blocked:
            blocked.add(case_id)
        return len(done.appended)

    appended = sweep(rt.pool, running, fire, service="review")
    metrics.SLA_CALENDAR_UNKNOWN.set(len(blocked))
    return appended


# ------------------------------------------------------------------ reactions

def reactions(rt: ReviewRuntime) -> Consumer:
    def on_routed(conn: Conn, decoded: Decoded) -> None:
        routed = decoded.event
        assert isinstance(routed, CaseRouted)
        rt.assignments.assign(conn, decoded.envelope.case_id, routed.centre_id.value, decoded.envelope.occurred_at,
                              routed.attempt)

    def on_stopped(conn: Conn, decoded: Decoded) -> None:
        rt.assignments.stop(conn, decoded.envelope.case_id, decoded.envelope.event_type)

    def on_records(conn: Conn, decoded: Decoded) -> None:
        # New records at intake answer an open information request: the SLA clock resumes.
        at = decoded.envelope.occurred_at

        def resume(r: domain.Review) -> Decision:
            if r.open_request is None or r.delivered_at is not None:
                return []
            return domain.receive_information(r, None, rt.calendar, at)

        try:
            command(rt, conn, decoded.envelope.case_id, None, resume, at, cause=decoded)
        except NotFound:
            return  # records for a case not (yet) assigned: nothing waits on them here

    return Consumer("assignments", {
        "CaseRouted": on_routed,
        "RecordsReceived": on_records,
        "GlassSlidesReceived": on_records,
        **{t: on_stopped for t in ("CaseWithdrawn", "CaseCancelled", "PatientDataErased", "CaseExpired")},
    })
