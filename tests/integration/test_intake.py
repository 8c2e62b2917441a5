"""Intake as the programme's front door: records, consent, decisions, idempotency, erasure."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from uuid import UUID, uuid4

import pydicom.examples
import pytest

from events.registry import build_registry
from infra.stack import ROOT, Stack
from tests.integration.conftest import (
    BOOKING,
    NEW_CASE,
    PATIENT,
    SENSITIVE_QUESTION,
    Api,
    consent,
    delivered_case,
    make_ready,
    open_case,
    stored_keys,
    stored_object,
    upload,
    wait_for,
    wait_until_projected,
)


def event_count(db, case_id: UUID) -> int:
    return int(db.execute("SELECT count(*) AS n FROM intake.events WHERE case_id = %s", (case_id,)).fetchone()["n"])


def test_a_real_dicom_study_is_accepted_with_its_modality_and_study_date(api: Api):
    case_id = open_case(api)
    mr = Path(pydicom.examples.get_path("mr")).read_bytes()
    r = upload(api, case_id, "imaging", mr)
    assert r.status_code == 201, r.text
    [record] = r.json()["checklist"]["records"]
    assert record["modality"] == "MR" and record["study_date"] == "2004-08-26"
    assert len(record["sha256"]) == 64 and record["size_bytes"] == len(mr)


@pytest.mark.parametrize("content", [b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF", os.urandom(4096),
                                     Path(pydicom.examples.get_path("rt_dose")).read_bytes()],
                         ids=["pdf", "random-bytes", "dicom-of-a-non-staging-modality"])
def test_anything_but_staging_dicom_posted_as_imaging_is_rejected_and_nothing_is_stored(
        api: Api, db, stack: Stack, content: bytes):
    case_id = open_case(api)
    events, files = event_count(db, case_id), stored_keys(stack)
    r = upload(api, case_id, "imaging", content)
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["field"] == "file"
    assert event_count(db, case_id) == events
    assert stored_keys(stack) == files


def test_an_oversized_or_empty_upload_is_rejected_and_nothing_is_stored(api: Api, db, stack: Stack):
    case_id = open_case(api)
    events, files = event_count(db, case_id), stored_keys(stack)
    too_big = b"%PDF-1.4 " + b"x" * int(os.environ["INTAKE_MAX_RECORD_BYTES"])
    for content in (b"", too_big):
        r = upload(api, case_id, "treatment_history", content)
        assert (r.status_code, r.json()["field"]) == (422, "file")
    assert event_count(db, case_id) == events
    assert stored_keys(stack) == files


def test_records_are_stored_content_addressed_and_encrypted(api: Api, db, stack: Stack):
    case_id = open_case(api)
    content = f"%PDF-1.4 pathology report of {PATIENT['name']}".encode()
    r = upload(api, case_id, "pathology_report", content)
    sha = r.json()["checklist"]["records"][0]["sha256"]
    row = db.execute("SELECT path FROM intake.record_files WHERE case_id = %s", (case_id,)).fetchone()
    assert row["path"].endswith(f"/{sha}")  # in the object store, under its content's hash
    stored = stored_object(stack, row["path"])
    assert PATIENT["name"].encode() not in stored and len(stored) > len(content)


def test_the_case_view_shows_the_checklist_and_consent(api: Api):
    case_id = open_case(api, referral_reasons=["genomic_guided"], question=None)
    view = api.call("intake", "GET", f"/cases/{case_id}").json()
    assert view["checklist"]["missing"] == {"pathology_report": 1, "pathology_slides": 1, "imaging": 1,
                                            "treatment_history": 1, "oncologist_letter": 2, "genomic_report": 1,
                                            "question": 1}
    assert view["consented"] is False
    consent(api, case_id, ["fuscc"])
    view = api.call("intake", "GET", f"/cases/{case_id}").json()
    assert view["consented"] is True
    assert view["consents"]["transfer_abroad"]["centre_ids"] == ["fuscc"]


def test_glass_slides_are_tracked_from_shipment_to_receipt(api: Api):
    case_id = open_case(api)
    consent(api, case_id)
    for kind in ["pathology_report", "imaging", "treatment_history", "oncologist_letter", "oncologist_letter"]:
        upload(api, case_id, kind)
    shipped = api.call("intake", "POST", f"/cases/{case_id}/slide-shipments", json={"slide_count": 14})
    shipment = shipped.json()["checklist"]["glass_slide_shipments"][0]
    assert shipment["received"] is False and shipped.json()["checklist"]["complete"] is False
    received = api.call("intake", "POST", f"/cases/{case_id}/slide-shipments/{shipment['shipment_id']}/receipt",
                        json={})
    assert received.status_code == 200, received.text
    assert received.json()["checklist"]["complete"] is True
    assert received.json()["status"] == "ready_for_review"


def test_a_case_without_consent_is_not_sent_to_a_centre(api: Api, db):
    case_id = open_case(api)
    for kind in ["pathology_report", "pathology_slides", "imaging", "treatment_history", "oncologist_letter",
                 "oncologist_letter"]:
        upload(api, case_id, kind)
    api.call("intake", "POST", f"/cases/{case_id}/consents",
             json={"consent": "health_data_processing", "text_version": "v2026_1"})
    # A later case on the same partition proves routing has processed this one's events.
    other = open_case(api)
    make_ready(api, other)
    wait_for(lambda: api.call("routing", "GET", f"/cases/{other}/routing").status_code == 200, what="routing")
    assert api.call("routing", "GET", f"/cases/{case_id}/routing").status_code == 404
    api.call("intake", "POST", f"/cases/{case_id}/consents",
             json={"consent": "transfer_abroad", "text_version": "v2026_1", "centre_ids": ["pkuch"]})
    decision = wait_for(lambda: (r := api.call("routing", "GET", f"/cases/{case_id}/routing")).status_code == 200
                        and r.json(), what="routing once consented")
    assert decision["decisions"][0]["centre_id"] == "pkuch"


def test_consent_withdrawal_stops_processing_at_the_centre(api: Api):
    case_id = open_case(api)
    make_ready(api, case_id, ["fuscc"])
    token = "CENTRE_FUSCC_TOKEN"
    wait_for(lambda: api.call("review", "GET", f"/cases/{case_id}", token=token).status_code == 200,
             what="the assignment")
    r = api.call("intake", "POST", f"/cases/{case_id}/consents/transfer_abroad/withdrawal", json={})
    assert r.status_code == 200 and r.json()["status"] == "withdrawn"
    # The centre learns of it from the stream, then refuses to work on the case.
    wait_for(lambda: api.call("review", "GET", f"/cases/{case_id}", token=token).json()["stopped_by"],
             what="the centre to learn of the withdrawal")
    refused = api.call("review", "POST", f"/cases/{case_id}/acceptance", token=token, json={})
    assert (refused.status_code, refused.json()["code"]) == (409, "processing_stopped")


def test_an_idempotent_retry_returns_the_first_result_and_appends_nothing(api: Api, db):
    key = f"open-{uuid4()}"
    first = api.call("intake", "POST", "/cases", json=NEW_CASE, headers={"Idempotency-Key": key})
    again = api.call("intake", "POST", "/cases", json=NEW_CASE, headers={"Idempotency-Key": key})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    case_id = UUID(first.json()["case_id"])
    assert event_count(db, case_id) == 2
    clash = api.call("intake", "POST", "/cases", json={**NEW_CASE, "tumour_site": "lung"},
                     headers={"Idempotency-Key": key})
    assert clash.status_code == 409 and clash.json()["field"] == "Idempotency-Key"
    assert clash.json()["code"] == "idempotency_key_reused"

    upload_key = f"upload-{uuid4()}"
    content = b"%PDF-1.4 the same letter"
    one = upload(api, case_id, "oncologist_letter", content, headers={"Idempotency-Key": upload_key})
    two = upload(api, case_id, "oncologist_letter", content, headers={"Idempotency-Key": upload_key})
    assert one.json() == two.json()
    assert event_count(db, case_id) == 3


def test_each_illegal_transition_is_a_409_with_a_reason(api: Api):
    case_id = open_case(api)
    r = api.call("intake", "POST", f"/cases/{case_id}/treatment-booking", json=BOOKING)
    assert (r.status_code, r.json()["code"]) == (409, "review_not_delivered")

    delivered = delivered_case(api)
    assert api.call("intake", "POST", f"/cases/{delivered}/treatment-booking", json=BOOKING).status_code == 201
    r = api.call("intake", "POST", f"/cases/{delivered}/treatment-booking", json=BOOKING)
    assert (r.status_code, r.json()["code"]) == (409, "already_booked")

    cancelled = open_case(api)
    assert api.call("intake", "POST", f"/cases/{cancelled}/cancellation",
                    json={"reason": "financial"}).status_code == 200
    for r in (upload(api, cancelled, "imaging"),
              api.call("intake", "POST", f"/cases/{cancelled}/cancellation", json={"reason": "other"}),
              api.call("intake", "POST", f"/cases/{cancelled}/consents",
                       json={"consent": "health_data_processing", "text_version": "v1"}),
              api.call("intake", "POST", f"/cases/{cancelled}/treatment-booking", json=BOOKING),
              api.call("intake", "POST", f"/cases/{cancelled}/closure", json={})):
        assert (r.status_code, r.json()["code"]) == (409, "case_cancelled"), r.text


def test_a_returned_home_case_closes_after_delivery(api: Api):
    case_id = delivered_case(api)
    r = api.call("intake", "POST", f"/cases/{case_id}/closure", json={"reason": "returned_home_refined_plan"})
    assert r.status_code == 200 and r.json()["status"] == "closed"


def test_reminders_and_expiry_follow_event_time(api: Api):
    t0 = "2026-01-05T09:00:00+00:00"
    case_id = open_case(api, occurred_at=t0)
    api.call("intake", "POST", f"/cases/{case_id}/records-requests", json={"occurred_at": t0})
    run = api.call("intake", "POST", "/admin/timers", token="ADMIN_TOKEN", json={"now": "2026-01-09T10:00:00+00:00"})
    assert run.status_code == 200 and run.json()["appended"] >= 1
    view = api.call("intake", "GET", f"/cases/{case_id}").json()
    assert view["checklist"]["reminders_sent"] == 1 and view["status"] == "collecting_records"
    api.call("intake", "POST", "/admin/timers", token="ADMIN_TOKEN", json={"now": "2026-02-10T00:00:00+00:00"})
    assert api.call("intake", "GET", f"/cases/{case_id}").json()["status"] == "expired"
    assert api.call("intake", "POST", "/admin/timers", token="COORDINATOR_TOKEN",
                    json={"now": "2026-02-10T00:00:00+00:00"}).status_code == 403


def test_after_erasure_identity_and_question_are_unreadable_and_projections_still_rebuild(
        api: Api, db, stack: Stack, env):
    case_id = open_case(api)
    upload(api, case_id, "pathology_report")
    details = api.call("intake", "GET", f"/cases/{case_id}/patient").json()
    assert details["identity"]["name"] == PATIENT["name"] and details["question"] == SENSITIVE_QUESTION
    ref = details["patient_ref"]

    assert api.call("intake", "POST", f"/patients/{ref}/erasure", json={}).status_code == 403
    r = api.call("intake", "POST", f"/patients/{ref}/erasure", token="ADMIN_TOKEN", json={})
    assert r.status_code == 200 and r.json()["erased_cases"] == [str(case_id)]

    gone = api.call("intake", "GET", f"/cases/{case_id}/patient")
    assert gone.status_code == 409 and gone.json()["code"] == "patient_erased"
    assert db.execute("SELECT count(*) AS n FROM intake.owner_keys WHERE owner = %s",
                      (ref,)).fetchone()["n"] == 0
    assert api.call("intake", "GET", f"/cases/{case_id}").json()["status"] == "erased"
    # The ciphertexts are still there, but nothing can decrypt them any more.
    row = db.execute("SELECT identity FROM intake.patients WHERE patient_ref = %s", (ref,)).fetchone()
    assert PATIENT["name"].encode() not in bytes(row["identity"])

    # The ledger still replays: every stored event decodes.
    registry = build_registry()
    for r in db.execute("SELECT envelope::text AS e FROM intake.events WHERE case_id = %s", (case_id,)):
        registry.decode(r["e"])
    wait_until_projected(db)
    rebuild = subprocess.run([sys.executable, "-m", "services.analytics.rebuild", "--check"], cwd=ROOT,
                             env=stack.service_env("analytics", env["DATABASE_URL"], env["KAFKA_BOOTSTRAP_SERVERS"]),
                             capture_output=True, text=True, timeout=300)
    assert rebuild.returncode == 0, rebuild.stdout + rebuild.stderr
