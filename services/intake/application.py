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

from events.codes import ConsentKind, RecordKind
from events.consumer import Consumer
from events.contract import (
    CaseCancelled,
    CaseClosed,
    CaseDeclined,
    CaseExpired,
    CaseOpened,
    CaseRouted,
    CaseWithdrawn,
    ConsentGiven,
    GlassSlidesShipped,
    PatientDataErased,
    RecordsReceived,
    ReviewDelivered,
    TreatmentBooked,
)
from events.db import Conn
from events.registry import Decoded
from services.common import actor
from services.common.errors import NotFound, Rejected
from services.common.kernel import Decision, Handled, Kernel
from services.common.objects import ObjectStore
from services.common.runtime import Runtime
from services.common.sweeps import sweep
from services.common.vault import PatientErased, Vault
from services.intake import domain, fhir
from services.intake.deidentify import deidentify
from services.intake.rows import IntakeRows, Row
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
class IntakeRuntime(Runtime):
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
            delivered = self.rows.delivery(conn, case_id)
            return CaseFile(self.rows.case(conn, case_id),
                            ReviewDelivered.model_validate(delivered) if delivered else None, domain.Case(case_id))

        return Kernel(self.store, start, lambda f, event, at: f.case.apply(event, at), self._refresh_status)

    def _refresh_status(self, conn: Conn, f: CaseFile, appended: list[Decoded]) -> None:
        self.rows.set_status(conn, f.case.case_id, f.case.status(f.delivered is not None).value,
                             appended[-1].envelope.occurred_at)


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
        "status": case.status(f.delivered is not None).value,
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
        "ending": case.ending.event_type if case.ending else None,
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
    except PatientErased:
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
              question: str | None, occurred_at: datetime) -> Handled[CaseFile]:
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
    rt.rows.insert_case(conn, case_id, ref, encrypted_question, domain.CaseStatus.COLLECTING_RECORDS.value,
                        occurred_at)
    return rt.kernel.handle(conn, case_id, lambda f: domain.open_case(opened, with_question=question is not None),
                            occurred_at=occurred_at, expected_version=0)


def record_question(rt: IntakeRuntime, conn: Conn, case_id: UUID, question: str, occurred_at: datetime,
                    expected: int | None) -> Handled[CaseFile]:
    done = _command(rt, conn, case_id, lambda c, d: domain.record_question(c), occurred_at, expected)
    row = done.state.existing()
    try:
        blob = rt.vault.encrypt(conn, row["patient_ref"], question.encode(), f"question:{case_id}")
    except PatientErased:
        raise Rejected("the patient's personal data was erased", "patient_erased") from None
    rt.rows.set_question(conn, case_id, blob)
    return done


def add_record(rt: IntakeRuntime, conn: Conn, case_id: UUID, record: RecordsReceived, content: bytes | None,
               occurred_at: datetime, expected: int | None) -> Handled[CaseFile]:
    done = _command(rt, conn, case_id, lambda c, d: domain.receive_record(c, record), occurred_at, expected)
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
    return _command(rt, conn, case_id, lambda c, d: domain.ship_slides(c, shipped), occurred_at, expected)


def receive_slides(rt: IntakeRuntime, conn: Conn, case_id: UUID, shipment_id: UUID, occurred_at: datetime,
                   expected: int | None) -> Handled[CaseFile]:
    return _command(rt, conn, case_id, lambda c, d: domain.receive_slides(c, shipment_id), occurred_at, expected)


def give_consent(rt: IntakeRuntime, conn: Conn, case_id: UUID, consent: ConsentGiven, occurred_at: datetime,
                 expected: int | None) -> Handled[CaseFile]:
    return _command(rt, conn, case_id, lambda c, d: domain.give_consent(c, consent), occurred_at, expected)


def withdraw_consent(rt: IntakeRuntime, conn: Conn, case_id: UUID, kind: ConsentKind, occurred_at: datetime,
                     expected: int | None) -> Handled[CaseFile]:
    return _command(rt, conn, case_id, lambda c, d: domain.withdraw_consent(c, kind), occurred_at, expected)


def request_records(rt: IntakeRuntime, conn: Conn, case_id: UUID, occurred_at: datetime,
                    expected: int | None) -> Handled[CaseFile]:
    return _command(rt, conn, case_id, lambda c, d: domain.request_records(c, uuid4()), occurred_at, expected)


def book_treatment(rt: IntakeRuntime, conn: Conn, case_id: UUID, booking: TreatmentBooked, occurred_at: datetime,
                   expected: int | None) -> Handled[CaseFile]:
    return _command(rt, conn, case_id, lambda c, d: domain.book_treatment(c, d, booking), occurred_at, expected)


