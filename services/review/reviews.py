"""Review's application layer. A centre acts on its own cases only; others do not exist for it."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from events.codes import CentreId
from events.consumer import Consumer
from events.contract import CaseRouted, ReviewDelivered
from events.db import Conn, Queries, transaction
from events.registry import Decoded
from services.common.commands import decide_and_append, events_of, load_events
from services.common.errors import NotFound, Rejected
from services.common.runtime import Runtime
from services.review import domain

_Q = Queries(Path(__file__).with_name("queries.sql"), "review")


def _assignment(conn: Conn, case_id: UUID, centre: CentreId) -> dict[str, Any]:
    row = conn.execute(_Q["assignment"], {"case_id": case_id}).fetchone()
    # Another centre's case answers 404, not 403: a reviewer must not learn that it exists.
    if row is None or row["centre_id"] != centre.value:
        raise NotFound(f"case {case_id} not found")
    return row


def list_cases(rt: Runtime, centre: CentreId) -> list[dict[str, Any]]:
    with rt.pool.connection() as conn:
        rows = conn.execute(_Q["centre_cases"], {"centre_id": centre.value}).fetchall()
        return [{**r, "state": domain.fold(load_events(rt.store, conn, r["case_id"])).state}
                for r in rows]


def get_case(rt: Runtime, case_id: UUID, centre: CentreId) -> tuple[dict[str, Any], domain.Review]:
    with rt.pool.connection() as conn:
        row = _assignment(conn, case_id, centre)
        return row, domain.fold(load_events(rt.store, conn, case_id))


def _active_assignment(conn: Conn, case_id: UUID, centre: CentreId) -> None:
    row = _assignment(conn, case_id, centre)
    if row["stopped_by"]:
        raise Rejected(f"processing stopped: {row['stopped_by']}", "processing_stopped")


def accept(rt: Runtime, case_id: UUID, centre: CentreId, occurred_at: datetime,
           expected_version: int | None) -> int:
    with transaction(rt.pool) as conn:
        _active_assignment(conn, case_id, centre)
        version, _ = decide_and_append(rt.store, conn, case_id,
                                       lambda h: domain.accept(domain.fold(events_of(h)), centre),
                                       occurred_at=occurred_at, expected_version=expected_version)
    return version


def deliver(rt: Runtime, case_id: UUID, centre: CentreId, delivery: ReviewDelivered,
            occurred_at: datetime, expected_version: int | None) -> int:
    with transaction(rt.pool) as conn:
        _active_assignment(conn, case_id, centre)
        version, _ = decide_and_append(rt.store, conn, case_id,
                                       lambda h: domain.deliver(domain.fold(events_of(h)), delivery),
                                       occurred_at=occurred_at, expected_version=expected_version)
    return version


def assignments_consumer() -> Consumer:
    def on_routed(conn: Conn, decoded: Decoded) -> None:
        routed = decoded.event
        assert isinstance(routed, CaseRouted)
        conn.execute(_Q["assign"], {"case_id": decoded.envelope.case_id, "centre_id": routed.centre_id.value,
                                    "routed_at": decoded.envelope.occurred_at, "attempt": routed.attempt})

    def on_stopped(conn: Conn, decoded: Decoded) -> None:
        conn.execute(_Q["stop"], {"case_id": decoded.envelope.case_id, "event_type": decoded.envelope.event_type})

    return Consumer("assignments", {
        "CaseRouted": on_routed,
        **{t: on_stopped for t in ("CaseWithdrawn", "CaseCancelled", "PatientDataErased", "CaseExpired")},
    })
