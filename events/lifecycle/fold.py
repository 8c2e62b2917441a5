"""Folding a case's events into its `Life`, once per producer and stream version, in any interleaving."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from events.contract import (
    CaseDeclined,
    CaseOpened,
    CaseRouted,
    ConsentGiven,
    ConsentWithdrawn,
    Event,
    FollowUpAnswered,
    FollowUpAsked,
    InformationReceived,
    InformationRequested,
    PaymentAuthorised,
    PaymentCaptured,
    PaymentFailed,
    RecordsCompleted,
    ReviewAccepted,
    ReviewDelivered,
    SlaAtRisk,
    SlaBreached,
    SlaClockBlocked,
    SlaClockResumed,
    SlaClockStarted,
    SlaClockStopped,
)
from events.lifecycle.life import ENDINGS, Clock, Life, _latest
from events.registry import Decoded


def fold(events: list[Decoded], life: Life | None = None) -> Life:
    life = life or Life()
    for decoded in events:
        apply(life, decoded)
    return life


def apply(life: Life, decoded: Decoded) -> bool:
    """Folds one event in (in place); False when it was applied before (or is not the case's)."""
    env = decoded.envelope
    # Only the events the life reads move it (its time included): every read model, whatever else it
    # consumes, then keeps the same life of the same case.
    if env.event_type not in FOLDED or env.stream_id != f"case-{env.case_id}":
        return False
    if life.seen.get(env.producer, 0) >= env.stream_version:
        return False
    life.seen[env.producer] = env.stream_version
    at = env.occurred_at
    life.updated_at = at if life.updated_at is None else max(life.updated_at, at)
    if env.event_type in ENDINGS:
        # The first ending by event time stands, whichever service's fact arrived first.
        life.endings.setdefault(env.event_type, at)
        if env.event_type == "CaseFinallyDeclined":
            _release(life, None, at)
        return True
    _INTAKE.get(type(decoded.event), _nothing)(life, decoded.event, at)
    _OTHERS.get(type(decoded.event), _nothing)(life, decoded.event, at)
    return True


def _nothing(life: Life, e: Any, at: datetime) -> None:
    return None


def _opened(life: Life, e: CaseOpened, at: datetime) -> None:
    life.opened_at, life.tumour_site = at, e.tumour_site.value


def _consent(life: Life, e: ConsentGiven | ConsentWithdrawn, at: datetime) -> None:
    was_ready = life.ready
    life.consents[e.consent.value] = isinstance(e, ConsentGiven)
    if life.ready and not was_ready:
        life.ready_at = at


def _complete(life: Life, e: RecordsCompleted, at: datetime) -> None:
    was_ready = life.ready
    life.complete_at = life.complete_at or at
    if life.ready and not was_ready:
        life.ready_at = at


_INTAKE: dict[type, Any] = {CaseOpened: _opened, ConsentGiven: _consent, ConsentWithdrawn: _consent,
                            RecordsCompleted: _complete}


def _routed(life: Life, e: CaseRouted, at: datetime) -> None:
    # A later attempt (after a decline) replaces an earlier one.
    if e.attempt > life.attempt:
        life.centre, life.attempt, life.routed_at, life.accept_by = e.centre_id.value, e.attempt, at, e.accept_by


def _release(life: Life, centre: str | None, at: datetime) -> None:
    if centre is None or life.centre == centre:
        life.centre, life.accept_by, life.released_at = None, None, at


def _declined(life: Life, e: CaseDeclined, at: datetime) -> None:
    # The decline sends the case back to routing: no clock runs until the next centre accepts.
    _release(life, e.centre_id.value, at)
    life.clock = Clock()
    life.information_open = False


def _accepted(life: Life, e: ReviewAccepted, at: datetime) -> None:
    life.clock = Clock(accepted=True)


def _clock(life: Life, e: Event, at: datetime) -> None:
    c = life.clock
    match e:
        case SlaClockStarted() | SlaClockResumed():
            c.target_due, c.limit_due = e.target_due, e.limit_due
        case SlaAtRisk():
            # In a year the calendar does not know the limit has no date: the one known stays.
            c.at_risk, c.limit_due = True, e.limit_due or c.limit_due
        case SlaBreached():
            c.breached, c.limit_due = True, e.limit_due
        case SlaClockBlocked():
            c.calendar_blocked, c.target_due = True, e.target_due or c.target_due
        case SlaClockStopped():
            c.within_limit = e.within_limit


def _information(life: Life, e: InformationRequested | InformationReceived, at: datetime) -> None:
    life.information_open, life.information_since = isinstance(e, InformationRequested), at


def _delivered(life: Life, e: ReviewDelivered, at: datetime) -> None:
    # Delivering while information is awaited closes that request.
    life.delivered_at, life.information_open = at, False


def _asked(life: Life, e: FollowUpAsked, at: datetime) -> None:
    life.follow_ups[str(e.follow_up_id)] = (at, e.due)


def _answered(life: Life, e: FollowUpAnswered, at: datetime) -> None:
    life.follow_ups.pop(str(e.follow_up_id), None)
    life.last_answered_at = _latest(life.last_answered_at, at)


def _payment(life: Life, e: PaymentFailed | PaymentAuthorised | PaymentCaptured, at: datetime) -> None:
    life.payment_failed, life.payment_since = isinstance(e, PaymentFailed), at


_OTHERS: dict[type, Any] = {
    # Routing's AssignmentWithdrawn changes nothing here: review answers it with the decline (or
    # keeps an acceptance dated before it), and that decline releases the case.
    CaseRouted: _routed, CaseDeclined: _declined, ReviewAccepted: _accepted,
    **{t: _clock for t in (SlaClockStarted, SlaClockResumed, SlaAtRisk, SlaBreached, SlaClockBlocked, SlaClockStopped)},
    InformationRequested: _information, InformationReceived: _information, ReviewDelivered: _delivered,
    FollowUpAsked: _asked, FollowUpAnswered: _answered,
    PaymentFailed: _payment, PaymentAuthorised: _payment, PaymentCaptured: _payment,
}
# The event types a fold reads: a consumer of the life subscribes to these.
FOLDED: frozenset[str] = frozenset({*ENDINGS, *(t.__name__ for t in (*_INTAKE, *_OTHERS))})


