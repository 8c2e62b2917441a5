"""The case package, for the assigned centre: who may read it, and what each reader receives.

A centre reads a case only while it is assigned to it and the transfer consent names it. What a
centre receives of a record is not the uploaded file when that file is DICOM: it gets the
de-identified copy, so the package and the FHIR export state that copy's hash and size. The
original's hash is never shown to a centre: the same scan uploaded for two cases has one hash,
which would link the cases (and their pseudonyms) to each other. A DICOM file whose pixels carry
burned-in annotation is held: listed with the reason, refused to the centre (409), kept for the
coordinator. Any other record leaves as uploaded, so its hash is the original's either way.

The centre's copy is derived on first read and its facts (hash, size, media type, or why it is
held) kept in `served_files` under the recipe's name: a change to the recipe, its table or
pydicom renames the recipe, and the copies are derived anew on their next read.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

import pydicom

from events.codes import ConsentKind, RecordKind
from events.contract import RecordsReceived
from events.db import Conn
from events.lifecycle import STOPPING, Status
from services.common import actor
from services.common.errors import NotFound, Rejected
from services.common.vault import KeyShredded
from services.intake import deidentify as recipe
from services.intake import fhir
from services.intake.application import CaseFile, IntakeRuntime, load, patient_details
from services.intake.ps315 import TABLE
from services.intake.rows import Row

RECIPE = hashlib.sha256(b"".join(p.read_bytes() for p in (Path(recipe.__file__), Path(__file__), TABLE))
                        + pydicom.__version__.encode()).hexdigest()[:16]
_DICOM_SEX: dict[str, recipe.Sex] = {"female": "F", "male": "M", "other": "O"}


@dataclass(frozen=True)
class Served:
    """What a centre receives of one record: its media type and, unless held, its hash and size."""

    media_type: str
    sha256: str | None
    size_bytes: int | None
    held: str | None = None  # why the centre may not have it (burned_in_annotation)


@dataclass(frozen=True)
class RecordContent:
    data: bytes
    media_type: str
    deidentified: bool


def readable(rt: IntakeRuntime, conn: Conn, f: CaseFile, centre: str | None) -> Row:
    """The case row if `centre` (None: the coordinator) may read the case now; 404 for any other centre.

    A centre reads only the case it is assigned to, while the transfer-abroad consent names it: a
    withdrawal, a re-route, a decline, an ending or an erasure ends its access at once."""
    row = f.existing()
    if centre is None:
        return row
    transfer = f.case.consents.get(ConsentKind.TRANSFER_ABROAD)
    if (f.case.life.centre != centre or transfer is None
            or centre not in {c.value for c in transfer.centre_ids} or f.case.status in STOPPING):
        raise NotFound(f"case {f.case.case_id} not found")
    return row


def _decrypt(rt: IntakeRuntime, conn: Conn, row: Row, blob: bytes, context: str) -> bytes:
    try:
        return rt.vault.decrypt(conn, row["patient_ref"], blob, context)
    except KeyShredded:
        raise Rejected("the patient's personal data was erased", "patient_erased") from None


def _question(rt: IntakeRuntime, conn: Conn, row: Row, case_id: UUID) -> str | None:
    return _decrypt(rt, conn, row, bytes(row["question"]), f"question:{case_id}").decode() \
        if row["question"] else None


def _identity(rt: IntakeRuntime, conn: Conn, row: Row) -> dict[str, Any]:
    ref = row["patient_ref"]
    blob = rt.rows.identity(conn, ref)
    return json.loads(_decrypt(rt, conn, row, blob, f"identity:{ref}")) if blob else {}


def _age(identity: dict[str, Any], on: date | None) -> tuple[int, int, int] | None:
    born = identity.get("date_of_birth")
    return recipe.age_on(date.fromisoformat(born), on) if born and on else None


def age_years(identity: dict[str, Any], on: date | None) -> int | None:
    """The patient's age in whole years on `on`, from the date of birth intake keeps encrypted."""
    age = _age(identity, on)
    return age[0] if age else None


