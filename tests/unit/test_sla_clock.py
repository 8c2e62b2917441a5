from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.common.calendar import CENTRES_TZ, load_calendar
from services.review.sla import (
    AT_RISK_REMAINING,
    LIMIT_DAYS,
    TARGET_DAYS,
    Pause,
    due_events,
    sla_state,
)

CAL = load_calendar()
EXAMPLE = Path(__file__).resolve().parents[2] / "services" / "review" / "calendar_override.example.json"


def sh(y: int, m: int, d: int, h: int = 9, mi: int = 0) -> datetime:
    """A moment in Shanghai."""
    return datetime(y, m, d, h, mi, tzinfo=CENTRES_TZ)


# Wednesday 11 Feb 2026, four days before the Spring Festival holiday (15-23 Feb). Counted days:
# 1-3 Thu 12, Fri 13, Sat 14 (make-up); 4-8 Tue 24 - Sat 28 (make-up); 9-10 Mon 2, Tue 3 Mar.
BEFORE_SPRING_FESTIVAL = sh(2026, 2, 11, 10)
# Monday 9 Mar 2026, an ordinary fortnight: day 1 Tue 10, day 7 Wed 18, day 10 Mon 23 Mar.
ORDINARY_MONDAY = sh(2026, 3, 9)


def test_the_figures_are_seven_ten_and_two():
    assert (TARGET_DAYS, LIMIT_DAYS, AT_RISK_REMAINING) == (7, 10, 2)


def test_on_the_acceptance_day_no_business_day_is_used_and_the_dues_are_set():
    s = sla_state(CAL, ORDINARY_MONDAY, [], None, ORDINARY_MONDAY)
    assert (s.state, s.business_days_used, s.paused_business_days) == ("on_track", 0, 0)
    assert (s.target_due, s.limit_due) == (date(2026, 3, 18), date(2026, 3, 23))
    assert (s.at_risk_at, s.breached_at, s.unknown_year) == (None, None, None)


def test_acceptance_just_before_the_spring_festival_pushes_the_dues_past_the_holiday():
    s = sla_state(CAL, BEFORE_SPRING_FESTIVAL, [], None, BEFORE_SPRING_FESTIVAL)
    assert (s.target_due, s.limit_due) == (date(2026, 2, 27), date(2026, 3, 3))


def test_the_make_up_saturday_before_the_spring_festival_counts_as_day_three():
    assert sla_state(CAL, BEFORE_SPRING_FESTIVAL, [], None, sh(2026, 2, 14, 18)).business_days_used == 3
    assert sla_state(CAL, BEFORE_SPRING_FESTIVAL, [], None, sh(2026, 2, 23, 18)).business_days_used == 3


def test_the_make_up_saturday_after_the_spring_festival_is_day_eight_and_brings_the_at_risk_moment():
    assert list(due_events(CAL, BEFORE_SPRING_FESTIVAL, [], None, sh(2026, 2, 28, 23, 59)).moments) == []
    assert sla_state(CAL, BEFORE_SPRING_FESTIVAL, [], None, sh(2026, 2, 28, 23, 59)).state == "on_track"
    midnight = sh(2026, 3, 1, 0)
    assert list(due_events(CAL, BEFORE_SPRING_FESTIVAL, [], None, midnight).moments) == [("at_risk", midnight)]
    s = sla_state(CAL, BEFORE_SPRING_FESTIVAL, [], None, midnight)
    assert (s.state, s.at_risk_at, s.business_days_used) == ("at_risk", midnight, 8)


def test_the_breach_comes_when_the_tenth_counted_day_ends():
    due = due_events(CAL, BEFORE_SPRING_FESTIVAL, [], None, sh(2026, 3, 3, 23, 59))
    assert [k for k, _ in due.moments] == ["at_risk"]
    s = sla_state(CAL, BEFORE_SPRING_FESTIVAL, [], None, sh(2026, 3, 4, 0, 30))
    assert (s.state, s.breached_at) == ("breached", sh(2026, 3, 4, 0))
    assert list(due_events(CAL, BEFORE_SPRING_FESTIVAL, [], None, sh(2026, 3, 20)).moments) == [
        ("at_risk", sh(2026, 3, 1, 0)), ("breached", sh(2026, 3, 4, 0))]


