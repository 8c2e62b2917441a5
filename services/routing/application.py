"""Routing's application layer: readiness, the routing decision, load, declines, the queue, and
the acceptance deadline's timer.

Where routing is decided: `domain.choose_centre` (first routing) and `domain.after_decline`; the
deadline and its lapse: `domain.acceptance_deadline` and `domain.due_withdrawal`.

A case is ready when its records are complete and both PIPL consents are in force; it may only
go to a centre named in the transfer consent. Every fact of a case arrives on its partition in
order, so the last condition to arrive triggers the decision, exactly once per state change.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from events import lifecycle
from events.codes import CentreId, ConsentKind, QuestionTopic, TumourSite
from events.consumer import Consumer
from events.contract import (
    AssignmentWithdrawn,
    CaseDeclined,
    CaseFinallyDeclined,
    CaseOpened,
    CaseRouted,
    CaseRoutingBlocked,
    ConsentGiven,
    ConsentWithdrawn,
    Event,
    ReviewAccepted,
    acceptance_stands,
)
from events.db import Conn
from events.registry import Decoded
from services.common.calendar import BusinessCalendar, centre_date
from services.common.errors import NotFound, Rejected
from services.common.kernel import Handled, Kernel
from services.common.runtime import Runtime
from services.common.sweeps import sweep
from services.routing import domain, metrics
from services.routing.board import RoutingBoard
from services.routing.centres import PartnerCentres
from services.routing.settings import RoutingSettings


@dataclass
class RoutingRuntime(Runtime[RoutingSettings]):
    partners: PartnerCentres
    board: RoutingBoard
    calendar: BusinessCalendar

    @functools.cached_property
    def kernel(self) -> Kernel[domain.Decisions]:
        # Routing's stream holds its decisions only; the facts they rest on are in its read model.
        return Kernel(self.store, lambda conn, case_id: domain.Decisions(),
                      lambda decisions, event, at: decisions.apply(event, at), self._on_decided)

    def _on_decided(self, conn: Conn, _: domain.Decisions, appended: list[Decoded]) -> None:
        """The read model and the load move with each decision, in its transaction."""
        for d in appended:
            case_id, decision = d.envelope.case_id, d.event
            match decision:
                case CaseRouted():
                    self.board.assigned(conn, case_id, decision.centre_id.value,
                                        coordinator_pick="coordinator_assignment" in decision.reason_codes,
                                        accept_by=decision.accept_by)
                    self.board.add_load(conn, decision.centre_id.value)
                    if "all_fitting_centres_at_capacity" in decision.reason_codes:
                        metrics.ROUTED_OVER_CAPACITY.labels(decision.centre_id.value).inc()
                case AssignmentWithdrawn():
                    self.board.withdrawing(conn, case_id, d.envelope.occurred_at, decision.reason,
                                           decision.reassign_to.value if decision.reassign_to else None)
                    metrics.ASSIGNMENTS_WITHDRAWN.labels(decision.centre_id.value, decision.reason).inc()
                case CaseRoutingBlocked():
                    self.board.queued(conn, case_id, True)
                case CaseFinallyDeclined():
                    self.board.queued(conn, case_id, False)
                    self.board.ended(conn, case_id)


@dataclass(frozen=True)
class CaseRow:
    facts: domain.CaseFacts
    coordinator_pick: bool
    attempts: int
    routed_once: bool
    assignment: domain.Assignment
    queued: bool
    ended: bool
    withdrawn_at: datetime | None
    reassign_to: CentreId | None  # the coordinator's pick a pending withdrawal re-routes to


def case_row(rt: RoutingRuntime, conn: Conn, case_id: UUID) -> CaseRow:
    """The case's routing facts, its row locked for this transaction."""
    row = rt.board.facts(conn, case_id)
    if row is None:
        # Same partition: CaseOpened precedes every other fact; absence means a broken history.
        raise LookupError(f"event for a case routing never saw opened: {case_id}")
    centre = CentreId(row["assigned_centre"]) if row["assigned_centre"] else None
    facts = domain.CaseFacts(
        tumour_site=TumourSite(row["tumour_site"]), rare_tumour=row["rare_tumour"],
        preferred_centre=CentreId(row["preferred_centre"]) if row["preferred_centre"] else None,
        question_topics=frozenset(QuestionTopic(t) for t in row["question_topics"]),
        consented_centres=frozenset(CentreId(c) for c in row["transfer_centres"]),
        declined=tuple(CentreId(c) for c in row["declined"]),
        ready=row["records_complete"] and row["processing_consent"] and bool(row["transfer_centres"])
        and not row["ended"],
    )
    assignment = domain.Assignment(centre, row["attempts"], row["accept_by"], row["accepted"],
                                   withdrawing=row["withdrawn_at"] is not None)
    return CaseRow(facts, row["coordinator_pick"], row["attempts"], routed_once=row["attempts"] > 0 or row["queued"]
                   or bool(row["declined"]), assignment=assignment, queued=row["queued"], ended=row["ended"],
                   withdrawn_at=row["withdrawn_at"],
                   reassign_to=CentreId(row["reassign_to"]) if row["reassign_to"] else None)


