"""Intake's application layer: every command runs inside the caller's transaction.

Intake decides what a case is (its checklist, consents, endings); the price, the SLA deadline,
the fee credit and the routing are decided by billing, review and routing from its events.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from events import lifecycle
from events.codes import ConsentKind
from events.contract import (
    CaseCancelled,
    CaseClosed,
    CaseOpened,
    CaseWithdrawn,
    ConsentGiven,
    GlassSlidesShipped,
    RecordsReceived,
    ReviewDelivered,
    TreatmentBooked,
)
from events.db import Conn
from events.registry import Decoded
from services.common.errors import NotFound, Rejected
from services.common.kernel import Decision, Handled, Kernel
from services.common.object_store import ObjectStore
from services.common.runtime import Runtime
from services.common.sweeps import sweep
from services.common.vault import KeyShredded, Vault
from services.intake import domain
from services.intake.rows import IntakeRows, Row
from services.intake.settings import IntakeSettings
from services.intake.worklist import Worklist


@dataclass
class CaseFile:
    """A case as intake holds it: its row (patient, encrypted question), its delivery, its history."""

    row: Row | None
    delivered: ReviewDelivered | None
    case: domain.Case

    def existing(self) -> Row:
        if self.row is None or self.case.opened is None:
            raise NotFound(f"case {self.case.case_id} not found")
        return self.row


Decide = Callable[[domain.Case, ReviewDelivered | None], Decision]


@dataclass
class IntakeRuntime(Runtime[IntakeSettings]):
    """Intake's runtime: the shared pieces, its tables, the vault, and where record files go."""

    rows: IntakeRows
    vault: Vault
    objects: ObjectStore
    # Keys the pseudonymous DICOM UIDs a centre sees: without it nobody maps them back.
    uid_secret: bytes
    worklist: Worklist

    @functools.cached_property
    def kernel(self) -> Kernel[CaseFile]:
        def start(conn: Conn, case_id: UUID) -> CaseFile:
            # What intake learnt from other services' streams: the case's life as the worklist
            # folds it (locked: a reaction folding another service's event waits for this command),
            # and the delivered review's payload.
            delivered = self.rows.delivery(conn, case_id)
            life = self.worklist.lives(conn, [case_id])[case_id]
            return CaseFile(self.rows.case(conn, case_id),
                            ReviewDelivered.model_validate(delivered["payload"]) if delivered else None,
                            domain.Case(case_id, life=life,
                                        delivered_at=delivered["occurred_at"] if delivered else None))

        return Kernel(self.store, start, lambda f, event, at: f.case.apply(event, at), self._save_life,
                      witness=_witness)

    def _save_life(self, conn: Conn, f: CaseFile, appended: list[Decoded]) -> None:
        # In the command's transaction: the list shows what the command did as soon as it commits.
        self.worklist.save(conn, {f.case.case_id: f.case.life})


def _witness(f: CaseFile, decoded: Decoded) -> None:
    lifecycle.apply(f.case.life, decoded)


def new_patient_ref() -> str:
    return f"pr_{uuid4().hex}"


