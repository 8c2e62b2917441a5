"""The case package on fakes: who reads it, and that each reader is told of the file it receives."""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, date, datetime
from typing import Any, cast
from uuid import UUID, uuid4

import pydicom
import pydicom.examples
import pytest

from events.codes import CentreId, ConsentKind, RecordKind, ReferralReason
from events.contract import CaseDeclined, CaseOpened, CaseRouted, ConsentGiven, RecordsReceived
from services.common.errors import NotFound, Rejected
from services.intake import application, exchange
from tests.unit.fakes import (
    CONN,
    FakeIntakeRows,
    FakeWorklist,
    Upstream,
    deliver,
    intake_runtime,
)

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
PERSON = {"name": "Ada Example", "date_of_birth": "1961-04-17", "sex": "female"}
REQUIRED = [RecordKind.PATHOLOGY_REPORT, RecordKind.PATHOLOGY_SLIDES, RecordKind.TREATMENT_HISTORY,
            RecordKind.ONCOLOGIST_LETTER, RecordKind.ONCOLOGIST_LETTER]


@pytest.fixture
def rt() -> application.IntakeRuntime:
    return intake_runtime(T0)


def upload(rt: application.IntakeRuntime, case_id: UUID, kind: RecordKind, data: bytes,
           study_date: date | None = None) -> UUID:
    record = RecordsReceived(record_id=uuid4(), kind=kind, sha256=application.sha256_hex(data), size_bytes=len(data),
                             modality="CT" if study_date else None, study_date=study_date)
    application.add_record(rt, CONN, case_id, record, data, T0, None)
    return record.record_id


def ct(**attributes: Any) -> bytes:
    ds = pydicom.dcmread(pydicom.examples.get_path("ct"))
    ds.PatientName, ds.PatientID = "Example^Ada", "MRN-4242"
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def dicom_case(rt: application.IntakeRuntime, dicom: bytes | None = None, person: dict[str, Any] | None = None
               ) -> tuple[UUID, UUID]:
    opened = CaseOpened(patient_ref=application.new_patient_ref(), tumour_site="lung", rare_tumour=False,
                        stage_group="III", referral_reasons=[ReferralReason.STAGE_BORDERLINE], patient_country="AU",
                        language="en")
    done = application.open_case(rt, CONN, opened, person or PERSON, "Is surgery still possible?", T0)
    case_id = done.state.case.case_id
    upload(rt, case_id, RecordKind.PATHOLOGY_REPORT, b"%PDF-1.4 the pathology report")
    for kind in REQUIRED[1:]:
        application.add_record(rt, CONN, case_id, RecordsReceived(record_id=uuid4(), kind=kind), None, T0, None)
    for consent, centres in ((ConsentKind.HEALTH_DATA_PROCESSING, []), (ConsentKind.TRANSFER_ABROAD, [CentreId.CAMS])):
        given = ConsentGiven(consent=consent, text_version="v1", centre_ids=centres)
        application.give_consent(rt, CONN, case_id, given, T0, None)
    return case_id, upload(rt, case_id, RecordKind.IMAGING, dicom or ct(), date(2026, 2, 1))


def assigned(rt: application.IntakeRuntime, case_id: UUID, centre: CentreId, attempt: int = 1) -> None:
    deliver(cast(FakeWorklist, rt.worklist).consumer(), Upstream("routing").emit(
        case_id, CaseRouted(centre_id=centre, reason_codes=["specialty_fit"], attempt=attempt), T0))


def record(body: dict[str, Any], record_id: UUID) -> dict[str, Any]:
    return next(r for r in body["records"] if r["record_id"] == record_id)


def test_the_assigned_consented_centre_reads_the_package_and_each_read_is_recorded(rt: application.IntakeRuntime):
    case_id, record_id = dicom_case(rt)
    assigned(rt, case_id, CentreId.CAMS)
    body = exchange.package(rt, CONN, case_id, "cams")
    assert body["question"] == "Is surgery still possible?" and body["tumour_site"] == "lung"
    assert {r["kind"] for r in body["records"]} >= {"imaging", "pathology_report"}
    content = exchange.record_content(rt, CONN, case_id, record_id, "cams")
    assert content.deidentified and content.media_type == "application/dicom"
    seen = pydicom.dcmread(io.BytesIO(content.data))
    assert seen.PatientName == f"CASE-{case_id}" and seen.PatientIdentityRemoved == "YES"
    assert [(a["centre_id"], a["what"], a["record_id"]) for a in exchange.accesses(rt, CONN, case_id)] == [
        ("cams", "package", None), ("cams", "record", record_id)]


def test_the_centre_is_told_the_hash_and_size_of_its_copy_and_never_the_originals(rt: application.IntakeRuntime):
    original = ct()
    case_id, record_id = dicom_case(rt, original)
    assigned(rt, case_id, CentreId.CAMS)
    theirs = record(exchange.package(rt, CONN, case_id, "cams"), record_id)
    content = exchange.record_content(rt, CONN, case_id, record_id, "cams")
    assert (theirs["sha256"], theirs["size_bytes"]) == (hashlib.sha256(content.data).hexdigest(), len(content.data))
    assert theirs["sha256"] != hashlib.sha256(original).hexdigest() and theirs["size_bytes"] != len(original)
    mine = record(exchange.package(rt, CONN, case_id, None), record_id)
    assert (mine["sha256"], mine["size_bytes"]) == (hashlib.sha256(original).hexdigest(), len(original))
    # The same scan in another case: the centre's copies share no hash, so nothing links the two cases.
    other, other_record = dicom_case(rt, original)
    assigned(rt, other, CentreId.CAMS)
    assert record(exchange.package(rt, CONN, other, "cams"), other_record)["sha256"] != theirs["sha256"]


