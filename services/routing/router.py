"""Routing's reactions to the stream: readiness, the routing decision, load, declines.

A case is ready when its records are complete and both PIPL consents are in force; it may only
go to a centre named in the transfer consent. Every fact of a case arrives on its partition in
order, so the last condition to arrive triggers the decision, exactly once per state change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from events.codes import CentreId, ConsentKind, QuestionTopic, TumourSite
from events.consumer import Consumer, Handler
from events.contract import (
    CaseDeclined,
    CaseFinallyDeclined,
    CaseOpened,
    CaseRouted,
    CaseRoutingBlocked,
    ConsentGiven,
    ConsentWithdrawn,
    Event,
)
from events.db import Conn, Queries
from events.registry import Decoded
from services.common.commands import decide_and_append
from services.common.errors import NotFound, Rejected
from services.common.runtime import Runtime
from services.routing import domain, metrics
from services.routing.registry import CentreRegistry

_Q = Queries(Path(__file__).with_name("queries.sql"), "routing")
ENDINGS = ("CaseCancelled", "CaseWithdrawn", "CaseExpired", "PatientDataErased", "CaseClosed", "TreatmentBooked")


@dataclass
class Routing(Runtime):
    centre_registry: CentreRegistry


@dataclass(frozen=True)
class CaseRow:
    facts: domain.CaseFacts
    coordinator_pick: bool
    attempts: int
    routed_once: bool


def case_row(conn: Conn, case_id: UUID) -> CaseRow:
    row = conn.execute(_Q["case_facts"], {"case_id": case_id}).fetchone()
    if row is None:
        # Same partition: CaseOpened precedes every other fact; absence means a broken history.
        raise LookupError(f"event for a case routing never saw opened: {case_id}")
    facts = domain.CaseFacts(
        tumour_site=TumourSite(row["tumour_site"]), rare_tumour=row["rare_tumour"],
        preferred_centre=CentreId(row["preferred_centre"]) if row["preferred_centre"] else None,
        question_topics=frozenset(QuestionTopic(t) for t in row["question_topics"]),
        consented_centres=frozenset(CentreId(c) for c in row["transfer_centres"]),
        declined=tuple(CentreId(c) for c in row["declined"]),
        ready=row["records_complete"] and row["processing_consent"] and bool(row["transfer_centres"])
        and not row["ended"],
    )
    return CaseRow(facts, row["coordinator_pick"], row["attempts"], routed_once=row["attempts"] > 0 or row["queued"]
                   or bool(row["declined"]))


def centre_load(conn: Conn) -> dict[CentreId, int]:
    return {CentreId(r["centre_id"]): r["active"] for r in conn.execute(_Q["load"]).fetchall()}


def record_decision(rt: Routing, conn: Conn, case_id: UUID, decision: Event, at: datetime,
                    cause: Decoded | None = None, coordinator_pick: bool = False) -> None:
    """Appends a routing decision and moves the read model and the load with it, in one transaction."""
    decide_and_append(rt.store, conn, case_id, lambda h: [decision], occurred_at=at,
                      correlation_id=cause.envelope.correlation_id if cause else None,
                      causation_id=cause.envelope.event_id if cause else None)
    match decision:
        case CaseRouted():
            conn.execute(_Q["assigned"], {"case_id": case_id, "centre_id": decision.centre_id.value,
                                          "coordinator_pick": coordinator_pick})
            conn.execute(_Q["add_load"], {"centre_id": decision.centre_id.value})
            if "all_fitting_centres_at_capacity" in decision.reason_codes:
                metrics.ROUTED_OVER_CAPACITY.labels(decision.centre_id.value).inc()
        case CaseRoutingBlocked():
            conn.execute(_Q["queued"], {"case_id": case_id, "queued": True})
        case CaseFinallyDeclined():
            conn.execute(_Q["queued"], {"case_id": case_id, "queued": False})
            conn.execute(_Q["ended"], {"case_id": case_id})


def _release(conn: Conn, case_id: UUID) -> None:
    row = conn.execute(_Q["release"], {"case_id": case_id}).fetchone()
    if row is not None:
        conn.execute(_Q["drop_load"], {"centre_id": row["centre_id"]})


def router_consumer(rt: Routing) -> Consumer:
    for centre in rt.centre_registry.centres:
        metrics.ROUTED_OVER_CAPACITY.labels(centre.id.value).inc(0)

    def maybe_route(conn: Conn, decoded: Decoded) -> None:
        case_id = decoded.envelope.case_id
        row = case_row(conn, case_id)
        if not row.facts.ready or row.routed_once:
            return
        decision = domain.choose_centre(rt.centre_registry, row.facts, centre_load(conn))
        # Event time: the decision happens when the last condition became true.
        record_decision(rt, conn, case_id, decision, decoded.envelope.occurred_at, decoded)

    def then_route(update: Handler) -> Handler:
        def handler(conn: Conn, decoded: Decoded) -> None:
            update(conn, decoded)
            maybe_route(conn, decoded)
        return handler

    def on_case_opened(conn: Conn, decoded: Decoded) -> None:
        opened = decoded.event
        assert isinstance(opened, CaseOpened)
        conn.execute(_Q["remember_case"], {
            "case_id": decoded.envelope.case_id, "tumour_site": opened.tumour_site.value,
            "rare_tumour": opened.is_rare_tumour,
            "preferred_centre": opened.preferred_centre.value if opened.preferred_centre else None,
            "opened_at": decoded.envelope.occurred_at,
            "question_topics": [t.value for t in opened.question_topics],
        })

    def on_records_completed(conn: Conn, decoded: Decoded) -> None:
        conn.execute(_Q["records_complete"], {"case_id": decoded.envelope.case_id})

    def on_consent(conn: Conn, decoded: Decoded) -> None:
        event = decoded.event
        assert isinstance(event, ConsentGiven | ConsentWithdrawn)
        given = isinstance(event, ConsentGiven)
        case_id = decoded.envelope.case_id
        if event.consent is ConsentKind.HEALTH_DATA_PROCESSING:
            conn.execute(_Q["processing_consent"], {"case_id": case_id, "given": given})
        else:
            centres = [c.value for c in event.centre_ids] if isinstance(event, ConsentGiven) else []
            conn.execute(_Q["transfer_consent"], {"case_id": case_id, "centres": centres})

    def on_declined(conn: Conn, decoded: Decoded) -> None:
        declined = decoded.event
        assert isinstance(declined, CaseDeclined)
        case_id = decoded.envelope.case_id
        _release(conn, case_id)
        conn.execute(_Q["declined"], {"case_id": case_id, "centre_id": declined.centre_id.value})
        row = case_row(conn, case_id)
        if row.facts.ready:
            decision = domain.after_decline(rt.centre_registry, row.facts, centre_load(conn), row.coordinator_pick)
            record_decision(rt, conn, case_id, decision, decoded.envelope.occurred_at, decoded)

    def on_delivered(conn: Conn, decoded: Decoded) -> None:
        _release(conn, decoded.envelope.case_id)

    def on_ended(conn: Conn, decoded: Decoded) -> None:
        _release(conn, decoded.envelope.case_id)
        conn.execute(_Q["ended"], {"case_id": decoded.envelope.case_id})

    return Consumer("router", {
        "CaseOpened": on_case_opened,
        "RecordsCompleted": then_route(on_records_completed),
        "ConsentGiven": then_route(on_consent),
        "ConsentWithdrawn": on_consent,
        "CaseDeclined": on_declined,
        "ReviewDelivered": on_delivered,
        **{t: on_ended for t in ENDINGS},
    })


# ------------------------------------------------------------------ the coordinator queue

def queue(rt: Routing) -> list[dict[str, Any]]:
    with rt.pool.connection() as conn:
        return conn.execute(_Q["queue"]).fetchall()


def _queued_case(conn: Conn, case_id: UUID) -> CaseRow:
    if conn.execute(_Q["in_queue"], {"case_id": case_id}).fetchone() is None:
        raise NotFound(f"case {case_id} is not in the coordinator queue")
    return case_row(conn, case_id)


def assign_by_coordinator(rt: Routing, conn: Conn, case_id: UUID, centre_id: CentreId, at: datetime) -> None:
    row = _queued_case(conn, case_id)
    if centre_id not in row.facts.consented_centres:
        raise Rejected("the patient did not consent to transfer to this centre", "centre_not_consented")
    if centre_id in row.facts.declined:
        raise Rejected("this centre already declined the case", "centre_declined")
    routed = CaseRouted(centre_id=centre_id, reason_codes=["coordinator_assignment"], attempt=row.attempts + 1)
    record_decision(rt, conn, case_id, routed, at, coordinator_pick=True)


def decline_finally(rt: Routing, conn: Conn, case_id: UUID, at: datetime) -> None:
    row = _queued_case(conn, case_id)
    record_decision(rt, conn, case_id, CaseFinallyDeclined(declines=len(row.facts.declined)), at)
