"""The report on the real stack: a PDF uploaded by the centre, stored encrypted, delivered by reference,
read by the coordinator; follow-up questions with their own clock; corrections as new versions."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from fhir.resources.R4B.bundle import Bundle

from demo.documents import report_pdf
from tests.integration.conftest import (
    DELIVERY,
    PATIENT,
    Api,
    dated,
    day_before,
    make_ready,
    open_case,
    stored_keys,
    stored_object,
    uploaded_report,
    wait_for,
)

FUSCC = "CENTRE_FUSCC_TOKEN"


def accepted_at_fuscc(api: Api, **accept: Any) -> UUID:
    # A dated acceptance follows the case's routing: the case is opened and routed the day before.
    routed_at = day_before(accept["occurred_at"]) if "occurred_at" in accept else None
    case_id = open_case(api, **dated({"preferred_centre": "fuscc"}, routed_at))
    make_ready(api, case_id, ["fuscc"], routed_at)
    wait_for(lambda: api.call("review", "GET", f"/cases/{case_id}", token=FUSCC).status_code == 200,
             what="the assignment at FUSCC")
    r = api.call("review", "POST", f"/cases/{case_id}/acceptance", token=FUSCC, json=accept)
    assert r.status_code == 200, r.text
    return case_id


def review_events(db: Any, case_id: UUID) -> list[dict[str, Any]]:
    return [r["envelope"] for r in db.execute(
        "SELECT envelope FROM review.events WHERE case_id = %s ORDER BY version", (case_id,)).fetchall()]


def test_the_centre_uploads_a_six_page_report_and_the_coordinator_downloads_those_bytes(api: Api, stack, db):
    case_id = accepted_at_fuscc(api)
    pdf = report_pdf(6)
    r = api.call("review", "POST", f"/cases/{case_id}/report", token=FUSCC,
                 files={"file": ("report.pdf", pdf, "application/pdf")})
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["page_count"], body["sha256"]) == (6, hashlib.sha256(pdf).hexdigest())
    # Stored encrypted, under its content hash: the bucket never holds the PDF itself.
    key = f"reports/{case_id}/{body['sha256']}"
    assert key in stored_keys(stack)
    blob = stored_object(stack, key)
    assert b"%PDF" not in blob and len(blob) > len(pdf)
    r = api.call("review", "POST", f"/cases/{case_id}/delivery", token=FUSCC,
                 json={**DELIVERY, "report_ref": body["document_id"]})
    assert r.status_code == 200, r.text
    delivered = next(e for e in review_events(db, case_id) if e["event_type"] == "ReviewDelivered")
    assert (delivered["payload"]["report_ref"], delivered["payload"]["page_count"]) == (body["document_id"], 6)
    for reader in ("COORDINATOR_TOKEN", FUSCC):
        got = api.call("review", "GET", f"/cases/{case_id}/report", token=reader)
        assert got.status_code == 200 and got.headers["content-type"] == "application/pdf"
        assert got.content == pdf
    assert api.call("review", "GET", f"/cases/{case_id}/report", token="CENTRE_WCH_TOKEN").status_code == 404


def test_a_fake_pdf_a_short_report_without_reason_and_an_unknown_reference_are_refused_and_change_nothing(
        api: Api, db):
    case_id = accepted_at_fuscc(api)
    before = review_events(db, case_id)
    for content, field in ((b"%PDF-1.7 not really a pdf", "file"), (b"GIF89a", "file"), (b"", "file"),
                           (report_pdf(4), "page_count_reason")):
        r = api.call("review", "POST", f"/cases/{case_id}/report", token=FUSCC,
                     files={"file": ("report.pdf", content, "application/pdf")})
        assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json", r.text
        assert r.json()["field"] == field, r.text
    r = api.call("review", "POST", f"/cases/{case_id}/delivery", token=FUSCC,
                 json={**DELIVERY, "report_ref": str(uuid4())})
    assert (r.status_code, r.json()["field"]) == (422, "report_ref")
    r = api.call("review", "POST", f"/cases/{case_id}/delivery", token=FUSCC, json=DELIVERY)
    assert (r.status_code, r.json()["field"]) == (422, "report_ref")
    assert review_events(db, case_id) == before
    # Four pages with a reason is a report.
    uploaded_report(api, case_id, FUSCC, pages=4, reason="single_question_answered")


def test_follow_ups_up_to_three_each_on_its_own_clock_and_answered_by_an_addendum(api: Api, db):
    case_id = accepted_at_fuscc(api, occurred_at="2026-03-02T09:00:00+08:00")
    report = uploaded_report(api, case_id, FUSCC, occurred_at="2026-03-06T08:00:00+08:00")
    r = api.call("review", "POST", f"/cases/{case_id}/delivery", token=FUSCC,
                 json={**DELIVERY, "report_ref": report, "occurred_at": "2026-03-06T09:00:00+08:00"})
    assert r.status_code == 200, r.text
    asked = []
    for n in range(3):
        # Friday 6 March: the three business days are Monday 9 to Wednesday 11 March.
        r = api.call("review", "POST", f"/cases/{case_id}/follow-ups",
                     json={"question": f"Secret follow-up {n}: is radiotherapy needed?",
                           "occurred_at": "2026-03-06T10:00:00+08:00"})
        assert r.status_code == 201, r.text
        assert (r.json()["number"], r.json()["due"]) == (n + 1, "2026-03-11")
        asked.append(r.json()["follow_up_id"])
    r = api.call("review", "POST", f"/cases/{case_id}/follow-ups", json={"question": "A fourth?"})
    assert (r.status_code, r.json()["code"]) == (409, "follow_up_limit")
    assert api.call("review", "POST", f"/cases/{case_id}/follow-ups", token=FUSCC,
                    json={"question": "centres do not ask"}).status_code == 403
    listed = api.call("review", "GET", f"/cases/{case_id}/follow-ups", token=FUSCC).json()
    assert [f["question"] for f in listed] == [f"Secret follow-up {n}: is radiotherapy needed?" for n in range(3)]
    # The first is answered in time; the second breaches its own clock.
    r = api.call("review", "POST", f"/cases/{case_id}/follow-ups/{asked[0]}/addendum", token=FUSCC,
                 data={"occurred_at": "2026-03-10T09:00:00+08:00"},
                 files={"file": ("addendum.pdf", report_pdf(1), "application/pdf")})
    assert r.status_code == 201, r.text
    addendum = r.json()["document_id"]
    for now in ("2026-03-12T00:30:00+08:00", "2026-03-13T09:00:00+08:00"):  # the second sweep adds nothing
        timers = api.call("review", "POST", "/admin/timers", token="ADMIN_TOKEN", json={"now": now})
        assert timers.status_code == 200, timers.text
    states = [f["state"] for f in api.call("review", "GET", f"/cases/{case_id}/follow-ups").json()]
    assert states == ["answered_on_time", "breached", "breached"]
    # At risk and breached, each once, for the two unanswered follow-ups only.
    kinds = [e["event_type"] for e in review_events(db, case_id)]
    assert kinds.count("FollowUpBreached") == 2 and kinds.count("FollowUpAtRisk") == 2
    got = api.call("review", "GET", f"/cases/{case_id}/documents/{addendum}")
    assert got.status_code == 200 and got.content.startswith(b"%PDF")
    # The question's text is in no event.
    assert not any("Secret follow-up" in str(e) for e in review_events(db, case_id))


def test_a_corrected_report_is_a_new_version_and_the_first_stays_downloadable(api: Api):
    case_id = accepted_at_fuscc(api)
    first = report_pdf(6, "first")
    r = api.call("review", "POST", f"/cases/{case_id}/report", token=FUSCC,
                 files={"file": ("report.pdf", first, "application/pdf")})
    api.call("review", "POST", f"/cases/{case_id}/delivery", token=FUSCC,
             json={**DELIVERY, "report_ref": r.json()["document_id"]})
    corrected = report_pdf(7, "corrected")
    r = api.call("review", "POST", f"/cases/{case_id}/report", token=FUSCC,
                 files={"file": ("report.pdf", corrected, "application/pdf")})
    assert r.status_code == 201 and r.json()["version"] == 2, r.text
    latest = api.call("review", "GET", f"/cases/{case_id}/report")
    assert latest.content == corrected and latest.headers["x-report-version"] == "2"
    assert api.call("review", "GET", f"/cases/{case_id}/report", params={"version": 1}).content == first


def test_erasure_makes_the_report_unreadable_and_withdrawal_closes_it_to_the_centre(api: Api, db):
    case_id = accepted_at_fuscc(api)
    report = uploaded_report(api, case_id, FUSCC)
    api.call("review", "POST", f"/cases/{case_id}/delivery", token=FUSCC, json={**DELIVERY, "report_ref": report})
    assert api.call("intake", "POST", f"/cases/{case_id}/withdrawal", json={"reason": "patient_request"}
                    ).status_code == 200
    wait_for(lambda: api.call("review", "GET", f"/cases/{case_id}/report", token=FUSCC).status_code == 404,
             what="the withdrawal at review")
    assert api.call("review", "GET", f"/cases/{case_id}/report").status_code == 200
    ref = api.call("intake", "GET", f"/cases/{case_id}").json()["patient_ref"]
    assert api.call("intake", "POST", f"/patients/{ref}/erasure", token="ADMIN_TOKEN", json={}).status_code == 200
    wait_for(lambda: api.call("review", "GET", f"/cases/{case_id}/report").status_code == 409,
             what="the erasure at review")
    assert api.call("review", "GET", f"/cases/{case_id}/report").json()["code"] == "erased"
    assert db.execute("SELECT count(*) AS n FROM review.owner_keys WHERE owner = %s",
                      (str(case_id),)).fetchone()["n"] == 0


def test_the_fhir_export_is_a_valid_r4b_bundle_with_the_patient_only_for_the_coordinator(api: Api):
    case_id = accepted_at_fuscc(api)
    report = uploaded_report(api, case_id, FUSCC)
    api.call("review", "POST", f"/cases/{case_id}/delivery", token=FUSCC, json={**DELIVERY, "report_ref": report})

    def exported(token: str) -> dict[str, Any] | None:
        r = api.call("intake", "GET", f"/cases/{case_id}/fhir", token=token)
        assert r.status_code == 200 and r.headers["content-type"] == "application/fhir+json", r.text
        bundle: dict[str, Any] = r.json()
        # Intake learns of the report and of the delivery from two consumers, each at its own pace.
        delivered = any(e["resource"]["resourceType"] == "Task"
                        and e["resource"]["businessStatus"]["text"] == "review_delivered" for e in bundle["entry"])
        return bundle if delivered and any(e["resource"].get("identifier", [{}])[0].get("value") == report
                                           for e in bundle["entry"]) else None

    bundle = wait_for(lambda: exported("COORDINATOR_TOKEN"), what="intake to learn of the report and the delivery")
    Bundle.model_validate(bundle)
    by_type: dict[str, list[dict[str, Any]]] = {}
    for e in bundle["entry"]:
        by_type.setdefault(e["resource"]["resourceType"], []).append(e["resource"])
    assert len(by_type["Patient"]) == 1 and len(by_type["ServiceRequest"]) == 1 and len(by_type["Consent"]) == 2
    task = by_type["Task"][0]
    assert (task["status"], task["businessStatus"]["text"]) == ("completed", "review_delivered")
    assert task["owner"]["identifier"]["value"] == "fuscc"
    # Every reference resolves inside the bundle: the centre is an Organization in it.
    owner = next(e["resource"] for e in bundle["entry"] if e["fullUrl"] == task["owner"]["reference"])
    assert (owner["resourceType"], owner["identifier"][0]["value"]) == ("Organization", "fuscc")
    # The report's attachment is where review serves it; a record's PDF is typed as one.
    reported = next(d for d in by_type["DocumentReference"] if d["id"] == report)
    attachment = reported["content"][0]["attachment"]
    assert attachment["contentType"] == "application/pdf"
    fetched = api.call("review", "GET", attachment["url"])
    assert fetched.status_code == 200, fetched.text
    digest = {"system": "urn:case-ledger:sha256", "value": hashlib.sha256(fetched.content).hexdigest()}
    assert digest in reported["identifier"] and len(fetched.content) == attachment["size"]
    kinds = {d["content"][0]["attachment"]["title"]: d["content"][0]["attachment"].get("contentType")
             for d in by_type["DocumentReference"]}
    assert kinds["pathology_report"] == "application/pdf" and kinds["imaging"] == "application/dicom"
    # Assembled after the newest fact it holds.
    dated = [r.get(k) for rs in by_type.values() for r in rs for k in ("authoredOn", "lastModified", "dateTime",
                                                                      "date")]
    assert all(datetime.fromisoformat(bundle["timestamp"]) >= datetime.fromisoformat(d) for d in dated if d)
    assert task["focus"]["reference"] == f"urn:uuid:{by_type['ServiceRequest'][0]['id']}"
    documents = by_type["DocumentReference"]
    assert len(documents) == 1 + len(api.call("intake", "GET", f"/cases/{case_id}").json()["checklist"]["records"])
    centre_view = exported(FUSCC)
    assert centre_view is not None
    assert not any(e["resource"]["resourceType"] == "Patient" for e in centre_view["entry"])
    assert PATIENT["name"] not in str(centre_view) and PATIENT["name"] in str(bundle)
    assert api.call("intake", "GET", f"/cases/{case_id}/fhir", token="CENTRE_WCH_TOKEN").status_code == 404
