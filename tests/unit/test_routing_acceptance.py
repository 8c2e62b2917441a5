"""The acceptance deadline: routing's pure rules, its timer on fakes, and review's answer to a withdrawal."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any, Literal
from uuid import UUID

import pytest

from events.codes import CentreId, DeclineReason, TumourSite
from events.contract import (
    AssignmentWithdrawn,
    CaseDeclined,
    CaseFinallyDeclined,
    CaseRouted,
    CaseRoutingBlocked,
    CaseWithdrawn,
    RecordsCompleted,
    ReviewAccepted,
    acceptance_stands,
)
from services.common.calendar import load_calendar
from services.common.errors import Rejected
from services.review import application as review_application
from services.routing import application, domain
from services.routing.centres import load_centres
from tests.unit import test_review_application as review_tests
from tests.unit.fakes import CONN, Upstream, deliver
from tests.unit.test_routing_application import Case, ready, runtime

SHANGHAI = timezone(timedelta(hours=8))
CALENDAR = load_calendar()
PARTNERS = load_centres()
C = CentreId


def shanghai(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


# ------------------------------------------------------------------ the pure rules

@pytest.mark.parametrize(("routed_at", "accept_by"), [
    (shanghai(2026, 6, 1, 10), date(2026, 6, 3)),  # Monday: Tuesday and Wednesday
    (shanghai(2026, 6, 5, 18), date(2026, 6, 9)),  # Friday: the weekend does not count
    # Friday 13 Feb 2026: Saturday 14 is a make-up working day, 15-23 Feb the Spring Festival.
    (shanghai(2026, 2, 13, 9), date(2026, 2, 24)),
    # 20:00 UTC on Monday is already Tuesday in Shanghai: the centres' date counts.
    (datetime(2026, 6, 1, 20, tzinfo=UTC), date(2026, 6, 4)),
])
def test_the_deadline_is_the_second_business_day_after_the_routing_date_in_the_centres_calendar(routed_at, accept_by):
    assert domain.acceptance_deadline(CALENDAR, routed_at, 2) == accept_by


def test_no_deadline_is_guessed_in_a_year_the_calendar_does_not_know():
    assert domain.acceptance_deadline(CALENDAR, shanghai(2026, 12, 30, 10), 2) is None
    assert domain.acceptance_deadline(CALENDAR, shanghai(2026, 12, 28, 10), 2) == date(2026, 12, 30)


def assignment(**kw: Any) -> domain.Assignment:
    base: dict[str, Any] = {"centre": C.FUSCC, "attempt": 1, "accept_by": date(2026, 6, 3), "accepted": False,
                            "withdrawing": False}
    return domain.Assignment(**{**base, **kw})


def test_the_withdrawal_is_due_when_the_deadline_day_ends_and_is_dated_then():
    end = shanghai(2026, 6, 4)
    assert domain.due_withdrawal(assignment(), end - timedelta(seconds=1)) is None
    due = domain.due_withdrawal(assignment(), end + timedelta(days=30))
    assert due is not None
    event, at = due
    assert (event.centre_id, event.attempt, event.reason, at) == (C.FUSCC, 1, "no_answer", end)
    for settled in (assignment(accepted=True), assignment(withdrawing=True), assignment(accept_by=None),
                    assignment(centre=None)):
        assert domain.due_withdrawal(settled, end + timedelta(days=1)) is None


def test_the_acceptance_dated_before_the_withdrawal_wins():
    withdrawn = shanghai(2026, 6, 4)
    assert acceptance_stands(withdrawn - timedelta(microseconds=1), withdrawn)
    assert not acceptance_stands(withdrawn, withdrawn)
    assert not acceptance_stands(withdrawn + timedelta(minutes=1), withdrawn)


def facts(**kw: Any) -> domain.CaseFacts:
    return domain.CaseFacts(tumour_site=TumourSite.GASTRIC, rare_tumour=False, preferred_centre=None, **kw)


def test_no_answer_reroutes_like_a_decline_but_never_ends_a_coordinators_pick():
    rerouted = domain.after_decline(PARTNERS, facts(declined=(C.PKUCH,)), {}, False, reason=DeclineReason.NO_ANSWER)
    assert isinstance(rerouted, CaseRouted) and rerouted.centre_id is not C.PKUCH
    assert "rerouted_after_no_answer" in rerouted.reason_codes and rerouted.attempt == 2
    queued = domain.after_decline(PARTNERS, facts(declined=(C.PKUCH, C.FUSCC)), {}, False,
                                  reason=DeclineReason.NO_ANSWER)
    assert isinstance(queued, CaseRoutingBlocked) and queued.reason_codes == ["declined_twice"]
    silent_pick = domain.after_decline(PARTNERS, facts(declined=(C.SYSUCC,)), {}, True, reason=DeclineReason.NO_ANSWER)
    assert isinstance(silent_pick, CaseRoutingBlocked) and silent_pick.reason_codes == ["no_answer"]
    refusing_pick = domain.after_decline(PARTNERS, facts(declined=(C.SYSUCC,)), {}, True, reason=DeclineReason.OTHER)
    assert isinstance(refusing_pick, CaseFinallyDeclined)


def test_a_coordinators_reassignment_goes_to_the_pick_once_the_centre_is_out():
    routed = domain.after_decline(PARTNERS, facts(declined=(C.PKUCH,)), {}, False,
                                  reason=DeclineReason.REASSIGNED_BY_COORDINATOR, reassign_to=C.SYSUCC, attempt=4)
    assert isinstance(routed, CaseRouted)
    assert (routed.centre_id, routed.reason_codes, routed.attempt) == (C.SYSUCC, ["coordinator_assignment"], 4)
    # The centre declined on its own before review heard of the withdrawal: the pick still stands.
    own = domain.after_decline(PARTNERS, facts(declined=(C.PKUCH,)), {}, False, reason=DeclineReason.AT_CAPACITY,
                               reassign_to=C.SYSUCC)
    assert isinstance(own, CaseRouted) and own.centre_id is C.SYSUCC
    gone = domain.after_decline(PARTNERS, facts(declined=(C.PKUCH,), consented_centres=frozenset({C.PKUCH})), {},
                                False, reason=DeclineReason.REASSIGNED_BY_COORDINATOR, reassign_to=C.SYSUCC)
    assert isinstance(gone, CaseRoutingBlocked) and gone.reason_codes == ["reassignment_target_unavailable"]


@pytest.mark.parametrize(("kw", "target", "code"), [
    ({"accepted": True}, C.SYSUCC, "already_accepted"),
    ({"withdrawing": True}, C.SYSUCC, "withdrawal_pending"),
    ({}, C.FUSCC, "same_centre"),
])
def test_a_reassignment_is_refused_once_accepted_pending_or_pointless(kw, target, code):
    with pytest.raises(Rejected) as refused:
        domain.reassign(assignment(**kw), facts(), target)
    assert refused.value.code == code


def test_a_reassignment_to_a_centre_without_consent_is_refused():
    with pytest.raises(Rejected) as refused:
        domain.reassign(assignment(), facts(consented_centres=frozenset({C.FUSCC})), C.SYSUCC)
    assert refused.value.code == "centre_not_consented"
    withdrawal = domain.reassign(assignment(), facts(), C.SYSUCC)
    assert (withdrawal.reason, withdrawal.reassign_to) == ("reassigned_by_coordinator", C.SYSUCC)


# ------------------------------------------------------------------ routing's timer and reactions, on fakes

REVIEW = Upstream("review")


def routed_case(rt: application.RoutingRuntime) -> tuple[Case, CaseRouted]:
    case = ready(rt)  # routed at T0 (Monday 2 March 2026, 09:00 UTC plus a few minutes)
    routed = case.decisions()[-1]
    assert isinstance(routed, CaseRouted)
    return case, routed


def test_a_routing_carries_its_deadline_and_the_sweep_withdraws_it_once_at_the_deadline():
    rt = runtime()
    case, routed = routed_case(rt)
    assert routed.accept_by == date(2026, 3, 4)  # Tuesday 3 and Wednesday 4 March
    assert application.run_timers(rt, shanghai(2026, 3, 4, 23, 59)) == 0
    assert application.run_timers(rt, shanghai(2026, 3, 6, 12)) == 1
    assert application.run_timers(rt, shanghai(2026, 3, 9, 12)) == 0  # once only: it awaits review's answer
    withdrawn = rt.store.load(CONN, f"case-{case.case_id}")[-1]
    assert isinstance(withdrawn.event, AssignmentWithdrawn) and withdrawn.event.reason == "no_answer"
    assert withdrawn.envelope.occurred_at == shanghai(2026, 3, 5)
    # Review records the decline for the centre: routing re-routes, dated then, with a new deadline.
    deliver(case.consumer, REVIEW.emit(case.case_id, CaseDeclined(centre_id=routed.centre_id, reason="no_answer"),
                                       shanghai(2026, 3, 5)))
    rerouted = case.decisions()[-1]
    assert isinstance(rerouted, CaseRouted) and rerouted.centre_id is not routed.centre_id
    assert "rerouted_after_no_answer" in rerouted.reason_codes
    assert (rerouted.attempt, rerouted.accept_by) == (2, date(2026, 3, 9))  # Thursday 5 -> Fri 6, Mon 9
    assert case.board().active[routed.centre_id.value] == 0


def test_an_accepted_case_is_never_withdrawn():
    rt = runtime()
    case, routed = routed_case(rt)
    case.send(ReviewAccepted(centre_id=routed.centre_id), REVIEW)
    assert application.run_timers(rt, shanghai(2026, 4, 1)) == 0
    with pytest.raises(Rejected) as refused:
        application.assign_by_coordinator(rt, CONN, case.case_id, C.SYSUCC, shanghai(2026, 3, 3))
    assert refused.value.code == "already_accepted"


def test_an_acceptance_that_reaches_routing_after_the_withdrawal_wins_only_if_dated_before_it():
    rt = runtime()
    early, routed = routed_case(rt)
    late, _ = routed_case(rt)
    assert application.run_timers(rt, shanghai(2026, 3, 6)) == 2
    # Review's relay lagged: the acceptances arrive after routing withdrew both cases.
    deliver(early.consumer, REVIEW.emit(early.case_id, ReviewAccepted(centre_id=routed.centre_id),
                                        shanghai(2026, 3, 4, 23, 59)))
    deliver(late.consumer, REVIEW.emit(late.case_id, ReviewAccepted(centre_id=routed.centre_id),
                                       shanghai(2026, 3, 5, 0, 1)))
    assert early.board().cases[early.case_id]["accepted"] is True
    assert early.board().cases[early.case_id]["withdrawn_at"] is None
    assert late.board().cases[late.case_id]["accepted"] is False  # review declines it for the centre
    assert application.run_timers(rt, shanghai(2026, 3, 20)) == 0


def test_the_coordinator_reroutes_a_case_not_yet_accepted_once_review_confirms_the_decline():
    rt = runtime()
    case, routed = routed_case(rt)
    assert application.assign_by_coordinator(rt, CONN, case.case_id, C.SYSUCC, shanghai(2026, 3, 3, 10)) is False
    withdrawal = case.decisions()[-1]
    assert isinstance(withdrawal, AssignmentWithdrawn) and withdrawal.reassign_to is C.SYSUCC
    assert application.run_timers(rt, shanghai(2026, 3, 20)) == 0  # already withdrawn
    deliver(case.consumer, REVIEW.emit(case.case_id, CaseDeclined(centre_id=routed.centre_id,
                                                                  reason="reassigned_by_coordinator"),
                                       shanghai(2026, 3, 3, 10)))
    moved = case.decisions()[-1]
    assert isinstance(moved, CaseRouted)
    assert (moved.centre_id, moved.reason_codes, moved.attempt) == (C.SYSUCC, ["coordinator_assignment"], 2)
    assert case.board().cases[case.case_id]["coordinator_pick"] is True


def test_one_case_failing_does_not_stop_the_sweep_for_the_others():
    rt = runtime()
    broken, _ = routed_case(rt)
    fine, _ = routed_case(rt)
    broken.board().corrupt.add(broken.case_id)
    assert application.run_timers(rt, shanghai(2026, 3, 6)) == 1
    assert isinstance(rt.store.load(CONN, f"case-{fine.case_id}")[-1].event, AssignmentWithdrawn)


def test_an_ended_case_is_not_chased():
    rt = runtime()
    case = Case(rt)
    case.send(RecordsCompleted(record_count=6))
    case.consent(*CentreId)
    case.send(CaseWithdrawn(reason="patient_request"))
    assert application.run_timers(rt, shanghai(2026, 4, 1)) == 0


# ------------------------------------------------------------------ review's answer to a withdrawal

def withdraw(rt: review_application.ReviewRuntime, case_id: UUID, at: datetime,
             reason: Literal["no_answer", "reassigned_by_coordinator"] = "no_answer") -> None:
    deliver(review_application.reactions(rt), Upstream("routing").emit(case_id, AssignmentWithdrawn(
        centre_id=C.PKUCH, attempt=1, reason=reason), at))


def review_events(rt: review_application.ReviewRuntime, case_id: UUID) -> list[tuple[str, datetime, Any]]:
    return [(d.envelope.event_type, d.envelope.occurred_at, getattr(d.event, "reason", None))
            for d in rt.store.load(CONN, f"case-{case_id}")]


DEADLINE = review_tests.ACCEPTED + timedelta(days=2)


def test_review_declines_for_a_centre_that_did_not_accept_and_refuses_its_acceptance_after():
    rt = review_tests.runtime()
    case_id = review_tests.routed(rt)
    withdraw(rt, case_id, DEADLINE)
    assert review_events(rt, case_id) == [("CaseDeclined", DEADLINE, DeclineReason.NO_ANSWER)]
    with pytest.raises(Rejected) as refused:
        review_application.accept(rt, CONN, case_id, C.PKUCH, DEADLINE + timedelta(minutes=5))
    assert refused.value.code == "declined"


def test_review_keeps_an_acceptance_dated_before_the_withdrawal():
    rt = review_tests.runtime()
    case_id = review_tests.routed(rt)
    review_application.accept(rt, CONN, case_id, C.PKUCH, DEADLINE - timedelta(minutes=1))
    withdraw(rt, case_id, DEADLINE, reason="reassigned_by_coordinator")
    assert [kind for kind, _, _ in review_events(rt, case_id)] == ["ReviewAccepted", "SlaClockStarted"]


def test_review_voids_an_acceptance_dated_after_the_withdrawal_it_had_not_heard_of():
    rt = review_tests.runtime()
    case_id = review_tests.routed(rt)
    late = DEADLINE + timedelta(minutes=3)
    review_application.accept(rt, CONN, case_id, C.PKUCH, late)
    withdraw(rt, case_id, DEADLINE)
    # The decline is dated at the losing acceptance, not before it: a stream's times never go back.
    assert review_events(rt, case_id)[-1] == ("CaseDeclined", late, DeclineReason.NO_ANSWER)
    assert rt.assignments.get(CONN, case_id)["phase"] == "declined"  # type: ignore[index]


def test_a_withdrawal_from_a_centre_that_no_longer_holds_the_case_changes_nothing():
    rt = review_tests.runtime()
    case_id = review_tests.routed(rt, centre=C.FUSCC)
    withdraw(rt, case_id, DEADLINE)
    assert review_events(rt, case_id) == []
