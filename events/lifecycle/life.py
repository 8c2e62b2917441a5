"""The facts of a case's life and the answers read from them (the rules: the package's docstring)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Literal

from events.codes import CentreId, ConsentKind

# The partner centres, from the one vocabulary: the partner-centre file is held to it by a test.
CENTRES: tuple[str, ...] = tuple(c.value for c in CentreId)


class Status(StrEnum):
    COLLECTING_RECORDS = "collecting_records"
    READY_FOR_REVIEW = "ready_for_review"
    REVIEW_DELIVERED = "review_delivered"
    TREATMENT_BOOKED = "treatment_booked"
    CLOSED = "closed"
    CANCELLED = "cancelled"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"
    ERASED = "erased"
    # Routing's final decline: no consented centre will review the case (billing refunds it).
    DECLINED_BY_ALL_CENTRES = "declined_by_all_centres"


# The events that end a case, and the status each leaves.
ENDINGS: dict[str, Status] = {
    "TreatmentBooked": Status.TREATMENT_BOOKED,
    "CaseClosed": Status.CLOSED,
    "CaseCancelled": Status.CANCELLED,
    "CaseWithdrawn": Status.WITHDRAWN,
    "CaseExpired": Status.EXPIRED,
    "PatientDataErased": Status.ERASED,
    "CaseFinallyDeclined": Status.DECLINED_BY_ALL_CENTRES,
}
ENDED: frozenset[Status] = frozenset(ENDINGS.values())
# The endings that stop the work on a case: a clock still running stops with no verdict owed, and
# the centre may no longer read the case. A booking or a closure follows a delivery (its clock
# stopped with its verdict) and leaves the report and the package readable.
STOPPING: frozenset[Status] = ENDED - {Status.TREATMENT_BOOKED, Status.CLOSED}
# The endings intake records: every one but routing's final decline.
INTAKE_ENDINGS: tuple[str, ...] = tuple(t for t in ENDINGS if t != "CaseFinallyDeclined")
# Those that stop the work at the centre (review answers them with ReviewEnded).
INTAKE_STOPPING: tuple[str, ...] = tuple(t for t in INTAKE_ENDINGS if ENDINGS[t] in STOPPING)

Party = Literal["patient", "centre", "coordinator", "billing", "nobody"]
PARTIES: tuple[Party, ...] = ("patient", "centre", "coordinator", "billing", "nobody")
SlaState = Literal["not_started", "on_track", "at_risk", "breached", "paused", "delivered_on_time", "delivered_late",
                   "calendar_unknown", "stopped"]
SLA_STATES: tuple[SlaState, ...] = ("not_started", "on_track", "at_risk", "breached", "paused", "delivered_on_time",
                                    "delivered_late", "calendar_unknown", "stopped")
# The states in which a centre's clock still runs.
RUNNING: frozenset[str] = frozenset({"on_track", "at_risk", "breached", "paused", "calendar_unknown"})


@dataclass
class Clock:
    """The SLA clock of the acceptance in force, as review's events tell it."""

    accepted: bool = False
    target_due: date | None = None  # the 7th counted business day, while known
    limit_due: date | None = None  # the 10th
    at_risk: bool = False
    breached: bool = False
    calendar_blocked: bool = False
    within_limit: bool | None = None  # the verdict at delivery


