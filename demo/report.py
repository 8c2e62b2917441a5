"""The analyst's summary, read from the analytics views once the projection has caught up.

Scope "run" (the default) reads the views over this run's cases and quotes only: the three fact
tables are copied, filtered, into temporary tables of this session, and each view is re-created
as a temporary view from its own definition in the database (pg_get_viewdef), so the figures are
the views' own arithmetic. Scope "ledger" reads schema analytics as it is, every case in it.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import dict_row

from demo.api import StepFailed
from demo.plan import YearPlan
from demo.play import CaseResult
from demo.progress import Patience

Conn = psycopg.Connection[dict[str, Any]]
STORES = ("intake", "routing", "review", "billing")
VIEWS = ("case_funnel", "funnel_summary", "sla_cases", "sla_summary", "travel_outcomes", "review_outcomes", "revenue")
Z = 1.96


def connect(database_url: str) -> Conn:
    return psycopg.connect(database_url, autocommit=True, row_factory=dict_row)


def wait_until_projected(conn: Conn, ids: Sequence[UUID], patience: Patience) -> tuple[int, float]:
    """Waits until analytics has projected every event the four stores hold for `ids`, for as long
    as the stack makes progress; returns (events, seconds waited)."""
    start = time.monotonic()
    seen: dict[str, int] = {}

    def caught_up() -> bool:
        stored = sum(_one(conn.execute(f"SELECT count(*) AS n FROM {schema}.events WHERE case_id = ANY(%s)",
                                       (list(ids),)))["n"] for schema in STORES)
        projected = _one(conn.execute("SELECT count(*) AS n FROM analytics.case_timeline WHERE case_id = ANY(%s)",
                                      (list(ids),)))["n"]
        seen.update(stored=stored, projected=projected)
        return stored == projected

    try:
        patience.wait(caught_up, "the projection to catch up", interval=0.25)
    except StepFailed as exc:
        raise StepFailed(f"{exc.what}: {seen.get('stored')} events stored, {seen.get('projected')} projected") from None
    return seen["stored"], time.monotonic() - start


def _one(cursor: psycopg.Cursor[dict[str, Any]]) -> dict[str, Any]:
    row = cursor.fetchone()
    assert row is not None
    return row


def scope_to_run(conn: Conn, case_ids: Sequence[UUID], quote_ids: Sequence[UUID]) -> str:
    """Temporary copies of the analytics views over this run's rows; returns the schema to query."""
    conn.execute("SET search_path TO pg_catalog")
    definitions = {v: _one(conn.execute("SELECT pg_get_viewdef(%s::regclass, true) AS d", (f"analytics.{v}",)))["d"]
                   for v in VIEWS}
    conn.execute("CREATE TEMP TABLE cases AS SELECT * FROM analytics.cases WHERE case_id = ANY(%s)", (list(case_ids),))
    conn.execute("CREATE TEMP TABLE quotes AS SELECT * FROM analytics.quotes WHERE quote_id = ANY(%s)",
                 (list(quote_ids),))
    conn.execute("CREATE TEMP TABLE money_movements AS SELECT * FROM analytics.money_movements "
                 "WHERE case_id = ANY(%s)", (list(case_ids),))
    for view in VIEWS:
        body = re.sub(r"\banalytics\.", "pg_temp.", definitions[view]).rstrip().rstrip(";")
        conn.execute(f"CREATE TEMP VIEW {view} AS {body}")
    return "pg_temp"


# ------------------------------------------------------------------ formatting
def usd(cents: Any) -> str:
    value = Decimal(int(cents or 0)) / 100
    return f"{'-' if value < 0 else ''}${abs(value):,.0f}"


def pct(x: Any, digits: int = 1) -> str:
    return "-" if x is None else f"{float(x) * 100:.{digits}f}%"


def num(x: Any, digits: int = 1) -> str:
    return "-" if x is None else f"{float(x):.{digits}f}"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], indent: str = "  ") -> str:
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        lines.append(indent + "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                                        for i, (c, w) in enumerate(zip(row, widths, strict=True))).rstrip())
        if n == 0:
            lines.append(indent + "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def wilson(k: int, n: int) -> tuple[float, float]:
    if n == 0:
        return (math.nan, math.nan)
    p = k / n
    centre = p + Z * Z / (2 * n)
    spread = Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n))
    return ((centre - spread) / (1 + Z * Z / n), (centre + spread) / (1 + Z * Z / n))


