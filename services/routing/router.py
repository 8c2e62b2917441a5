"""Routing's reaction to the stream: remember each case, route it once its records are complete."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

from events.codes import CentreId, TumourSite
from events.consumer import Consumer
from events.contract import CaseOpened, CaseRouted, Event
from events.db import Conn, Queries
from events.registry import Decoded
from services.common.commands import decide_and_append
from services.common.runtime import Runtime
from services.routing import domain

_Q = Queries(Path(__file__).with_name("queries.sql"), "routing")


def router_consumer(rt: Runtime) -> Consumer:
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
        case_id = decoded.envelope.case_id
        facts = _facts(conn, case_id)

        def decide(history: list[Event]) -> list[Event]:
            if any(isinstance(e, CaseRouted) for e in history):
                return []  # routed already: a second RecordsCompleted must not route twice
            return [domain.choose_centre(facts)]

        # Event time: the routing decision happens at the moment the records became complete.
        decide_and_append(rt.store, conn, case_id, decide, occurred_at=decoded.envelope.occurred_at,
                          correlation_id=decoded.envelope.correlation_id,
                          causation_id=decoded.envelope.event_id)

    return Consumer("router", {"CaseOpened": on_case_opened, "RecordsCompleted": on_records_completed})


def _facts(conn: Conn, case_id: UUID) -> domain.CaseFacts:
    row = conn.execute(_Q["case_facts"], {"case_id": case_id}).fetchone()
    if row is None:
        # Same partition, so CaseOpened precedes this; absence means a broken history.
        raise LookupError(f"RecordsCompleted for unknown case {case_id}")
    return domain.CaseFacts(
        tumour_site=TumourSite(row["tumour_site"]), rare_tumour=row["rare_tumour"],
        preferred_centre=CentreId(row["preferred_centre"]) if row["preferred_centre"] else None,
    )

