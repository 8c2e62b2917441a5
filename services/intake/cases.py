"""Intake's application layer: commands on a case, in one transaction each."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from uuid import UUID, uuid4

from psycopg.types.json import Jsonb

from events.contract import CaseOpened, Event, RecordsReceived, ReviewDelivered, TreatmentBooked
from events.db import Conn, Queries, transaction
from events.registry import Decoded
from services.common.commands import decide_and_append, load_events
from services.common.errors import NotFound, Rejected
from services.common.runtime import Runtime
from services.intake import domain

_Q = Queries(Path(__file__).with_name("queries.sql"), "intake")


def new_patient_ref() -> str:
    return f"pr_{uuid4().hex}"


def open_case(rt: Runtime, opened: CaseOpened, occurred_at: datetime) -> tuple[UUID, int]:
    case_id = uuid4()

    def decide(history: list[Event]) -> list[Event]:
        if history:
            raise Rejected("case already exists", "case_exists")
        return [opened]

    with transaction(rt.pool) as conn:
        version, _ = decide_and_append(rt.store, conn, case_id, decide, occurred_at=occurred_at)
    return case_id, version


def add_record(rt: Runtime, case_id: UUID, record: RecordsReceived, occurred_at: datetime,
               expected_version: int | None) -> int:
    with transaction(rt.pool) as conn:
        _require_case(rt, conn, case_id)
        version, _ = decide_and_append(
            rt.store, conn, case_id, lambda h: domain.receive_record(domain.fold(case_id, h), record),
            occurred_at=occurred_at, expected_version=expected_version)
    return version


def book_treatment(rt: Runtime, case_id: UUID, booking: TreatmentBooked, occurred_at: datetime,
                   expected_version: int | None) -> int:
    with transaction(rt.pool) as conn:
        _require_case(rt, conn, case_id)
        delivered = _delivery(conn, case_id)
        version, _ = decide_and_append(
            rt.store, conn, case_id,
            lambda h: domain.book_treatment(domain.fold(case_id, h), delivered, booking),
            occurred_at=occurred_at, expected_version=expected_version)
    return version


def get_case(rt: Runtime, case_id: UUID) -> tuple[domain.Case, bool]:
    with rt.pool.connection() as conn:
        case = domain.fold(case_id, _require_case(rt, conn, case_id))
        return case, _delivery(conn, case_id) is not None


def _require_case(rt: Runtime, conn: Conn, case_id: UUID) -> list[Event]:
    events = load_events(rt.store, conn, case_id)
    if not events:
        raise NotFound(f"case {case_id} not found")
    return events


def _delivery(conn: Conn, case_id: UUID) -> ReviewDelivered | None:
    row = conn.execute(_Q["delivery"], {"case_id": case_id}).fetchone()
    return ReviewDelivered.model_validate(row["payload"]) if row else None


def on_review_delivered(conn: Conn, decoded: Decoded) -> None:
    env = decoded.envelope
    conn.execute(_Q["record_delivery"], {
        "case_id": env.case_id, "event_id": env.event_id, "occurred_at": env.occurred_at,
        "payload": Jsonb(env.payload),
    })
