from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from events import lifecycle
from events.codes import (
    CancellationReason,
    CentreId,
    ConsentKind,
    OutcomeChange,
    Pathway,
    RecordKind,
    ReferralReason,
    TravelReason,
    TreatmentType,
    WithdrawalReason,
)
from events.contract import (
    CaseCancelled,
    CaseExpired,
    CaseFinallyDeclined,
    CaseOpened,
    CaseWithdrawn,
    ConsentGiven,
    Envelope,
    Event,
    GlassSlidesShipped,
    QuestionRecorded,
    RecordsCompleted,
    RecordsReceived,
    RecordsReminderSent,
    ReviewDelivered,
    TreatmentBooked,
)
from events.lifecycle import Status
from events.registry import Decoded
from services.common.errors import Rejected
from services.intake import domain

K = RecordKind
FULL_SET = [K.PATHOLOGY_REPORT, K.PATHOLOGY_SLIDES, K.IMAGING, K.TREATMENT_HISTORY,
            K.ONCOLOGIST_LETTER, K.ONCOLOGIST_LETTER]
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def opened(*reasons: ReferralReason) -> CaseOpened:
    return CaseOpened(patient_ref="pr_" + "0" * 32, tumour_site="lung", rare_tumour=False, stage_group="III",
                      referral_reasons=list(reasons or [ReferralReason.STAGE_BORDERLINE]),
                      patient_country="AU", language="en")


def case_of(*events: Event, at: datetime = T0) -> domain.Case:
    """The case as intake's kernel folds it: its own fold, and its life (events.lifecycle)."""
    case = domain.fold(uuid4(), [(e, at) for e in events])
    for version, e in enumerate(events, 1):
        lifecycle.apply(case.life, enveloped(case.case_id, e, at, version))
    return case


def enveloped(case_id: UUID, event: Event, at: datetime, version: int, producer: str = "intake") -> Decoded:
    env = Envelope(event_id=uuid4(), event_type=event.event_type, schema_version=event.schema_version,
                   case_id=case_id, stream_id=f"case-{case_id}", stream_version=version, occurred_at=at,
                   recorded_at=at, producer=producer, correlation_id=uuid4(), payload=event.model_dump(mode="json"))
    return Decoded(env, event)


def record(kind: RecordKind) -> RecordsReceived:
    return RecordsReceived(record_id=uuid4(), kind=kind)


def booking() -> TreatmentBooked:
    return TreatmentBooked(centre_id=CentreId.CAMS, treatment_type=TreatmentType.PROTON_THERAPY,
                           travel_reason=TravelReason.HIGH_COST_THERAPY, estimated_cost_cents=3_000_000)


def delivered() -> ReviewDelivered:
    return ReviewDelivered(centre_id=CentreId.CAMS, pathology={"verdict": "agree"},
                           imaging={"verdict": "stage_confirmed"}, recommended_pathway=Pathway.PROTON_THERAPY,
                           rationale_codes=["dose_sparing"], question_answer="answered",
                           diagnosis_change=OutcomeChange.CONCORDANT, treatment_change=OutcomeChange.REFINED,
                           report_ref=uuid4(), page_count=6)


def test_the_full_required_set_with_the_question_is_complete():
    assert domain.missing_records(FULL_SET, [ReferralReason.STAGE_BORDERLINE], has_question=True) == {}


def test_the_question_is_part_of_the_required_set():
    assert domain.missing_records(FULL_SET, [], has_question=False) == {"question": 1}


def test_one_oncologist_letter_is_not_enough():
    assert domain.missing_records(FULL_SET[:-1], []) == {K.ONCOLOGIST_LETTER: 1}


def test_a_genomic_guided_case_also_needs_a_genomic_report():
    reasons = [ReferralReason.GENOMIC_GUIDED]
    assert domain.missing_records(FULL_SET, reasons) == {K.GENOMIC_REPORT: 1}
    assert domain.missing_records([*FULL_SET, K.GENOMIC_REPORT], reasons) == {}


