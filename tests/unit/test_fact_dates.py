"""No fact dated before the facts it depends on: each rule refuses with 422 naming `occurred_at`,
appends nothing, and lets the same command through when dated at or after that fact.

The order itself is in docs/design.md ("Facts in order"); the rules are in the domains (review's
`domain`, `follow_ups`, `video`; intake's, routing's and billing's `domain`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, cast
from uuid import UUID, uuid4

import pytest

from events.codes import CentreId, ConsentKind, DeclineReason, InformationTopic
from events.contract import (
    CaseCancelled,
    CaseClosed,
    CaseRouted,
    CaseWithdrawn,
    ConsentGiven,
    GlassSlidesShipped,
    RecordsCompleted,
    RecordsReceived,
    TreatmentBooked,
)
from services.billing import application as billing
from services.common.errors import InvalidInput
from services.intake import application as intake
from services.review import application as review
from services.routing import application as routing
from tests.unit.fakes import CONN, FakeProvider, Upstream, deliver
from tests.unit.test_intake_application import T0, open_case, ready, review_delivered
from tests.unit.test_intake_application import delivered as delivery_event
from tests.unit.test_intake_application import rt as rt  # the intake runtime fixture
from tests.unit.test_review_application import ACCEPTED, delivery, kinds, routed, runtime, upload

PKUCH = CentreId.PKUCH
ROUTED = ACCEPTED - timedelta(days=1)  # tests.unit.test_review_application.routed dates the routing so
EARLY = timedelta(minutes=1)
IMAGING = [InformationTopic.ADDITIONAL_IMAGING]


def refused(command: Callable[[], Any]) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        command()
    assert caught.value.field == "occurred_at"
    return caught.value


def refused_and_nothing_appended(rt: review.ReviewRuntime, case_id: UUID, command: Callable[[], Any]) -> None:
    before = kinds(rt, case_id)
    refused(command)
    assert kinds(rt, case_id) == before


# ------------------------------------------------------------------ review: a centre's answers follow the routing

def test_an_acceptance_dated_before_the_routing_is_refused_and_one_at_the_routing_stands():
    rt = runtime()
    case_id = routed(rt)
    refused_and_nothing_appended(rt, case_id, lambda: review.accept(rt, CONN, case_id, PKUCH, ROUTED - EARLY))
    assert "before the case's routing" in refused(
        lambda: review.accept(rt, CONN, case_id, PKUCH, ROUTED - timedelta(days=400))).message
    assert review.accept(rt, CONN, case_id, PKUCH, ROUTED).state.review.accepted_at == ROUTED


def test_a_decline_dated_before_the_routing_is_refused():
    rt = runtime()
    case_id = routed(rt)
    refused_and_nothing_appended(
        rt, case_id, lambda: review.decline(rt, CONN, case_id, PKUCH, DeclineReason.AT_CAPACITY, ROUTED - EARLY))
    review.decline(rt, CONN, case_id, PKUCH, DeclineReason.AT_CAPACITY, ROUTED)
    assert kinds(rt, case_id)[-1] == "CaseDeclined"


def test_the_next_centre_answers_after_its_own_routing_not_the_first():
    rt = runtime()
    case_id = routed(rt)
    review.decline(rt, CONN, case_id, PKUCH, DeclineReason.AT_CAPACITY, ROUTED)
    rerouted = ROUTED + timedelta(days=2)
    deliver(review.reactions(rt), Upstream("routing").emit(case_id, CaseRouted(
        centre_id=CentreId.CAMS, reason_codes=["specialty_fit"], attempt=2), rerouted))
    refused(lambda: review.accept(rt, CONN, case_id, CentreId.CAMS, rerouted - EARLY))
    review.accept(rt, CONN, case_id, CentreId.CAMS, rerouted)


def test_video_steps_follow_the_routing_and_each_other():
    rt = runtime()
    case_id = routed(rt)
    refused_and_nothing_appended(rt, case_id, lambda: review.video(rt, CONN, case_id, PKUCH, "request", None,
                                                                   ROUTED - EARLY))
    review.video(rt, CONN, case_id, PKUCH, "request", None, ACCEPTED)
    refused(lambda: review.video(rt, CONN, case_id, PKUCH, "schedule", ACCEPTED + timedelta(days=3),
                                 ACCEPTED - EARLY))
    review.video(rt, CONN, case_id, PKUCH, "schedule", ACCEPTED + timedelta(days=3), ACCEPTED)
    refused(lambda: review.video(rt, CONN, case_id, PKUCH, "held", None, ACCEPTED - EARLY))


# ------------------------------------------------------------------ review: the clock's facts follow the acceptance

def accepted(rt: review.ReviewRuntime) -> UUID:
    case_id = routed(rt)
    review.accept(rt, CONN, case_id, PKUCH, ACCEPTED)
    return case_id


def test_an_information_request_dated_before_the_acceptance_or_the_last_answer_is_refused():
    rt = runtime()
    case_id = accepted(rt)
    refused_and_nothing_appended(rt, case_id, lambda: review.request_information(
        rt, CONN, case_id, PKUCH, IMAGING, ACCEPTED - EARLY))
    first = review.request_information(rt, CONN, case_id, PKUCH, IMAGING, ACCEPTED + timedelta(days=1))
    request_id = first.state.review.open_request.request_id  # type: ignore[union-attr]
    answered = ACCEPTED + timedelta(days=3)
    review.resolve_information(rt, CONN, case_id, PKUCH, request_id, answered)
    refused(lambda: review.request_information(rt, CONN, case_id, PKUCH, IMAGING, answered - EARLY))


def test_an_answer_to_an_information_request_dated_before_the_request_is_refused():
    rt = runtime()
    case_id = accepted(rt)
    asked = ACCEPTED + timedelta(days=1)
    done = review.request_information(rt, CONN, case_id, PKUCH, IMAGING, asked)
    request_id = done.state.review.open_request.request_id  # type: ignore[union-attr]
    refused_and_nothing_appended(rt, case_id, lambda: review.resolve_information(
        rt, CONN, case_id, PKUCH, request_id, asked - EARLY))
    assert review.resolve_information(rt, CONN, case_id, PKUCH, request_id, asked).state.review.open_request is None


def test_a_report_upload_dated_before_the_acceptance_is_refused():
    rt = runtime()
    case_id = accepted(rt)
    refused_and_nothing_appended(rt, case_id, lambda: upload(rt, case_id, at=ACCEPTED - EARLY))
    upload(rt, case_id, at=ACCEPTED)


def test_a_delivery_dated_before_its_reports_upload_or_the_open_request_is_refused():
    rt = runtime()
    case_id = accepted(rt)
    uploaded = ACCEPTED + timedelta(days=2)
    report = upload(rt, case_id, at=uploaded)
    refused_and_nothing_appended(rt, case_id, lambda: review.deliver(rt, CONN, case_id, PKUCH, delivery(report),
                                                                     uploaded - EARLY))
    asked = ACCEPTED + timedelta(days=3)
    review.request_information(rt, CONN, case_id, PKUCH, IMAGING, asked)
    refused(lambda: review.deliver(rt, CONN, case_id, PKUCH, delivery(report), asked - EARLY))
    review.deliver(rt, CONN, case_id, PKUCH, delivery(report), asked + timedelta(days=1))
    assert "ReviewDelivered" in kinds(rt, case_id)


# ------------------------------------------------------------------ review: after the delivery

def delivered_case(rt: review.ReviewRuntime) -> tuple[UUID, Any]:
    case_id = accepted(rt)
    at = ACCEPTED + timedelta(days=6)
    review.deliver(rt, CONN, case_id, PKUCH, delivery(upload(rt, case_id)), at)
    return case_id, at


def test_an_amended_report_dated_before_the_delivery_is_refused():
    rt = runtime()
    case_id, at = delivered_case(rt)
    refused_and_nothing_appended(rt, case_id, lambda: upload(rt, case_id, at=at - EARLY))
    upload(rt, case_id, at=at)
    assert kinds(rt, case_id)[-1] == "ReportAmended"


def test_a_follow_up_dated_before_the_delivery_and_its_answer_before_the_question_are_refused():
    rt = runtime(follow_up_limit=3, follow_up_business_days=3)
    case_id, at = delivered_case(rt)
    refused_and_nothing_appended(rt, case_id, lambda: review.ask_follow_up(rt, CONN, case_id, "Which trial?",
                                                                           at - EARLY))
    asked = at + timedelta(days=1)
    _, follow_up = review.ask_follow_up(rt, CONN, case_id, "Which trial?", asked)
    refused_and_nothing_appended(rt, case_id, lambda: review.answer_follow_up(
        rt, CONN, case_id, PKUCH, follow_up, b"pdf", "b" * 64, 2, asked - EARLY))
    review.answer_follow_up(rt, CONN, case_id, PKUCH, follow_up, b"pdf", "b" * 64, 2, asked)
    assert kinds(rt, case_id)[-1] == "FollowUpAnswered"


# ------------------------------------------------------------------ intake: every fact follows the opening

def intake_kinds(rt: intake.IntakeRuntime, case_id: UUID) -> list[str]:
    return [d.envelope.event_type for d in rt.store.load(CONN, f"case-{case_id}")]


BEFORE_OPENING: dict[str, Callable[[intake.IntakeRuntime, UUID], Any]] = {
    "record": lambda rt, c: intake.add_record(rt, CONN, c, RecordsReceived(record_id=uuid4(), kind="imaging"),
                                              None, T0 - EARLY, None),
    "question": lambda rt, c: intake.record_question(rt, CONN, c, "Which trial?", T0 - EARLY, None),
    "consent": lambda rt, c: intake.give_consent(rt, CONN, c, ConsentGiven(
        consent=ConsentKind.HEALTH_DATA_PROCESSING, text_version="v1"), T0 - EARLY, None),
    "records_request": lambda rt, c: intake.request_records(rt, CONN, c, T0 - EARLY, None),
    "slide_shipment": lambda rt, c: intake.ship_slides(rt, CONN, c, GlassSlidesShipped(
        shipment_id=uuid4(), slide_count=4), T0 - EARLY, None),
    "cancellation": lambda rt, c: intake.cancel(rt, CONN, c, CaseCancelled(reason="patient_request"), T0 - EARLY,
                                                None),
    "withdrawal": lambda rt, c: intake.withdraw(rt, CONN, c, CaseWithdrawn(reason="patient_request"), T0 - EARLY,
                                                None),
}


@pytest.mark.parametrize("command", list(BEFORE_OPENING))
def test_a_case_fact_dated_before_the_opening_is_refused_and_appends_nothing(rt: intake.IntakeRuntime,
                                                                             command: str):
    case_id = open_case(rt)
    before = intake_kinds(rt, case_id)
    assert "opening" in refused(lambda: BEFORE_OPENING[command](rt, case_id)).message
    assert intake_kinds(rt, case_id) == before


def test_an_erasure_dated_before_one_of_the_patients_cases_opened_is_refused(rt: intake.IntakeRuntime):
    case_id = open_case(rt)
    ref = rt.rows.case(CONN, case_id)["patient_ref"]  # type: ignore[index]
    refused(lambda: intake.erase_patient(rt, CONN, ref, T0 - EARLY))
    assert intake_kinds(rt, case_id) == ["CaseOpened", "QuestionRecorded"]


def test_slides_received_before_their_shipment_are_refused(rt: intake.IntakeRuntime):
    case_id = open_case(rt)
    shipped = GlassSlidesShipped(shipment_id=uuid4(), slide_count=4)
    intake.ship_slides(rt, CONN, case_id, shipped, T0 + timedelta(days=1), None)
    refused(lambda: intake.receive_slides(rt, CONN, case_id, shipped.shipment_id, T0 + timedelta(hours=23), None))
    intake.receive_slides(rt, CONN, case_id, shipped.shipment_id, T0 + timedelta(days=1), None)


def test_a_consent_withdrawn_before_it_was_given_is_refused(rt: intake.IntakeRuntime):
    case_id = open_case(rt)
    given = T0 + timedelta(days=1)
    intake.give_consent(rt, CONN, case_id, ConsentGiven(consent=ConsentKind.HEALTH_DATA_PROCESSING,
                                                        text_version="v1"), given, None)
    refused(lambda: intake.withdraw_consent(rt, CONN, case_id, ConsentKind.HEALTH_DATA_PROCESSING, given - EARLY,
                                            None))
    intake.withdraw_consent(rt, CONN, case_id, ConsentKind.HEALTH_DATA_PROCESSING, given, None)


BOOKING = TreatmentBooked(centre_id=CentreId.CAMS, treatment_type="proton_therapy",
                          travel_reason="high_cost_therapy", estimated_cost_cents=3_000_000)


@pytest.mark.parametrize("ending", ["booking", "closure"])
def test_a_booking_or_closure_dated_before_the_delivery_is_refused(rt: intake.IntakeRuntime, ending: str):
    case_id = open_case(rt)
    ready(rt, case_id)
    at = T0 + timedelta(days=5)
    review_delivered(rt, Upstream("review").emit(case_id, delivery_event(), at))

    def end(when: Any) -> Any:
        if ending == "booking":
            return intake.book_treatment(rt, CONN, case_id, BOOKING, when, None)
        closed = CaseClosed(reason="returned_home_refined_plan")
        return intake.close_returned_home(rt, CONN, case_id, closed, when, None)

    before = intake_kinds(rt, case_id)
    assert "delivery" in refused(lambda: end(at - EARLY)).message
    assert intake_kinds(rt, case_id) == before
    end(at)


# ------------------------------------------------------------------ routing: a coordinator follows routing's decision

def test_a_coordinators_assignment_or_final_decline_dated_before_the_block_that_queued_the_case_is_refused():
    from tests.unit.test_routing_application import ready as routing_ready
    from tests.unit.test_routing_application import runtime as routing_runtime

    rt = routing_runtime()
    case = routing_ready(rt, CentreId.WCH)  # no consented centre fits: queued at the last fact's time
    [blocked] = rt.store.load(CONN, f"case-{case.case_id}")
    queued_at = blocked.envelope.occurred_at
    for command in (lambda at: routing.assign_by_coordinator(rt, CONN, case.case_id, CentreId.WCH, at),
                    lambda at: routing.decline_finally(rt, CONN, case.case_id, at)):
        assert "routing's latest decision" in refused(lambda: command(queued_at - EARLY)).message  # noqa: B023
    assert len(case.decisions()) == 1
    routing.assign_by_coordinator(rt, CONN, case.case_id, CentreId.WCH, queued_at)
    assert case.decisions()[-1].event_type == "CaseRouted"


def test_a_coordinators_reroute_dated_before_the_routing_it_undoes_is_refused():
    from tests.unit.test_routing_application import ready as routing_ready
    from tests.unit.test_routing_application import runtime as routing_runtime

    rt = routing_runtime()
    case = routing_ready(rt)
    routed_at = rt.store.load(CONN, f"case-{case.case_id}")[-1].envelope.occurred_at
    refused(lambda: routing.assign_by_coordinator(rt, CONN, case.case_id, CentreId.FUSCC, routed_at - EARLY))
    assert routing.assign_by_coordinator(rt, CONN, case.case_id, CentreId.FUSCC, routed_at) is False


# ------------------------------------------------------------------ billing: staff follow the facts they answer

def test_a_capture_retried_before_the_failure_it_retries_is_refused():
    from tests.unit.test_billing_application import Case as BillingCase
    from tests.unit.test_billing_application import runtime as billing_runtime

    rt = billing_runtime()
    case = BillingCase(rt)
    provider = cast(FakeProvider, rt.provider)
    provider.declining.add("capture")
    case.send(RecordsCompleted(record_count=6))
    provider.declining.clear()
    refused(lambda: billing.retry_capture(rt, CONN, case.case_id, case.at - EARLY))
    assert case.kinds()[-1] == "PaymentFailed"
    billing.retry_capture(rt, CONN, case.case_id, case.at)
    assert case.kinds()[-1] == "PaymentCaptured"


def test_a_fee_credit_redeemed_before_it_was_applied_is_refused():
    from tests.unit.test_billing_application import Case as BillingCase
    from tests.unit.test_billing_application import booking, delivered_by
    from tests.unit.test_billing_application import runtime as billing_runtime

    rt = billing_runtime()
    case = BillingCase(rt)
    case.send(RecordsCompleted(record_count=6))
    case.send(delivered_by(CentreId.CAMS))
    case.send(booking(CentreId.CAMS))
    refused(lambda: billing.redeem(rt, CONN, case.case_id, "inv-1", case.at - EARLY))
    assert case.kinds()[-1] == "FeeCreditApplied"
    billing.redeem(rt, CONN, case.case_id, "inv-1", case.at)
    assert case.kinds()[-1] == "FeeCreditRedeemed"