# ------------------------------------------------------------------ the summary
Query = Callable[..., list[dict[str, Any]]]


def _funnel(q: Query, out: Callable[[str], None]) -> None:
    f = q("SELECT * FROM {s}.funnel_summary")[0]
    stages = {r["stage"]: r["n"] for r in q("SELECT stage, count(*) AS n FROM {s}.case_funnel GROUP BY stage")}
    days = q("""SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY days_to_records_complete) AS records,
                       percentile_cont(0.5) WITHIN GROUP (ORDER BY days_to_acceptance) AS acceptance,
                       percentile_cont(0.5) WITHIN GROUP (ORDER BY days_to_delivery) AS delivery,
                       percentile_cont(0.5) WITHIN GROUP (ORDER BY days_to_decision) AS decision
                FROM {s}.case_funnel""")[0]
    out("\nFUNNEL (funnel_summary, case_funnel)")
    rows: list[tuple[Any, ...]] = [("quotes issued", f["quotes"], "", ""),
            ("cases opened", f["cases"], f"{f['cases_from_quotes']} from a quote "
             f"({pct(f['cases_from_quotes'] / f['quotes'] if f['quotes'] else None)} of quotes converted)", ""),
            ("records complete", f["records_complete"], pct(_ratio(f["records_complete"], f["cases"])),
             f"{num(days['records'])} d after opening"),
            ("accepted by a centre", f["accepted"], pct(_ratio(f["accepted"], f["records_complete"])),
             f"{num(days['acceptance'])} d after records complete"),
            ("review delivered", f["delivered"], pct(_ratio(f["delivered"], f["accepted"])),
             f"{num(days['delivery'])} d after acceptance"),
            ("patient decided", f["decided"], pct(_ratio(f["decided"], f["delivered"])),
             f"{num(days['decision'])} d after delivery"),
            ("  booked treatment in China", f["booked_treatment"], pct(_ratio(f["booked_treatment"], f["decided"])),
             "")]
    out(table(("stage", "cases", "of previous stage", "median wait (calendar days)"), rows))
    ended = {k.removeprefix("ended_"): v for k, v in stages.items() if k.startswith("ended_")}
    waiting = {k: v for k, v in stages.items() if not k.startswith("ended_") and k != "decided"}
    out("  ended early: " + (", ".join(f"{k} {v}" for k, v in sorted(ended.items())) or "none")
        + ";  still open: " + (", ".join(f"{k} {v}" for k, v in sorted(waiting.items())) or "none"))


def _sla(q: Query, out: Callable[[str], None]) -> None:
    sla = q("""SELECT coalesce(centre_id, 'all centres') AS centre, count(*) AS delivered,
                      avg((business_days_used <= 7)::int) AS within_7,
                      avg((state = 'delivered_on_time')::int) AS within_10,
                      percentile_cont(0.5) WITHIN GROUP (ORDER BY business_days_used) AS median,
                      percentile_cont(0.9) WITHIN GROUP (ORDER BY business_days_used) AS p90,
                      count(at_risk_at) AS at_risk, count(breached_at) AS breached,
                      sum(paused_business_days) AS paused
               FROM {s}.sla_cases WHERE delivered_at IS NOT NULL AND business_days_used IS NOT NULL
               GROUP BY ROLLUP (centre_id) ORDER BY centre_id NULLS LAST""")
    out("\nSLA: BUSINESS DAYS FROM ACCEPTANCE TO DELIVERY (sla_cases; target 7, limit 10, Asia/Shanghai calendar)")
    out(table(("centre", "delivered", "within 7", "within 10", "median", "p90", "at risk", "breached",
               "paused days"),
              [(r["centre"], r["delivered"], pct(r["within_7"]), pct(r["within_10"]), num(r["median"]),
                num(r["p90"]), r["at_risk"], r["breached"], r["paused"] or 0) for r in sla]))
    months = q("""SELECT month, sum(delivered) AS delivered,
                         sum(delivered * share_within_10) / sum(delivered) AS within_10
                  FROM {s}.sla_summary GROUP BY month ORDER BY month""")
    if months:
        out("  within 10 by month of delivery (sla_summary): " + ", ".join(
            f"{r['month']:%b} {pct(r['within_10'], 0)} ({r['delivered']})" for r in months))
    states = q("SELECT state, count(*) AS n FROM {s}.sla_cases GROUP BY state ORDER BY state")
    out("  clocks by state: " + ", ".join(f"{r['state']} {r['n']}" for r in states))