def close_returned_home(rt: IntakeRuntime, conn: Conn, case_id: UUID, closed: CaseClosed, occurred_at: datetime,
                        expected: int | None) -> Handled[CaseFile]:
    return _command(rt, conn, case_id, lambda c, d: domain.close_returned_home(c, d, closed), occurred_at,
                    expected)


def cancel(rt: IntakeRuntime, conn: Conn, case_id: UUID, cancelled: CaseCancelled, occurred_at: datetime,
           expected: int | None) -> Handled[CaseFile]:
    return _command(rt, conn, case_id, lambda c, d: domain.cancel(c, cancelled), occurred_at, expected)


def withdraw(rt: IntakeRuntime, conn: Conn, case_id: UUID, withdrawn: CaseWithdrawn, occurred_at: datetime,
             expected: int | None) -> Handled[CaseFile]:
    return _command(rt, conn, case_id, lambda c, d: domain.withdraw(c, withdrawn), occurred_at, expected)


def erase_patient(rt: IntakeRuntime, conn: Conn, patient_ref: str, occurred_at: datetime) -> list[UUID]:
    cases = rt.rows.cases_of(conn, patient_ref)
    if not cases:
        raise NotFound(f"patient {patient_ref} not found")
    rt.vault.shred(conn, patient_ref, occurred_at)
    for case_id in cases:
        _command(rt, conn, case_id, lambda c, d: domain.erase(c, patient_ref), occurred_at, None)
    return cases


def run_timers(rt: IntakeRuntime, now: datetime) -> int:
    """Appends the reminders and expiries due by `now` (event time); one transaction per case."""
    with rt.pool.connection() as conn:
        due = rt.rows.collecting(conn)

    def remind_or_expire(conn: Conn, case_id: UUID) -> int:
        return len(_command(rt, conn, case_id, lambda c, d: domain.due_timers(c, now), now, None).appended)

    return sweep(rt.pool, due, remind_or_expire, service="intake")


# ------------------------------------------------------------------ the case package, for the assigned centre

# Endings after which no centre reads the case any more (a delivered, booked or closed case stays readable).
_CLOSED_TO_CENTRES = (CaseCancelled, CaseWithdrawn, CaseExpired, PatientDataErased)


def _readable(rt: IntakeRuntime, conn: Conn, f: CaseFile, centre: str | None) -> Row:
    """The case row if `centre` (None: the coordinator) may read the case now; 404 for any other centre.

    A centre reads only the case it is assigned to, while the transfer-abroad consent names it: a
    withdrawal, a re-route, a decline, an ending or an erasure ends its access at once."""
    row = f.existing()
    if centre is None:
        return row
    transfer = f.case.consents.get(ConsentKind.TRANSFER_ABROAD)
    if (rt.rows.assigned_centre(conn, f.case.case_id) != centre or transfer is None
            or centre not in {c.value for c in transfer.centre_ids} or isinstance(f.case.ending, _CLOSED_TO_CENTRES)):
        raise NotFound(f"case {f.case.case_id} not found")
    return row


def _question(rt: IntakeRuntime, conn: Conn, row: Row, case_id: UUID) -> str | None:
    try:
        return rt.vault.decrypt(conn, row["patient_ref"], bytes(row["question"]), f"question:{case_id}").decode() \
            if row["question"] else None
    except PatientErased:
        raise Rejected("the patient's personal data was erased", "patient_erased") from None


def package(rt: IntakeRuntime, conn: Conn, case_id: UUID, centre: str | None) -> dict[str, Any]:
    f = load(rt, conn, case_id).state
    row = _readable(rt, conn, f, centre)
    opened = f.case.opened
    assert opened is not None
    question = _question(rt, conn, row, case_id)
    if centre is not None:
        rt.rows.record_access(conn, case_id, None, centre, rt.store.clock(), actor.current_id())
    return {
        "case_id": case_id, "question": question, "question_topics": [t.value for t in opened.question_topics],
        "tumour_site": opened.tumour_site.value, "histology": opened.histology.value,
        "rare_tumour": opened.is_rare_tumour, "stage_group": opened.stage_group.value,
        "referral_reasons": [r.value for r in opened.referral_reasons],
        "records": [{"record_id": r.record_id, "kind": r.kind.value, "modality": r.modality,
                     "study_date": r.study_date, "size_bytes": r.size_bytes, "sha256": r.sha256,
                     "has_file": r.sha256 is not None} for r in f.case.records],
    }


