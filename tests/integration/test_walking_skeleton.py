"""One case through all four services over HTTP, PostgreSQL and the broker."""

import re
from uuid import uuid4

import pytest

from infra.stack import SERVICES
from tests.integration.conftest import (
    DELIVERY,
    NEW_CASE,
    Api,
    make_ready,
    open_case,
    uploaded_report,
    wait_for,
    wait_until_projected,
)


def test_a_case_walks_from_opening_to_the_fee_credit(api: Api, db):
    case_id = open_case(api, tumour_site="lung", preferred_centre="wch")
    assert make_ready(api, case_id)["status"] == "ready_for_review"

    routing = wait_for(lambda: (r := api.call("routing", "GET", f"/cases/{case_id}/routing")).status_code == 200
                       and r.json(), what="routing")
    assert routing["decisions"][0]["centre_id"] == "wch"
    assert "patient_preference" in routing["decisions"][0]["reason_codes"]

    reviewer = "CENTRE_WCH_TOKEN"
    wait_for(lambda: api.call("review", "GET", f"/cases/{case_id}", token=reviewer).status_code == 200,
             what="the assignment at review")
    assert api.call("review", "POST", f"/cases/{case_id}/acceptance", token=reviewer, json={}).status_code == 200
    delivery = {**DELIVERY, "recommended_pathway": "proton_therapy", "treatment_change": "major_change",
                "report_ref": uploaded_report(api, case_id, reviewer, pages=7)}
    r = api.call("review", "POST", f"/cases/{case_id}/delivery", token=reviewer, json=delivery)
    assert r.status_code == 200, r.text

    # Authorised at opening, captured when the records became complete.
    account = wait_for(lambda: (r := api.call("billing", "GET", f"/cases/{case_id}/account",
                                              token="BILLING_TOKEN")).status_code == 200
                       and r.json()["paid_review_cents"] and r.json(), what="the captured payment")
    assert account["authorised"] is True

    booking = {"centre_id": "wch", "treatment_type": "proton_therapy", "travel_reason": "high_cost_therapy",
               "estimated_cost_cents": 4_500_000}
    # The booking waits for intake's worker to have seen ReviewDelivered on the stream.
    booked = wait_for(lambda: (b := api.call("intake", "POST", f"/cases/{case_id}/treatment-booking",
                                             json=booking)).status_code == 201 and b.json(), what="booking")
    assert booked["status"] == "treatment_booked"

    credited = wait_for(lambda: (a := api.call("billing", "GET", f"/cases/{case_id}/account",
                                               token="BILLING_TOKEN").json())["fee_credit_cents"] and a,
                        what="the fee credit")
    assert credited["fee_credit_cents"] == account["review_fee_cents"] == 85_000

    wait_until_projected(db)
    types = [r["event_type"] for r in db.execute(
        "SELECT event_type FROM analytics.case_timeline WHERE case_id = %s "
        "ORDER BY occurred_at, recorded_at, stream_version",
        (case_id,))]
    assert types.count("RecordsReceived") == 6
    assert types.count("FeeCreditApplied") == 1
    assert set(types) == {"CaseOpened", "QuestionRecorded", "ConsentGiven", "FeeInvoiced", "RecordsReceived",
                          "RecordsCompleted", "CaseRouted", "ReviewAccepted", "ReportUploaded", "ReviewDelivered",
                          "PaymentCaptured",
                          "TreatmentBooked", "FeeCreditApplied", "PaymentAuthorised", "SlaClockStarted",
                          "SlaClockStopped"}
    assert types[0] == "CaseOpened" and types[-1] == "FeeCreditApplied"
    # The analysts' timeline: the upload that completed the records comes before the completion.
    shown = [e["event_type"] for e in api.call("analytics", "GET", f"/cases/{case_id}/timeline",
                                               token="ANALYST_TOKEN").json()]
    completed = shown.index("RecordsCompleted")
    assert shown[completed - 1] == "RecordsReceived" and shown.count("RecordsReceived") == 6
    summary = db.execute("SELECT * FROM analytics.case_summary WHERE case_id = %s", (case_id,)).fetchone()
    assert summary["opened_at"] <= summary["routed_at"] <= summary["delivered_at"] <= summary["fee_credited_at"]


def test_booking_before_delivery_is_a_conflict_with_a_reason(api: Api):
    case_id = open_case(api)
    r = api.call("intake", "POST", f"/cases/{case_id}/treatment-booking",
                 json={"centre_id": "fuscc", "treatment_type": "surgery", "travel_reason": "one_programme",
                       "estimated_cost_cents": 100})
    assert r.status_code == 409
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "review_not_delivered"


def test_a_missing_or_unknown_token_is_401_and_a_wrong_role_403(api: Api):
    assert api.call("intake", "POST", "/cases", token=None, json={}).status_code == 401
    r = api.call("intake", "POST", "/cases", token=None, json={}, headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
    assert api.call("intake", "POST", "/cases", token="CENTRE_SYSUCC_TOKEN", json={}).status_code == 403
    assert api.call("billing", "POST", f"/cases/{uuid4()}/payments/capture", token="COORDINATOR_TOKEN",
                    json={}).status_code == 403
    for service in ("intake", "routing", "review", "billing", "analytics"):
        assert api.call(service, "GET", "/healthz", token=None).status_code == 200
        assert api.call(service, "GET", "/readyz", token=None).status_code == 200


def test_bad_input_names_the_field_and_appends_nothing(api: Api, db):
    before = db.execute("SELECT count(*) AS n FROM intake.events").fetchone()["n"]
    r = api.call("intake", "POST", "/cases", json={**NEW_CASE, "tumour_site": "elbow"})
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["field"] == "tumour_site"
    assert db.execute("SELECT count(*) AS n FROM intake.events").fetchone()["n"] == before


def test_a_reviewer_does_not_see_another_centres_case(api: Api):
    case_id = open_case(api, tumour_site="breast", preferred_centre="fuscc")
    make_ready(api, case_id)
    wait_for(lambda: api.call("review", "GET", f"/cases/{case_id}", token="CENTRE_FUSCC_TOKEN").status_code == 200,
             what="assignment")
    assert api.call("review", "GET", f"/cases/{case_id}", token="CENTRE_SYSUCC_TOKEN").status_code == 404
    r = api.call("review", "POST", f"/cases/{case_id}/acceptance", token="CENTRE_SYSUCC_TOKEN", json={})
    assert r.status_code == 404


def test_every_service_exposes_the_pipeline_metrics(api: Api):
    names = ["case_ledger_events_appended_total", "case_ledger_events_consumed_total",
             "case_ledger_dlq_messages_total", "case_ledger_outbox_backlog", "case_ledger_consumer_lag"]
    text = api.call("intake", "GET", "/metrics", token=None).text
    for name in names:
        assert name in text, name
    billing = api.call("billing", "GET", "/metrics", token=None).text
    assert 'case_ledger_events_consumed_total{consumer="billing",outcome="applied",service="billing"}' in billing


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_api_docs_load_their_assets_from_the_service_not_from_a_cdn(api: Api, page: str):
    for service in SERVICES:
        html = api.call(service, "GET", page, token=None)
        assert html.status_code == 200 and "text/html" in html.headers["content-type"]
        assets = re.findall(r"""(?:src|href)=['"]([^'"]+)['"]""", html.text)
        assert assets and all(a.startswith("/") for a in assets), assets  # nothing from another host
        for asset in assets:
            served = api.call(service, "GET", asset, token=None)
            assert served.status_code == 200 and served.content, asset
