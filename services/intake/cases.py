"""Intake's application layer: every command runs inside the caller's transaction."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import psycopg
from psycopg.types.json import Jsonb

from events import metrics as event_metrics
from events.codes import ConsentKind
from events.contract import (
    CaseCancelled,
    CaseClosed,
    CaseOpened,
    CaseWithdrawn,
    ConsentGiven,
    Event,
    GlassSlidesShipped,
    RecordsReceived,
    ReviewDelivered,
    TreatmentBooked,
)
from events.db import ConcurrencyConflict, Conn, DatabaseUnavailable, Queries
from events.registry import Decoded
from services.common.commands import case_stream, decide_and_append, timed
from services.common.errors import NotFound, Rejected
from services.common.runtime import Runtime
from services.intake import domain
from services.intake.vault import PatientErased, Vault

log = logging.getLogger(__name__)
_Q = Queries(Path(__file__).with_name("queries.sql"), "intake")
Decide = Callable[[domain.Case, ReviewDelivered | None], list[Event] | list[tuple[Event, datetime]]]


@dataclass
class Intake(Runtime):
    """Intake's runtime: the shared pieces, the vault, and where record files go."""

    vault: Vault
    records_dir: Path


def new_patient_ref() -> str:
    return f"pr_{uuid4().hex}"


# ------------------------------------------------------------------ reading

def load_case(ix: Intake, conn: Conn, case_id: UUID) -> tuple[domain.Case, ReviewDelivered | None]:
    history = ix.store.load(conn, case_stream(case_id))
    if not history:
        raise NotFound(f"case {case_id} not found")
    return domain.fold(case_id, timed(history)), _delivery(conn, case_id)


def view(ix: Intake, conn: Conn, case_id: UUID) -> dict[str, Any]:
    case, delivered = load_case(ix, conn, case_id)
    assert case.opened is not None
    return {
        "case_id": case_id,
        "version": case.version,
        "status": case.status(delivered is not None).value,
        "patient_ref": case.opened.patient_ref,
        "tumour_site": case.opened.tumour_site,
        "histology": case.opened.histology,
        "rare_tumour": case.opened.rare_tumour,
        "stage_group": case.opened.stage_group,
        "referral_reasons": case.reasons,
        "preferred_centre": case.opened.preferred_centre,
        "wants_video": case.opened.wants_video,
        "checklist": {
            "complete": case.completed,
            "missing": {str(k): n for k, n in case.missing().items()},
            "question_recorded": case.has_question,
            "records": [r.model_dump(mode="json", exclude_none=True) for r in case.records],
            "glass_slide_shipments": [{"shipment_id": s, "received": r} for s, r in case.shipments.items()],
            "open_request": case.open_request.model_dump(mode="json") if case.open_request else None,
            "reminders_sent": case.reminders_sent,
        },
        "consents": {k.value: v.model_dump(mode="json") for k, v in case.consents.items()},
        "consented": case.consented,
        "review_delivered": delivered is not None,
        "ending": case.ending.event_type if case.ending else None,
    }


def patient_details(ix: Intake, conn: Conn, case_id: UUID) -> dict[str, Any]:
    row = _case_row(conn, case_id)
    ref = row["patient_ref"]
    identity = conn.execute(_Q["patient"], {"patient_ref": ref}).fetchone()
    try:
        person = json.loads(ix.vault.decrypt(conn, ref, bytes(identity["identity"]), f"identity:{ref}")) \
            if identity else None
        question = ix.vault.decrypt(conn, ref, bytes(row["question"]), f"question:{case_id}").decode() \
            if row["question"] else None
    except PatientErased:
        raise Rejected("the patient's personal data was erased", "patient_erased") from None
    return {"case_id": case_id, "patient_ref": ref, "identity": person, "question": question}


def _case_row(conn: Conn, case_id: UUID) -> dict[str, Any]:
    row = conn.execute(_Q["case_row"], {"case_id": case_id}).fetchone()
    if row is None:
        raise NotFound(f"case {case_id} not found")
    return row


def _delivery(conn: Conn, case_id: UUID) -> ReviewDelivered | None:
    row = conn.execute(_Q["delivery"], {"case_id": case_id}).fetchone()
    return ReviewDelivered.model_validate(row["payload"]) if row else None


# ------------------------------------------------------------------ commands

