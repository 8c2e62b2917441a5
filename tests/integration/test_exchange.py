"""The case package on the real stack: the assigned centre reads it, nobody else, and every read is listed."""

from __future__ import annotations

import hashlib
import io
import json
from typing import Any
from uuid import UUID

import pydicom

from tests.integration.conftest import CT_DICOM, PATIENT, Api, make_ready, open_case, upload, wait_for


def token(centre: str) -> str:
    return f"CENTRE_{centre.upper()}_TOKEN"


def routed_to(api: Api, case_id: UUID, count: int = 1) -> str:
    decisions = wait_for(lambda: (r := api.call("routing", "GET", f"/cases/{case_id}/routing")).status_code == 200
                         and len(r.json()["decisions"]) >= count and r.json()["decisions"], what="routing")
    return str(decisions[count - 1]["centre_id"])


def package_for(api: Api, case_id: UUID, centre: str) -> dict[str, Any]:
    # Intake learns the assignment from routing's event: the package opens to the centre shortly after.
    return wait_for(lambda: (r := api.call("intake", "GET", f"/cases/{case_id}/package", token=token(centre)))
                    .status_code == 200 and r.json(), what=f"the package for {centre}")


def imaging_record(api: Api, case_id: UUID) -> str:
    view = api.call("intake", "GET", f"/cases/{case_id}").json()
    return str(next(r["record_id"] for r in view["checklist"]["records"] if r["kind"] == "imaging"))


def test_the_assigned_centre_reads_the_package_and_a_deidentified_study_and_each_read_is_listed(api: Api):
    case_id = open_case(api)
    make_ready(api, case_id, ["fuscc"])
    centre = routed_to(api, case_id)
    package = package_for(api, case_id, centre)
    assert package["question"] and {r["kind"] for r in package["records"]} >= {"imaging", "pathology_report"}
    record_id = imaging_record(api, case_id)
    r = api.call("intake", "GET", f"/cases/{case_id}/records/{record_id}/content", token=token(centre))
    assert r.status_code == 200 and r.headers["content-type"] == "application/dicom"
    assert r.headers["x-deidentified"] == "true"
    seen, original = pydicom.dcmread(io.BytesIO(r.content)), pydicom.dcmread(io.BytesIO(CT_DICOM))
    assert seen.PatientIdentityRemoved == "YES" and seen.PatientName != original.PatientName
    assert seen.StudyInstanceUID != original.StudyInstanceUID and seen.PixelData == original.PixelData
    # The coordinator gets the file as it was uploaded, and sees the centre's reads.
    mine = api.call("intake", "GET", f"/cases/{case_id}/records/{record_id}/content")
    assert mine.content == CT_DICOM and mine.headers["x-deidentified"] == "false"
    reads = api.call("intake", "GET", f"/cases/{case_id}/accesses").json()
    assert [(a["centre_id"], a["what"]) for a in reads][-2:] == [(centre, "package"), (centre, "record")]
    assert api.call("intake", "GET", f"/cases/{case_id}/accesses", token=token(centre)).status_code == 403


def test_the_centre_is_given_the_hash_and_size_of_what_it_downloads_never_the_originals(api: Api):
    case_id = open_case(api, patient={**PATIENT, "sex": "female"})
    make_ready(api, case_id, ["fuscc"])
    centre = routed_to(api, case_id)
    package = package_for(api, case_id, centre)
    record_id = imaging_record(api, case_id)
    listed = next(r for r in package["records"] if r["record_id"] == record_id)
    r = api.call("intake", "GET", f"/cases/{case_id}/records/{record_id}/content", token=token(centre))
    assert r.status_code == 200, r.text
    assert (listed["sha256"], listed["size_bytes"]) == (hashlib.sha256(r.content).hexdigest(), len(r.content))
    original = hashlib.sha256(CT_DICOM).hexdigest()
    assert listed["size_bytes"] != len(CT_DICOM) and original not in json.dumps(package)
    exported = api.call("intake", "GET", f"/cases/{case_id}/fhir", token=token(centre))
    assert exported.status_code == 200, exported.text
    document = next(e["resource"] for e in exported.json()["entry"] if e["resource"]["id"] == record_id)
    assert {"system": "urn:case-ledger:sha256", "value": listed["sha256"]} in document["identifier"]
    assert document["content"][0]["attachment"]["size"] == len(r.content) and original not in exported.text
    # The coordinator still sees the original's hash and size.
    mine = api.call("intake", "GET", f"/cases/{case_id}/package").json()
    assert next((x["sha256"], x["size_bytes"]) for x in mine["records"] if x["record_id"] == record_id) == (
        original, len(CT_DICOM))
    # The patient's sex from intake's record, and the age at the study date (2004-01-19) in the DICOM.
    assert package["patient"]["sex"] == "female" and listed["patient_age_years"] == 42
    seen = pydicom.dcmread(io.BytesIO(r.content))
    assert (seen.PatientAge, seen.PatientSex) == ("042Y", "F")