def test_national_day_2026_starts_the_clock_on_the_make_up_sunday_and_skips_the_golden_week():
    accepted = sh(2026, 9, 18, 16)  # Friday
    assert sla_state(CAL, accepted, [], None, sh(2026, 9, 20, 12)).business_days_used == 1  # Sun 20 Sep
    s = sla_state(CAL, accepted, [], None, accepted)
    # 20-24 Sep; Mid-autumn 25-27 Sep; 28, 29 (day 7), 30 Sep; National Day 1-7 Oct; 8, 9 (day 10) Oct.
    assert (s.target_due, s.limit_due) == (date(2026, 9, 29), date(2026, 10, 9))
    assert list(due_events(CAL, accepted, [], None, sh(2026, 10, 8, 0)).moments) == [("at_risk", sh(2026, 10, 1, 0))]
    due = due_events(CAL, accepted, [], None, sh(2026, 10, 10, 0))
    assert due.moments[-1] == ("breached", sh(2026, 10, 10, 0))


def test_the_acceptance_date_is_the_date_in_shanghai_not_in_utc():
    accepted = datetime(2026, 3, 9, 20, 0, tzinfo=UTC)  # Tuesday 10 Mar, 04:00 in Shanghai
    s = sla_state(CAL, accepted, [], None, accepted)
    assert (s.target_due, s.limit_due) == (date(2026, 3, 19), date(2026, 3, 24))


def test_an_information_request_over_a_weekend_costs_only_the_friday():
    pause = Pause(started_at=sh(2026, 3, 13, 15), ended_at=sh(2026, 3, 16, 11))
    s = sla_state(CAL, ORDINARY_MONDAY, [pause], None, sh(2026, 3, 16, 12))
    assert (s.state, s.business_days_used, s.paused_business_days) == ("on_track", 4, 1)  # 10, 11, 12, 16 Mar
    assert (s.target_due, s.limit_due) == (date(2026, 3, 19), date(2026, 3, 24))


def test_a_pause_opened_late_in_the_day_still_makes_that_day_not_count():
    pause = Pause(started_at=sh(2026, 3, 13, 23, 59), ended_at=sh(2026, 3, 14, 8))  # resumed on Saturday
    s = sla_state(CAL, ORDINARY_MONDAY, [pause], None, sh(2026, 3, 16, 12))
    assert (s.paused_business_days, s.target_due) == (1, date(2026, 3, 19))


def test_a_pause_resumed_at_midnight_lets_the_new_day_count():
    pause = Pause(started_at=sh(2026, 3, 12, 10), ended_at=sh(2026, 3, 13, 0))
    s = sla_state(CAL, ORDINARY_MONDAY, [pause], None, sh(2026, 3, 13, 12))
    assert (s.business_days_used, s.paused_business_days) == (3, 1)  # 10, 11, 13 Mar count


def test_a_pause_opened_and_closed_the_same_day_costs_nothing():
    pause = Pause(started_at=sh(2026, 3, 11, 10), ended_at=sh(2026, 3, 11, 16))
    s = sla_state(CAL, ORDINARY_MONDAY, [pause], None, sh(2026, 3, 12))
    assert (s.state, s.paused_business_days, s.target_due) == ("on_track", 0, date(2026, 3, 18))


def test_a_pause_still_open_reports_paused_without_due_dates():
    pause = Pause(started_at=sh(2026, 3, 12, 10), ended_at=None)
    s = sla_state(CAL, ORDINARY_MONDAY, [pause], None, sh(2026, 3, 16, 9))
    assert (s.state, s.business_days_used, s.paused_business_days) == ("paused", 2, 3)  # lost: 12, 13, 16 Mar
    assert (s.target_due, s.limit_due, s.unknown_year) == (None, None, None)
    assert list(due_events(CAL, ORDINARY_MONDAY, [pause], None, sh(2026, 4, 30)).moments) == []


def test_the_at_risk_and_breach_moments_wait_for_the_days_lost_to_a_pause():
    pause = Pause(started_at=sh(2026, 2, 24, 10), ended_at=sh(2026, 2, 25, 10))  # Tue 24 Feb lost
    s = sla_state(CAL, BEFORE_SPRING_FESTIVAL, [pause], None, sh(2026, 2, 25, 12))
    assert (s.target_due, s.limit_due) == (date(2026, 2, 28), date(2026, 3, 4))
    assert list(due_events(CAL, BEFORE_SPRING_FESTIVAL, [pause], None, sh(2026, 3, 5, 0)).moments) == [
        ("at_risk", sh(2026, 3, 3, 0)), ("breached", sh(2026, 3, 5, 0))]