def _dicom_patient(case_id: UUID, identity: dict[str, Any], study_date: date | None) -> recipe.Patient:
    age = _age(identity, study_date)
    return recipe.Patient(f"CASE-{case_id}", age=recipe.dicom_age(*age) if age else None,
                          sex=_DICOM_SEX.get(identity.get("sex") or ""))


def _media_type(record: RecordsReceived, data: bytes) -> str:
    if record.kind is RecordKind.IMAGING:
        return "application/dicom"
    return "application/pdf" if data.startswith(b"%PDF") else "application/octet-stream"


def _centre_copy(rt: IntakeRuntime, conn: Conn, f: CaseFile, row: Row, record: RecordsReceived,
                 identity: dict[str, Any]) -> tuple[bytes | None, Served]:
    """The file a centre receives, decrypted (None when held), and its facts."""
    stored = rt.rows.record_file(conn, f.case.case_id, record.record_id)
    if stored is None:
        raise NotFound(f"record {record.record_id} of case {f.case.case_id} has no file")
    data = _decrypt(rt, conn, row, rt.objects.get(stored["path"]), f"record:{stored['sha256']}")
    media_type = _media_type(record, data)
    if record.kind is RecordKind.IMAGING:
        try:
            data = recipe.deidentify(data, secret=rt.uid_secret, case_key=str(f.case.case_id),
                                     patient=_dicom_patient(f.case.case_id, identity, record.study_date))
        except recipe.Held as held:
            return None, Served(media_type, None, None, held.reason)
    return data, Served(media_type, hashlib.sha256(data).hexdigest(), len(data))


def served(rt: IntakeRuntime, conn: Conn, f: CaseFile, row: Row) -> dict[UUID, Served]:
    """What a centre receives of each record with a file, derived once per recipe."""
    out: dict[UUID, Served] = {}
    identity: dict[str, Any] | None = None
    for record in f.case.records:
        if record.sha256 is None:
            continue
        known = rt.rows.served_file(conn, record.record_id, RECIPE)
        if known is None:
            identity = _identity(rt, conn, row) if identity is None else identity
            try:
                _, fresh = _centre_copy(rt, conn, f, row, record, identity)
            except NotFound:
                continue  # a record without a stored file: nothing to serve
            rt.rows.save_served_file(conn, record.record_id, RECIPE, fresh.media_type, fresh.sha256,
                                     fresh.size_bytes, fresh.held)
            out[record.record_id] = fresh
        else:
            out[record.record_id] = Served(known["media_type"], known["sha256"], known["size_bytes"], known["held"])
    return out


def _record_view(record: RecordsReceived, copy: Served | None, centre: str | None,
                 identity: dict[str, Any]) -> dict[str, Any]:
    # The coordinator sees the original's hash and size; a centre only those of its own copy.
    if centre is None:
        sha256, size = record.sha256, record.size_bytes
    else:
        sha256, size = (copy.sha256, copy.size_bytes) if copy else (None, None)
    view: dict[str, Any] = {
        "record_id": record.record_id, "kind": record.kind.value, "modality": record.modality,
        "study_date": record.study_date, "has_file": record.sha256 is not None,
        "media_type": copy.media_type if copy else None, "size_bytes": size, "sha256": sha256,
        "held": copy.held if copy else None}
    if record.kind is RecordKind.IMAGING:
        view["patient_age_years"] = age_years(identity, record.study_date)
    return view


def package(rt: IntakeRuntime, conn: Conn, case_id: UUID, centre: str | None) -> dict[str, Any]:
    f = load(rt, conn, case_id).state
    row = readable(rt, conn, f, centre)
    opened = f.case.opened
    assert opened is not None and f.case.opened_at is not None
    question = _question(rt, conn, row, case_id)
    identity = _identity(rt, conn, row)
    copies = served(rt, conn, f, row)
    if centre is not None:
        rt.rows.record_access(conn, case_id, None, centre, rt.store.clock(), actor.current_id())
    return {
        "case_id": case_id, "question": question, "question_topics": [t.value for t in opened.question_topics],
        "tumour_site": opened.tumour_site.value, "histology": opened.histology.value,
        "rare_tumour": opened.is_rare_tumour, "stage_group": opened.stage_group.value,
        "referral_reasons": [r.value for r in opened.referral_reasons],
        # What a reviewer needs of the person and the profile lets leave: the age when the case
        # opened, and the sex; each imaging record also gives the age at its study date.
        "patient": {"age_years": age_years(identity, f.case.opened_at.date()), "sex": identity.get("sex")},
        "records": [_record_view(r, copies.get(r.record_id), centre, identity) for r in f.case.records],
    }


