"""Cross-service projections, fed by every event on the topic.

Live they are the tables of schema `analytics`. A rebuild (services.analytics.rebuild) replays
the event stores through these same handlers into a scratch schema, so the target schema is a
parameter of the queries rather than part of their text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID

from events.consumer import Consumer
from events.contract import (
    ALL_EVENTS,
    CaseCancelled,
    CaseClosed,
    CaseDeclined,
    CaseExpired,
    CaseFinallyDeclined,
    CaseOpened,
    CaseRouted,
    CaseWithdrawn,
    FeeCreditApplied,
    FeeCreditRedeemed,
    FeeInvoiced,
    InformationRequested,
    InvoiceVoided,
    PaymentCaptured,
    QuoteIssued,
    RecordsCompleted,
    RefundIssued,
    ReviewAccepted,
    ReviewDelivered,
    SlaAtRisk,
    SlaBreached,
    SlaClockBlocked,
    SlaClockResumed,
    SlaClockStarted,
    SlaClockStopped,
    TreatmentBooked,
)
from events.db import Conn, Queries
from events.registry import Decoded
from services.analytics.ddl import LIVE_SCHEMA
from services.common.runtime import Runtime

QUERIES = Path(__file__).with_name("queries.sql")


class Projection:
    """The projection's writes and reads against the tables of one target schema."""

    def __init__(self, target: str) -> None:
        self.target = target
        self._q = Queries(QUERIES, target)

    def project(self, conn: Conn, decoded: Decoded) -> None:
        env = decoded.envelope
        params = {
            "case_id": env.case_id, "event_id": env.event_id, "event_type": env.event_type,
            "producer": env.producer, "stream_version": env.stream_version,
            "occurred_at": env.occurred_at, "recorded_at": env.recorded_at,
        }
        conn.execute(self._q["add_to_timeline"], params)
        conn.execute(self._q["count_event"], params)
        self.facts(conn, decoded)

    def facts(self, conn: Conn, decoded: Decoded) -> None:
        """Keeps analytics.cases, quotes and money_movements current; every event reaches this."""
        env, e, q = decoded.envelope, decoded.event, self._q
        base = {"case_id": env.case_id, "at": env.occurred_at}

        if isinstance(e, QuoteIssued):
            conn.execute(q["quote"], {"quote_id": env.case_id, "at": env.occurred_at, "tumour_site": e.tumour_site,
                                      "review_cents": e.review_cents, "video_cents": e.video_cents,
                                      "version": e.price_book_version})
            return
        conn.execute(q["ensure_case"], base)
        match e:
            case CaseOpened():
                conn.execute(q["case_opened"], {
                    **base, "quote_id": e.quote_id, "tumour_site": e.tumour_site, "histology": e.histology,
                    "rare_tumour": e.rare_tumour, "stage_group": e.stage_group,
                    "referral_reasons": [r.value for r in e.referral_reasons],
                    "patient_country": e.patient_country, "wants_video": e.wants_video})
            case RecordsCompleted():
                conn.execute(q["records_completed"], base)
            case CaseRouted():
                conn.execute(q["routed"], {**base, "centre_id": e.centre_id})
            case CaseDeclined():
                conn.execute(q["declined"], base)
            case ReviewAccepted():
                conn.execute(q["accepted"], {**base, "centre_id": e.centre_id})
            case SlaClockStarted():
                conn.execute(q["sla_clock"], {**base, "target_due": e.target_due, "limit_due": e.limit_due,
                                              "paused": 0})
            case SlaClockResumed():
                conn.execute(q["sla_clock"], {**base, "target_due": e.target_due, "limit_due": e.limit_due,
                                              "paused": e.paused_business_days})
            case InformationRequested():
                conn.execute(q["paused"], base)
            case SlaClockStopped():
                conn.execute(q["sla_stopped"], {**base, "used": e.business_days_used,
                                                "paused": e.paused_business_days, "within_target": e.within_target,
                                                "within_limit": e.within_limit})
            case SlaAtRisk():
                conn.execute(q["at_risk"], base)
            case SlaBreached():
                conn.execute(q["breached"], base)
            case SlaClockBlocked():
                conn.execute(q["calendar_unknown"], base)
            case ReviewDelivered():
                conn.execute(q["delivered"], {**base, "pathway": e.recommended_pathway,
                                              "diagnosis_change": e.diagnosis_change,
                                              "treatment_change": e.treatment_change})
            case TreatmentBooked():
                conn.execute(q["decided"], {**base, "decision": "booked_treatment", "treatment_type": e.treatment_type,
                                            "travel_reason": e.travel_reason})
            case CaseClosed():
                conn.execute(q["decided"], {**base, "decision": "returned_home", "treatment_type": None,
                                            "travel_reason": None})
            case CaseCancelled() | CaseWithdrawn() | CaseExpired() | CaseFinallyDeclined():
                ending = {"CaseCancelled": "cancelled", "CaseWithdrawn": "withdrawn", "CaseExpired": "expired",
                          "CaseFinallyDeclined": "declined_by_all_centres"}[env.event_type]
                conn.execute(q["ended"], {**base, "ending": ending})
            case _:
                self._money(conn, decoded)

    def _money(self, conn: Conn, decoded: Decoded) -> None:
        """Every movement of money, one row per component, for the revenue views."""
        env, e = decoded.envelope, decoded.event

        def money(kind: str, component: str, cents: int) -> None:
            if cents:
                conn.execute(self._q["money"], {"event_id": env.event_id, "component": component,
                                                "case_id": env.case_id, "at": env.occurred_at, "kind": kind,
                                                "cents": cents})

        match e:
            case FeeInvoiced():
                for line in e.breakdown:
                    money("invoiced", line.component, line.cents)
            case InvoiceVoided():
                money("voided", "review", e.review_cents)
                money("voided", "video", e.video_cents)
            case PaymentCaptured():
                money("captured", "review", e.review_fee_cents)
                money("captured", "video", e.video_fee_cents)
            case RefundIssued():
                kind = "sla_credit" if e.reason == "sla_breach" else "refunded"
                money(kind, "review", e.review_cents)
                money(kind, "video", e.video_cents)
            case FeeCreditApplied():
                money("credit_issued", "review", e.amount_cents)
            case FeeCreditRedeemed():
                money("credit_redeemed", "review", e.amount_cents)

    def timeline(self, conn: Conn, case_id: UUID) -> list[dict[str, Any]]:
        return conn.execute(self._q["timeline"], {"case_id": case_id}).fetchall()


LIVE = Projection(LIVE_SCHEMA)
project = LIVE.project


def fact_projector(target: str = LIVE_SCHEMA) -> Consumer:
    """Projects every fact of every service; a rebuild takes its handlers with the scratch schema as target."""
    projection = LIVE if target == LIVE_SCHEMA else Projection(target)
    # "timeline" is the name its consumer group and processed-events rows were stored under; a new
    # name would make it project the whole history a second time.
    return Consumer("timeline", {model.event_type: projection.project for model in ALL_EVENTS})


def timeline(rt: Runtime, case_id: UUID) -> list[dict[str, Any]]:
    with rt.pool.connection() as conn:
        return LIVE.timeline(conn, case_id)