def test_a_pause_after_the_breach_does_not_undo_it():
    pause = Pause(started_at=sh(2026, 3, 5, 10), ended_at=None)
    s = sla_state(CAL, BEFORE_SPRING_FESTIVAL, [pause], None, sh(2026, 3, 6))
    assert (s.state, s.breached_at) == ("breached", sh(2026, 3, 4, 0))
    assert (s.target_due, s.limit_due) == (date(2026, 2, 27), date(2026, 3, 3))


def test_an_at_risk_clock_that_is_paused_shows_paused_and_keeps_its_moment():
    pause = Pause(started_at=sh(2026, 3, 2, 10), ended_at=None)
    s = sla_state(CAL, BEFORE_SPRING_FESTIVAL, [pause], None, sh(2026, 3, 10))
    assert (s.state, s.at_risk_at, s.breached_at) == ("paused", sh(2026, 3, 1, 0), None)


def test_delivery_before_the_at_risk_moment_yields_no_due_events():
    delivered = sh(2026, 2, 26, 15)
    assert list(due_events(CAL, BEFORE_SPRING_FESTIVAL, [], delivered, sh(2026, 3, 20)).moments) == []
    s = sla_state(CAL, BEFORE_SPRING_FESTIVAL, [], delivered, sh(2026, 3, 20))
    assert (s.state, s.business_days_used, s.at_risk_at) == ("delivered_on_time", 6, None)


def test_delivery_on_the_tenth_counted_day_is_on_time():
    delivered = sh(2026, 3, 3, 18)
    s = sla_state(CAL, BEFORE_SPRING_FESTIVAL, [], delivered, delivered)
    assert (s.state, s.business_days_used, s.breached_at) == ("delivered_on_time", 10, None)
    assert s.at_risk_at == sh(2026, 3, 1, 0)
    assert list(due_events(CAL, BEFORE_SPRING_FESTIVAL, [], delivered, sh(2026, 3, 20)).moments) == [
        ("at_risk", sh(2026, 3, 1, 0))]


def test_delivery_the_day_after_the_limit_is_late():
    delivered = sh(2026, 3, 4, 9)
    s = sla_state(CAL, BEFORE_SPRING_FESTIVAL, [], delivered, delivered)
    assert (s.state, s.business_days_used, s.breached_at) == ("delivered_late", 11, sh(2026, 3, 4, 0))


def test_delivery_on_the_weekend_after_the_limit_is_late_though_no_more_days_were_counted():
    accepted = sh(2026, 3, 6)  # Friday: day 10 is Friday 20 Mar
    delivered = sh(2026, 3, 21, 10)
    s = sla_state(CAL, accepted, [], delivered, delivered)
    assert (s.state, s.business_days_used, s.limit_due) == ("delivered_late", 10, date(2026, 3, 20))
    assert s.breached_at == sh(2026, 3, 21, 0)


def test_delivery_on_the_acceptance_date_uses_no_business_day():
    s = sla_state(CAL, ORDINARY_MONDAY, [], sh(2026, 3, 9, 17), sh(2026, 3, 9, 17))
    assert (s.state, s.business_days_used, s.paused_business_days) == ("delivered_on_time", 0, 0)


def test_a_pause_still_open_at_delivery_ends_there():
    pause = Pause(started_at=sh(2026, 3, 11, 10), ended_at=None)
    delivered = sh(2026, 3, 16, 10)
    s = sla_state(CAL, ORDINARY_MONDAY, [pause], delivered, sh(2026, 3, 20))
    # Tue 10 counts; 11, 12, 13 lost; the delivery day Mon 16 counts.
    assert (s.state, s.business_days_used, s.paused_business_days) == ("delivered_on_time", 2, 3)


def test_facts_after_now_are_not_known_yet():
    later_pause = Pause(started_at=sh(2026, 3, 12, 10), ended_at=None)
    s = sla_state(CAL, ORDINARY_MONDAY, [later_pause], sh(2026, 3, 13), sh(2026, 3, 11, 12))
    assert (s.state, s.business_days_used, s.paused_business_days) == ("on_track", 2, 0)
    resumed_later = Pause(started_at=sh(2026, 3, 10, 10), ended_at=sh(2026, 3, 12, 10))
    assert sla_state(CAL, ORDINARY_MONDAY, [resumed_later], None, sh(2026, 3, 11, 12)).state == "paused"


