"""Random valid histories of one case across the four services, and their interleavings (hypothesis).

A history is each service's own events in the order it appended them, with event times that only
go forward. The services' streams reach a reader in any interleaving that keeps a reaction behind
the event it answers (one partition per case): `interleavings` draws one. Commands of different
services have no such tie: intake's cancellation and a centre's acceptance may arrive either way.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from hypothesis import strategies as st

from events.contract import (
    CaseCancelled,
    CaseClosed,
    CaseDeclined,
    CaseExpired,
    CaseFinallyDeclined,
    CaseOpened,
    CaseRouted,
    CaseWithdrawn,
    ConsentGiven,
    ConsentWithdrawn,
    Envelope,
    Event,
    FeeInvoiced,
    FollowUpAnswered,
    FollowUpAsked,
    InformationReceived,
    InformationRequested,
    PatientDataErased,
    PaymentAuthorised,
    PaymentCaptured,
    PaymentFailed,
    RecordsCompleted,
    ReviewAccepted,
    ReviewDelivered,
    SlaAtRisk,
    SlaBreached,
    SlaClockBlocked,
    SlaClockStarted,
    SlaClockStopped,
    TreatmentBooked,
)
from events.registry import Decoded

T0 = datetime(2026, 3, 2, 1, tzinfo=UTC)
CENTRES = ("sysucc", "cams", "fuscc", "pkuch", "wch")


class Script:
    """Builds one case's history: each event its producer, its stream version and a later time."""

    def __init__(self, draw: Callable[[st.SearchStrategy[Any]], Any]) -> None:
        self.draw, self.case_id, self.at = draw, uuid4(), T0
        self.events: list[Decoded] = []
        self.causes: dict[UUID, UUID] = {}  # event id -> the other service's event it answers
        self.versions: dict[str, int] = {}

    def add(self, producer: str, event: Event, after: Decoded | None = None) -> Decoded:
        self.at += timedelta(minutes=int(self.draw(st.integers(1, 3000))))
        version = self.versions[producer] = self.versions.get(producer, 0) + 1
        env = Envelope(event_id=uuid4(), event_type=event.event_type, schema_version=event.schema_version,
                       case_id=self.case_id, stream_id=f"case-{self.case_id}", stream_version=version,
                       occurred_at=self.at, recorded_at=self.at, producer=producer, correlation_id=uuid4(),
                       payload=event.model_dump(mode="json"))
        decoded = Decoded(env, event)
        self.events.append(decoded)
        if after is not None:
            self.causes[env.event_id] = after.envelope.event_id
        return decoded

    def last(self, kind: type[Event]) -> Decoded:
        return next(d for d in reversed(self.events) if isinstance(d.event, kind))

    def maybe(self, p: float = 0.5) -> bool:
        return bool(self.draw(st.floats(0, 1)) < p)

    def due(self, days: int) -> date:
        return (self.at + timedelta(days=days)).date()


def _opening(s: Script) -> bool:
    s.add("intake", CaseOpened(patient_ref="pr_" + "a" * 32, tumour_site="lung", rare_tumour=False,
                               stage_group="II", referral_reasons=["stage_borderline"], patient_country="GB",
                               language="en"))
    s.add("billing", FeeInvoiced(invoice_id=uuid4(), review_fee_cents=80_000), after=s.last(CaseOpened))
    if s.maybe(0.1):
        s.add("billing", PaymentFailed(payment_id=uuid4(), stage="authorise", reason="provider_declined"))
    else:
        s.add("billing", PaymentAuthorised(payment_id=uuid4(), provider_ref="sim_1", amount_cents=80_000))
    s.add("intake", ConsentGiven(consent="health_data_processing", text_version="v1"))
    if s.maybe(0.9):
        s.add("intake", ConsentGiven(consent="transfer_abroad", text_version="v1", centre_ids=list(CENTRES)))
    if not s.maybe(0.85):
        return False
    s.add("intake", RecordsCompleted(record_count=6))
    return len([e for e in s.events if isinstance(e.event, ConsentGiven)]) == 2


