"""Each analytics view on a small scenario whose figures are worked out by hand.

The projection's own handlers fill a scratch schema created from the same DDL as `analytics`,
in the real PostgreSQL; no broker is involved, because what is tested is the SQL of the views.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from psycopg.rows import dict_row

from events.contract import (
    CaseCancelled,
    CaseClosed,
    CaseOpened,
    CaseRouted,
    Envelope,
    Event,
    FeeCreditApplied,
    FeeCreditRedeemed,
    FeeInvoiced,
    InformationRequested,
    PaymentCaptured,
    QuoteIssued,
    RecordsCompleted,
    RefundIssued,
    ReviewAccepted,
    ReviewDelivered,
    SlaAtRisk,
    SlaBreached,
    SlaClockStarted,
    SlaClockStopped,
    TreatmentBooked,
)
from events.db import open_pool
from events.registry import Decoded
from services.analytics import ddl, rebuild
from services.analytics.projections import Projection

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, March 2026


def opened(site: str, reasons: list[str], quote: UUID | None = None, rare: bool = False) -> CaseOpened:
    return CaseOpened(patient_ref="pr_" + "a" * 32, tumour_site=site, rare_tumour=rare, stage_group="II",
                      referral_reasons=reasons, patient_country="GB", language="en", quote_id=quote)


def delivered(centre: str, pathway: str, diagnosis: str, treatment: str) -> ReviewDelivered:
    return ReviewDelivered(centre_id=centre, pathology={"verdict": "agree"}, imaging={"verdict": "stage_confirmed"},
                           recommended_pathway=pathway, rationale_codes=["guideline_concordant"],
                           question_answer="answered", diagnosis_change=diagnosis, treatment_change=treatment,
                           report_ref=uuid4(), page_count=6)


def invoiced(review: int, video: int = 0) -> FeeInvoiced:
    lines = [{"component": "review_base", "cents": review}]
    if video:
        lines.append({"component": "video_consultation", "cents": video})
    return FeeInvoiced(invoice_id=uuid4(), review_fee_cents=review, video_fee_cents=video, breakdown=lines)


def stopped(used: int, on_time: bool) -> SlaClockStopped:
    return SlaClockStopped(business_days_used=used, paused_business_days=0, within_target=used <= 7,
                           within_limit=on_time)


QUOTE_A, QUOTE_LOST = uuid4(), uuid4()
A, B, C, D, E, F, G, H = (uuid4() for _ in range(8))
due = {"target_due": date(2026, 3, 11), "limit_due": date(2026, 3, 16)}
SCENARIO: list[tuple[UUID, str, list[Event]]] = [
    (QUOTE_A, "billing", [QuoteIssued(review_cents=80_000, video_cents=40_000,
                                      breakdown=[{"component": "review_base", "cents": 80_000}],
                                      price_book_version="2026.2", tumour_site="breast", rare_tumour=False,
                                      glass_slides=False, imaging_studies=1, genomic_guided=False, wants_video=True)]),
    (QUOTE_LOST, "billing", [QuoteIssued(review_cents=80_000, video_cents=0,
                                         breakdown=[{"component": "review_base", "cents": 80_000}],
                                         price_book_version="2026.2", tumour_site="lung", rare_tumour=False,
                                         glass_slides=False, imaging_studies=1, genomic_guided=False,
                                         wants_video=False)]),
    # A: FUSCC, on time in 6 days, books surgery; paid, credited and redeemed.
    (A, "intake", [opened("breast", ["stage_borderline"], QUOTE_A), RecordsCompleted(record_count=6)]),
    (A, "billing", [invoiced(80_000, 40_000), PaymentCaptured(payment_id=uuid4(), review_fee_cents=80_000,
                                                              video_fee_cents=40_000)]),
    (A, "routing", [CaseRouted(centre_id="fuscc", reason_codes=["specialty_fit"], attempt=1)]),
    (A, "review", [ReviewAccepted(centre_id="fuscc"), SlaClockStarted(**due),
                   delivered("fuscc", "surgery", "concordant", "refined"), stopped(6, True)]),
    (A, "intake", [TreatmentBooked(centre_id="fuscc", treatment_type="surgery", travel_reason="one_programme",
                                   estimated_cost_cents=2_000_000)]),
    (A, "billing", [FeeCreditApplied(credit_id=uuid4(), treatment_booking_id=uuid4(), amount_cents=80_000),
                    FeeCreditRedeemed(credit_id=uuid4(), amount_cents=80_000, treatment_invoice_ref="inv-1")]),
    # B: CAMS, late (11 days, at risk then breached), books proton therapy.
    (B, "intake", [opened("lung", ["genomic_guided"]), RecordsCompleted(record_count=7)]),
    (B, "routing", [CaseRouted(centre_id="cams", reason_codes=["proton_therapy_question"], attempt=1)]),
    (B, "review", [ReviewAccepted(centre_id="cams"), SlaClockStarted(**due),
                   SlaAtRisk(business_days_left=2, limit_due=due["limit_due"]),
                   SlaBreached(limit_due=due["limit_due"]),
                   delivered("cams", "proton_therapy", "refined", "major_change"), stopped(11, False)]),
    (B, "intake", [TreatmentBooked(centre_id="cams", treatment_type="proton_therapy",
                                   travel_reason="high_cost_therapy", estimated_cost_cents=9_000_000)]),
    # C: FUSCC, 8 days, returns home.   D: PKUCH, 7 days, undecided.
    (C, "intake", [opened("breast", ["treatment_intent_dispute"]), RecordsCompleted(record_count=6)]),
    (C, "routing", [CaseRouted(centre_id="fuscc", reason_codes=["specialty_fit"], attempt=1)]),
    (C, "review", [ReviewAccepted(centre_id="fuscc"), SlaClockStarted(**due),
                   delivered("fuscc", "surgery", "concordant", "concordant"), stopped(8, True)]),
    (C, "intake", [CaseClosed(reason="returned_home_refined_plan")]),
    (D, "intake", [opened("gastric", ["stage_borderline"]), RecordsCompleted(record_count=6)]),
    (D, "routing", [CaseRouted(centre_id="pkuch", reason_codes=["specialty_fit"], attempt=1)]),
    (D, "review", [ReviewAccepted(centre_id="pkuch"), SlaClockStarted(**due),
                   delivered("pkuch", "systemic_therapy", "concordant", "refined"), stopped(7, True)]),
    # E: a rare tumour, paid, cancelled before acceptance and refunded in full.
    (E, "intake", [opened("sarcoma", ["rare_tumour"], rare=True), RecordsCompleted(record_count=6)]),
    (E, "billing", [invoiced(115_000), PaymentCaptured(payment_id=uuid4(), review_fee_cents=115_000)]),
    (E, "intake", [CaseCancelled(reason="financial")]),
    (E, "billing", [RefundIssued(refund_id=uuid4(), payment_id=uuid4(), review_cents=115_000, video_cents=0,
                                 reason="cancelled_before_acceptance")]),
    # F: accepted at SYSUCC, waiting on the patient (paused).
    (F, "intake", [opened("liver", ["expensive_treatment"]), RecordsCompleted(record_count=6)]),
    (F, "routing", [CaseRouted(centre_id="sysucc", reason_codes=["specialty_fit"], attempt=1)]),
    (F, "review", [ReviewAccepted(centre_id="sysucc"), SlaClockStarted(**due),
                   InformationRequested(request_id=uuid4(), topics=["additional_imaging"])]),
    # G: WCH, delivered on time, then cancelled without a decision: it did not travel.
    (G, "intake", [opened("lung", ["stage_borderline"]), RecordsCompleted(record_count=6)]),
    (G, "routing", [CaseRouted(centre_id="wch", reason_codes=["specialty_fit"], attempt=1)]),
    (G, "review", [ReviewAccepted(centre_id="wch"), SlaClockStarted(**due),
                   delivered("wch", "surgery", "concordant", "concordant"), stopped(5, True)]),
    (G, "intake", [CaseCancelled(reason="other")]),
    # H: invoiced and authorised, records never complete: invoiced revenue, never captured.
    (H, "intake", [opened("colorectal", ["other"])]),
    (H, "billing", [invoiced(85_000)]),
]


def scenario_events() -> list[Decoded]:
    decoded, at = [], T0
    versions: dict[tuple[UUID, str], int] = {}  # each service's stream of each case counts on
    for case_id, producer, events in SCENARIO:
        for event in events:
            at += timedelta(hours=1)
            version = versions[(case_id, producer)] = versions.get((case_id, producer), 0) + 1
            env = Envelope(event_id=uuid4(), event_type=event.event_type, schema_version=event.schema_version,
                           case_id=case_id, stream_id=f"case-{case_id}", stream_version=version,
                           occurred_at=at, recorded_at=at, producer=producer, correlation_id=uuid4(),
                           payload=event.model_dump(mode="json"))
            decoded.append(Decoded(env, event))
    return decoded


@pytest.fixture(scope="module")
def history() -> list[Decoded]:
    return scenario_events()


@pytest.fixture(scope="module")
def views(db_url: str, history: list[Decoded]) -> Iterator[tuple[psycopg.Connection[dict[str, Any]], str]]:
    target = f"analytics_scenario_{uuid4().hex[:8]}"
    with psycopg.connect(db_url, autocommit=True, row_factory=dict_row) as conn:
        with conn.transaction():
            ddl.create(conn, target)
            projection = Projection(target)
            # One event per batch: every fold starts from the rows as PostgreSQL gives them back.
            for decoded in history:
                projection.project_batch(conn, [decoded])
        try:
            yield conn, target
        finally:
            conn.execute(f'DROP SCHEMA "{target}" CASCADE')


def test_one_batch_of_the_whole_scenario_writes_what_one_event_at_a_time_does(views, history):
    conn, one_by_one = views
    target = f"analytics_batch_{uuid4().hex[:8]}"
    try:
        with conn.transaction():
            ddl.create(conn, target)
            Projection(target).project_batch(conn, history)
        assert rebuild.fingerprints(conn, target) == rebuild.fingerprints(conn, one_by_one)
        assert conn.execute(f'SELECT count(*) AS n FROM "{target}".cases').fetchone()["n"] == 8
    finally:
        conn.execute(f'DROP SCHEMA "{target}" CASCADE')


def rows(views: tuple[Any, str], query: str) -> list[dict[str, Any]]:
    conn, target = views
    return conn.execute(query.replace("analytics.", f'"{target}".')).fetchall()


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def test_the_funnel_counts_each_stage_from_quote_to_decision(views):
    [summary] = rows(views, "SELECT * FROM analytics.funnel_summary")
    assert summary == {"quotes": 2, "cases_from_quotes": 1, "cases": 8, "records_complete": 7, "accepted": 6,
                       "delivered": 5, "decided": 3, "booked_treatment": 2}
    stages = {r["case_id"]: r["stage"] for r in rows(views, "SELECT case_id, stage FROM analytics.case_funnel")}
    assert stages == {A: "decided", B: "decided", C: "decided", D: "delivered", E: "ended_cancelled", F: "accepted",
                      G: "ended_cancelled", H: "opened"}
    [a] = rows(views, f"SELECT * FROM analytics.case_funnel WHERE case_id = '{A}'")
    # One hour between events, so two hours between each of these steps: 0.083 days, read as 0.1.
    assert (a["days_quote_to_case"], a["days_to_delivery"], a["days_to_decision"]) == (Decimal("0.1"),) * 3


def test_sla_cases_and_the_summary_by_centre(views):
    states = {r["case_id"]: r["state"] for r in rows(views, "SELECT case_id, state FROM analytics.sla_cases")}
    assert states == {A: "delivered_on_time", B: "delivered_late", C: "delivered_on_time", D: "delivered_on_time",
                      F: "paused", G: "delivered_on_time"}
    summary = {r["centre_id"]: r for r in rows(views, "SELECT * FROM analytics.sla_summary")}
    fuscc = summary["fuscc"]
    assert (fuscc["delivered"], float(fuscc["share_within_7"]), float(fuscc["share_within_10"])) == (2, 0.5, 1.0)
    assert (fuscc["median_business_days"], fuscc["p90_business_days"]) == (Decimal("7.0"), Decimal("7.8"))
    assert float(summary["cams"]["share_within_10"]) == 0.0


def test_the_travel_split_counts_decided_cases_only_with_a_wilson_interval(views):
    travel = {(r["dimension"], r["value"]): r for r in rows(views, "SELECT * FROM analytics.travel_outcomes")}
    overall = travel[("overall", "all")]
    # A and B booked treatment, C went home, G ended after delivery without travelling; D is
    # undecided and stays out of the denominator.
    assert (overall["decided"], overall["travelled"], overall["undecided"]) == (4, 2, 1)
    assert overall["ended_after_delivery"] == 1 and travel[("centre", "wch")]["decided"] == 1
    assert float(overall["share"]) == 0.5
    low, high = wilson(2, 4)
    assert (float(overall["ci95_low"]), float(overall["ci95_high"])) == pytest.approx((low, high), abs=1e-4)
    assert (round(low, 4), round(high, 4)) == (0.15, 0.85)
    assert travel[("centre", "fuscc")]["decided"] == 2 and travel[("centre", "fuscc")]["travelled"] == 1
    # Reasons for travel are shares of all decided cases: one of four travelled for high cost.
    reason = travel[("travel_reason", "high_cost_therapy")]
    assert (reason["decided"], reason["travelled"], float(reason["share"])) == (4, 1, 0.25)
    assert ("travel_reason", "none") not in travel
    assert travel[("centre", "pkuch")]["share"] is None and travel[("centre", "pkuch")]["undecided"] == 1


def test_review_outcomes_show_change_rates_beside_the_literature(views):
    out = {(r["dimension"], r["value"]): r for r in rows(views, "SELECT * FROM analytics.review_outcomes")}
    overall = out[("overall", "all")]
    assert overall["reviews"] == 5
    assert float(overall["diagnosis_changed"]) == 0.2 and float(overall["treatment_changed"]) == 0.6
    assert (float(overall["diagnosis_changed_reference_low"]), float(overall["diagnosis_changed_reference_high"])) \
        == (0.10, 0.20)
    assert float(out[("referral_reason", "genomic_guided")]["diagnosis_major_change"]) == 0.0
    assert float(out[("referral_reason", "genomic_guided")]["diagnosis_refined"]) == 1.0
    assert out[("centre", "fuscc")]["reviews"] == 2


def test_revenue_nets_refunds_and_reports_fee_credits_on_the_invoiced_and_the_captured_basis(views):
    revenue = rows(views, "SELECT * FROM analytics.revenue")
    by = {(r["centre_id"], r["component"]): r for r in revenue}
    invoiced_basis: dict[tuple[str, str], int] = {}
    captured_basis: dict[tuple[str, str], int] = {}
    for r in revenue:
        key = (r["centre_id"], r["line"])
        invoiced_basis[key] = invoiced_basis.get(key, 0) + r["net_invoiced_cents"]
        captured_basis[key] = captured_basis.get(key, 0) + r["net_captured_cents"]
    assert invoiced_basis[("fuscc", "review")] == captured_basis[("fuscc", "review")] == 80_000
    assert invoiced_basis[("fuscc", "video")] == captured_basis[("fuscc", "video")] == 40_000
    assert by[("fuscc", "review_base")]["invoiced_cents"] == 80_000
    assert by[("fuscc", "video_consultation")]["invoiced_cents"] == 40_000
    assert by[("fuscc", "review")]["credits_issued_cents"] == 80_000
    assert by[("fuscc", "review")]["credits_redeemed_cents"] == 80_000
    # E never reached a centre: its invoice and full refund net to zero on both bases. H was only
    # invoiced and authorised: revenue on the invoiced basis, none on the captured one.
    assert invoiced_basis[("unassigned", "review")] == 85_000
    assert captured_basis[("unassigned", "review")] == 0
    assert {r["month"] for r in revenue} == {date(2026, 3, 1)}
    assert sum(r["net_invoiced_cents"] for r in revenue) == 80_000 + 40_000 + 85_000
    assert sum(r["net_captured_cents"] for r in revenue) == 80_000 + 40_000
    # Integer cents, not numeric: the analysts' dollar query in docs/analytics.md prints cents, not 16 decimals.
    assert {type(r[c]) for r in revenue for c in r if c.endswith("_cents")} == {int}
    guide = (Path(__file__).resolve().parents[2] / "docs" / "analytics.md").read_text()
    query = guide.split("Net revenue on both bases")[1].split("```sql")[1].split("```")[0]
    dollars = rows(views, query)[0]
    assert str(dollars["net_invoiced_usd"]) == "2050.00"


ANALYST_VIEWS = ("case_summary", "case_funnel", "funnel_summary", "sla_cases", "sla_summary", "travel_outcomes",
                 "review_outcomes", "revenue", "actions_by_actor")


def test_every_column_of_every_analytics_view_has_a_one_line_comment(views):
    conn, target = views
    found = conn.execute("""
        SELECT c.relname, c.relkind, a.attname, col_description(c.oid, a.attnum) AS comment
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
        WHERE n.nspname = %s AND c.relkind = 'v'""", (target,)).fetchall()
    assert {r["relname"] for r in found} == set(ANALYST_VIEWS)
    missing = sorted(f"{r['relname']}.{r['attname']}" for r in found if not (r["comment"] or "").strip())
    assert not missing, f"columns without a comment: {missing}"
    assert all("\n" not in r["comment"] for r in found), "one line per comment"


@pytest.mark.parametrize("view", ANALYST_VIEWS)
def test_every_analytics_view_has_a_stable_order(views, view):
    conn, target = views
    definition = conn.execute("SELECT pg_get_viewdef(%s::regclass) AS d", (f'"{target}".{view}',)).fetchone()["d"]
    # The view's own ORDER BY is the last clause of its definition (not one inside an aggregate).
    last_clause = definition.strip().splitlines()[-1].strip()
    assert last_clause.startswith("ORDER BY") or view == "funnel_summary", last_clause  # one row


def test_the_views_are_made_again_when_their_file_changes_and_again_when_it_goes_back(db_url: str, tmp_path,
                                                                                       monkeypatch):
    state, target = f"views_state_{uuid4().hex[:8]}", f"views_target_{uuid4().hex[:8]}"
    pool = open_pool(db_url, max_size=2, name="views-test")
    try:
        with pool.connection() as conn:
            conn.execute(f'CREATE SCHEMA "{state}"')
            conn.execute(f'CREATE TABLE "{state}".schema_migrations (name text PRIMARY KEY, '
                         "applied_at timestamptz NOT NULL DEFAULT now())")
        first = ddl.migrate(pool, state, target)
        assert first[-1].startswith("views.sql@") and ddl.migrate(pool, state, target) == []

        def comment() -> str:
            with pool.connection() as conn:
                row = conn.execute(f"SELECT col_description('\"{target}\".revenue'::regclass, 1) AS c").fetchone()
                assert row is not None
                return str(row["c"])
        original = comment()
        assert original == "Month of the money movement in Asia/Shanghai (its first day)."
        changed = tmp_path / "views.sql"
        changed.write_text(ddl.VIEWS.read_text().replace(original, "A changed comment"))
        monkeypatch.setattr(ddl, "VIEWS", changed)
        assert ddl.migrate(pool, state, target)[0].startswith("views.sql@") and comment() == "A changed comment"
        monkeypatch.undo()  # a rollback to the file as it was
        assert ddl.migrate(pool, state, target) and comment() == original
    finally:
        with pool.connection() as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{target}" CASCADE')
            conn.execute(f'DROP SCHEMA IF EXISTS "{state}" CASCADE')
        pool.close()
