"""The console's pure parts: form mapping, chart geometry, the CT slice, sessions, links, metrics parsing."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pydicom.examples
import pytest
from cryptography.exceptions import InvalidTag
from PIL import Image
from starlette.datastructures import FormData

from services.console import charts, ct, forms, operations
from services.console.auth_routes import local
from services.console.backend import ApiError
from services.console.coordinator import trail_links
from services.console.oidc import role_of
from services.console.sessions import Sealer


def form(*pairs: tuple[str, str]) -> FormData:
    return FormData(list(pairs))


# ------------------------------------------------------------------ forms
def test_the_new_case_form_becomes_the_apis_body():
    body = forms.open_case(form(("patient.name", " Ada Lovelace "), ("patient.date_of_birth", "1960-01-31"),
                                ("patient.email", ""), ("tumour_site", "breast"), ("stage_group", "II"),
                                ("referral_reasons", "stage_borderline"), ("referral_reasons", "genomic_guided"),
                                ("patient_country", "gb"), ("language", "en"), ("imaging_studies", "3"),
                                ("wants_video", "on"), ("question", "Which order?")))
    assert body == {"patient": {"name": "Ada Lovelace", "date_of_birth": "1960-01-31"}, "question": "Which order?",
                    "tumour_site": "breast", "rare_tumour": False, "stage_group": "II",
                    "referral_reasons": ["stage_borderline", "genomic_guided"], "patient_country": "GB",
                    "language": "en", "wants_video": True, "question_topics": [], "imaging_studies": 3,
                    "glass_slides": False}


def test_a_number_that_is_not_one_goes_to_the_api_as_typed():
    assert forms.open_case(form(("imaging_studies", "three")))["imaging_studies"] == "three"


def test_the_booking_takes_dollars_and_sends_cents():
    booked = forms.booking(form(("estimated_cost", "25,000.5"), ("centre_id", "fuscc")))
    assert booked["estimated_cost_cents"] == 2500050
    assert forms.booking(form(("estimated_cost", "12"),))["estimated_cost_cents"] == 1200
    assert forms.booking(form(("estimated_cost", "lots"),))["estimated_cost_cents"] == "lots"


def test_the_transfer_consent_names_its_centres():
    assert forms.consent(form(("consent", "transfer_abroad"), ("centre_ids", "fuscc"), ("centre_ids", "cams"))) == {
        "consent": "transfer_abroad", "text_version": "v2026_1", "centre_ids": ["fuscc", "cams"]}
    assert "centre_ids" not in forms.consent(form(("consent", "health_data_processing"),))


def test_the_coded_review_form_becomes_the_delivery():
    body = forms.delivery(form(("pathology.verdict", "agree"), ("imaging.verdict", "stage_confirmed"),
                               ("recommended_pathway", "surgery"), ("rationale_codes", "guideline_concordant, x_y"),
                               ("trial.id", "NCT01234567"), ("trial.phase", "II"), ("trial.china_only", "yes"),
                               ("question_answer", "answered"), ("diagnosis_change", "concordant"),
                               ("treatment_change", "refined"), ("report_ref", "0b6e7c35-6d1c-4c55-9d43-3d1f4c1b8f00")))
    assert body["pathology"] == {"verdict": "agree"} and body["imaging"] == {"verdict": "stage_confirmed"}
    assert body["rationale_codes"] == ["guideline_concordant", "x_y"]
    assert body["trial_options"] == [{"trial_id": "NCT01234567", "phase": "II", "china_only": True}]
    assert "page_count_reason" not in body


def test_the_wizard_asks_what_the_quote_api_takes():
    answers = {"tumour_site": "lung", "histology": "other", "stage_group": "IV", "imaging_studies": "2",
               "rare_tumour": "no", "wants_video": "yes"}
    assert forms.quote(answers) == {"tumour_site": "lung", "histology": "other", "imaging_studies": 2,
                                    "rare_tumour": False, "wants_video": True, "referral_reasons": []}
    request = forms.patient_request({**answers, "patient.name": "A B", "patient.email": "a@b.org",
                                     "patient.date_of_birth": "1970-01-01", "patient_country": "de",
                                     "question": "Q?", "quote_id": "q"}, "zh-CN")
    assert request["patient"] == {"name": "A B", "email": "a@b.org", "date_of_birth": "1970-01-01"}
    assert request["referral_reasons"] == ["other"] and request["language"] == "zh"
    assert request["patient_country"] == "DE" and request["stage_group"] == "IV" and request["quote_id"] == "q"


def test_an_api_error_is_shown_beside_the_field_it_names():
    e = ApiError(422, "bad", "referral_reasons.0", errors=[{"field": "referral_reasons.0", "message": "not a code"},
                                                         {"field": "patient.name", "message": "too long"}])
    assert e.by_field() == {"referral_reasons": "not a code", "patient.name": "too long"}
    assert ApiError(409, "changed", "If-Match").by_field() == {"If-Match": "changed"}


# ------------------------------------------------------------------ charts
def test_the_axis_puts_zero_at_the_bottom_and_one_at_the_top():
    axis = charts.Axis(top=10, bottom=110)
    assert (axis.y(0), axis.y(1), axis.y(0.4)) == (110, 10, 70)
    assert [t for _, t in axis.ticks()] == ["0 %", "25 %", "50 %", "75 %", "100 %"]


def test_bars_with_their_wilson_whiskers():
    axis = charts.Axis(top=0, bottom=100)
    bars = charts.interval_bars([("fuscc", "0.4000", "0.2500", "0.5700"), ("cams", None, None, None)], axis)
    a, b = bars
    assert (a.y, a.height, a.low_y, a.high_y) == (60, 40, 75, 43)
    assert a.low_y is not None and a.high_y is not None
    assert a.low_y >= a.y >= a.high_y  # the whisker spans the bar's top
    assert (b.height, b.low_y) == (0, None)
    assert a.x + a.width < b.x  # bars do not overlap
    assert charts.slots(0) == []


def test_shares_are_clamped_and_absent_ones_stay_absent():
    assert charts.share("1.2") == 1.0 and charts.share(-0.1) == 0.0 and charts.share(None) is None
    assert charts.share("nonsense") is None
    assert charts.percent("0.4123") == "41.2 %" and charts.percent(None) == "—"


def test_the_on_time_line_skips_months_without_a_share():
    points, markers = charts.line([("2026-01", "1.0"), ("2026-02", None), ("2026-03", "0.5")], charts.Axis(0, 100))
    assert [m[2] for m in markers] == ["2026-01", "2026-03"]
    assert points == " ".join(f"{x},{y}" for x, y, _, _ in markers)


# ------------------------------------------------------------------ the CT slice
def test_a_ct_slice_becomes_a_png_of_its_middle_frame():
    content = Path(pydicom.examples.get_path("ct")).read_bytes()
    shown = ct.render(content)
    assert (shown.index, shown.count) == (0, 1)
    image = Image.open(io.BytesIO(shown.png))
    assert image.format == "PNG" and image.mode == "L" and image.size == (128, 128)
    assert len(np.unique(np.asarray(image))) > 50  # a picture, not a blank
    assert ct.render(content, 99).index == 0  # an index past the end is the last slice


def test_frames_and_windows():
    assert ct.frames_of(np.zeros((4, 4)), 1).shape == (1, 4, 4)
    assert ct.frames_of(np.zeros((5, 4, 4)), 1).shape == (5, 4, 4)
    assert ct.frames_of(np.zeros((4, 4, 3)), 3).shape == (1, 4, 4, 3)
    grey = ct.window(np.array([[-1000.0, 40.0, 1000.0]]), 40, 400)
    assert grey.tolist() == [[0, 128, 255]]
    assert ct.window(np.array([[5.0, 5.0]]), None, None).tolist() == [[0, 0]]


def test_a_file_without_pixels_is_not_an_image():
    with pytest.raises(ct.NotAnImage):
        ct.render(b"%PDF-1.4 not a study")


# ------------------------------------------------------------------ sessions, roles, links
def test_a_sealed_session_opens_only_with_its_key_and_its_row():
    sealed = Sealer("k" * 40).seal("row-a", {"access_token": "t"})
    assert Sealer("k" * 40).open("row-a", sealed) == {"access_token": "t"}
    assert b"access_token" not in sealed
    with pytest.raises(InvalidTag):
        Sealer("k" * 40).open("row-b", sealed)
    with pytest.raises(InvalidTag):
        Sealer("x" * 40).open("row-a", sealed)


def test_the_role_is_the_one_capacity_the_groups_give():
    assert role_of({"groups": ["role:coordinator", "other-app"]}) == "coordinator"
    assert role_of({"groups": ["centre:fuscc"]}) == "centre:fuscc"
    assert role_of({"groups": ["role:coordinator", "centre:fuscc"]}) is None
    assert role_of({"groups": ["role:emperor"]}) is None


def test_sign_in_returns_only_to_this_console():
    assert local("/cases/1?x=2") == "/cases/1?x=2"
    for bad in ("//evil.example/", "https://evil.example/", "/\\evil", "javascript:alert(1)", None, ""):
        assert local(bad) == "/"


def test_the_worklists_previous_and_next_pages():
    prev, nxt = trail_links("/worklist", {"status": "collecting_records"}, None, None, "C2")
    assert prev is None and nxt == "/worklist?status=collecting_records&cursor=C2&trail=-"
    prev, nxt = trail_links("/worklist", {}, "C2", "-", "C3")
    assert prev == "/worklist" and nxt == "/worklist?cursor=C3&trail=-.C2"
    prev, nxt = trail_links("/worklist", {}, "C3", "-.C2", None)
    assert prev == "/worklist?cursor=C2&trail=-" and nxt is None


# ------------------------------------------------------------------ consumer state from /metrics
METRICS = """# TYPE case_ledger_events_consumed_total counter
case_ledger_events_consumed_total{consumer="router",outcome="applied",service="routing"} 12.0
case_ledger_events_consumed_total{consumer="router",outcome="ignored",service="routing"} 30.0
# TYPE case_ledger_consumer_lag gauge
case_ledger_consumer_lag{consumer="router",service="routing"} 3.0
# TYPE case_ledger_dlq_messages_total counter
case_ledger_dlq_messages_total{consumer="router",reason="undecodable",service="routing"} 1.0
# TYPE case_ledger_consumer_last_progress_timestamp_seconds gauge
case_ledger_consumer_last_progress_timestamp_seconds{consumer="router",service="routing"} 1000.0
# TYPE case_ledger_outbox_backlog gauge
case_ledger_outbox_backlog{service="routing"} 2.0
"""


def test_each_consumers_position_lag_and_dead_letters():
    groups, relay = operations.groups_of("routing", METRICS)
    assert [(g.consumer, g.position, g.lag, g.dead_letters) for g in groups] == [("router", 42, 3, 1)]
    assert groups[0].idle_for(1010.0) == 10.0 and relay == {"backlog": 2.0}


def test_the_operations_page_draws_its_charts():
    from services.console import i18n
    from services.console.web import TEMPLATES

    travel: list[dict[str, Any]] = [
        {"dimension": "centre", "value": v, "decided": 10, "travelled": 4, "share": "0.4000",
         "ci95_low": "0.1682", "ci95_high": "0.6873", "undecided": 1} for v in ("fuscc", "cams")]
    changes = [{"dimension": "centre", "value": "fuscc", "reviews": 10, "diagnosis_changed": "0.1500",
                "diagnosis_changed_reference_low": "0.10", "diagnosis_changed_reference_high": "0.20",
                "treatment_changed": "0.3500", "treatment_changed_reference_low": "0.30",
                "treatment_changed_reference_high": "0.40"}]
    sla = [{"month": "2026-01-01", "delivered": 5, "on_time_share": "0.8000", "within_target_share": "0.6000"}]
    html = TEMPLATES.env.get_template("operations.html").render(
        lang="en", t=i18n.translator("en"), csrf="x", user=None, idem="i", here="/", path="/operations",
        axis=charts.Axis(), width=charts.WIDTH, height=charts.HEIGHT, travel=travel, overall=None,
        changes=changes, change_all=None, sla=sla,
        travel_bars=charts.interval_bars([(r["value"], r["share"], r["ci95_low"], r["ci95_high"]) for r in travel]),
        diagnosis_bars=charts.interval_bars([("fuscc", "0.15", "0.10", "0.20")]),
        treatment_bars=charts.interval_bars([("fuscc", "0.35", "0.30", "0.40")]),
        sla_line=charts.line([("2026-01", "0.8")]), percent=charts.percent,
        ops={"groups": [operations.Group("routing", "router", 4, 0, 0, None)], "relays": {"routing": None},
             "live": None, "now": 0.0})
    assert html.count("<svg") == 4 and html.count('class="whisker"') == 6 and html.count('class="band"') == 2
    assert "16.8 %\u201368.7 %" in html and "<polyline" in html and "unreachable" in html
