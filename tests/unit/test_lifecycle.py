"""A case's life stated once (events.lifecycle): status, whose move, deadline, SLA state, endings."""

from __future__ import annotations

from datetime import date, timedelta
from uuid import uuid4

from hypothesis import given, settings
from hypothesis import strategies as st

from events import lifecycle
from events.codes import CentreId
from events.contract import (
    CaseCancelled,
    CaseDeclined,
    CaseFinallyDeclined,
    CaseRouted,
    ConsentGiven,
    FollowUpAnswered,
    FollowUpAsked,
    InformationReceived,
    InformationRequested,
    PaymentCaptured,
    PaymentFailed,
    RecordsCompleted,
    ReviewAccepted,
    ReviewDelivered,
    SlaClockBlocked,
    SlaClockStarted,
    TreatmentBooked,
)
from events.registry import Decoded
from tests.unit.histories import Script, histories, interleavings


class Fixed:
    """A draw that answers every strategy with a fixed step, for scripted histories."""

    def __call__(self, strategy: object) -> object:
        return 60 if "integers" in repr(strategy) else 0.0


def script() -> Script:
    return Script(Fixed())


def opened_and_ready(s: Script) -> None:
    from events.contract import CaseOpened

    s.add("intake", CaseOpened(patient_ref="pr_" + "a" * 32, tumour_site="lung", rare_tumour=False,
                               stage_group="II", referral_reasons=["stage_borderline"], patient_country="GB",
                               language="en"))
    s.add("intake", ConsentGiven(consent="health_data_processing", text_version="v1"))
    s.add("intake", ConsentGiven(consent="transfer_abroad", text_version="v1", centre_ids=["fuscc"]))
    s.add("intake", RecordsCompleted(record_count=6))


def delivered() -> ReviewDelivered:
    return ReviewDelivered(centre_id="fuscc", pathology={"verdict": "agree"}, imaging={"verdict": "stage_confirmed"},
                           recommended_pathway="surgery", rationale_codes=["guideline_concordant"],
                           question_answer="answered", diagnosis_change="concordant", treatment_change="refined",
                           report_ref=uuid4(), page_count=6)


def test_the_move_passes_along_a_case_as_the_rules_say():
    s, life = script(), lifecycle.Life()
    follow_up = uuid4()
    path: list[tuple[str, object, str, str]] = [
        ("routing", CaseRouted(centre_id="fuscc", reason_codes=["specialty"], attempt=1, accept_by=date(2026, 3, 9)),
         "centre", "ready_for_review"),
        ("review", ReviewAccepted(centre_id="fuscc"), "centre", "ready_for_review"),
        ("review", InformationRequested(request_id=uuid4(), topics=["additional_imaging"]), "patient",
         "ready_for_review"),
        ("review", InformationReceived(request_id=uuid4()), "centre", "ready_for_review"),
        ("billing", PaymentFailed(payment_id=uuid4(), stage="capture", reason="card"), "billing", "ready_for_review"),
        ("billing", PaymentCaptured(payment_id=uuid4(), review_fee_cents=80_000), "centre", "ready_for_review"),
        ("review", delivered(), "patient", "review_delivered"),
        ("review", FollowUpAsked(follow_up_id=follow_up, number=1, business_days=3, due=None), "centre",
         "review_delivered"),
        ("review", FollowUpAnswered(follow_up_id=follow_up, document_id=uuid4(), sha256="0" * 64, size_bytes=1,
                                    page_count=1, within_limit=True), "patient", "review_delivered"),
        ("intake", TreatmentBooked(centre_id="fuscc", treatment_type="surgery", travel_reason="one_programme",
                                   estimated_cost_cents=1), "nobody", "treatment_booked"),
    ]
    opened_and_ready(s)
    lifecycle.fold(s.events, life)
    assert (life.status, life.waiting_on) == ("ready_for_review", "coordinator")
    for producer, event, party, status in path:
        s.add(producer, event)  # type: ignore[arg-type]
        lifecycle.apply(life, s.events[-1])
        assert (life.waiting_on, life.status.value) == (party, status), event


def test_an_unready_case_is_the_patients_and_a_declined_one_goes_back_to_the_coordinator():
    s = script()
    opened_and_ready(s)
    s.events.pop()  # records not complete
    assert lifecycle.fold(s.events).waiting == ("patient", s.events[0].envelope.occurred_at)
    s = script()
    opened_and_ready(s)
    s.add("routing", CaseRouted(centre_id="fuscc", reason_codes=["specialty_fit"], attempt=1))
    s.add("review", CaseDeclined(centre_id="fuscc", reason="at_capacity"))
    life = lifecycle.fold(s.events)
    assert (life.waiting_on, life.centre, life.waiting[1]) == ("coordinator", None, s.events[-1].envelope.occurred_at)