def test_more_imaging_studies_are_welcome_but_one_is_required():
    without_imaging = [k for k in FULL_SET if k is not K.IMAGING]
    assert domain.missing_records(without_imaging, []) == {K.IMAGING: 1}
    assert domain.missing_records([*FULL_SET, K.IMAGING, K.IMAGING], []) == {}


def test_records_completed_is_emitted_once_with_the_last_missing_piece():
    case = case_of(opened())
    emitted: list[Event] = []
    steps: list[RecordKind | None] = [*FULL_SET[:3], None, *FULL_SET[3:], K.IMAGING]  # None: the question
    for kind in steps:
        new = domain.record_question(case, T0) if kind is None else domain.receive_record(case, record(kind), T0)
        for e in new:
            case.apply(e, T0)
        emitted.extend(new)
    completions = [e for e in emitted if isinstance(e, RecordsCompleted)]
    assert len(completions) == 1
    assert completions[0].record_count == 6
    assert isinstance(emitted[emitted.index(completions[0]) - 1], RecordsReceived)


def test_glass_slides_count_once_received_not_when_shipped():
    without_slides = [record(k) for k in FULL_SET if k is not K.PATHOLOGY_SLIDES]
    shipment = GlassSlidesShipped(shipment_id=uuid4(), slide_count=12)
    case = case_of(opened(), QuestionRecorded(), *without_slides, shipment)
    assert case.missing() == {K.PATHOLOGY_SLIDES: 1}
    new = domain.receive_slides(case, shipment.shipment_id, T0)
    assert isinstance(new[-1], RecordsCompleted)
    with pytest.raises(Rejected):
        domain.receive_slides(case_of(opened()), uuid4(), T0)


def test_the_same_record_cannot_be_registered_twice():
    case = case_of(opened())
    r = record(K.IMAGING)
    case.apply(domain.receive_record(case, r, T0)[0], T0)
    with pytest.raises(Rejected):
        domain.receive_record(case, r, T0)


def test_transfer_consent_must_name_the_centres_and_both_consents_are_needed():
    case = case_of(opened())
    with pytest.raises(Rejected):
        domain.give_consent(case, ConsentGiven(consent=ConsentKind.TRANSFER_ABROAD, text_version="v1"), T0)
    for e in [ConsentGiven(consent=ConsentKind.HEALTH_DATA_PROCESSING, text_version="v1")]:
        case.apply(e, T0)
    assert not case.consented
    case.apply(ConsentGiven(consent=ConsentKind.TRANSFER_ABROAD, text_version="v1",
                            centre_ids=[CentreId.FUSCC]), T0)
    assert case.consented and case.consents[ConsentKind.TRANSFER_ABROAD].centre_ids == [CentreId.FUSCC]


def test_withdrawing_consent_ends_the_case():
    case = case_of(opened(), ConsentGiven(consent=ConsentKind.HEALTH_DATA_PROCESSING, text_version="v1"))
    events = domain.withdraw_consent(case, ConsentKind.HEALTH_DATA_PROCESSING, T0)
    assert isinstance(events[-1], CaseWithdrawn)
    for e in events:
        case.apply(e, T0)
    with pytest.raises(Rejected):
        domain.receive_record(case, record(K.IMAGING), T0)


def test_booking_needs_a_delivered_review():
    case = case_of(opened())
    with pytest.raises(Rejected) as info:
        domain.book_treatment(case, None, booking(), T0)
    assert info.value.code == "review_not_delivered"
    assert domain.book_treatment(case, delivered(), booking(), T0) == [booking()]


def test_a_case_is_booked_at_most_once():
    with pytest.raises(Rejected) as info:
        domain.book_treatment(case_of(opened(), booking()), delivered(), booking(), T0)
    assert info.value.code == "already_booked"