def _travel(q: Query, out: Callable[[str], None]) -> None:
    travel = q("""SELECT * FROM {s}.travel_outcomes
                  WHERE dimension IN ('overall', 'centre', 'tumour_site', 'recommended_pathway')
                  ORDER BY array_position(ARRAY['overall', 'centre', 'tumour_site', 'recommended_pathway'],
                                          dimension), decided DESC, value""")
    out("\nTRAVEL FOR TREATMENT (travel_outcomes: share of decided cases that booked treatment, 95% Wilson "
        "interval;\n  undecided cases are counted apart, never in the denominator; seed figure ~40%)")
    out(table(("dimension", "value", "decided", "travelled", "share", "95% CI", "undecided"),
              [(r["dimension"], r["value"], r["decided"], r["travelled"], pct(r["share"]),
                f"{pct(r['ci95_low'])}-{pct(r['ci95_high'])}" if r["share"] is not None else "-", r["undecided"])
               for r in travel]))
    overall = next((r for r in travel if r["dimension"] == "overall"), None)
    reasons = q("""SELECT value, travelled FROM {s}.travel_outcomes
                   WHERE dimension = 'travel_reason' AND value <> 'none' ORDER BY travelled DESC, value""")
    if overall and overall["decided"]:
        n = overall["decided"]
        out("  by travel reason (each reason's bookings as a share of all decided cases):")
        out(table(("travel reason", "travelled", "share of decided", "95% CI"),
                  [(r["value"], r["travelled"], pct(r["travelled"] / n),
                    "{}-{}".format(*(pct(x) for x in wilson(r["travelled"], n)))) for r in reasons], "    "))


def _review_outcomes(q: Query, out: Callable[[str], None]) -> None:
    outcomes = q("""SELECT * FROM {s}.review_outcomes WHERE dimension IN ('overall', 'referral_reason')
                    ORDER BY dimension = 'overall' DESC, reviews DESC, value""")
    out("\nSECOND-OPINION OUTCOMES (review_outcomes; literature: diagnosis changed 10-20%, treatment 30-40%; "
        "context, not targets)")
    rows = []
    for r in outcomes:
        rows.append((r["value"] if r["dimension"] == "referral_reason" else "all reviews", r["reviews"],
                     pct(r["diagnosis_changed"]), f"{pct(r['diagnosis_refined'])} / {pct(r['diagnosis_major_change'])}",
                     _versus(r["diagnosis_changed"], r["diagnosis_changed_reference_low"],
                             r["diagnosis_changed_reference_high"]),
                     pct(r["treatment_changed"]), f"{pct(r['treatment_refined'])} / {pct(r['treatment_major_change'])}",
                     _versus(r["treatment_changed"], r["treatment_changed_reference_low"],
                             r["treatment_changed_reference_high"])))
    out(table(("referral reason", "reviews", "dx changed", "refined/major", "vs 10-20%", "tx changed",
               "refined/major", "vs 30-40%"), rows))