def record_content(rt: IntakeRuntime, conn: Conn, case_id: UUID, record_id: UUID, centre: str | None) -> RecordContent:
    """The file of one record, decrypted; DICOM that leaves for a centre is de-identified first."""
    f = load(rt, conn, case_id).state
    row = readable(rt, conn, f, centre)
    record = next((r for r in f.case.records if r.record_id == record_id), None)
    if record is None or record.sha256 is None:
        raise NotFound(f"record {record_id} of case {case_id} has no file")
    if centre is None:
        stored = rt.rows.record_file(conn, case_id, record_id)
        if stored is None:
            raise NotFound(f"record {record_id} of case {case_id} has no file")
        data = _decrypt(rt, conn, row, rt.objects.get(stored["path"]), f"record:{stored['sha256']}")
        return RecordContent(data, _media_type(record, data), False)
    copy, facts = _centre_copy(rt, conn, f, row, record, _identity(rt, conn, row))
    if copy is None:
        raise Rejected(f"record {record_id} is held for the coordinator and not served to a centre: {facts.held}",
                       facts.held or "held", field="record_id")
    rt.rows.save_served_file(conn, record_id, RECIPE, facts.media_type, facts.sha256, facts.size_bytes, facts.held)
    rt.rows.record_access(conn, case_id, record_id, centre, rt.store.clock(), actor.current_id())
    return RecordContent(copy, facts.media_type, record.kind is RecordKind.IMAGING)


def fhir_bundle(rt: IntakeRuntime, conn: Conn, case_id: UUID, centre: str | None) -> dict[str, Any]:
    """The case as a validated FHIR R4B Bundle; the Patient (identity) only for the coordinator.

    A centre's export is a read of the package (the question and the record list), recorded as one."""
    f = load(rt, conn, case_id).state
    row = readable(rt, conn, f, centre)
    status = f.case.status
    if status is Status.ERASED:
        raise Rejected("the patient's personal data was erased", "patient_erased")
    identity = patient_details(rt, conn, case_id)["identity"] if centre is None else None
    copies = served(rt, conn, f, row)
    files = {r.record_id: _export_file(r, copies[r.record_id], centre) for r in f.case.records if r.record_id in copies}
    life = f.case.life
    export = fhir.CaseForExport(
        case=f.case, status=status, centre_id=life.centre, accepted=life.clock.accepted,
        waiting_on_patient=life.information_open, finally_declined=status is Status.DECLINED_BY_ALL_CENTRES,
        delivered=f.delivered, documents=rt.worklist.documents(conn, case_id), files=files,
        identity=identity, question=_question(rt, conn, row, case_id),
        updated_at=life.updated_at or rt.store.clock(), exported_at=rt.store.clock(),
        review_url=rt.settings.review_url)
    bundle = fhir.validated(fhir.build_bundle(export))
    if centre is not None:
        rt.rows.record_access(conn, case_id, None, centre, rt.store.clock(), actor.current_id())
    return bundle


def _export_file(record: RecordsReceived, copy: Served, centre: str | None) -> fhir.RecordFile:
    if centre is None:
        return fhir.RecordFile(copy.media_type, record.sha256, record.size_bytes, None)
    return fhir.RecordFile(copy.media_type, copy.sha256, copy.size_bytes, copy.held)


def accesses(rt: IntakeRuntime, conn: Conn, case_id: UUID) -> list[Row]:
    load(rt, conn, case_id)
    return rt.rows.accesses(conn, case_id)