def test_a_clock_reaching_into_2027_is_calendar_unknown_until_the_operator_file_supplies_2027():
    accepted = sh(2026, 12, 21)  # Monday: days 1-8 are 22-25 and 28-31 Dec; days 9 and 10 fall in 2027
    s = sla_state(CAL, accepted, [], None, accepted)
    assert (s.state, s.unknown_year) == ("calendar_unknown", 2027)
    # Day 7 is 30 December, a known day: the target is given; the limit (day 10) is not.
    assert (s.business_days_used, s.target_due, s.limit_due) == (None, date(2026, 12, 30), None)
    # The timer needs only the days already past: it runs until the clock itself is in 2027.
    assert due_events(CAL, accepted, [], None, sh(2026, 12, 31, 23)).moments == ()
    assert due_events(CAL, accepted, [], None, sh(2027, 1, 1, 0)).moments == (("at_risk", sh(2027, 1, 1, 0)),)
    # Past 1 January only the breach is undecided: the at-risk moment fell in 2026.
    due = due_events(CAL, accepted, [], None, sh(2027, 1, 4))
    assert (due.moments, due.limit_due, due.unknown_year) == ((("at_risk", sh(2027, 1, 1, 0)),), None, 2027)

    with_2027 = load_calendar(EXAMPLE)
    s = sla_state(with_2027, accepted, [], None, accepted)
    assert (s.state, s.target_due, s.limit_due) == ("on_track", date(2026, 12, 30), date(2027, 1, 5))
    assert due_events(with_2027, accepted, [], None, sh(2027, 1, 6, 0)).moments == (
        ("at_risk", sh(2027, 1, 1, 0)), ("breached", sh(2027, 1, 6, 0)))


# Thursday 17 Dec 2026: days 1-10 are 18, 21-25, 28-31 Dec. The limit is 31 Dec, so the breach is
# due at 1 Jan 2027 00:00 in Shanghai, a year the seed calendar does not know.
YEAR_END = sh(2026, 12, 17, 15)


def test_a_breach_due_at_new_year_is_emitted_although_the_calendar_lacks_the_new_year():
    due = due_events(CAL, YEAR_END, [], None, sh(2027, 1, 1, 0, 0) + timedelta(seconds=1))
    assert due.moments == (("at_risk", sh(2026, 12, 30, 0)), ("breached", sh(2027, 1, 1, 0)))
    assert (due.limit_due, due.unknown_year) == (date(2026, 12, 31), None)
    # Days later the state is still decided on the known days; only the count of 2027 days is not.
    s = sla_state(CAL, YEAR_END, [], None, sh(2027, 1, 20))
    assert (s.state, s.limit_due, s.breached_at) == ("breached", date(2026, 12, 31), sh(2027, 1, 1, 0))
    assert (s.business_days_used, s.unknown_year) == (None, 2027)
    assert due_events(CAL, YEAR_END, [], None, sh(2027, 1, 20)).unknown_year is None


def test_a_delivery_in_the_unknown_year_after_a_known_breach_is_late():
    delivered = sh(2027, 1, 6, 11)
    s = sla_state(CAL, YEAR_END, [], delivered, delivered)
    assert (s.state, s.business_days_used, s.breached_at) == ("delivered_late", None, sh(2027, 1, 1, 0))
    # Before the limit, a delivery in the unknown year has no verdict: days 9 or 10 may be in 2027.
    s = sla_state(CAL, sh(2026, 12, 21), [], delivered, delivered)
    assert (s.state, s.unknown_year) == ("calendar_unknown", 2027)


def test_a_pause_open_since_before_new_year_keeps_the_clock_decided():
    pause = Pause(started_at=sh(2026, 12, 22), ended_at=None)
    s = sla_state(CAL, YEAR_END, [pause], None, sh(2027, 1, 8))
    assert (s.state, s.business_days_used, s.paused_business_days) == ("paused", 2, None)
    assert due_events(CAL, YEAR_END, [pause], None, sh(2027, 1, 8)).unknown_year is None


def test_an_acceptance_in_2027_is_calendar_unknown_even_while_paused():
    accepted = sh(2027, 1, 11)
    pause = Pause(started_at=sh(2027, 1, 13), ended_at=None)  # 12 Jan would count, if a business day
    s = sla_state(CAL, accepted, [pause], None, sh(2027, 1, 14))
    assert (s.state, s.unknown_year) == ("calendar_unknown", 2027)
    assert sla_state(load_calendar(EXAMPLE), accepted, [pause], None, sh(2027, 1, 14)).state == "paused"
    # Paused from day 1 on, no day of 2027 could have counted.
    from_day_1 = Pause(started_at=sh(2027, 1, 11, 18), ended_at=None)
    s = sla_state(CAL, accepted, [from_day_1], None, sh(2027, 1, 14))
    assert (s.state, s.business_days_used, s.paused_business_days) == ("paused", 0, None)