def _revenue(q: Query, out: Callable[[str], None]) -> None:
    totals = q("""SELECT sum(invoiced_cents) AS invoiced, sum(voided_cents) AS voided, sum(captured_cents) AS captured,
                         sum(refunded_cents) AS refunded, sum(sla_credit_cents) AS sla_credit,
                         sum(credits_issued_cents) AS issued, sum(credits_redeemed_cents) AS redeemed,
                         sum(net_invoiced_cents) AS net, sum(net_captured_cents) AS net_cash
                  FROM {s}.revenue""")[0]
    out("\nREVENUE, REFUNDS AND CREDITS (revenue view, USD)")
    out(table(("invoiced", "voided", "captured", "refunded", "SLA credits", "net (invoiced)", "net (captured)",
               "fee credits issued", "fee credits redeemed"),
              [(usd(totals["invoiced"]), usd(totals["voided"]), usd(totals["captured"]), usd(totals["refunded"]),
                usd(totals["sla_credit"]), usd(totals["net"]), usd(totals["net_cash"]), usd(totals["issued"]),
                usd(totals["redeemed"]))]))
    by_month = q("""SELECT month, sum(invoiced_cents) AS invoiced,
                           sum(coalesce(refunded_cents, 0) + coalesce(voided_cents, 0)) AS refunded,
                           sum(sla_credit_cents) AS sla_credit, sum(net_invoiced_cents) AS net,
                           sum(credits_issued_cents) AS issued, sum(credits_redeemed_cents) AS redeemed
                    FROM {s}.revenue GROUP BY month ORDER BY month""")
    out(table(("month", "invoiced", "refunds+voids", "SLA credits", "net (invoiced)", "fee credits issued",
               "redeemed"),
              [(f"{r['month']:%Y-%m}" if isinstance(r["month"], date) else r["month"], usd(r["invoiced"]),
                usd(r["refunded"]), usd(r["sla_credit"]), usd(r["net"]), usd(r["issued"]), usd(r["redeemed"]))
               for r in by_month]))
    by_centre = q("""SELECT centre_id, sum(invoiced_cents) AS invoiced, sum(net_invoiced_cents) AS net,
                            sum(sla_credit_cents) AS sla_credit, sum(credits_issued_cents) AS issued
                     FROM {s}.revenue GROUP BY centre_id ORDER BY sum(net_invoiced_cents) DESC NULLS LAST""")
    out("  by reviewing centre: " + ", ".join(
        f"{r['centre_id']} {usd(r['net'])} net" + (f" (SLA credits {usd(r['sla_credit'])})" if r["sla_credit"] else "")
        for r in by_centre))
    components = q("""SELECT component, sum(invoiced_cents) AS invoiced FROM {s}.revenue
                      WHERE invoiced_cents > 0 GROUP BY component ORDER BY 2 DESC""")
    out("  invoiced by price component: " + ", ".join(f"{r['component']} {usd(r['invoiced'])}" for r in components))


def summary(conn: Conn, schema: str, out: Callable[[str], None] = print) -> None:
    s = schema
    q: Callable[..., list[dict[str, Any]]] = lambda sql, *args: conn.execute(sql.format(s=s), args).fetchall()  # noqa: E731
    _funnel(q, out)
    _sla(q, out)
    _travel(q, out)
    _review_outcomes(q, out)
    _revenue(q, out)


def _ratio(a: Any, b: Any) -> float | None:
    return float(a) / float(b) if b else None


def _versus(value: Any, low: Any, high: Any) -> str:
    if value is None:
        return "-"
    if value < low:
        return "below"
    return "above" if value > high else "within"


# ------------------------------------------------------------------ the plan against the ledger
def reconcile(conn: Conn, schema: str, year: YearPlan, results: Sequence[CaseResult]) -> list[str]:
    """Each played case's facts in analytics against its plan; returns one line per difference."""
    plans = {p.number: p for p in year.cases}
    rows = {str(r["case_id"]): r for r in conn.execute(f"SELECT * FROM {schema}.cases").fetchall()}
    diffs: list[str] = []
    for result in results:
        plan = plans[result.number]
        row = rows.get(result.case_id or "")
        if result.error is not None or row is None:
            continue
        expected = {
            "ending": None if plan.fate == "delivered" else plan.fate,
            "decision": plan.decision if plan.decision in ("booked_treatment", "returned_home") else None,
            "delivered": plan.review is not None,
            "at_risk": bool(plan.review and plan.review.at_risk),
            "breached": bool(plan.review and plan.review.breached),
            "business_days": plan.review.business_days if plan.review else None,
            "declined": plan.declined_first,
        }
        actual = {
            "ending": row["ending"], "decision": row["decision"], "delivered": row["delivered_at"] is not None,
            "at_risk": row["sla_at_risk_at"] is not None, "breached": row["sla_breached_at"] is not None,
            "business_days": row["sla_business_days_used"] if row["delivered_at"] is not None else None,
            "declined": row["declines"] > 0,
        }
        wrong = [f"{k}: planned {expected[k]}, ledger {actual[k]}" for k in expected if expected[k] != actual[k]]
        if wrong:
            diffs.append(f"case {plan.number} ({result.case_id}): " + "; ".join(wrong))
    return diffs
