"""Routing's reaction to the stream: track each case's readiness, route it once, when ready.

A case is ready when its records are complete and both PIPL consents are in force; it may only
go to a centre named in the transfer consent. Every fact arrives on the case's partition in
order, so the last of them to arrive triggers the routing decision.
"""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

from events.codes import CentreId, ConsentKind, TumourSite
from events.consumer import Consumer, Handler
from events.contract import CaseOpened, CaseRouted, CaseRoutingBlocked, ConsentGiven, ConsentWithdrawn, Event
from events.db import Conn, Queries
from events.registry import Decoded
from services.common.commands import decide_and_append
from services.common.runtime import Runtime
from services.routing import domain

_Q = Queries(Path(__file__).with_name("queries.sql"), "routing")


def router_consumer(rt: Runtime) -> Consumer:
    def maybe_route(conn: Conn, decoded: Decoded) -> None:
        case_id = decoded.envelope.case_id
        facts = _facts(conn, case_id)
        if facts is None or not facts.ready:
            return

        def decide(history: list[Decoded]) -> list[Event]:
            if any(isinstance(d.event, CaseRouted | CaseRoutingBlocked) for d in history):
                return []  # decided already: a repeated trigger must not route twice
            return [domain.choose_centre(facts)]

        # Event time: the decision happens when the last condition became true.
        decide_and_append(rt.store, conn, case_id, decide, occurred_at=decoded.envelope.occurred_at,
                          correlation_id=decoded.envelope.correlation_id,
                          causation_id=decoded.envelope.event_id)

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
            "rare_tumour": opened.rare_tumour,
            "preferred_centre": opened.preferred_centre.value if opened.preferred_centre else None,
            "opened_at": decoded.envelope.occurred_at,
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

    def on_ended(conn: Conn, decoded: Decoded) -> None:
        conn.execute(_Q["ended"], {"case_id": decoded.envelope.case_id})

    return Consumer("router", {
        "CaseOpened": on_case_opened,
        "RecordsCompleted": then_route(on_records_completed),
        "ConsentGiven": then_route(on_consent),
        "ConsentWithdrawn": on_consent,
        **{t: on_ended for t in ("CaseCancelled", "CaseWithdrawn", "CaseExpired", "PatientDataErased",
                                 "CaseClosed", "TreatmentBooked")},
    })


def _facts(conn: Conn, case_id: UUID) -> domain.CaseFacts | None:
    row = conn.execute(_Q["case_facts"], {"case_id": case_id}).fetchone()
    if row is None:
        # Same partition, so CaseOpened precedes every other fact; absence means a broken history.
        raise LookupError(f"event for a case routing never saw opened: {case_id}")
    return domain.CaseFacts(
        tumour_site=TumourSite(row["tumour_site"]), rare_tumour=row["rare_tumour"],
        preferred_centre=CentreId(row["preferred_centre"]) if row["preferred_centre"] else None,
        consented_centres=frozenset(CentreId(c) for c in row["transfer_centres"]),
        ready=row["records_complete"] and row["processing_consent"] and bool(row["transfer_centres"])
        and not row["ended"],
    )
