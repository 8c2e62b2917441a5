from uuid import uuid4

import pytest

from events.codes import (
    CentreId,
    OutcomeChange,
    Pathway,
    RecordKind,
    ReferralReason,
    TravelReason,
    TreatmentType,
)
from events.contract import CaseOpened, RecordsCompleted, RecordsReceived, ReviewDelivered, TreatmentBooked
from services.common.errors import Rejected
from services.intake import domain

K = RecordKind
FULL_SET = [K.PATHOLOGY_REPORT, K.PATHOLOGY_SLIDES, K.IMAGING, K.TREATMENT_HISTORY,
            K.ONCOLOGIST_LETTER, K.ONCOLOGIST_LETTER]


def opened(*reasons: ReferralReason) -> CaseOpened:
    return CaseOpened(patient_ref="pr_" + "0" * 32, tumour_site="lung", rare_tumour=False, stage_group="III",
                      referral_reasons=list(reasons or [ReferralReason.STAGE_BORDERLINE]),
                      patient_country="AU", language="en")


def record(kind: RecordKind) -> RecordsReceived:
    return RecordsReceived(record_id=uuid4(), kind=kind)


def booking() -> TreatmentBooked:
    return TreatmentBooked(centre_id=CentreId.CAMS, treatment_type=TreatmentType.PROTON_THERAPY,
                           travel_reason=TravelReason.HIGH_COST_THERAPY, estimated_cost_cents=3_000_000)


def delivered() -> ReviewDelivered:
    return ReviewDelivered(centre_id=CentreId.CAMS, recommended_pathway=Pathway.PROTON_THERAPY,
                           diagnosis_change=OutcomeChange.CONCORDANT, treatment_change=OutcomeChange.REFINED,
                           report_ref=uuid4(), page_count=6)


def test_the_full_required_set_is_complete():
    assert domain.missing_records(FULL_SET, [ReferralReason.STAGE_BORDERLINE]) == {}


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


def test_records_completed_is_emitted_once_with_the_last_missing_record():
    case = domain.fold(uuid4(), [opened()])
    emitted = []
    for kind in [*FULL_SET, K.IMAGING]:
        new = domain.receive_record(case, record(kind))
        for e in new:
            case.apply(e)
        emitted.extend(new)
    completions = [e for e in emitted if isinstance(e, RecordsCompleted)]
    assert len(completions) == 1
    assert completions[0].record_count == 6
    assert isinstance(emitted[6], RecordsCompleted)


def test_the_same_record_cannot_be_registered_twice():
    case = domain.fold(uuid4(), [opened()])
    r = record(K.IMAGING)
    case.apply(domain.receive_record(case, r)[0])
    with pytest.raises(Rejected):
        domain.receive_record(case, r)


def test_booking_needs_a_delivered_review():
    case = domain.fold(uuid4(), [opened()])
    with pytest.raises(Rejected) as info:
        domain.book_treatment(case, None, booking())
    assert info.value.code == "review_not_delivered"
    assert domain.book_treatment(case, delivered(), booking()) == [booking()]


def test_a_case_is_booked_at_most_once():
    case = domain.fold(uuid4(), [opened(), booking()])
    with pytest.raises(Rejected) as info:
        domain.book_treatment(case, delivered(), booking())
    assert info.value.code == "already_booked"
