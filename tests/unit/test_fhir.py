"""The FHIR export's mapping and its own terminology checks, and the worklist's cursor: pure, no server."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest
from fhir.resources.R4B.bundle import Bundle

from events.contract import CaseOpened, ConsentGiven, ConsentWithdrawn, RecordsReceived
from events.lifecycle import Status
from services.intake import fhir
from services.intake.domain import Case

T = datetime(2026, 3, 2, 9, tzinfo=UTC)


def case() -> Case:
    c = Case(uuid4())
    c.apply(CaseOpened(patient_ref="pr_" + "a" * 32, tumour_site="breast", rare_tumour=False, stage_group="II",
                       referral_reasons=["stage_borderline"], patient_country="GB", language="en"), T)
    c.apply(ConsentGiven(consent="health_data_processing", text_version="v2026_1"), T)
    c.apply(ConsentGiven(consent="transfer_abroad", text_version="v2026_1", centre_ids=["fuscc", "wch"]), T)
    c.apply(RecordsReceived(record_id=uuid4(), kind="imaging", sha256="c" * 64, size_bytes=512, modality="CT"), T)
    return c


def export(**changes: Any) -> fhir.CaseForExport:
    base = fhir.CaseForExport(
        case=case(), status=Status.READY_FOR_REVIEW, centre_id="fuscc", accepted=False, waiting_on_patient=False,
        finally_declined=False, delivered=None, documents=[], identity={"name": "Amelia Hart", "date_of_birth":
                                                                        "1961-04-17"},
        question="Is surgery first right?", updated_at=T)
    return replace(base, **changes)


def resources(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def report(version: int | None, kind: str = "report") -> dict[str, Any]:
    return {"document_id": uuid4(), "kind": kind, "version": version, "sha256": "d" * 64, "size_bytes": 2048,
            "page_count": 6, "stored_at": T}


@pytest.mark.parametrize(("changes", "status"), [
    ({"status": Status.COLLECTING_RECORDS, "centre_id": None}, "draft"),
    ({}, "requested"),
    ({"accepted": True}, "in-progress"),
    ({"accepted": True, "waiting_on_patient": True}, "on-hold"),
    ({"centre_id": None, "finally_declined": True}, "rejected"),
    ({"status": Status.REVIEW_DELIVERED}, "completed"),
    ({"status": Status.TREATMENT_BOOKED}, "completed"),
    ({"status": Status.WITHDRAWN}, "cancelled"),
    ({"status": Status.EXPIRED}, "cancelled"),
])
def test_the_task_status_follows_the_documented_mapping(changes: dict[str, Any], status: str):
    bundle = fhir.validated(fhir.build_bundle(export(**changes)))
    task = resources(bundle, "Task")[0]
    assert task["status"] == status
    assert task["businessStatus"]["coding"][0]["code"] == export(**changes).status.value


def test_every_status_of_a_case_maps_to_a_task_status_in_the_value_set():
    allowed = fhir.REQUIRED_CODES[("Task", "status")]
    for status in Status:
        for accepted in (False, True):
            assert fhir.task_status(export(status=status, accepted=accepted)) in allowed


def test_the_coordinators_bundle_holds_the_patient_and_the_centres_a_pseudonym():
    mine = fhir.validated(fhir.build_bundle(export()))
    theirs = fhir.validated(fhir.build_bundle(export(identity=None)))
    Bundle.model_validate(mine)
    assert resources(mine, "Patient")[0]["name"] == [{"text": "Amelia Hart"}]
    assert resources(theirs, "Patient") == []
    assert "Amelia" not in str(theirs)
    subject = resources(theirs, "ServiceRequest")[0]["subject"]
    assert subject["identifier"]["value"].startswith("CASE-")


def test_consents_name_the_centres_abroad_and_a_withdrawn_one_is_inactive():
    c = case()
    c.apply(ConsentWithdrawn(consent="transfer_abroad"), T)
    consents = {r["category"][1]["coding"][0]["code"]: r
                for r in resources(fhir.validated(fhir.build_bundle(export(case=c))), "Consent")}
    assert consents["health_data_processing"]["status"] == "active"
    transfer = consents["transfer_abroad"]
    assert transfer["status"] == "inactive"
    assert [a["reference"]["identifier"]["value"] for a in transfer["provision"]["actor"]] == ["fuscc", "wch"]


def test_report_versions_replace_each_other_and_an_addendum_appends_to_the_first():
    first, second, addendum = report(1), report(2), report(None, "addendum")
    bundle = fhir.validated(fhir.build_bundle(export(status=Status.REVIEW_DELIVERED,
                                                     documents=[first, second, addendum])))
    docs = {r["id"]: r for r in resources(bundle, "DocumentReference")}
    assert docs[str(first["document_id"])]["status"] == "superseded"
    newer = docs[str(second["document_id"])]
    assert (newer["status"], newer["docStatus"]) == ("current", "amended")
    assert newer["relatesTo"][0]["code"] == "replaces"
    assert docs[str(addendum["document_id"])]["relatesTo"][0] == {
        "code": "appends", "target": {"reference": f"urn:uuid:{first['document_id']}", "type": "DocumentReference"}}
    task = resources(bundle, "Task")[0]
    assert len(task["output"]) == 2


def test_the_centre_is_an_organization_in_the_bundle_so_every_reference_to_it_resolves():
    bundle = fhir.validated(fhir.build_bundle(export(accepted=True, documents=[report(1)])))
    urls = {e["fullUrl"] for e in bundle["entry"]}
    organisations = {r["identifier"][0]["value"]: r for r in resources(bundle, "Organization")}
    assert set(organisations) == {"fuscc", "wch"}  # the owner, and each centre the transfer consent names
    task = resources(bundle, "Task")[0]
    owner = task["owner"]["reference"]
    assert owner in urls and owner == f"urn:uuid:{organisations['fuscc']['id']}"
    consent = next(r for r in resources(bundle, "Consent") if "actor" in r["provision"])
    assert all(a["reference"]["reference"] in urls for a in consent["provision"]["actor"])
    assert all(d["author"][0]["reference"] in urls for d in resources(bundle, "DocumentReference") if "author" in d)
    # The same centre is the same Organization in every case's bundle.
    again = fhir.validated(fhir.build_bundle(export()))
    assert {r["id"] for r in resources(again, "Organization")} == {r["id"] for r in organisations.values()}


def test_reports_and_addenda_link_to_reviews_api_and_every_pdf_is_typed_as_one():
    first, second, addendum = report(1), report(2), report(None, "addendum")
    c = case()
    pdf = RecordsReceived(record_id=uuid4(), kind="pathology_report", sha256="e" * 64, size_bytes=99)
    c.apply(pdf, T)
    files = {pdf.record_id: fhir.RecordFile("application/pdf", "e" * 64, 99, None)}
    bundle = fhir.validated(fhir.build_bundle(export(case=c, documents=[first, second, addendum], files=files,
                                                     review_url="https://review.example")))
    docs = {r["id"]: r["content"][0]["attachment"] for r in resources(bundle, "DocumentReference")}
    cid = c.case_id
    assert docs[str(first["document_id"])]["url"] == f"https://review.example/cases/{cid}/report?version=1"
    assert docs[str(second["document_id"])]["url"] == f"https://review.example/cases/{cid}/report?version=2"
    assert docs[str(addendum["document_id"])]["url"] == \
        f"https://review.example/cases/{cid}/documents/{addendum['document_id']}"
    assert docs[str(pdf.record_id)] == {"contentType": "application/pdf", "size": 99, "title": "pathology_report",
                                        "url": f"/cases/{cid}/records/{pdf.record_id}/content"}


def test_a_record_gives_the_hash_and_size_of_the_file_its_reader_receives_and_a_held_one_no_url():
    c = case()
    imaging = c.records[0]
    original = str(imaging.sha256)
    served = fhir.RecordFile("application/dicom", "f" * 64, 400, None)
    bundle = fhir.validated(fhir.build_bundle(export(case=c, identity=None, files={imaging.record_id: served})))
    doc = resources(bundle, "DocumentReference")[0]
    assert {"system": f"{fhir.OURS}:sha256", "value": "f" * 64} in doc["identifier"]
    assert original not in str(bundle) and doc["content"][0]["attachment"]["size"] == 400
    held = fhir.RecordFile("application/dicom", None, None, "burned_in_annotation")
    doc = resources(fhir.validated(fhir.build_bundle(export(case=c, identity=None, files={imaging.record_id: held}))),
                    "DocumentReference")[0]
    assert "url" not in doc["content"][0]["attachment"] and "burned_in_annotation" in doc["description"]
    assert original not in str(doc)


def test_the_bundles_timestamp_never_predates_its_newest_content():
    later = T.replace(month=5)  # a report stored after the export's clock (simulated time runs ahead)
    bundle = fhir.validated(fhir.build_bundle(export(documents=[report(1) | {"stored_at": later}], exported_at=T)))
    assert datetime.fromisoformat(bundle["timestamp"]) == later
    assert datetime.fromisoformat(resources(bundle, "Task")[0]["lastModified"]) == later
    now = T.replace(month=6)
    assert datetime.fromisoformat(fhir.build_bundle(export(exported_at=now))["timestamp"]) == now


def test_the_coordinators_patient_has_the_sex_intake_recorded():
    bundle = fhir.validated(fhir.build_bundle(export(identity={"name": "A", "date_of_birth": "1961-04-17",
                                                               "sex": "female"})))
    assert resources(bundle, "Patient")[0]["gender"] == "female"


def test_a_broken_mapping_fails_the_export_instead_of_sending_invalid_fhir():
    good = fhir.build_bundle(export())
    # fhir.resources itself takes any Task.status; our check does not.
    bogus = copy.deepcopy(good)
    next(e for e in bogus["entry"] if e["resource"]["resourceType"] == "Task")["resource"]["status"] = "bogus"
    Bundle.model_validate(bogus)
    with pytest.raises(fhir.FhirMappingError, match=r"Task\.status"):
        fhir.validated(bogus)
    wrong_consent = copy.deepcopy(good)
    next(e for e in wrong_consent["entry"] if e["resource"]["resourceType"] == "Consent")["resource"][
        "provision"]["type"] = "maybe"
    with pytest.raises(fhir.FhirMappingError, match=r"provision\.type"):
        fhir.validated(wrong_consent)
    # And what the library does check (types, structure) fails as a mapping error too.
    broken = copy.deepcopy(good)
    next(e for e in broken["entry"] if e["resource"]["resourceType"] == "Task")["resource"]["authoredOn"] = "soon"
    with pytest.raises(fhir.FhirMappingError):
        fhir.validated(broken)