@dataclass(frozen=True)
class RecordContent:
    data: bytes
    media_type: str
    deidentified: bool


def record_content(rt: IntakeRuntime, conn: Conn, case_id: UUID, record_id: UUID, centre: str | None) -> RecordContent:
    """The file of one record, decrypted; DICOM that leaves for a centre is de-identified first."""
    f = load(rt, conn, case_id).state
    row = _readable(rt, conn, f, centre)
    record = next((r for r in f.case.records if r.record_id == record_id), None)
    stored = rt.rows.record_file(conn, case_id, record_id)
    if record is None or stored is None:
        raise NotFound(f"record {record_id} of case {case_id} has no file")
    try:
        data = rt.vault.decrypt(conn, row["patient_ref"], rt.objects.get(stored["path"]), f"record:{stored['sha256']}")
    except PatientErased:
        raise Rejected("the patient's personal data was erased", "patient_erased") from None
    is_dicom = record.kind is RecordKind.IMAGING
    deidentified = is_dicom and centre is not None
    if deidentified:
        data = deidentify(data, secret=rt.uid_secret, case_key=str(case_id), patient_pseudonym=f"CASE-{case_id}")
    if centre is not None:
        rt.rows.record_access(conn, case_id, record_id, centre, rt.store.clock(), actor.current_id())
    media_type = "application/dicom" if is_dicom else "application/pdf" if data.startswith(b"%PDF") \
        else "application/octet-stream"
    return RecordContent(data, media_type, deidentified)


def fhir_bundle(rt: IntakeRuntime, conn: Conn, case_id: UUID, centre: str | None) -> dict[str, Any]:
    """The case as a validated FHIR R4B Bundle; the Patient (identity) only for the coordinator.

    A centre's export is a read of the package (the question and the record list), recorded as one."""
    f = load(rt, conn, case_id).state
    row = _readable(rt, conn, f, centre)
    status = f.case.status(f.delivered is not None)
    if status is domain.CaseStatus.ERASED:
        raise Rejected("the patient's personal data was erased", "patient_erased")
    identity = patient_details(rt, conn, case_id)["identity"] if centre is None else None
    item = rt.worklist.item(conn, case_id) or {}
    export = fhir.CaseForExport(
        case=f.case, status=status, centre_id=rt.rows.assigned_centre(conn, case_id),
        accepted=item.get("sla_state", "not_started") != "not_started",
        waiting_on_patient=bool(item.get("information_open")), finally_declined=bool(item.get("finally_declined")),
        delivered=f.delivered, documents=rt.worklist.documents(conn, case_id),
        identity=identity, question=_question(rt, conn, row, case_id),
        updated_at=item.get("updated_at") or rt.store.clock())
    bundle = fhir.validated(fhir.build_bundle(export))
    if centre is not None:
        rt.rows.record_access(conn, case_id, None, centre, rt.store.clock(), actor.current_id())
    return bundle


def accesses(rt: IntakeRuntime, conn: Conn, case_id: UUID) -> list[Row]:
    load(rt, conn, case_id)
    return rt.rows.accesses(conn, case_id)


# ------------------------------------------------------------------ reactions

def on_review_delivered(rt: IntakeRuntime) -> Callable[[Conn, Decoded], None]:
    def handler(conn: Conn, decoded: Decoded) -> None:
        env = decoded.envelope
        rt.rows.record_delivery(conn, env.case_id, env.event_id, env.occurred_at, env.payload)
        rt.rows.set_status(conn, env.case_id, domain.CaseStatus.REVIEW_DELIVERED.value, env.occurred_at,
                           only_from=domain.CaseStatus.READY_FOR_REVIEW.value)
    return handler


def centre_assignments(rt: IntakeRuntime) -> Consumer:
    """Which centre holds each case, from routing's and review's events: who may read the package."""
    def on_routed(conn: Conn, decoded: Decoded) -> None:
        routed = decoded.event
        assert isinstance(routed, CaseRouted)
        rt.rows.assign_centre(conn, decoded.envelope.case_id, routed.centre_id.value, routed.attempt)

    def on_declined(conn: Conn, decoded: Decoded) -> None:
        declined = decoded.event
        assert isinstance(declined, CaseDeclined)
        rt.rows.release_centre(conn, decoded.envelope.case_id, declined.centre_id.value)

    def on_finally_declined(conn: Conn, decoded: Decoded) -> None:
        rt.rows.release_centre(conn, decoded.envelope.case_id, None)

    return Consumer("centre_assignments", {"CaseRouted": on_routed, "CaseDeclined": on_declined,
                                           "CaseFinallyDeclined": on_finally_declined})