def sha256_hex(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


# ------------------------------------------------------------------ reading

def load(rt: IntakeRuntime, conn: Conn, case_id: UUID) -> Handled[CaseFile]:
    done = rt.kernel.load(conn, case_id)
    done.state.existing()
    return done


def view(f: CaseFile) -> dict[str, Any]:
    case = f.case
    assert case.opened is not None
    return {
        "case_id": case.case_id,
        "version": case.version,
        "status": case.status.value,
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
        "review_delivered": f.delivered is not None,
        "ending": case.ending_type,
        "requested_by": (f.row or {}).get("requested_by", "coordinator"),
    }


def patient_details(rt: IntakeRuntime, conn: Conn, case_id: UUID) -> dict[str, Any]:
    row = rt.rows.case(conn, case_id)
    if row is None:
        raise NotFound(f"case {case_id} not found")
    ref = row["patient_ref"]
    identity = rt.rows.identity(conn, ref)
    try:
        person = json.loads(rt.vault.decrypt(conn, ref, identity, f"identity:{ref}")) if identity else None
        question = rt.vault.decrypt(conn, ref, bytes(row["question"]), f"question:{case_id}").decode() \
            if row["question"] else None
    except KeyShredded:
        raise Rejected("the patient's personal data was erased", "patient_erased") from None
    return {"case_id": case_id, "patient_ref": ref, "identity": person, "question": question}


# ------------------------------------------------------------------ commands

def _command(rt: IntakeRuntime, conn: Conn, case_id: UUID, decide: Decide, occurred_at: datetime,
             expected_version: int | None) -> Handled[CaseFile]:
    def on_file(f: CaseFile) -> Decision:
        f.existing()
        return decide(f.case, f.delivered)

    return rt.kernel.handle(conn, case_id, on_file, occurred_at=occurred_at, expected_version=expected_version)


def open_case(rt: IntakeRuntime, conn: Conn, opened: CaseOpened, identity: dict[str, Any] | None,
              question: str | None, occurred_at: datetime, requested_by: str = "coordinator") -> Handled[CaseFile]:
    case_id = uuid4()
    ref = opened.patient_ref
    if identity is not None:
        rt.vault.create_key(conn, ref)
        rt.rows.save_identity(conn, ref, rt.vault.encrypt(conn, ref, json.dumps(identity).encode(), f"identity:{ref}"))
    elif rt.rows.erased(conn, ref):
        raise Rejected("this patient's data was erased; open the case with a new identity", "patient_erased")
    elif rt.rows.identity(conn, ref) is None:
        raise NotFound(f"patient {ref} not found")
    encrypted_question = rt.vault.encrypt(conn, ref, question.encode(), f"question:{case_id}") if question else None
    rt.rows.insert_case(conn, case_id, ref, encrypted_question, occurred_at, requested_by)
    return rt.kernel.handle(conn, case_id, lambda f: domain.open_case(opened, with_question=question is not None),
                            occurred_at=occurred_at, expected_version=0)


def record_question(rt: IntakeRuntime, conn: Conn, case_id: UUID, question: str, occurred_at: datetime,
                    expected: int | None) -> Handled[CaseFile]:
    done = _command(rt, conn, case_id, lambda c, d: domain.record_question(c, occurred_at), occurred_at, expected)
    row = done.state.existing()
    try:
        blob = rt.vault.encrypt(conn, row["patient_ref"], question.encode(), f"question:{case_id}")
    except KeyShredded:
        raise Rejected("the patient's personal data was erased", "patient_erased") from None
    rt.rows.set_question(conn, case_id, blob)
    return done


def add_record(rt: IntakeRuntime, conn: Conn, case_id: UUID, record: RecordsReceived, content: bytes | None,
               occurred_at: datetime, expected: int | None) -> Handled[CaseFile]:
    done = _command(rt, conn, case_id, lambda c, d: domain.receive_record(c, record, occurred_at),
                    occurred_at, expected)
    if content is not None:
        # Written inside the transaction: if the commit fails, an orphan object is all that is left,
        # and it is content-addressed and encrypted, so it can neither clash nor leak.
        ref = done.state.existing()["patient_ref"]
        assert record.sha256 is not None
        key = f"{ref}/{record.sha256}"
        if not rt.objects.exists(key):
            rt.objects.put(key, rt.vault.encrypt(conn, ref, content, f"record:{record.sha256}"))
        rt.rows.add_record_file(conn, record.record_id, case_id, record.kind.value, record.sha256, len(content), key)
    return done


def ship_slides(rt: IntakeRuntime, conn: Conn, case_id: UUID, shipped: GlassSlidesShipped, occurred_at: datetime,
                expected: int | None) -> Handled[CaseFile]:
    return _command(rt, conn, case_id, lambda c, d: domain.ship_slides(c, shipped, occurred_at), occurred_at, expected)


def receive_slides(rt: IntakeRuntime, conn: Conn, case_id: UUID, shipment_id: UUID, occurred_at: datetime,
                   expected: int | None) -> Handled[CaseFile]:
    return _command(rt, conn, case_id, lambda c, d: domain.receive_slides(c, shipment_id, occurred_at),
                    occurred_at, expected)


def give_consent(rt: IntakeRuntime, conn: Conn, case_id: UUID, consent: ConsentGiven, occurred_at: datetime,
                 expected: int | None) -> Handled[CaseFile]:
    return _command(rt, conn, case_id, lambda c, d: domain.give_consent(c, consent, occurred_at), occurred_at, expected)


def withdraw_consent(rt: IntakeRuntime, conn: Conn, case_id: UUID, kind: ConsentKind, occurred_at: datetime,
                     expected: int | None) -> Handled[CaseFile]:
    return _command(rt, conn, case_id, lambda c, d: domain.withdraw_consent(c, kind, occurred_at),
                    occurred_at, expected)


def request_records(rt: IntakeRuntime, conn: Conn, case_id: UUID, occurred_at: datetime,
                    expected: int | None) -> Handled[CaseFile]:
    return _command(rt, conn, case_id, lambda c, d: domain.request_records(c, uuid4(), occurred_at),
                    occurred_at, expected)


def book_treatment(rt: IntakeRuntime, conn: Conn, case_id: UUID, booking: TreatmentBooked, occurred_at: datetime,
                   expected: int | None) -> Handled[CaseFile]:
    return _command(rt, conn, case_id, lambda c, d: domain.book_treatment(c, d, booking, occurred_at),
                    occurred_at, expected)


def close_returned_home(rt: IntakeRuntime, conn: Conn, case_id: UUID, closed: CaseClosed, occurred_at: datetime,
                        expected: int | None) -> Handled[CaseFile]:
    return _command(rt, conn, case_id, lambda c, d: domain.close_returned_home(c, d, closed, occurred_at), occurred_at,
                    expected)


def cancel(rt: IntakeRuntime, conn: Conn, case_id: UUID, cancelled: CaseCancelled, occurred_at: datetime,
           expected: int | None) -> Handled[CaseFile]:
    return _command(rt, conn, case_id, lambda c, d: domain.cancel(c, cancelled, occurred_at), occurred_at, expected)


def withdraw(rt: IntakeRuntime, conn: Conn, case_id: UUID, withdrawn: CaseWithdrawn, occurred_at: datetime,
             expected: int | None) -> Handled[CaseFile]:
    return _command(rt, conn, case_id, lambda c, d: domain.withdraw(c, withdrawn, occurred_at), occurred_at, expected)


def erase_patient(rt: IntakeRuntime, conn: Conn, patient_ref: str, occurred_at: datetime) -> list[UUID]:
    cases = rt.rows.cases_of(conn, patient_ref)
    if not cases:
        raise NotFound(f"patient {patient_ref} not found")
    rt.vault.shred(conn, patient_ref)
    rt.rows.record_erasure(conn, patient_ref, occurred_at)
    for case_id in cases:
        _command(rt, conn, case_id, lambda c, d: domain.erase(c, patient_ref, occurred_at), occurred_at, None)
    return cases


def run_timers(rt: IntakeRuntime, now: datetime) -> int:
    """Appends the reminders and expiries due by `now` (event time); one transaction per case."""
    with rt.pool.connection() as conn:
        due = rt.worklist.collecting(conn)

    def remind_or_expire(conn: Conn, case_id: UUID) -> int:
        return len(_command(rt, conn, case_id, lambda c, d: domain.due_timers(c, now), now, None).appended)

    return sweep(rt.pool, due, remind_or_expire, service="intake")