def test_nothing_is_possible_on_a_cancelled_case():
    case = case_of(opened(), CaseCancelled(reason=CancellationReason.FINANCIAL))
    for attempt in (lambda: domain.receive_record(case, record(K.IMAGING), T0),
                    lambda: domain.book_treatment(case, delivered(), booking(), T0),
                    lambda: domain.cancel(case, CaseCancelled(reason=CancellationReason.OTHER), T0),
                    lambda: domain.request_records(case, uuid4(), T0)):
        with pytest.raises(Rejected) as info:
            attempt()
        assert info.value.code == "case_cancelled"


def test_reminders_follow_a_records_request_and_a_dormant_case_expires():
    case = case_of(opened())
    for e in domain.request_records(case, uuid4(), T0):
        case.apply(e, T0 + timedelta(days=1))
    assert domain.due_timers(case, T0 + timedelta(days=3)) == []
    due = domain.due_timers(case, T0 + timedelta(days=10))
    assert [(type(e), at) for e, at in due] == [(RecordsReminderSent, T0 + timedelta(days=4)),
                                                 (RecordsReminderSent, T0 + timedelta(days=7)),
                                                 (RecordsReminderSent, T0 + timedelta(days=10))]
    for e, at in due:
        case.apply(e, at)
    assert domain.due_timers(case, T0 + timedelta(days=12)) == []  # reminders are capped
    [(expired, at)] = domain.due_timers(case, T0 + timedelta(days=45))
    assert isinstance(expired, CaseExpired) and at == T0 + timedelta(days=30)


def test_a_new_record_resets_dormancy():
    case = case_of(opened())
    case.apply(record(K.IMAGING), T0 + timedelta(days=20))
    assert domain.due_timers(case, T0 + timedelta(days=45)) == []
    [(expired, at)] = domain.due_timers(case, T0 + timedelta(days=51))
    assert isinstance(expired, CaseExpired) and at == T0 + timedelta(days=50)


def test_routings_final_decline_ends_the_case_and_nothing_more_is_possible():
    case = case_of(opened(), *[record(k) for k in FULL_SET])
    lifecycle.apply(case.life, enveloped(case.case_id, CaseFinallyDeclined(declines=3), T0 + timedelta(days=3), 1,
                                         producer="routing"))
    assert case.status is Status.DECLINED_BY_ALL_CENTRES
    assert case.ending_type == "CaseFinallyDeclined"
    for act in (lambda: domain.cancel(case, CaseCancelled(reason=CancellationReason.PATIENT_REQUEST), T0),
                lambda: domain.withdraw(case, CaseWithdrawn(reason=WithdrawalReason.PATIENT_REQUEST), T0),
                lambda: domain.receive_record(case, record(RecordKind.GENOMIC_REPORT), T0)):
        with pytest.raises(Rejected) as refused:
            act()
        assert refused.value.code == "case_declined_by_all_centres"


def test_the_first_ending_in_event_time_stands_whichever_service_told_intake_first():
    # A cancellation intake accepted while routing's final decline, dated before it, was in flight.
    for declined_on, status in ((1, Status.DECLINED_BY_ALL_CENTRES), (3, Status.CANCELLED)):
        cancelled = case_of(opened())
        cancelled.apply(CaseCancelled(reason=CancellationReason.FINANCIAL), T0 + timedelta(days=2))
        lifecycle.apply(cancelled.life, enveloped(cancelled.case_id, CaseCancelled(
            reason=CancellationReason.FINANCIAL), T0 + timedelta(days=2), 2))
        lifecycle.apply(cancelled.life, enveloped(cancelled.case_id, CaseFinallyDeclined(declines=3),
                                                  T0 + timedelta(days=declined_on), 1, producer="routing"))
        assert cancelled.status is status
        assert cancelled.ending_type == ("CaseFinallyDeclined" if declined_on == 1 else "CaseCancelled")
