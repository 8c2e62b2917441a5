"""The case package on the real stack: the assigned centre reads it, nobody else, and every read is listed."""

from __future__ import annotations

import io
from typing import Any
from uuid import UUID

import pydicom

from tests.integration.conftest import CT_DICOM, Api, make_ready, open_case, wait_for


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