def _command(ix: Intake, conn: Conn, case_id: UUID, decide: Decide, occurred_at: datetime,
             expected_version: int | None) -> int:
    _case_row(conn, case_id)
    delivered = _delivery(conn, case_id)
    version, _ = decide_and_append(
        ix.store, conn, case_id, lambda h: decide(domain.fold(case_id, timed(h)), delivered),
        occurred_at=occurred_at, expected_version=expected_version)
    _refresh_status(ix, conn, case_id, occurred_at)
    return version


def _refresh_status(ix: Intake, conn: Conn, case_id: UUID, at: datetime) -> None:
    case, delivered = load_case(ix, conn, case_id)
    conn.execute(_Q["set_status"], {"case_id": case_id, "status": case.status(delivered is not None).value,
                                    "updated_at": at})


def open_case(ix: Intake, conn: Conn, opened: CaseOpened, identity: dict[str, Any] | None, question: str | None,
              occurred_at: datetime) -> UUID:
    case_id = uuid4()
    ref = opened.patient_ref
    if identity is not None:
        ix.vault.create_key(conn, ref)
        blob = ix.vault.encrypt(conn, ref, json.dumps(identity).encode(), f"identity:{ref}")
        conn.execute(_Q["upsert_patient"], {"patient_ref": ref, "identity": blob})
    elif conn.execute(_Q["erased_at"], {"patient_ref": ref}).fetchone():
        raise Rejected("this patient's data was erased; open the case with a new identity", "patient_erased")
    elif conn.execute(_Q["patient"], {"patient_ref": ref}).fetchone() is None:
        raise NotFound(f"patient {ref} not found")
    encrypted_question = ix.vault.encrypt(conn, ref, question.encode(), f"question:{case_id}") if question else None
    conn.execute(_Q["insert_case"], {"case_id": case_id, "patient_ref": ref, "question": encrypted_question,
                                     "status": domain.CaseStatus.COLLECTING_RECORDS.value,
                                     "updated_at": occurred_at})
    decide_and_append(ix.store, conn, case_id,
                      lambda h: domain.open_case(opened, with_question=question is not None),
                      occurred_at=occurred_at, expected_version=0)
    return case_id


def record_question(ix: Intake, conn: Conn, case_id: UUID, question: str, occurred_at: datetime,
                    expected: int | None) -> int:
    row = _case_row(conn, case_id)
    version = _command(ix, conn, case_id, lambda c, d: domain.record_question(c), occurred_at, expected)
    try:
        blob = ix.vault.encrypt(conn, row["patient_ref"], question.encode(), f"question:{case_id}")
    except PatientErased:
        raise Rejected("the patient's personal data was erased", "patient_erased") from None
    conn.execute(_Q["set_question"], {"case_id": case_id, "question": blob})
    return version


def add_record(ix: Intake, conn: Conn, case_id: UUID, record: RecordsReceived, content: bytes | None,
               occurred_at: datetime, expected: int | None) -> int:
    version = _command(ix, conn, case_id, lambda c, d: domain.receive_record(c, record), occurred_at, expected)
    if content is not None:
        # Written inside the transaction: if the commit fails, an orphan file is all that is left,
        # and it is content-addressed and encrypted, so it can neither clash nor leak.
        ref = _case_row(conn, case_id)["patient_ref"]
        assert record.sha256 is not None
        path = ix.records_dir / ref / record.sha256
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(ix.vault.encrypt(conn, ref, content, f"record:{record.sha256}"))
            tmp.replace(path)
        conn.execute(_Q["insert_record_file"], {
            "record_id": record.record_id, "case_id": case_id, "kind": record.kind.value,
            "sha256": record.sha256, "size_bytes": len(content), "path": str(path.relative_to(ix.records_dir)),
        })
    return version