@dataclass
class Life:
    """What a case's events say, each fact in the field of the service that owns it."""

    # intake
    opened_at: datetime | None = None
    tumour_site: str | None = None
    consents: dict[str, bool] = field(default_factory=dict)  # kind -> in force
    complete_at: datetime | None = None  # records complete
    ready_at: datetime | None = None  # complete and both consents in force, last time it became so
    endings: dict[str, datetime] = field(default_factory=dict)  # ending event type -> its event time
    # routing
    centre: str | None = None  # the centre holding the case
    attempt: int = 0
    routed_at: datetime | None = None
    accept_by: date | None = None
    released_at: datetime | None = None  # when a centre last gave the case back
    # review
    clock: Clock = field(default_factory=Clock)
    information_since: datetime | None = None  # the open request, or the last one answered
    information_open: bool = False
    delivered_at: datetime | None = None
    follow_ups: dict[str, tuple[datetime, date | None]] = field(default_factory=dict)  # open: asked, due
    last_answered_at: datetime | None = None
    # billing
    payment_failed: bool = False
    payment_since: datetime | None = None
    # every producer's last applied stream version: an event is applied once
    seen: dict[str, int] = field(default_factory=dict)
    updated_at: datetime | None = None

    # ------------------------------------------------------------------ answers
    @property
    def ending(self) -> tuple[str, datetime] | None:
        """The first ending by event time (ties: the order of ENDINGS)."""
        if not self.endings:
            return None
        order = list(ENDINGS)
        kind = min(self.endings, key=lambda k: (self.endings[k], order.index(k)))
        return kind, self.endings[kind]

    @property
    def status(self) -> Status:
        if (ended := self.ending) is not None:
            return ENDINGS[ended[0]]
        if self.delivered_at is not None:
            return Status.REVIEW_DELIVERED
        if self.ready:
            return Status.READY_FOR_REVIEW
        return Status.COLLECTING_RECORDS

    @property
    def ready(self) -> bool:
        return self.complete_at is not None and all(self.consents.get(k.value) for k in ConsentKind)

    @property
    def ended(self) -> bool:
        return bool(self.endings)

    @property
    def sla_state(self) -> SlaState:
        state = _clock_state(self)
        if self.status in STOPPING and state in RUNNING:
            return "stopped"
        return state

    @property
    def waiting(self) -> tuple[Party, datetime | None]:
        return _waiting(self)

    @property
    def waiting_on(self) -> Party:
        return self.waiting[0]

    @property
    def clock_runs(self) -> bool:
        return (self.clock.accepted and self.delivered_at is None and not self.ended
                and self.sla_state in ("on_track", "at_risk", "breached", "calendar_unknown"))

    @property
    def acceptance_due(self) -> date | None:
        """The centre's deadline to accept, while it holds the case and has not accepted."""
        if self.centre is None or self.clock.accepted or self.status is not Status.READY_FOR_REVIEW:
            return None
        return self.accept_by

    @property
    def deadline(self) -> date | None:
        if self.ended:
            return None
        dues = [d for f in self.follow_ups.values() if (d := f[1]) is not None]
        if self.clock_runs:
            dues.append(self.clock.limit_due or self.clock.target_due)  # type: ignore[arg-type]
        dues.append(self.acceptance_due)  # type: ignore[arg-type]
        known = [d for d in dues if d is not None]
        return min(known) if known else None

    @property
    def sort_key(self) -> str:
        """Nearest deadline first; a running clock the calendar cannot date first of all (its breach
        cannot be foreseen); cases with no deadline last."""
        if (d := self.deadline) is not None:
            return d.isoformat()
        return "-infinity" if self.clock_runs and self.sla_state == "calendar_unknown" else "infinity"

    def summary(self) -> dict[str, Any]:
        """The answers every read model stores: one place computes them."""
        party, since = self.waiting
        return {"status": self.status.value, "waiting_on": party, "waiting_since": since,
                "deadline": self.deadline, "sort_key": self.sort_key, "sla_state": self.sla_state,
                "ended": self.ended, "centre_id": self.centre, "tumour_site": self.tumour_site,
                "accept_by": self.acceptance_due, "target_due": self.clock.target_due,
                "limit_due": self.clock.limit_due, "follow_ups_open": len(self.follow_ups),
                "follow_up_due": min((d for _, d in self.follow_ups.values() if d), default=None),
                "information_open": self.information_open, "payment_failed": self.payment_failed,
                "updated_at": self.updated_at}


def _clock_state(life: Life) -> SlaState:
    c = life.clock
    if not c.accepted:
        return "not_started"
    if c.within_limit is not None:
        return "delivered_on_time" if c.within_limit else "delivered_late"
    if c.breached:
        return "breached"
    if c.calendar_blocked:
        return "calendar_unknown"
    if life.information_open:
        return "paused"
    return "at_risk" if c.at_risk else "on_track"


def _waiting(life: Life) -> tuple[Party, datetime | None]:
    status = life.status
    if (ended := life.ending) is not None:
        return "nobody", ended[1]
    if status is Status.COLLECTING_RECORDS:
        return "patient", life.opened_at
    if life.information_open:
        return "patient", life.information_since
    if life.payment_failed:
        return "billing", life.payment_since
    if life.follow_ups:
        return "centre", min(asked for asked, _ in life.follow_ups.values())
    if status is Status.REVIEW_DELIVERED:
        return "patient", _latest(life.delivered_at, life.last_answered_at)
    if life.centre is None:
        return "coordinator", _latest(life.ready_at, life.released_at)
    return "centre", _latest(life.routed_at, life.information_since, life.payment_since)


def _latest(*moments: datetime | None) -> datetime | None:
    known = [m for m in moments if m is not None]
    return max(known) if known else None