def centre_load(rt: RoutingRuntime, conn: Conn) -> dict[CentreId, int]:
    return {CentreId(c): n for c, n in rt.board.load(conn).items()}


def record_decision(rt: RoutingRuntime, conn: Conn, case_id: UUID, decision: Event, at: datetime,
                    cause: Decoded | None = None, coordinator: bool = False) -> Handled[domain.Decisions]:
    """Appends a decision at event time `at`; a routing carries its acceptance deadline from `at`.
    A reaction's decision is dated by its cause; a coordinator's follows routing's latest one."""
    accept_by = domain.acceptance_deadline(rt.calendar, at, rt.settings.acceptance_business_days)
    decision = domain.with_deadline(decision, accept_by)
    return rt.kernel.handle(conn, case_id, lambda d: domain.coordinators(d, decision, at) if coordinator
                            else [decision], occurred_at=at, cause=cause)


def _release(rt: RoutingRuntime, conn: Conn, case_id: UUID) -> None:
    centre = rt.board.release(conn, case_id)
    if centre is not None:
        rt.board.drop_load(conn, centre)


# ------------------------------------------------------------------ reactions (rt, conn, decoded)

def _maybe_route(rt: RoutingRuntime, conn: Conn, decoded: Decoded) -> None:
    case_id = decoded.envelope.case_id
    row = case_row(rt, conn, case_id)
    if not row.facts.ready or row.routed_once:
        return
    decision = domain.choose_centre(rt.partners, row.facts, centre_load(rt, conn))
    # Event time: the decision happens when the last condition became true.
    record_decision(rt, conn, case_id, decision, decoded.envelope.occurred_at, decoded)


def _on_case_opened(rt: RoutingRuntime, conn: Conn, decoded: Decoded) -> None:
    opened = decoded.event
    assert isinstance(opened, CaseOpened)
    rt.board.remember(conn, decoded.envelope.case_id, opened.tumour_site.value, opened.is_rare_tumour,
                      opened.preferred_centre.value if opened.preferred_centre else None,
                      decoded.envelope.occurred_at, [t.value for t in opened.question_topics])


def _on_records_completed(rt: RoutingRuntime, conn: Conn, decoded: Decoded) -> None:
    rt.board.records_complete(conn, decoded.envelope.case_id)
    _maybe_route(rt, conn, decoded)


def _note_consent(rt: RoutingRuntime, conn: Conn, decoded: Decoded) -> None:
    event = decoded.event
    assert isinstance(event, ConsentGiven | ConsentWithdrawn)
    case_id = decoded.envelope.case_id
    if event.consent is ConsentKind.HEALTH_DATA_PROCESSING:
        rt.board.processing_consent(conn, case_id, isinstance(event, ConsentGiven))
    else:
        centres = [c.value for c in event.centre_ids] if isinstance(event, ConsentGiven) else []
        rt.board.transfer_consent(conn, case_id, centres)


def _on_consent_given(rt: RoutingRuntime, conn: Conn, decoded: Decoded) -> None:
    _note_consent(rt, conn, decoded)
    _maybe_route(rt, conn, decoded)


def _on_declined(rt: RoutingRuntime, conn: Conn, decoded: Decoded) -> None:
    declined = decoded.event
    assert isinstance(declined, CaseDeclined)
    case_id = decoded.envelope.case_id
    reassign_to = case_row(rt, conn, case_id).reassign_to  # read before the decline clears it
    _release(rt, conn, case_id)
    rt.board.declined(conn, case_id, declined.centre_id.value)
    row = case_row(rt, conn, case_id)
    if row.facts.ready:
        decision = domain.after_decline(rt.partners, row.facts, centre_load(rt, conn), row.coordinator_pick,
                                        reason=declined.reason, reassign_to=reassign_to, attempt=row.attempts + 1)
        record_decision(rt, conn, case_id, decision, decoded.envelope.occurred_at, decoded)


