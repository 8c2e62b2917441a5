"""The projection's rules as a pure fold: what each event makes of the rows of schema `analytics`.

The live projector folds a consumer batch over the rows it reads back (services.analytics.
projections) and the rebuild folds the whole history in memory (services.analytics.rebuild):
one set of rules, so the two cannot drift apart, and neither runs a statement per event.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date
from enum import Enum
from typing import Any
from uuid import UUID

from events import lifecycle
from events.contract import (
    CaseClosed,
    CaseDeclined,
    CaseOpened,
    CaseRouted,
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
from events.lifecycle import Life
from events.registry import Decoded

Row = dict[str, Any]

# The columns of each table in the order of their migrations (COPY and the upserts name them).
TIMELINE_COLUMNS = ("case_id", "event_id", "event_type", "producer", "stream_version", "occurred_at", "recorded_at",
                    "actor", "actor_role")
COUNT_COLUMNS = ("day", "producer", "event_type", "events")
QUOTE_COLUMNS = ("quote_id", "issued_at", "tumour_site", "review_cents", "video_cents", "price_book_version")
MONEY_COLUMNS = ("event_id", "component", "case_id", "occurred_at", "kind", "cents")
CASE_DEFAULTS: Row = {
    "case_id": None, "quote_id": None, "opened_at": None, "tumour_site": None, "histology": None,
    "rare_tumour": None, "stage_group": None, "referral_reasons": [], "patient_country": None,
    "wants_video": None, "records_completed_at": None, "routed_at": None, "centre_id": None,
    "routing_attempts": 0, "declines": 0, "accepted_at": None, "delivered_at": None,
    "recommended_pathway": None, "diagnosis_change": None, "treatment_change": None, "decided_at": None,
    "decision": None, "treatment_type": None, "travel_reason": None, "ended_at": None, "ending": None,
    "sla_target_due": None, "sla_limit_due": None, "sla_paused_since": None, "sla_paused_business_days": None,
    "sla_business_days_used": None, "sla_within_target": None, "sla_within_limit": None,
    "sla_at_risk_at": None, "sla_breached_at": None, "sla_calendar_unknown": False,
    # The case's life (events.lifecycle) and the answers every read model reads from it.
    "life": {}, "status": None, "waiting_on": None, "waiting_since": None,
}
CASE_COLUMNS = tuple(CASE_DEFAULTS)
_LIFE = CASE_COLUMNS.index("life")



def _text(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def new_case(case_id: UUID) -> Row:
    return {**CASE_DEFAULTS, "case_id": case_id, "referral_reasons": []}


def timeline_row(decoded: Decoded) -> tuple[Any, ...]:
    env = decoded.envelope
    return (env.case_id, env.event_id, env.event_type, env.producer, env.stream_version, env.occurred_at,
            env.recorded_at, env.actor, env.actor_role)


def count_key(decoded: Decoded) -> tuple[date, str, str]:
    """Events are counted per business day: the UTC date of occurred_at."""
    env = decoded.envelope
    return env.occurred_at.astimezone(UTC).date(), env.producer, env.event_type


def quote_row(decoded: Decoded) -> tuple[Any, ...] | None:
    e = decoded.event
    if not isinstance(e, QuoteIssued):
        return None
    env = decoded.envelope
    return (env.case_id, env.occurred_at, _text(e.tumour_site), e.review_cents, e.video_cents, e.price_book_version)


def touches_case(decoded: Decoded) -> bool:
    """Every event but a quote has a case row, whichever service's fact arrives first."""
    return not isinstance(decoded.event, QuoteIssued)


def apply(case: Row, decoded: Decoded) -> None:
    """Folds one event into its case's row (made by new_case when it had none)."""
    at, e = decoded.envelope.occurred_at, decoded.event
    match e:
        case CaseOpened():
            case.update(opened_at=at, quote_id=e.quote_id, tumour_site=_text(e.tumour_site),
                        histology=_text(e.histology), rare_tumour=e.rare_tumour, stage_group=_text(e.stage_group),
                        referral_reasons=[_text(r) for r in e.referral_reasons],
                        patient_country=e.patient_country, wants_video=e.wants_video)
        case RecordsCompleted():
            # The first completion counts; records added later do not move it.
            if case["records_completed_at"] is None:
                case["records_completed_at"] = at
        case CaseRouted():
            case.update(routed_at=at, centre_id=e.centre_id, routing_attempts=case["routing_attempts"] + 1)
        case CaseDeclined():
            # A decline resets the review: the next centre's acceptance starts a new clock.
            case.update(declines=case["declines"] + 1, accepted_at=None, sla_target_due=None, sla_limit_due=None,
                        sla_paused_since=None, sla_at_risk_at=None, sla_breached_at=None,
                        sla_calendar_unknown=False)
        case ReviewAccepted():
            case.update(accepted_at=at, centre_id=e.centre_id, sla_calendar_unknown=False)
        case SlaClockStarted():
            case.update(sla_target_due=e.target_due, sla_limit_due=e.limit_due, sla_paused_business_days=0,
                        sla_paused_since=None)
        case SlaClockResumed():
            paused = e.paused_business_days
            case.update(sla_target_due=e.target_due, sla_limit_due=e.limit_due, sla_paused_since=None,
                        sla_paused_business_days=case["sla_paused_business_days"] if paused is None else paused)
        case InformationRequested():
            case["sla_paused_since"] = at
        case SlaClockStopped():
            case.update(sla_business_days_used=e.business_days_used, sla_paused_business_days=e.paused_business_days,
                        sla_within_target=e.within_target, sla_within_limit=e.within_limit, sla_paused_since=None)
        case SlaAtRisk():
            case["sla_at_risk_at"] = at
        case SlaBreached():
            case["sla_breached_at"] = at
        case SlaClockBlocked():
            case["sla_calendar_unknown"] = True
            if e.target_due is not None:
                case["sla_target_due"] = e.target_due
        case ReviewDelivered():
            case.update(delivered_at=at, recommended_pathway=_text(e.recommended_pathway),
                        diagnosis_change=_text(e.diagnosis_change), treatment_change=_text(e.treatment_change))
        case TreatmentBooked():
            case.update(decided_at=at, decision="booked_treatment", treatment_type=_text(e.treatment_type),
                        travel_reason=_text(e.travel_reason))
        case CaseClosed():
            case.update(decided_at=at, decision="returned_home", treatment_type=None, travel_reason=None)