def test_a_delivered_clock_keeps_its_outcome_when_a_due_date_needs_an_unknown_year():
    accepted, delivered = sh(2026, 12, 21), sh(2026, 12, 24, 16)
    s = sla_state(CAL, accepted, [], delivered, delivered)
    assert (s.state, s.business_days_used, s.target_due) == ("delivered_on_time", 3, date(2026, 12, 30))
    assert (s.limit_due, s.unknown_year) == (None, 2027)


def test_naive_times_and_impossible_histories_are_refused():
    with pytest.raises(ValueError, match="naive"):
        sla_state(CAL, datetime(2026, 3, 9, 9), [], None, ORDINARY_MONDAY)
    backwards = Pause(started_at=sh(2026, 3, 12), ended_at=sh(2026, 3, 11))
    with pytest.raises(ValueError, match="before it starts"):
        sla_state(CAL, ORDINARY_MONDAY, [backwards], None, sh(2026, 3, 13))
    with pytest.raises(ValueError, match="before it was accepted"):
        sla_state(CAL, ORDINARY_MONDAY, [], sh(2026, 3, 8), sh(2026, 3, 13))


@st.composite
def histories(draw: st.DrawFn) -> tuple[datetime, list[Pause], datetime]:
    hours = st.integers(min_value=0, max_value=24 * 40)
    accepted = sh(2026, 1, 5, 0) + timedelta(hours=draw(st.integers(min_value=0, max_value=24 * 270)))
    pauses, t = [], accepted
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        start = t + timedelta(hours=draw(hours))
        end = None if draw(st.booleans()) else start + timedelta(hours=draw(hours))
        pauses.append(Pause(start, end))
        if end is None:
            break
        t = end
    now = accepted + timedelta(hours=draw(st.integers(min_value=0, max_value=24 * 60)))
    return accepted, pauses, now


@settings(max_examples=200, deadline=None)  # a loaded CI machine must not fail a pure property
@given(histories())
def test_counted_and_paused_days_add_up_to_the_calendars_business_days(history):
    accepted, pauses, now = history
    s = sla_state(CAL, accepted, pauses, None, now)
    assert s.business_days_used is not None and s.paused_business_days is not None
    elapsed = CAL.business_days_between(accepted.astimezone(CENTRES_TZ).date(), now.astimezone(CENTRES_TZ).date())
    assert s.business_days_used + s.paused_business_days == elapsed
    assert s.business_days_used <= elapsed
    if not pauses:
        assert s.paused_business_days == 0


@settings(max_examples=200, deadline=None)  # a loaded CI machine must not fail a pure property
@given(histories())
def test_the_moments_come_in_order_at_local_midnights_and_agree_with_the_state(history):
    accepted, pauses, now = history
    events = list(due_events(CAL, accepted, pauses, None, now).moments)
    s = sla_state(CAL, accepted, pauses, None, now)
    assert [k for k, _ in events] == ["at_risk", "breached"][:len(events)]
    assert all(m.astimezone(CENTRES_TZ).time() == datetime.min.time() and m <= now for _, m in events)
    assert dict(events).get("at_risk") == s.at_risk_at
    assert dict(events).get("breached") == s.breached_at
    if s.state in ("on_track", "at_risk") and s.limit_due is not None:
        assert s.target_due is not None and s.target_due < s.limit_due


def test_a_view_of_the_clock_is_taken_no_earlier_than_the_cases_own_last_event():
    from events.codes import CentreId
    from events.contract import ReviewAccepted
    from services.review import domain

    accepted, delivered = sh(2026, 12, 7, 9), sh(2026, 12, 11, 9)
    review = domain.fold([(ReviewAccepted(centre_id=CentreId("wch")), accepted)])
    review.delivered_at = delivered
    review.last_at = delivered
    wall = sh(2026, 12, 3, 9)  # before the simulated history
    s = sla_state(CAL, accepted, [], review.delivered_at, domain.clock_now(review, wall))
    assert (s.state, s.business_days_used) == ("delivered_on_time", 4)
    assert domain.clock_now(review, sh(2027, 2, 1)) == sh(2027, 2, 1)
