"""Follow-up questions after delivery, each on its own business-day clock. Pure, like `domain`.

Day 1 is the first business day after the question's date; the last day (`due`) is the
`business_days`-th. At risk at the end of the last-but-one business day, breached at the end of
the last. An answer after the limit brings the moments no timer emitted in time, dated when
they were due, before the answer itself: the history then says what happened, in order, whether
or not a sweep ran in between.
"""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from events.contract import Event, FollowUpAnswered, FollowUpAsked, FollowUpAtRisk, FollowUpBreached
from services.common.calendar import BusinessCalendar, CalendarUnknown, centre_date, end_of_centre_day
from services.common.errors import Rejected, not_dated_before
from services.review.domain import FollowUp, Review


def _follow_up_day(cal: BusinessCalendar, asked_at: datetime, day: int) -> date | None:
    try:
        return cal.add_business_days(centre_date(asked_at), day)
    except CalendarUnknown:
        return None


def ask_follow_up(review: Review, follow_up_id: UUID, limit: int, business_days: int, cal: BusinessCalendar,
                  at: datetime) -> list[Event]:
    if review.delivered_at is None:
        raise Rejected("a follow-up question follows the delivered review", "not_delivered")
    if len(review.follow_ups) >= limit:
        raise Rejected(f"this case already had its {limit} follow-up questions", "follow_up_limit")
    not_dated_before(at, review.delivered_at, "the delivery")
    return [FollowUpAsked(follow_up_id=follow_up_id, number=len(review.follow_ups) + 1,
                          business_days=business_days, due=_follow_up_day(cal, at, business_days))]


def answer_follow_up(review: Review, follow_up_id: UUID, document_id: UUID, sha256: str, size_bytes: int,
                     page_count: int, cal: BusinessCalendar, at: datetime) -> list[tuple[Event, datetime]]:
    f = review.follow_ups.get(follow_up_id)
    if f is None:
        raise Rejected("no such follow-up question", "no_such_follow_up")
    if f.answered_at is not None:
        raise Rejected("this follow-up question is already answered", "follow_up_answered")
    not_dated_before(at, f.asked_at, "the question")
    within = f.due is None or at < end_of_centre_day(f.due)
    missed = _due_moments(f, cal, at)
    return [*missed, (FollowUpAnswered(follow_up_id=follow_up_id, document_id=document_id, sha256=sha256,
                                       size_bytes=size_bytes, page_count=page_count, within_limit=within), at)]


def _due_moments(f: FollowUp, cal: BusinessCalendar, now: datetime) -> list[tuple[Event, datetime]]:
    """The at-risk and breach moments of one question that have come by `now` and are not yet recorded."""
    out: list[tuple[Event, datetime]] = []
    if f.due is None or f.answered_at is not None:
        return out
    if not f.at_risk_sent and f.business_days > 1:
        day = _follow_up_day(cal, f.asked_at, f.business_days - 1)
        if day is not None and end_of_centre_day(day) <= now:
            out.append((FollowUpAtRisk(follow_up_id=f.follow_up_id, business_days_left=1), end_of_centre_day(day)))
    if not f.breached_sent and end_of_centre_day(f.due) <= now:
        out.append((FollowUpBreached(follow_up_id=f.follow_up_id, due=f.due), end_of_centre_day(f.due)))
    return out


def due_follow_up_events(review: Review, cal: BusinessCalendar, now: datetime) -> list[tuple[Event, datetime]]:
    """Every open question's moments due by `now` (event time), once each, at their moment."""
    return [due for f in review.open_follow_ups for due in _due_moments(f, cal, now)]
