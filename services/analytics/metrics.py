"""Business metrics, read from the projections at scrape time (so every API replica agrees)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from events.db import Connections, Queries

_Q = Queries(Path(__file__).with_name("metrics_queries.sql"), "analytics")


class BusinessCollector(Collector):
    def __init__(self, pool: Connections) -> None:
        self.pool = pool

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with self.pool.connection() as conn:
            cases = GaugeMetricFamily("case_ledger_cases", "Cases by funnel stage", labels=["state"])
            for r in conn.execute(_Q["cases_by_state"]):
                cases.add_metric([r["state"]], r["n"])
            yield cases

            sla = {r["state"]: r["n"] for r in conn.execute(_Q["sla_states"])}
            yield GaugeMetricFamily("case_ledger_sla_at_risk_cases", "Open reviews at risk of missing the SLA",
                                    value=sla.get("at_risk", 0))
            yield GaugeMetricFamily("case_ledger_sla_breached_cases", "Open reviews past the 10-day limit",
                                    value=sla.get("breached", 0))

            travel = conn.execute(_Q["travel"]).fetchone()
            decided = travel["decided"] if travel else 0
            yield GaugeMetricFamily("case_ledger_decided_cases", "Delivered cases whose patient decided",
                                    value=decided)
            yield GaugeMetricFamily("case_ledger_travel_share", "Share of decided cases that booked treatment",
                                    value=float(travel["share"]) if travel and travel["share"] is not None else 0.0)

            revenue = GaugeMetricFamily("case_ledger_revenue_cents", "Invoiced revenue by price component",
                                        labels=["component"])
            refunds = credits = 0
            for r in conn.execute(_Q["money"]):
                if r["kind"] == "invoiced":
                    revenue.add_metric([r["component"]], r["cents"])
                elif r["kind"] in ("refunded", "sla_credit"):
                    refunds += r["cents"]
                elif r["kind"] == "credit_issued":
                    credits += r["cents"]
            yield revenue
            yield GaugeMetricFamily("case_ledger_refunds_cents", "Refunds and SLA credits paid back", value=refunds)
            yield GaugeMetricFamily("case_ledger_fee_credits_issued_cents", "Fee credits applied to treatment",
                                    value=credits)

            changes = GaugeMetricFamily("case_ledger_review_changes", "Delivered reviews by change tier",
                                        labels=["kind", "tier"])
            for r in conn.execute(_Q["review_changes"]):
                changes.add_metric([r["kind"], r["tier"]], r["n"])
            yield changes

            fresh = conn.execute(_Q["freshness"]).fetchone()
            last = GaugeMetricFamily("case_ledger_projection_last_event_timestamp_seconds",
                                     "Recording time of the newest event the projection holds", labels=["consumer"])
            if fresh and fresh["ts"] is not None:
                last.add_metric(["timeline"], float(fresh["ts"]))
            yield last