def _review(s: Script, centre: str) -> bool:
    """The centre's part; True when it delivered."""
    s.add("review", ReviewAccepted(centre_id=centre), after=s.last(CaseRouted))
    if s.maybe(0.2):
        s.add("review", SlaClockBlocked(year=2027, target_due=s.due(9)))
    else:
        s.add("review", SlaClockStarted(target_due=s.due(9), limit_due=s.due(14)))
    if s.maybe(0.3):
        s.add("review", InformationRequested(request_id=uuid4(), topics=["additional_imaging"]))
        if s.maybe(0.7):
            s.add("review", InformationReceived(request_id=uuid4()))
    if s.maybe(0.2):
        s.add("billing", PaymentFailed(payment_id=uuid4(), stage="capture", reason="provider_declined"),
              after=s.last(RecordsCompleted))
        if s.maybe():
            s.add("billing", PaymentCaptured(payment_id=uuid4(), review_fee_cents=80_000))
    if s.maybe(0.3):
        s.add("review", SlaAtRisk(business_days_left=2, limit_due=s.due(3)))
        if s.maybe():
            s.add("review", SlaBreached(limit_due=s.due(1)))
    if not s.maybe(0.7):
        return False
    s.add("review", ReviewDelivered(centre_id=centre, pathology={"verdict": "agree"},
                                    imaging={"verdict": "stage_confirmed"}, recommended_pathway="surgery",
                                    rationale_codes=["guideline_concordant"], question_answer="answered",
                                    diagnosis_change="concordant", treatment_change="refined", report_ref=uuid4(),
                                    page_count=6))
    s.add("review", SlaClockStopped(business_days_used=6, paused_business_days=0, within_target=True,
                                    within_limit=s.maybe(0.8)))
    while s.maybe(0.3):
        follow_up = uuid4()
        s.add("review", FollowUpAsked(follow_up_id=follow_up, number=1, business_days=3, due=s.due(4)))
        if s.maybe(0.6):
            s.add("review", FollowUpAnswered(follow_up_id=follow_up, document_id=uuid4(), sha256="0" * 64,
                                             size_bytes=1, page_count=1, within_limit=True))
    return True


def _routing(s: Script) -> bool:
    """Routing and the centres; True when a centre delivered."""
    for attempt in range(1, 4):
        centre = CENTRES[attempt]
        cause = s.last(RecordsCompleted) if attempt == 1 else s.last(CaseDeclined)
        s.add("routing", CaseRouted(centre_id=centre, reason_codes=["specialty_fit"], attempt=attempt,
                                    accept_by=s.due(2)), after=cause)
        if not s.maybe(0.3):
            return _review(s, centre)
        s.add("review", CaseDeclined(centre_id=centre, reason="at_capacity"), after=s.last(CaseRouted))
    s.add("routing", CaseFinallyDeclined(declines=3), after=s.last(CaseDeclined))
    return False


_ENDINGS: tuple[Callable[[], Event], ...] = (
    lambda: CaseCancelled(reason="patient_request"), lambda: CaseWithdrawn(reason="patient_request"),
    lambda: CaseExpired(dormant_days=30), lambda: PatientDataErased(patient_ref="pr_" + "a" * 32))


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[Decoded], dict[UUID, UUID]]:
    """One case's events in append order, ending (or not) at a random point, and their causes."""
    s = Script(draw)
    delivered = _routing(s) if _opening(s) else False
    ending = draw(st.integers(0, 5))
    if delivered and ending == 4:
        s.add("intake", TreatmentBooked(centre_id="cams", treatment_type="surgery", travel_reason="one_programme",
                                        estimated_cost_cents=1_000_000), after=s.last(ReviewDelivered))
    elif delivered and ending == 5:
        s.add("intake", CaseClosed(reason="returned_home_refined_plan"), after=s.last(ReviewDelivered))
    elif ending < 4:
        if ending == 1 and s.maybe():
            s.add("intake", ConsentWithdrawn(consent="transfer_abroad"))
        s.add("intake", _ENDINGS[ending]())
    return s.events, s.causes


@st.composite
def interleavings(draw: st.DrawFn, events: list[Decoded], causes: dict[UUID, UUID]) -> list[Decoded]:
    """The same events with each producer's order kept, every reaction behind its cause, and the
    producers' streams otherwise mixed at random."""
    queues: dict[str, list[Decoded]] = {}
    for d in events:
        queues.setdefault(d.envelope.producer, []).append(d)
    out: list[Decoded] = []
    seen: set[UUID] = set()
    while queues:
        ready = sorted(p for p, q in queues.items() if causes.get(q[0].envelope.event_id, q[0].envelope.event_id)
                       in seen | {q[0].envelope.event_id})
        producer = draw(st.sampled_from(ready))
        head = queues[producer].pop(0)
        out.append(head)
        seen.add(head.envelope.event_id)
        if not queues[producer]:
            del queues[producer]
    return out


def case_of(events: list[Decoded]) -> UUID:
    return events[0].envelope.case_id
