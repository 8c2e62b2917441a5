"""The demo's planner: deterministic for a seed, near its targets, and coherent in business time."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from demo import plan as p
from demo import population
from events.codes import CentreId, OutcomeChange, Pathway, QuestionTopic, RecordKind, TravelReason, TreatmentType
from services.common.calendar import seed_calendar
from services.intake.domain import missing_records
from services.review.sla import Pause, sla_state

CAL = seed_calendar()
N = 2000


@pytest.fixture(scope="module")
def year() -> p.YearPlan:
    return p.plan_year(N, seed=11, year=2026, calendar=CAL)


def near(share: float, target: float, tolerance: float) -> bool:
    return abs(share - target) <= tolerance


def test_a_seed_gives_the_same_year_and_another_seed_another():
    a, b = p.plan_year(40, seed=5, calendar=CAL), p.plan_year(40, seed=5, calendar=CAL)
    assert a == b
    assert p.plan_year(40, seed=6, calendar=CAL) != a


def test_cases_are_numbered_in_order_of_their_first_step(year: p.YearPlan):
    assert [c.number for c in year.cases] == list(range(1, N + 1))
    firsts = [c.steps[0].at for c in year.cases]
    assert firsts == sorted(firsts)


def test_the_population_lands_near_its_targets(year: p.YearPlan):
    cases = year.cases

    def share(pred, pop=cases) -> float:
        pop = list(pop)
        return sum(1 for c in pop if pred(c)) / len(pop)

    assert near(share(lambda c: c.from_quote), p.SHARE_FROM_QUOTE, 0.04)
    assert len(year.extra_quotes) == round(p.EXTRA_QUOTES * N)
    assert near(share(lambda c: c.profile.preferred_centre is not None), p.SHARE_PREFERRED_CENTRE, 0.03)
    assert near(share(lambda c: QuestionTopic.PROTON_THERAPY in c.profile.question_topics), p.SHARE_PROTON_QUESTION,
                0.025)
    assert near(share(lambda c: c.profile.wants_video), p.SHARE_VIDEO, 0.03)
    assert near(share(lambda c: c.fate == "cancelled"), p.SHARE_CANCELLED, 0.015)
    assert near(share(lambda c: c.fate == "withdrawn"), p.SHARE_WITHDRAWN, 0.012)
    assert near(share(lambda c: c.fate == "expired"), p.SHARE_EXPIRED, 0.01)
    routed = [c for c in cases if c.first("await_routing")]
    assert near(share(lambda c: c.declined_first, routed), p.SHARE_DECLINED_FIRST, 0.02)

    delivered = [c for c in cases if c.review is not None]
    assert near(share(lambda c: c.review.information_request, delivered), p.SHARE_INFORMATION_REQUEST, 0.03)
    assert near(share(lambda c: c.review.diagnosis_change is not OutcomeChange.CONCORDANT, delivered),
                p.DIAGNOSIS_CHANGED, 0.03)
    assert near(share(lambda c: c.review.treatment_change is not OutcomeChange.CONCORDANT, delivered),
                p.TREATMENT_CHANGED, 0.035)
    assert near(share(lambda c: c.decision == "undecided", delivered), p.SHARE_UNDECIDED, 0.02)
    decided = [c for c in delivered if c.decision != "undecided"]
    assert near(share(lambda c: c.decision == "booked_treatment", decided), p.SHARE_BOOKED_OF_DECIDED, 0.04)
    booked = [c for c in decided if c.booking]
    assert 0.3 < share(lambda c: c.redeems, booked) <= p.SHARE_REDEEMED + 0.05
    # Some reviews breach the 10-business-day limit; most are within it.
    within = share(lambda c: c.review.business_days <= 10, delivered)
    assert 0.80 < within < 0.97


def test_the_mix_is_varied_and_some_histologies_are_rare(year: p.YearPlan):
    sites = {c.profile.tumour_site for c in year.cases}
    assert len(sites) >= 14
    assert 0.05 < sum(c.profile.rare_tumour for c in year.cases) / N < 0.25
    assert len({c.profile.country for c in year.cases}) >= 15
    assert len({r for c in year.cases for r in c.profile.referral_reasons}) == 6


def test_every_step_is_in_the_year_and_in_order(year: p.YearPlan):
    start, end = datetime(2026, 1, 1, tzinfo=p.TZ), datetime(2027, 1, 1, tzinfo=p.TZ)
    for case in year.cases:
        assert p.in_order(case.steps), case.number
        assert all(start <= s.at < end for s in case.steps), case.number
        assert all(s.at.tzinfo is not None for s in case.steps)
        assert case.opened_at.date() <= datetime(2026, *p.LAST_START).date()
        actions = [s.action for s in case.steps]
        assert actions[:2] == ["quote", "open"] if case.from_quote else actions[0] == "open"
        assert actions.count("open") == 1
    for quote in year.extra_quotes:
        assert start <= quote.at < end


def test_decisions_come_only_after_delivery_and_match_the_plan(year: p.YearPlan):
    for case in year.cases:
        actions = [s.action for s in case.steps]
        decided = [s for s in case.steps if s.action in ("book", "close")]
        if case.review is None:
            assert not decided and "deliver" not in actions and case.decision is None
            continue
        delivered = case.first("deliver")
        assert delivered is not None
        assert all(d.at > delivered.at for d in decided)
        assert len(decided) == (0 if case.decision == "undecided" else 1)
        if case.decision == "booked_treatment":
            assert decided[0].action == "book" and case.booking is not None
        if case.redeems:
            redeem, book = case.first("redeem"), case.first("book")
            assert redeem is not None and book is not None and redeem.at > book.at
        video = [s for s in case.steps if s.action == "video"]
        assert all(v.at > delivered.at for v in video)
        if video:
            assert all(v.at < d.at for v in video for d in decided)


def test_the_review_runs_on_business_days_and_the_sla_clock_agrees(year: p.YearPlan):
    """The plan's business days are what the review service's own SLA clock will count."""
    for case in year.cases:
        accepted, delivered = case.first("accept"), case.first("deliver")
        if accepted is None:
            continue
        assert CAL.is_business_day(accepted.at.date()) and 9 <= accepted.at.hour < 18
        routed = case.first("await_routing")
        assert routed is not None and accepted.at > routed.at
        if delivered is None:
            continue
        assert case.review is not None and 4 <= case.review.business_days <= 12
        assert CAL.is_business_day(delivered.at.date())
        timers = case.first("timers")
        assert timers is not None and timers.at == delivered.at - timedelta(minutes=1)
        asked, supplied = case.first("request_information"), case.first("supply_information")
        pauses = [Pause(asked.at, supplied.at)] if asked and supplied else []
        assert case.review.information_request == bool(pauses)
        if asked and supplied:
            assert accepted.at < asked.at < supplied.at < delivered.at
        state = sla_state(CAL, accepted.at, pauses, delivered.at, delivered.at)
        assert state.business_days_used == case.review.business_days, case.number
        assert (state.state == "delivered_late") == case.review.breached
        assert (state.at_risk_at is not None) == case.review.at_risk
        # Due dates stay within the year the calendar knows (no SlaClockBlocked).
        started = sla_state(CAL, accepted.at, [], None, accepted.at)
        assert started.limit_due is not None and started.limit_due.year == 2026


def test_records_are_asked_for_only_when_something_is_missing(year: p.YearPlan):
    for case in year.cases:
        asked = case.first("request_records")
        routed = case.first("await_routing")
        kinds = [RecordKind(s.data["kind"]) for s in case.steps if s.action == "upload" and (
            asked is None or s.at < asked.at)]
        kinds += [RecordKind.PATHOLOGY_SLIDES for s in case.steps if s.action == "receive_slides" and (
            asked is None or s.at < asked.at)]
        if asked is not None:
            assert missing_records(kinds, case.profile.referral_reasons), case.number
        if routed is not None:  # everything required has arrived by the time routing is awaited
            every = [RecordKind(s.data["kind"]) for s in case.steps if s.action == "upload" and s.at < routed.at]
            every += [RecordKind.PATHOLOGY_SLIDES for s in case.steps if s.action == "receive_slides"
                      and s.at < routed.at]
            assert not missing_records(every, case.profile.referral_reasons), case.number


def test_endings_happen_before_acceptance_or_during_the_review(year: p.YearPlan):
    for case in year.cases:
        last = case.steps[-1]
        if case.fate == "cancelled":
            assert last.action == "cancel" and not case.accepted
        elif case.fate == "withdrawn":
            assert last.action == "withdraw_consent"
            consents = [s.data["consent"] for s in case.steps if s.action == "consent"]
            assert last.data["consent"] in consents
        elif case.fate == "expired":
            assert "await_routing" not in [s.action for s in case.steps]
            assert case.first("request_records") is not None
            assert case.expires_at is not None and case.expires_at.year == 2026


def test_bookings_fit_the_recommended_pathway(year: p.YearPlan):
    for case in year.cases:
        if case.booking is None:
            continue
        assert case.review is not None
        assert case.booking.treatment_type is population.TREATMENT_OF[case.review.pathway]
        if case.review.pathway is Pathway.PROTON_THERAPY:
            assert case.booking.treatment_type is TreatmentType.PROTON_THERAPY
            assert case.booking.travel_reason is TravelReason.HIGH_COST_THERAPY
            assert case.booking.centre is CentreId.CAMS
        if case.review.pathway is Pathway.CLINICAL_TRIAL:
            assert case.booking.travel_reason is TravelReason.EARLY_PHASE_TRIAL
        assert case.review.pathway not in (Pathway.SURVEILLANCE, Pathway.PALLIATIVE_CARE)


def test_delivery_bodies_code_the_outcome_consistently(year: p.YearPlan):
    for case in year.cases:
        step = case.first("deliver")
        if step is None:
            continue
        assert case.review is not None
        body = step.data
        assert body["diagnosis_change"] == case.review.diagnosis_change.value
        assert body["treatment_change"] == case.review.treatment_change.value
        assert body["recommended_pathway"] == case.review.pathway.value
        changed = body["pathology"]["verdict"] != "agree" or body["imaging"]["verdict"] != "stage_confirmed"
        assert changed == (case.review.diagnosis_change is not OutcomeChange.CONCORDANT)
        assert (body["page_count"] > 8) == ("page_count_reason" in body)


def test_a_year_the_calendar_does_not_know_is_refused():
    with pytest.raises(ValueError, match="does not know 2031"):
        p.plan_year(5, year=2031, calendar=CAL)