def test_the_acceptance_deadline_is_the_deadline_until_the_centre_accepts():
    s = script()
    opened_and_ready(s)
    s.add("routing", CaseRouted(centre_id="fuscc", reason_codes=["specialty_fit"], attempt=1,
                                accept_by=date(2026, 3, 9)))
    life = lifecycle.fold(s.events)
    assert (life.deadline, life.acceptance_due, life.sla_state) == (date(2026, 3, 9), date(2026, 3, 9), "not_started")
    s.add("review", ReviewAccepted(centre_id="fuscc"))
    s.add("review", SlaClockStarted(target_due=date(2026, 3, 12), limit_due=date(2026, 3, 17)))
    life = lifecycle.fold(s.events)
    assert (life.deadline, life.acceptance_due, life.sla_state) == (date(2026, 3, 17), None, "on_track")


def test_a_clock_the_calendar_cannot_finish_keeps_its_target_and_sorts_first():
    s = script()
    opened_and_ready(s)
    s.add("routing", CaseRouted(centre_id="fuscc", reason_codes=["specialty_fit"], attempt=1))
    s.add("review", ReviewAccepted(centre_id="fuscc"))
    s.add("review", SlaClockBlocked(year=2027, target_due=date(2026, 12, 30)))
    life = lifecycle.fold(s.events)
    assert (life.sla_state, life.deadline, life.sort_key) == ("calendar_unknown", date(2026, 12, 30), "2026-12-30")
    s.events.pop()
    s.add("review", SlaClockBlocked(year=2027))
    assert lifecycle.fold(s.events).sort_key == "-infinity"


def test_an_ending_stops_a_running_clock_and_is_nobodys_move():
    s = script()
    opened_and_ready(s)
    s.add("routing", CaseRouted(centre_id="fuscc", reason_codes=["specialty_fit"], attempt=1))
    s.add("review", ReviewAccepted(centre_id="fuscc"))
    s.add("review", SlaClockStarted(target_due=date(2026, 3, 12), limit_due=date(2026, 3, 17)))
    s.add("intake", CaseCancelled(reason="patient_request"))
    life = lifecycle.fold(s.events)
    assert (life.status, life.waiting_on, life.sla_state, life.deadline) == ("cancelled", "nobody", "stopped", None)


def test_the_first_ending_by_event_time_stands_whichever_arrives_first():
    s = script()
    opened_and_ready(s)
    s.add("routing", CaseFinallyDeclined(declines=3))
    s.add("intake", CaseCancelled(reason="patient_request"))  # dated after the final decline
    decline, cancel = s.events[-2], s.events[-1]
    for order in ([decline, cancel], [cancel, decline]):
        life = lifecycle.fold([*s.events[:-2], *order])
        assert life.status is lifecycle.Status.DECLINED_BY_ALL_CENTRES
        assert life.waiting == ("nobody", decline.envelope.occurred_at)


def test_an_event_is_applied_once_per_producer_and_version():
    s = script()
    opened_and_ready(s)
    life = lifecycle.fold(s.events)
    again = lifecycle.dump(life)
    assert not any(lifecycle.apply(life, d) for d in s.events)
    assert lifecycle.dump(life) == again


def test_the_centres_are_the_vocabularys():
    assert tuple(c.value for c in CentreId) == lifecycle.CENTRES


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_every_interleaving_of_the_services_streams_tells_the_same_life(data: st.DataObject):
    events, causes = data.draw(histories())
    told = lifecycle.fold(events).summary()
    for _ in range(3):
        mixed: list[Decoded] = data.draw(interleavings(events, causes))
        assert lifecycle.fold(mixed).summary() == told


@settings(max_examples=200, deadline=None)
@given(histories())
def test_a_life_stored_as_json_and_read_back_tells_the_same_and_folds_on(history):
    events, _ = history
    half = len(events) // 2
    stored = lifecycle.load(lifecycle.dump(lifecycle.fold(events[:half])))
    assert lifecycle.fold(events[half:], stored).summary() == lifecycle.fold(events).summary()


def test_a_summary_dates_nothing_in_the_future_of_the_case():
    s = script()
    opened_and_ready(s)
    life = lifecycle.fold(s.events)
    assert life.updated_at == s.events[-1].envelope.occurred_at
    assert life.waiting[1] is not None and life.waiting[1] <= life.updated_at + timedelta(0)


def test_the_endings_review_answers_are_the_lifecycles_and_its_contracts():
    from typing import get_args

    from events.contract import ReviewEnded
    from services.review import endings

    assert set(endings.ENDINGS) == set(get_args(ReviewEnded.model_fields["ending"].annotation))
    assert set(endings.ENDINGS) == set(get_args(endings.Ending))