def answer(case: Row, life: Life) -> None:
    """The row's answers from its life: status, whose move since when, and `ending` for analysts:
    an ending that stopped the work (a booking or a closure is the patient's decision, kept apart)."""
    party, since = life.waiting
    first = life.ending
    stopped = first is not None and life.status in lifecycle.STOPPING
    case.update(status=life.status.value, waiting_on=party, waiting_since=since,
                ending=life.status.value if stopped else None, ended_at=first[1] if stopped and first else None)


def money_rows(decoded: Decoded) -> Iterator[tuple[Any, ...]]:
    """Every movement of money, one row per component (zero amounts are no movement)."""
    env, e = decoded.envelope, decoded.event
    parts: list[tuple[str, str, int]] = []
    match e:
        case FeeInvoiced():
            parts = [("invoiced", line.component, line.cents) for line in e.breakdown]
        case InvoiceVoided():
            parts = [("voided", "review", e.review_cents), ("voided", "video", e.video_cents)]
        case PaymentCaptured():
            parts = [("captured", "review", e.review_fee_cents), ("captured", "video", e.video_fee_cents)]
        case RefundIssued():
            kind = "sla_credit" if e.reason == "sla_breach" else "refunded"
            parts = [(kind, "review", e.review_cents), (kind, "video", e.video_cents)]
        case FeeCreditApplied():
            parts = [("credit_issued", "review", e.amount_cents)]
        case FeeCreditRedeemed():
            parts = [("credit_redeemed", "review", e.amount_cents)]
    seen: set[str] = set()
    for kind, component, cents in parts:
        component = _text(component)
        # (event, component) is the key: a component named twice keeps its first amount.
        if cents and component not in seen:
            seen.add(component)
            yield env.event_id, component, env.case_id, env.occurred_at, kind, cents


class Fold:
    """Events folded into the rows they make: one per case, quote, counted (day, producer, type),
    and money movement. `cases` starts with the rows already stored, if any; their lives are parsed
    once and written back as JSON by `case_rows`."""

    def __init__(self, cases: dict[UUID, Row] | None = None) -> None:
        self.cases: dict[UUID, Row] = cases if cases is not None else {}
        self.lives: dict[UUID, Life] = {}
        self.counts: Counter[tuple[date, str, str]] = Counter()
        self.quotes: dict[UUID, tuple[Any, ...]] = {}
        self.money: dict[tuple[UUID, str], tuple[Any, ...]] = {}

    def add(self, decoded: Decoded) -> None:
        self.counts[count_key(decoded)] += 1
        quote = quote_row(decoded)
        if quote is not None:
            self.quotes.setdefault(quote[0], quote)  # the first quote stands, as its key does
        if touches_case(decoded):
            case_id = decoded.envelope.case_id
            row = self.cases.get(case_id)
            if row is None:
                row = self.cases[case_id] = new_case(case_id)
            apply(row, decoded)
            life = self.lives.get(case_id)
            if life is None:
                life = self.lives[case_id] = lifecycle.load(row["life"])
            if lifecycle.apply(life, decoded):
                answer(row, life)
        for movement in money_rows(decoded):
            self.money.setdefault((movement[0], movement[1]), movement)

    def case_rows(self, as_json: Any = None) -> Iterator[list[Any]]:
        """Each row as a list of CASE_COLUMNS; its life as JSON, wrapped by `as_json` if given."""
        for case_id, row in self.cases.items():
            if (life := self.lives.get(case_id)) is not None:
                row["life"] = lifecycle.dump(life)
            values = [row[c] for c in CASE_COLUMNS]
            if as_json is not None:
                values[_LIFE] = as_json(values[_LIFE])
            yield values

    def count_rows(self) -> Iterator[tuple[Any, ...]]:
        return ((*key, n) for key, n in self.counts.items())

    def take_money(self) -> list[tuple[Any, ...]]:
        """The movements folded since the last take (they are never updated, only added)."""
        taken = list(self.money.values())
        self.money.clear()
        return taken