def _on_accepted(rt: RoutingRuntime, conn: Conn, decoded: Decoded) -> None:
    """The centre holding the case accepted it: it is no longer withdrawn at its deadline.

    An acceptance dated at or after a withdrawal routing already made loses (review declines it
    for the centre); one dated before wins, and the withdrawal is void."""
    accepted = decoded.event
    assert isinstance(accepted, ReviewAccepted)
    case_id = decoded.envelope.case_id
    row = case_row(rt, conn, case_id)
    if row.assignment.centre is not accepted.centre_id:
        return  # a centre that no longer holds the case
    if row.withdrawn_at is not None and not acceptance_stands(decoded.envelope.occurred_at, row.withdrawn_at):
        return
    rt.board.accepted(conn, case_id)


def _on_delivered(rt: RoutingRuntime, conn: Conn, decoded: Decoded) -> None:
    _release(rt, conn, decoded.envelope.case_id)


def _on_ended(rt: RoutingRuntime, conn: Conn, decoded: Decoded) -> None:
    _release(rt, conn, decoded.envelope.case_id)
    rt.board.ended(conn, decoded.envelope.case_id)


def router_consumer(rt: RoutingRuntime) -> Consumer:
    for centre in rt.partners.centres:
        metrics.ROUTED_OVER_CAPACITY.labels(centre.id.value).inc(0)
    handlers: dict[str, Callable[[RoutingRuntime, Conn, Decoded], None]] = {
        "CaseOpened": _on_case_opened,
        "RecordsCompleted": _on_records_completed,
        "ConsentGiven": _on_consent_given,
        "ConsentWithdrawn": _note_consent,
        "CaseDeclined": _on_declined,
        "ReviewAccepted": _on_accepted,
        "ReviewDelivered": _on_delivered,
        **{t: _on_ended for t in lifecycle.INTAKE_ENDINGS},
    }
    return Consumer("router", {event_type: functools.partial(h, rt) for event_type, h in handlers.items()},
                    scope=rt.kernel.batch)


# ------------------------------------------------------------------ the coordinator queue

def queue(rt: RoutingRuntime) -> list[dict[str, Any]]:
    with rt.pool.connection() as conn:
        return rt.board.queue(conn)


def _known_case(rt: RoutingRuntime, conn: Conn, case_id: UUID) -> CaseRow:
    try:
        return case_row(rt, conn, case_id)
    except LookupError:
        raise NotFound(f"case {case_id} not found") from None


def _queued_case(rt: RoutingRuntime, conn: Conn, case_id: UUID) -> CaseRow:
    if not rt.board.in_queue(conn, case_id):
        raise NotFound(f"case {case_id} is not in the coordinator queue")
    return case_row(rt, conn, case_id)


def assign_by_coordinator(rt: RoutingRuntime, conn: Conn, case_id: UUID, centre_id: CentreId, at: datetime) -> bool:
    """The coordinator sends a case to `centre_id`: at once from the queue (True), or, for a case
    whose centre has not accepted it yet, once review confirms that centre's decline (False)."""
    row = _known_case(rt, conn, case_id)
    if row.ended:
        raise Rejected("the case has ended", "case_ended")
    if row.queued:
        domain.check_coordinator_pick(row.facts, centre_id)
        routed = CaseRouted(centre_id=centre_id, reason_codes=["coordinator_assignment"], attempt=row.attempts + 1)
        record_decision(rt, conn, case_id, routed, at, coordinator=True)
        return True
    if row.assignment.centre is None:
        raise NotFound(f"case {case_id} is neither in the coordinator queue nor at a centre")
    record_decision(rt, conn, case_id, domain.reassign(row.assignment, row.facts, centre_id), at, coordinator=True)
    return False


def decline_finally(rt: RoutingRuntime, conn: Conn, case_id: UUID, at: datetime) -> None:
    row = _queued_case(rt, conn, case_id)
    record_decision(rt, conn, case_id, CaseFinallyDeclined(declines=len(row.facts.declined)), at, coordinator=True)


def decisions(rt: RoutingRuntime, conn: Conn, case_id: UUID) -> list[Event]:
    return rt.kernel.load(conn, case_id).state.events


# ------------------------------------------------------------------ the acceptance deadline's timer

def run_timers(rt: RoutingRuntime, now: datetime) -> int:
    """Withdraws the cases whose centre did not accept by its deadline (event time `now`), each
    dated at the end of its deadline day; one transaction per case, one failure stops no other."""
    with rt.pool.connection() as conn:
        due = rt.board.awaiting_acceptance(conn, centre_date(now))

    def withdraw(conn: Conn, case_id: UUID) -> int:
        row = case_row(rt, conn, case_id)  # locked: a decline or acceptance being applied waits
        withdrawal = None if row.ended else domain.due_withdrawal(row.assignment, now)
        if withdrawal is None:
            return 0
        return len(rt.kernel.handle(conn, case_id, lambda _: [withdrawal], occurred_at=withdrawal[1]).appended)

    return sweep(rt.pool, due, withdraw, service="routing")
