"""The SLA clock of a centre's review, in business days of the centres' calendar. Pure: no I/O here.

The rules, as encoded below:
- Days are local dates in Asia/Shanghai; every instant passed in must be timezone-aware.
- The clock starts when the centre accepts the case. Day 1 is the first business day after the
  acceptance date: the acceptance date itself never counts.
- A business day counts unless the case is paused at its end (24:00 local). A pause that starts on
  day X, at any time, makes X not count; resuming on day Y makes Y count; a pause opened and closed
  the same day costs nothing. `paused_business_days` are the business days lost that way.
- Target: 7 counted business days; limit: 10. At risk at the end of the 8th counted day (2 left),
  breached at the end of the 10th; the end of a day is the next local midnight.
- Delivery stops the clock; a pause still open at delivery ends there. `business_days_used` at
  delivery counts day 1 through the delivery date (0 if delivered on the acceptance date); before
  delivery it counts day 1 through today, today included unless a pause is open.
  Delivered on time = by the end of the 10th counted day; a moment after delivery never happens.
- Only facts at or before `now` count: a later pause, resumption or delivery is ignored, so the
  clock can be asked about any moment of a history (event time).
- State, first match: delivered_on_time / delivered_late; breached (also while paused: a pause
  does not undo a breach); paused (a pause open at `now`); at_risk; on_track.
- Due dates are the dates of the 7th / 10th counted day given the pauses so far, assuming no more.
  In the paused state they are None: they depend on when the clock resumes.
- Fails closed, but only where a year is really needed. Counting stops at the first day of a year
  the calendar does not know. What the known days decide stays decided: a breach at the end of
  31 December is a breach at 1 January 00:00, and a delivery after it is late, even when the new
  year is unknown. A question that needs counting inside the unknown year (has the limit come?
  how many days were used?) has no answer: the state is calendar_unknown with `unknown_year`,
  and a figure that needs it (business_days_used, a due date) is None with `unknown_year` set.
  Days inside an open pause never count, so a pause reaching into the unknown year costs no answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from events.codes import TURNAROUND_LIMIT_BUSINESS_DAYS, TURNAROUND_TARGET_BUSINESS_DAYS
from services.common.calendar import BusinessCalendar, CalendarUnknown, centre_date, end_of_centre_day

TARGET_DAYS = TURNAROUND_TARGET_BUSINESS_DAYS
LIMIT_DAYS = TURNAROUND_LIMIT_BUSINESS_DAYS
AT_RISK_REMAINING = 2
AT_RISK_DAY = LIMIT_DAYS - AT_RISK_REMAINING

State = Literal["on_track", "at_risk", "breached", "paused", "delivered_on_time", "delivered_late",
                "calendar_unknown"]
Moment = Literal["at_risk", "breached"]
_MOMENTS: tuple[tuple[Moment, int], ...] = (("at_risk", AT_RISK_DAY), ("breached", LIMIT_DAYS))


@dataclass(frozen=True)
class Pause:
    started_at: datetime
    ended_at: datetime | None


@dataclass(frozen=True)
class SlaState:
    state: State
    business_days_used: int | None
    paused_business_days: int | None
    target_due: date | None
    limit_due: date | None
    at_risk_at: datetime | None  # the moment it happened, if it has by `now`
    breached_at: datetime | None
    unknown_year: int | None  # set whenever something above could not be computed for want of a year


@dataclass(frozen=True)
class _Clock:
    """What the clock has seen by `now`, in local dates."""

    accepted: date
    spans: tuple[tuple[date, date | None], ...]  # [first, resumed) days that do not count
    delivered_at: datetime | None
    last_day: date  # the delivery date, or today
    paused: bool  # a pause is open
    now: datetime

    def is_paused(self, d: date) -> bool:
        return any(first <= d and (resumed is None or d < resumed) for first, resumed in self.spans)


def _clock(accepted_at: datetime, pauses: Sequence[Pause], delivered_at: datetime | None, now: datetime) -> _Clock:
    for t in (accepted_at, now, delivered_at, *(p.started_at for p in pauses), *(p.ended_at for p in pauses)):
        if t is not None:
            centre_date(t)
    if delivered_at is not None and delivered_at < accepted_at:
        raise ValueError("delivered before it was accepted")
    delivered = delivered_at if delivered_at is not None and delivered_at <= now else None
    spans: list[tuple[date, date | None]] = []
    for p in pauses:
        if p.ended_at is not None and p.ended_at < p.started_at:
            raise ValueError(f"a pause ends ({p.ended_at}) before it starts ({p.started_at})")
        if p.started_at > now or (delivered is not None and p.started_at >= delivered):
            continue
        ended = p.ended_at if p.ended_at is not None and p.ended_at <= now else None
        if delivered is not None and (ended is None or ended > delivered):
            ended = delivered
        spans.append((centre_date(p.started_at), None if ended is None else centre_date(ended)))
    return _Clock(accepted=centre_date(accepted_at), spans=tuple(spans), delivered_at=delivered,
                  last_day=centre_date(delivered or now), paused=any(r is None for _, r in spans), now=now)


@dataclass(frozen=True)
class _Count:
    counted: tuple[date, ...]  # the counted business days, day 1 onwards, up to the clock's last day
    paused: int
    # Counting stopped at 1 January of this year, which the calendar does not know; None: it did not.
    unknown_year: int | None = None
    # Whether `counted` is complete all the same: every day left uncounted lies inside a pause,
    # so none of them could count whatever the calendar says. `paused` is then a lower bound.
    counted_exact: bool = True

    @property
    def paused_exact(self) -> bool:
        return self.unknown_year is None


def _count(cal: BusinessCalendar, clock: _Clock, through: date) -> _Count:
    counted: list[date] = []
    paused = 0
    d = clock.accepted + timedelta(days=1)
    while d <= through:
        try:
            business = cal.is_business_day(d)
        except CalendarUnknown as exc:
            rest = (d + timedelta(days=i) for i in range((through - d).days + 1))
            return _Count(tuple(counted), paused, exc.year, counted_exact=all(clock.is_paused(x) for x in rest))
        if business:
            if clock.is_paused(d):
                paused += 1
            else:
                counted.append(d)
        d += timedelta(days=1)
    return _Count(tuple(counted), paused)


def _moment(clock: _Clock, count: _Count, day: int) -> datetime | None:
    """The end of the day-th counted day, if it has come by `now` and not after delivery."""
    if len(count.counted) < day:
        return None
    moment = end_of_centre_day(count.counted[day - 1])
    if moment > clock.now or (clock.delivered_at is not None and clock.delivered_at < moment):
        return None
    return moment


def _due(cal: BusinessCalendar, clock: _Clock, count: _Count, day: int) -> date:
    if len(count.counted) >= day:
        return count.counted[day - 1]
    # Past the last day seen no pause is open, so every business day counts.
    return cal.add_business_days(max(clock.last_day, clock.accepted), day - len(count.counted))


def _unknown(year: int, target_due: date | None = None) -> SlaState:
    return SlaState("calendar_unknown", None, None, target_due, None, None, None, unknown_year=year)


def sla_state(cal: BusinessCalendar, accepted_at: datetime, pauses: Sequence[Pause],
              delivered_at: datetime | None, now: datetime) -> SlaState:
    clock = _clock(accepted_at, pauses, delivered_at, now)
    count = _count(cal, clock, clock.last_day)
    at_risk_at, breached_at = _moment(clock, count, AT_RISK_DAY), _moment(clock, count, LIMIT_DAYS)
    unknown_year = count.unknown_year
    state: State
    # A moment found on known days is a fact whatever the unknown year holds; only a question
    # whose answer needs counting inside that year is "calendar unknown".
    if clock.delivered_at is not None:
        if breached_at:
            state = "delivered_late"
        elif count.counted_exact:
            state = "delivered_on_time"
        else:
            return _unknown(unknown_year or now.year)
    elif breached_at:
        state = "breached"
    elif not count.counted_exact:
        return _unknown(unknown_year or now.year)
    elif clock.paused:
        state = "paused"
    else:
        state = "at_risk" if at_risk_at else "on_track"
    dues: list[date | None] = [None, None]
    if state != "paused":
        for i, day in enumerate((TARGET_DAYS, LIMIT_DAYS)):
            try:
                dues[i] = _due(cal, clock, count, day)
            except CalendarUnknown as exc:
                if clock.delivered_at is None and breached_at is None:
                    # The target may still fall on a known day (day 7 on 30 December, day 10 in
                    # January): it is kept; only what needs the unknown year has no answer.
                    return _unknown(exc.year, target_due=dues[0])
                unknown_year = unknown_year or exc.year
    return SlaState(state, business_days_used=len(count.counted) if count.counted_exact else None,
                    paused_business_days=count.paused if count.paused_exact else None,
                    target_due=dues[0], limit_due=dues[1], at_risk_at=at_risk_at, breached_at=breached_at,
                    unknown_year=unknown_year)


@dataclass(frozen=True)
class Due:
    """The SLA moments that have come by `now`, and the year that keeps the others undecided."""

    moments: tuple[tuple[Moment, datetime], ...]
    limit_due: date | None  # the date of the 10th counted day, once known days reach it
    unknown_year: int | None  # set when a moment not listed may have come: the calendar lacks this year


def due_events(cal: BusinessCalendar, accepted_at: datetime, pauses: Sequence[Pause],
               delivered_at: datetime | None, now: datetime) -> Due:
    """The SLA moments that have come by `now`, each at its exact moment.

    Needs the calendar only up to the day before `now` (or before delivery), and only until the
    10th counted day: a breach due at the end of 31 December is emitted at 1 January 00:00 even
    when the calendar does not know the new year. A moment is undecided (`unknown_year`) only
    when deciding it would need counting inside a year the calendar does not know.
    """
    clock = _clock(accepted_at, pauses, delivered_at, now)
    # A moment is the end of a day before the last one seen: the last day itself is not needed.
    count = _count(cal, clock, clock.last_day - timedelta(days=1))
    out: list[tuple[Moment, datetime]] = []
    for kind, day in _MOMENTS:
        if (moment := _moment(clock, count, day)) is not None:
            out.append((kind, moment))
    decided = count.counted_exact or len(count.counted) >= LIMIT_DAYS
    if len(count.counted) >= LIMIT_DAYS:
        limit_due: date | None = count.counted[LIMIT_DAYS - 1]
    else:
        # Not yet fixed by known days: the clock's own estimate, None while paused or unknown.
        limit_due = sla_state(cal, accepted_at, pauses, delivered_at, now).limit_due
    return Due(tuple(out), limit_due, None if decided else count.unknown_year)