def test_a_copy_derived_by_another_recipe_is_derived_anew(rt: application.IntakeRuntime):
    case_id, record_id = dicom_case(rt)
    assigned(rt, case_id, CentreId.CAMS)
    served = cast(FakeIntakeRows, rt.rows).served
    stated = record(exchange.package(rt, CONN, case_id, "cams"), record_id)["sha256"]
    served[record_id] |= {"recipe": "an-older-recipe", "sha256": "0" * 64}
    assert record(exchange.package(rt, CONN, case_id, "cams"), record_id)["sha256"] == stated
    assert served[record_id]["recipe"] == exchange.RECIPE


def test_the_package_gives_the_patients_age_and_sex_and_the_served_dicom_carries_them(rt: application.IntakeRuntime):
    case_id, record_id = dicom_case(rt)
    assigned(rt, case_id, CentreId.CAMS)
    body = exchange.package(rt, CONN, case_id, "cams")
    assert body["patient"] == {"age_years": 64, "sex": "female"}  # on 2026-03-02, born 1961-04-17
    assert record(body, record_id)["patient_age_years"] == 64  # at the study date, 2026-02-01
    seen = pydicom.dcmread(io.BytesIO(exchange.record_content(rt, CONN, case_id, record_id, "cams").data))
    assert (seen.PatientAge, seen.PatientSex) == ("064Y", "F")
    unknown, unknown_record = dicom_case(rt, person={"name": "No Sex Given", "date_of_birth": "1990-02-01"})
    assigned(rt, unknown, CentreId.CAMS)
    assert exchange.package(rt, CONN, unknown, "cams")["patient"] == {"age_years": 36, "sex": None}
    seen = pydicom.dcmread(io.BytesIO(exchange.record_content(rt, CONN, unknown, unknown_record, "cams").data))
    assert (seen.PatientAge, seen.PatientSex) == ("036Y", "")


def test_a_file_with_burned_in_annotation_is_held_for_the_coordinator(rt: application.IntakeRuntime):
    original = ct(BurnedInAnnotation="YES")
    case_id, record_id = dicom_case(rt, original)
    assigned(rt, case_id, CentreId.CAMS)
    theirs = record(exchange.package(rt, CONN, case_id, "cams"), record_id)
    assert theirs["held"] == "burned_in_annotation" and theirs["sha256"] is None and theirs["size_bytes"] is None
    with pytest.raises(Rejected) as refused:
        exchange.record_content(rt, CONN, case_id, record_id, "cams")
    assert refused.value.code == "burned_in_annotation" and refused.value.field == "record_id"
    assert [a["what"] for a in exchange.accesses(rt, CONN, case_id)] == ["package"]  # nothing was served
    mine = exchange.record_content(rt, CONN, case_id, record_id, None)
    assert mine.data == original and not mine.deidentified
    assert record(exchange.package(rt, CONN, case_id, None), record_id)["held"] == "burned_in_annotation"


def test_a_pdf_record_is_typed_as_a_pdf(rt: application.IntakeRuntime):
    case_id, _ = dicom_case(rt)
    assigned(rt, case_id, CentreId.CAMS)
    report = next(r for r in exchange.package(rt, CONN, case_id, "cams")["records"] if r["kind"] == "pathology_report")
    assert report["media_type"] == "application/pdf"
    assert report["sha256"] == hashlib.sha256(b"%PDF-1.4 the pathology report").hexdigest()


def test_the_coordinator_gets_the_original_file_and_leaves_no_access_row(rt: application.IntakeRuntime):
    case_id, record_id = dicom_case(rt)
    content = exchange.record_content(rt, CONN, case_id, record_id, None)
    assert not content.deidentified and b"Example^Ada" in content.data
    assert exchange.accesses(rt, CONN, case_id) == []


def test_another_centre_a_declined_one_or_a_rerouted_one_gets_not_found(rt: application.IntakeRuntime):
    case_id, _ = dicom_case(rt)  # the patient consented to CAMS only
    assigned(rt, case_id, CentreId.CAMS)
    with pytest.raises(NotFound):
        exchange.package(rt, CONN, case_id, "fuscc")
    deliver(cast(FakeWorklist, rt.worklist).consumer(), Upstream("review").emit(
        case_id, CaseDeclined(centre_id=CentreId.CAMS, reason="at_capacity"), T0))
    with pytest.raises(NotFound):
        exchange.package(rt, CONN, case_id, "cams")
    assigned(rt, case_id, CentreId.SYSUCC, attempt=2)  # routed to a centre the consent does not name
    with pytest.raises(NotFound):
        exchange.package(rt, CONN, case_id, "sysucc")


def test_access_ends_at_once_with_the_consent_or_the_patients_data(rt: application.IntakeRuntime):
    case_id, record_id = dicom_case(rt)
    assigned(rt, case_id, CentreId.CAMS)
    exchange.package(rt, CONN, case_id, "cams")
    application.withdraw_consent(rt, CONN, case_id, ConsentKind.TRANSFER_ABROAD, T0, None)
    with pytest.raises(NotFound):
        exchange.record_content(rt, CONN, case_id, record_id, "cams")
    other, _ = dicom_case(rt)
    assigned(rt, other, CentreId.CAMS)
    application.erase_patient(rt, CONN, application.load(rt, CONN, other).state.case.opened.patient_ref, T0)  # type: ignore[union-attr]
    with pytest.raises(NotFound):
        exchange.package(rt, CONN, other, "cams")
    with pytest.raises(Rejected):
        exchange.package(rt, CONN, other, None)  # the coordinator learns why: the data was erased
