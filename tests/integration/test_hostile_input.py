"""Hostile and malformed requests get a problem+json answer naming the field, and change nothing."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from psycopg.types.json import Jsonb

from tests.integration.conftest import CT_DICOM, NEW_CASE, PATIENT, Api, open_case, upload

PROBLEM = "application/problem+json"


def intake_events(db: Any) -> int:
    return db.execute("SELECT count(*) AS n FROM intake.events").fetchone()["n"]


def assert_problem(r: httpx.Response, status: int, field: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM), r.headers
    body = r.json()
    assert body["status"] == status
    if field is not None:
        assert body["field"] == field, body
    return body


def test_a_10_mb_body_is_refused_before_it_reaches_the_ledger(api: Api, db):
    before = intake_events(db)
    huge = {**NEW_CASE, "referral_reasons": ["stage_borderline"] * 1_000_000}
    assert_problem(api.call("intake", "POST", "/cases", json=huge), 413, "body")
    # Without a Content-Length (chunked), the limit still holds.
    chunks = (json.dumps(huge)[i:i + 65536].encode() for i in range(0, 10_000_000, 65536))
    r = api.call("intake", "POST", "/cases", content=chunks, headers={"Content-Type": "application/json"})
    assert_problem(r, 413, "body")
    assert intake_events(db) == before


def test_lists_are_bounded_by_the_contract(api: Api, db):
    before = intake_events(db)
    reasons = ["stage_borderline"] * 50
    assert_problem(api.call("intake", "POST", "/cases", json={**NEW_CASE, "referral_reasons": reasons}),
                   422, "referral_reasons")
    assert intake_events(db) == before


@pytest.mark.parametrize(("body", "why"), [
    (b"\xff\xfe{not utf-8", "utf-8"),
    (b'{"tumour_site": ', "truncated"),
    (b"[" * 200_000 + b"]" * 200_000, "nested"),
])
def test_an_undecodable_body_is_a_400(api: Api, db, body: bytes, why: str):
    before = intake_events(db)
    r = api.call("intake", "POST", "/cases", content=body, headers={"Content-Type": "application/json"})
    assert_problem(r, 400, "body")
    assert intake_events(db) == before


@pytest.mark.parametrize("service", ["intake", "routing", "review", "billing", "analytics"])
def test_unknown_routes_and_methods_answer_problem_json(api: Api, service: str):
    assert_problem(api.call(service, "GET", "/no/such/route"), 404)
    assert_problem(api.call(service, "DELETE", "/healthz"), 405)


@pytest.mark.parametrize(("patch", "field"), [
    ({"occurred_at": "9999-12-31T23:59:59Z"}, "occurred_at"),
    ({"occurred_at": "1999-12-31T23:59:59Z"}, "occurred_at"),
    ({"occurred_at": "2026-01-01T00:00:00"}, "occurred_at"),
    ({"patient": {**PATIENT, "name": "Amelia\x00Drop"}}, "patient.name"),
    ({"patient": {**PATIENT, "name": "Amelia\x1b[2J"}}, "patient.name"),
    ({"patient": {**PATIENT, "date_of_birth": "2999-01-01"}}, "patient.date_of_birth"),
    ({"patient_country": "ZZ"}, "patient_country"),
    ({"question": "Is this \x07 the right path?"}, "question"),
])
def test_implausible_case_fields_are_refused(api: Api, db, patch: dict[str, Any], field: str):
    before = intake_events(db)
    assert_problem(api.call("intake", "POST", "/cases", json={**NEW_CASE, **patch}), 422, field)
    assert intake_events(db) == before


def test_a_lone_surrogate_is_refused_not_a_server_error(api: Api):
    body = json.dumps({**NEW_CASE, "patient": {**PATIENT, "name": "X"}}).replace('"X"', '"\\ud800"')
    r = api.call("intake", "POST", "/cases", content=body.encode(), headers={"Content-Type": "application/json"})
    assert_problem(r, 422, "patient.name")


def test_money_has_an_upper_bound(api: Api):
    case_id = open_case(api)
    booking = {"centre_id": "fuscc", "treatment_type": "surgery", "travel_reason": "one_programme",
               "estimated_cost_cents": 10**30}
    assert_problem(api.call("intake", "POST", f"/cases/{case_id}/treatment-booking", json=booking),
                   422, "estimated_cost_cents")


def test_a_truncated_dicom_is_not_imaging(api: Api):
    case_id = open_case(api)
    assert_problem(upload(api, case_id, "imaging", CT_DICOM[: len(CT_DICOM) // 2]), 422, "file")
    assert upload(api, case_id, "imaging", CT_DICOM).status_code == 201


def test_one_poisoned_case_does_not_stop_the_timers_of_the_others(api: Api, db):
    t0 = "2026-03-02T09:00:00Z"
    poisoned = open_case(api, occurred_at=t0)
    original = db.execute("SELECT version, envelope, occurred_at FROM intake.events WHERE case_id = %s",
                          (poisoned,)).fetchall()
    # A date no API accepts any more, written as an older version might have: the sweep's
    # arithmetic overflows on it.
    db.execute("UPDATE intake.events SET envelope = jsonb_set(envelope, '{occurred_at}', "
               "'\"9999-12-31T23:59:59Z\"'), occurred_at = '9999-12-31T23:59:59Z' "
               "WHERE case_id = %s", (poisoned,))
    healthy = open_case(api, occurred_at=t0)
    r = api.call("intake", "POST", f"/cases/{healthy}/records-requests", json={"occurred_at": t0})
    assert r.status_code == 200, r.text
    r = api.call("intake", "POST", "/admin/timers", token="ADMIN_TOKEN", json={"now": "2026-03-06T09:00:00Z"})
    assert r.status_code == 200, r.text
    assert db.execute("SELECT count(*) AS n FROM intake.events WHERE case_id = %s "
                      "AND event_type = 'RecordsReminderSent'", (healthy,)).fetchone()["n"] == 1
    metrics = api.call("intake", "GET", "/metrics", token=None).text
    failures = [line for line in metrics.splitlines() if line.startswith("case_ledger_timer_failures_total")]
    assert failures and float(failures[0].rsplit(" ", 1)[1]) >= 1
    # The store is the history every rebuild replays: put it back as it was.
    for row in original:
        db.execute("UPDATE intake.events SET envelope = %s, occurred_at = %s WHERE case_id = %s AND version = %s",
                   (Jsonb(row["envelope"]), row["occurred_at"], poisoned, row["version"]))


ANSWERS = ("401", "403", "404", "409", "413", "422", "503")


@pytest.mark.parametrize("service", ["intake", "routing", "review", "billing", "analytics"])
def test_the_openapi_documents_every_error_answer_as_problem_json(api: Api, service: str):
    spec = api.call(service, "GET", "/openapi.json", token=None).json()
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            for status in ANSWERS:
                if path in ("/readyz", "/healthz", "/metrics") and status == "503":
                    continue
                assert PROBLEM in op["responses"].get(status, {}).get("content", {}), (service, method, path, status)



def _bound_names(node: Any) -> list[str]:
    if isinstance(node, list):
        return [n for item in node for n in _bound_names(item)]
    if not isinstance(node, dict):
        return []
    here = [k for k in ("ge", "le", "gt", "lt") if k in node and node.get("type") in ("integer", "number")]
    return here + [n for v in node.values() for n in _bound_names(v)]


@pytest.mark.parametrize("service", ["intake", "routing", "review", "billing", "analytics"])
def test_the_openapi_says_minimum_and_maximum_not_pydantic_names(api: Api, service: str):
    spec = api.call(service, "GET", "/openapi.json", token=None).json()
    assert _bound_names(spec) == []


def test_a_record_is_refused_when_its_content_is_not_a_format_its_kind_accepts(api: Api):
    import io
    import zipfile


    case_id = open_case(api)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("report.pdf", b"%PDF-1.4 inside an archive")
    before = api.call("intake", "GET", f"/cases/{case_id}").json()["version"]
    for content in (archive.getvalue(), b"MZ\x90\x00 an executable", b"plain text, no format"):
        assert_problem(upload(api, case_id, "pathology_report", content), 422, "file")
    assert api.call("intake", "GET", f"/cases/{case_id}").json()["version"] == before
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
    tiff = b"II*\x00" + b"\x00" * 32
    assert upload(api, case_id, "pathology_slides", tiff).status_code == 201
    assert upload(api, case_id, "oncologist_letter", png).status_code == 201