def sha256_hex(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def ship_slides(ix: Intake, conn: Conn, case_id: UUID, shipped: GlassSlidesShipped, occurred_at: datetime,
                expected: int | None) -> int:
    return _command(ix, conn, case_id, lambda c, d: domain.ship_slides(c, shipped), occurred_at, expected)


def receive_slides(ix: Intake, conn: Conn, case_id: UUID, shipment_id: UUID, occurred_at: datetime,
                   expected: int | None) -> int:
    return _command(ix, conn, case_id, lambda c, d: domain.receive_slides(c, shipment_id), occurred_at, expected)


def give_consent(ix: Intake, conn: Conn, case_id: UUID, consent: ConsentGiven, occurred_at: datetime,
                 expected: int | None) -> int:
    return _command(ix, conn, case_id, lambda c, d: domain.give_consent(c, consent), occurred_at, expected)


def withdraw_consent(ix: Intake, conn: Conn, case_id: UUID, kind: ConsentKind, occurred_at: datetime,
                     expected: int | None) -> int:
    return _command(ix, conn, case_id, lambda c, d: domain.withdraw_consent(c, kind), occurred_at, expected)


def request_records(ix: Intake, conn: Conn, case_id: UUID, occurred_at: datetime, expected: int | None) -> int:
    return _command(ix, conn, case_id, lambda c, d: domain.request_records(c, uuid4()), occurred_at, expected)


def book_treatment(ix: Intake, conn: Conn, case_id: UUID, booking: TreatmentBooked, occurred_at: datetime,
                   expected: int | None) -> int:
    return _command(ix, conn, case_id, lambda c, d: domain.book_treatment(c, d, booking), occurred_at, expected)


def close_returned_home(ix: Intake, conn: Conn, case_id: UUID, closed: CaseClosed, occurred_at: datetime,
                        expected: int | None) -> int:
    return _command(ix, conn, case_id, lambda c, d: domain.close_returned_home(c, d, closed), occurred_at,
                    expected)


def cancel(ix: Intake, conn: Conn, case_id: UUID, cancelled: CaseCancelled, occurred_at: datetime,
           expected: int | None) -> int:
    return _command(ix, conn, case_id, lambda c, d: domain.cancel(c, cancelled), occurred_at, expected)


def withdraw(ix: Intake, conn: Conn, case_id: UUID, withdrawn: CaseWithdrawn, occurred_at: datetime,
             expected: int | None) -> int:
    return _command(ix, conn, case_id, lambda c, d: domain.withdraw(c, withdrawn), occurred_at, expected)


def erase_patient(ix: Intake, conn: Conn, patient_ref: str, occurred_at: datetime) -> list[UUID]:
    cases = [r["case_id"] for r in conn.execute(_Q["patient_cases"], {"patient_ref": patient_ref}).fetchall()]
    if not cases:
        raise NotFound(f"patient {patient_ref} not found")
    ix.vault.shred(conn, patient_ref, occurred_at)
    for case_id in cases:
        _command(ix, conn, case_id, lambda c, d: domain.erase(c, patient_ref), occurred_at, None)
    return cases


def run_timers(ix: Intake, now: datetime) -> int:
    """Appends the reminders and expiries due by `now` (event time); one transaction per case."""
    appended = 0
    with ix.pool.connection() as conn:
        due = [r["case_id"] for r in conn.execute(_Q["cases_collecting"]).fetchall()]
    for case_id in due:
        def decide(history: list[Decoded], case_id: UUID = case_id) -> list[tuple[Event, datetime]]:
            return domain.due_timers(domain.fold(case_id, timed(history)), now)

        try:
            with ix.pool.connection() as conn, conn.transaction():
                _, envelopes = decide_and_append(ix.store, conn, case_id, decide, occurred_at=now)
                if envelopes:
                    _refresh_status(ix, conn, case_id, envelopes[-1].occurred_at)
                    appended += len(envelopes)
        except ConcurrencyConflict:
            # A command on this case won the race; the next sweep decides on the new history.
            continue
        except (psycopg.OperationalError, DatabaseUnavailable):
            raise
        except Exception:
            # One case's failure (bad data, a bug) must not stop reminders and expiry for the rest.
            log.exception("timer sweep: case %s failed; it is retried by the next sweep", case_id)
            event_metrics.TIMER_FAILURES.labels("intake").inc()
    return appended


# ------------------------------------------------------------------ reactions

def on_review_delivered(conn: Conn, decoded: Decoded) -> None:
    env = decoded.envelope
    conn.execute(_Q["record_delivery"], {
        "case_id": env.case_id, "event_id": env.event_id, "occurred_at": env.occurred_at,
        "payload": Jsonb(env.payload),
    })
    conn.execute(_Q["set_status_if"], {"case_id": env.case_id, "from_status": "ready_for_review",
                                       "status": domain.CaseStatus.REVIEW_DELIVERED.value,
                                       "updated_at": env.occurred_at})