def test_a_study_with_burned_in_annotation_is_held_for_the_coordinator(api: Api):
    ds = pydicom.dcmread(io.BytesIO(CT_DICOM))
    ds.BurnedInAnnotation = "YES"
    burned = io.BytesIO()
    ds.save_as(burned, enforce_file_format=True)
    case_id = open_case(api)
    assert upload(api, case_id, "imaging", burned.getvalue()).status_code == 201
    make_ready(api, case_id, ["fuscc"])
    centre = routed_to(api, case_id)
    held = [r for r in package_for(api, case_id, centre)["records"] if r["held"]]
    assert [(r["held"], r["sha256"], r["size_bytes"]) for r in held] == [("burned_in_annotation", None, None)]
    path = f"/cases/{case_id}/records/{held[0]['record_id']}/content"
    refused = api.call("intake", "GET", path, token=token(centre))
    assert refused.status_code == 409 and refused.headers["content-type"] == "application/problem+json"
    assert (refused.json()["code"], refused.json()["field"]) == ("burned_in_annotation", "record_id")
    assert api.call("intake", "GET", path).content == burned.getvalue()  # the coordinator's original
    reads = api.call("intake", "GET", f"/cases/{case_id}/accesses").json()
    assert [a["what"] for a in reads] == ["package"]  # the refusal served nothing


def test_another_centre_gets_not_found_and_the_withdrawal_ends_access_at_once(api: Api):
    case_id = open_case(api)
    make_ready(api, case_id, ["fuscc"])
    centre = routed_to(api, case_id)
    package_for(api, case_id, centre)
    other = api.call("intake", "GET", f"/cases/{case_id}/package", token=token("wch"))
    assert other.status_code == 404 and other.headers["content-type"] == "application/problem+json"
    r = api.call("intake", "POST", f"/cases/{case_id}/consents/transfer_abroad/withdrawal", json={})
    assert r.status_code == 200, r.text
    assert api.call("intake", "GET", f"/cases/{case_id}/package", token=token(centre)).status_code == 404
    record_id = imaging_record(api, case_id)
    assert api.call("intake", "GET", f"/cases/{case_id}/records/{record_id}/content",
                    token=token(centre)).status_code == 404


def test_a_reroute_moves_access_to_the_next_centre(api: Api):
    case_id = open_case(api)
    make_ready(api, case_id, ["fuscc", "pkuch"])
    first = routed_to(api, case_id)
    package_for(api, case_id, first)
    # Review learns the assignment from the same event as intake, in its own consumer: wait for it too.
    wait_for(lambda: api.call("review", "GET", f"/cases/{case_id}", token=token(first)).status_code == 200,
             what="the assignment at review")
    r = api.call("review", "POST", f"/cases/{case_id}/decline", token=token(first), json={"reason": "at_capacity"})
    assert r.status_code == 200, r.text
    second = routed_to(api, case_id, 2)
    assert second != first
    package_for(api, case_id, second)
    assert api.call("intake", "GET", f"/cases/{case_id}/package", token=token(first)).status_code == 404


def test_erasure_ends_the_centres_access(api: Api):
    case_id = open_case(api)
    make_ready(api, case_id, ["fuscc"])
    centre = routed_to(api, case_id)
    package_for(api, case_id, centre)
    ref = api.call("intake", "GET", f"/cases/{case_id}").json()["patient_ref"]
    assert api.call("intake", "POST", f"/patients/{ref}/erasure", token="ADMIN_TOKEN", json={}).status_code == 200
    assert api.call("intake", "GET", f"/cases/{case_id}/package", token=token(centre)).status_code == 404
    assert api.call("intake", "GET", f"/cases/{case_id}/package").status_code == 409  # the coordinator: erased
