"""The worklist's view of a case as the other services report it: the SLA clock, questions either way,
payment trouble. Pure: a fold over review's, billing's and routing's events, and the SLA state it implies.

Each fact keeps its own field, set only by events of the one service that owns it, so the row is the
same whatever order the services' streams reach intake in (within one service the order holds).

The SLA state, first match (the vocabulary review's view and analytics.sla_cases use too):
    not_started        no centre's acceptance in force (never accepted, or declined since)
    delivered_on_time  the clock stopped at delivery within the 10-business-day limit
    delivered_late     ... after it
    stopped            the case ended (cancelled, withdrawn, erased, ...) before a delivery; the
                       worklist decides this one when it reads intake's status (`with_ending`)
    breached           the limit passed (a pause does not undo it)
    calendar_unknown   the clock needs a year the centres' calendar does not know (its verdict too)
    paused             the centre waits on the patient
    at_risk            2 business days left
    on_track           otherwise
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from events.contract import (
    CaseDeclined,
    CaseFinallyDeclined,
    Event,
    InformationReceived,
    InformationRequested,
    PaymentAuthorised,
    PaymentCaptured,
    PaymentFailed,
    ReviewAccepted,
    ReviewDelivered,
    SlaAtRisk,
    SlaBreached,
    SlaClockBlocked,
    SlaClockResumed,
    SlaClockStarted,
    SlaClockStopped,
)

SlaState = Literal["not_started", "on_track", "at_risk", "breached", "paused", "delivered_on_time", "delivered_late",
                   "calendar_unknown", "stopped"]
# The states in which a clock is still running, and so may be stopped by the case's ending.
RUNNING: frozenset[str] = frozenset({"on_track", "at_risk", "breached", "paused", "calendar_unknown"})
# The event types the fold reads.
FOLDED = ("ReviewAccepted", "SlaClockStarted", "SlaClockResumed", "SlaAtRisk", "SlaBreached", "SlaClockStopped",
          "SlaClockBlocked", "CaseDeclined", "InformationRequested", "InformationReceived", "ReviewDelivered",
          "PaymentFailed", "PaymentAuthorised", "PaymentCaptured", "CaseFinallyDeclined")


@dataclass(frozen=True)
class Clock:
    """One case's row of intake.worklist (the column names are the field names)."""

    accepted: bool = False  # a centre's acceptance is in force
    target_due: date | None = None  # the 7th counted business day, while known
    limit_due: date | None = None  # the 10th
    at_risk: bool = False
    breached: bool = False
    calendar_blocked: bool = False  # the clock needs a year the calendar does not know
    delivered: bool = False
    within_limit: bool | None = None  # the verdict at delivery; None before, or while the calendar lacks a year
    information_open: bool = False  # the centre waits on the patient
    information_since: datetime | None = None  # when that request was made, or the last one answered
    payment_failed: bool = False
    payment_since: datetime | None = None  # when payment failed, or last went through
    finally_declined: bool = False  # no consented centre takes the case
    updated_at: datetime | None = None  # the newest event time folded in

    def row(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "sla_state": self.sla_state}

    @property
    def sla_state(self) -> SlaState:
        """The state as review's and billing's events tell it; `with_ending` adds the case's ending."""
        if not self.accepted:
            return "not_started"
        if self.within_limit is not None:
            return "delivered_on_time" if self.within_limit else "delivered_late"
        if self.breached:
            return "breached"
        if self.calendar_blocked:
            return "calendar_unknown"
        if self.information_open:
            return "paused"
        return "at_risk" if self.at_risk else "on_track"


def with_ending(state: str, ended: bool) -> str:
    """A clock still running when the case ended stopped with it (no verdict is owed). `ended`: the
    case was cancelled, withdrawn, expired, erased or declined by all centres; a booking or a closure
    follows a delivery, whose clock stopped with its verdict (or awaits the calendar for it).
    The worklist's SQL (block `items`) applies the same rule when it reads intake's status."""
    return "stopped" if ended and state in RUNNING else state


def from_row(row: dict[str, Any] | None) -> Clock:
    if row is None:
        return Clock()
    return Clock(**{f.name: row[f.name] for f in dataclasses.fields(Clock)})


def fold(clock: Clock, event: Event, at: datetime) -> Clock:
    """The row after one event (dated `at`)."""
    updated = max(at, clock.updated_at) if clock.updated_at else at
    return dataclasses.replace(_apply(clock, event, at), updated_at=updated)


def _apply(c: Clock, e: Event, at: datetime) -> Clock:
    replace = dataclasses.replace
    match e:
        case ReviewAccepted() | CaseDeclined():
            # An acceptance starts a clock afresh; a decline sends the case back to routing, where no
            # clock runs until the next centre accepts. Billing's and routing's facts stay.
            return replace(Clock(), accepted=isinstance(e, ReviewAccepted), information_since=c.information_since,
                           payment_failed=c.payment_failed, payment_since=c.payment_since,
                           finally_declined=c.finally_declined)
        case SlaClockStarted() | SlaClockResumed():
            # A blocked clock stays so until a new acceptance, as review's own fold keeps it.
            return replace(c, target_due=e.target_due, limit_due=e.limit_due)
        case SlaAtRisk():
            # In a year the calendar does not know the limit has no date: the one known stays.
            return replace(c, at_risk=True, limit_due=e.limit_due or c.limit_due)
        case SlaBreached():
            return replace(c, breached=True, limit_due=e.limit_due)
        case SlaClockBlocked():
            return replace(c, calendar_blocked=True, target_due=e.target_due or c.target_due)
        case SlaClockStopped():
            return replace(c, within_limit=e.within_limit)
        case ReviewDelivered():
            # Delivering while information is awaited closes that request.
            return replace(c, delivered=True, information_open=False)
        case InformationRequested() | InformationReceived():
            return replace(c, information_open=isinstance(e, InformationRequested), information_since=at)
        case PaymentFailed() | PaymentAuthorised() | PaymentCaptured():
            return replace(c, payment_failed=isinstance(e, PaymentFailed), payment_since=at)
        case CaseFinallyDeclined():
            return replace(c, finally_declined=True)
    return c
