"""Intake's application layer on fakes: opening, the checklist, status, encryption, erasure, timers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast
from uuid import UUID, uuid4

import pytest

from events.codes import CentreId, ConsentKind, RecordKind, ReferralReason
from events.contract import (
    CaseCancelled,
    CaseFinallyDeclined,
    CaseOpened,
    ConsentGiven,
    RecordsReceived,
    ReviewDelivered,
    TreatmentBooked,
)
from events.db import ConcurrencyConflict
from events.registry import Decoded
from services.common.errors import NotFound, Rejected
from services.intake import application, reactions
from tests.unit.fakes import (
    CONN,
    FakeIntakeRows,
    FakeWorklist,
    Upstream,
    deliver,
    in_memory,
    intake_runtime,
)

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
REQUIRED = [RecordKind.PATHOLOGY_REPORT, RecordKind.PATHOLOGY_SLIDES, RecordKind.IMAGING,
            RecordKind.TREATMENT_HISTORY, RecordKind.ONCOLOGIST_LETTER, RecordKind.ONCOLOGIST_LETTER]
PERSON = {"name": "Ada Example", "birth_date": "1970-01-01"}


@pytest.fixture
def rt() -> application.IntakeRuntime:
    return intake_runtime(T0)


def rows(rt: application.IntakeRuntime) -> FakeIntakeRows:
    return cast(FakeIntakeRows, rt.rows)


def worklist(rt: application.IntakeRuntime) -> FakeWorklist:
    return cast(FakeWorklist, rt.worklist)


def status(rt: application.IntakeRuntime, case_id: UUID) -> str:
    return worklist(rt).life(case_id).status.value


def review_delivered(rt: application.IntakeRuntime, decoded: Decoded) -> None:
    """The delivery as intake's worker takes it: its payload, and the case's life."""
    deliver(reactions.deliveries(rt), decoded)
    deliver(worklist(rt).consumer(), decoded)


def opened(patient_ref: str | None = None) -> CaseOpened:
    return CaseOpened(patient_ref=patient_ref or application.new_patient_ref(), tumour_site="lung", rare_tumour=False,
                      stage_group="III", referral_reasons=[ReferralReason.STAGE_BORDERLINE],
                      patient_country="AU", language="en")


def delivered(**changes: Any) -> ReviewDelivered:
    return ReviewDelivered(centre_id=CentreId.CAMS, pathology={"verdict": "agree"},
                           imaging={"verdict": "stage_confirmed"}, recommended_pathway="proton_therapy",
                           rationale_codes=["dose_sparing"], question_answer="answered",
                           diagnosis_change="concordant", treatment_change="refined", report_ref=uuid4(),
                           page_count=6).model_copy(update=changes)


def open_case(rt: application.IntakeRuntime, question: str | None = "Is surgery still possible?") -> UUID:
    return application.open_case(rt, CONN, opened(), PERSON, question, T0).state.case.case_id


def ready(rt: application.IntakeRuntime, case_id: UUID) -> None:
    for kind in REQUIRED:
        application.add_record(rt, CONN, case_id, RecordsReceived(record_id=uuid4(), kind=kind), None, T0, None)
    for consent, centres in ((ConsentKind.HEALTH_DATA_PROCESSING, []), (ConsentKind.TRANSFER_ABROAD, [CentreId.CAMS])):
        given = ConsentGiven(consent=consent, text_version="v1", centre_ids=centres)
        application.give_consent(rt, CONN, case_id, given, T0, None)


def test_an_opened_case_is_collecting_records_and_its_identity_is_encrypted(rt: application.IntakeRuntime):
    done = application.open_case(rt, CONN, opened(), PERSON, "Is surgery still possible?", T0)
    case_id = done.state.case.case_id
    assert [d.event.event_type for d in done.appended] == ["CaseOpened", "QuestionRecorded"]
    assert done.version == 2 and application.view(done.state)["status"] == "collecting_records"
    row = rows(rt).cases[case_id]
    assert b"surgery" not in row["question"] and b"Ada" not in rows(rt).patients[row["patient_ref"]]
    assert application.patient_details(rt, CONN, case_id)["identity"] == PERSON


def test_opening_for_an_unknown_patient_without_identity_is_not_found(rt: application.IntakeRuntime):
    with pytest.raises(NotFound):
        application.open_case(rt, CONN, opened("pr_" + "9" * 32), None, None, T0)


def test_a_command_on_an_unknown_case_is_not_found_and_appends_nothing(rt: application.IntakeRuntime):
    with pytest.raises(NotFound):
        application.request_records(rt, CONN, uuid4(), T0, None)
    assert in_memory(rt.store).published == []


def test_a_command_reads_its_stream_once_and_answers_from_its_state(rt: application.IntakeRuntime):
    case_id = open_case(rt)
    store = in_memory(rt.store)
    before = store.loads
    done = application.request_records(rt, CONN, case_id, T0, None)
    assert store.loads - before == 1
    assert application.view(done.state) == application.view(application.load(rt, CONN, case_id).state)


def test_the_full_set_and_both_consents_make_the_case_ready(rt: application.IntakeRuntime):
    case_id = open_case(rt)
    ready(rt, case_id)
    assert status(rt, case_id) == "ready_for_review"
    assert "RecordsCompleted" in [e.event_type for e in in_memory(rt.store).published]


def test_a_stale_version_is_a_conflict(rt: application.IntakeRuntime):
    case_id = open_case(rt)
    with pytest.raises(ConcurrencyConflict):
        application.request_records(rt, CONN, case_id, T0, expected=7)


def test_a_record_file_is_stored_encrypted_under_its_hash(rt: application.IntakeRuntime):
    case_id = open_case(rt)
    content = b"%PDF-1.4 pathology report of Ada Example"
    digest = application.sha256_hex(content)
    record = RecordsReceived(record_id=uuid4(), kind=RecordKind.PATHOLOGY_REPORT, sha256=digest,
                             size_bytes=len(content))
    application.add_record(rt, CONN, case_id, record, content, T0, None)
    [stored] = rows(rt).files.values()
    blob = rt.objects.get(stored["path"])
    assert stored["sha256"] == digest and b"Ada" not in blob and len(blob) > len(content)


def test_a_question_recorded_later_is_encrypted_and_counts_for_the_checklist(rt: application.IntakeRuntime):
    case_id = open_case(rt, question=None)
    assert application.load(rt, CONN, case_id).state.case.has_question is False
    done = application.record_question(rt, CONN, case_id, "Which trial fits?", T0, None)
    assert done.state.case.has_question
    assert application.patient_details(rt, CONN, case_id)["question"] == "Which trial fits?"


def test_treatment_can_be_booked_only_after_the_delivery_reached_intake(rt: application.IntakeRuntime):
    case_id = open_case(rt)
    ready(rt, case_id)
    booking = TreatmentBooked(centre_id=CentreId.CAMS, treatment_type="proton_therapy",
                              travel_reason="high_cost_therapy", estimated_cost_cents=3_000_000)
    with pytest.raises(Rejected):
        application.book_treatment(rt, CONN, case_id, booking, T0, None)
    review_delivered(rt, Upstream("review").emit(case_id, delivered(), T0 + timedelta(days=5)))
    assert status(rt, case_id) == "review_delivered"
    done = application.book_treatment(rt, CONN, case_id, booking, T0 + timedelta(days=6), None)
    assert application.view(done.state)["status"] == "treatment_booked"


def test_a_redelivered_review_keeps_the_first_delivery(rt: application.IntakeRuntime):
    case_id = open_case(rt)
    upstream = Upstream("review")
    first = delivered()
    review_delivered(rt, upstream.emit(case_id, first, T0))
    review_delivered(rt, upstream.emit(case_id, first.model_copy(update={"report_ref": uuid4()}), T0))
    assert rows(rt).deliveries[case_id]["payload"]["report_ref"] == str(first.report_ref)


def test_a_cancelled_case_refuses_further_records(rt: application.IntakeRuntime):
    case_id = open_case(rt)
    application.cancel(rt, CONN, case_id, CaseCancelled(reason="patient_request"), T0, None)
    assert status(rt, case_id) == "cancelled"
    with pytest.raises(Rejected):
        application.add_record(rt, CONN, case_id, RecordsReceived(record_id=uuid4(), kind=RecordKind.IMAGING), None, T0,
                               None)


def test_erasure_shreds_the_key_ends_every_case_and_blocks_reopening(rt: application.IntakeRuntime):
    first = application.open_case(rt, CONN, opened(), PERSON, "q", T0)
    ref = first.state.case.opened.patient_ref  # type: ignore[union-attr]
    second = application.open_case(rt, CONN, opened(ref), None, None, T0)
    erased = application.erase_patient(rt, CONN, ref, T0 + timedelta(days=1))
    assert sorted(erased) == sorted([first.state.case.case_id, second.state.case.case_id])
    assert {status(rt, c) for c in erased} == {"erased"}
    with pytest.raises(Rejected):
        application.patient_details(rt, CONN, first.state.case.case_id)
    with pytest.raises(Rejected):
        application.open_case(rt, CONN, opened(ref), None, None, T0)
    with pytest.raises(NotFound):
        application.erase_patient(rt, CONN, "pr_" + "8" * 32, T0)


def test_the_timers_remind_and_then_expire_a_dormant_case_once(rt: application.IntakeRuntime):
    case_id = open_case(rt)
    application.request_records(rt, CONN, case_id, T0, None)
    assert application.run_timers(rt, T0 + timedelta(days=31)) >= 2
    assert status(rt, case_id) == "expired"
    assert application.run_timers(rt, T0 + timedelta(days=62)) == 0
    kinds = [e.event_type for e in in_memory(rt.store).published]
    assert kinds.count("CaseExpired") == 1 and "RecordsReminderSent" in kinds


def test_a_ready_case_is_never_expired(rt: application.IntakeRuntime):
    case_id = open_case(rt)
    ready(rt, case_id)
    assert application.run_timers(rt, T0 + timedelta(days=90)) == 0
    assert status(rt, case_id) == "ready_for_review"


def finally_declined(rt: application.IntakeRuntime, case_id: UUID, at: datetime) -> None:
    deliver(worklist(rt).consumer(), Upstream("routing").emit(case_id, CaseFinallyDeclined(declines=2), at))


def test_routings_final_decline_ends_the_case_at_intake_and_a_later_cancellation_is_refused(
        rt: application.IntakeRuntime):
    case_id = open_case(rt)
    ready(rt, case_id)
    finally_declined(rt, case_id, T0 + timedelta(days=4))
    assert status(rt, case_id) == "declined_by_all_centres"
    view = application.view(application.load(rt, CONN, case_id).state)
    assert (view["status"], view["ending"]) == ("declined_by_all_centres", "CaseFinallyDeclined")
    with pytest.raises(Rejected) as refused:
        application.cancel(rt, CONN, case_id, CaseCancelled(reason="patient_request"), T0 + timedelta(days=5), None)
    assert refused.value.code == "case_declined_by_all_centres"
    finally_declined(rt, case_id, T0 + timedelta(days=6))  # redelivered: the first stands
    assert worklist(rt).life(case_id).endings["CaseFinallyDeclined"] == T0 + timedelta(days=4)


def test_a_final_decline_after_intakes_own_ending_leaves_that_ending(rt: application.IntakeRuntime):
    case_id = open_case(rt)
    ready(rt, case_id)
    application.cancel(rt, CONN, case_id, CaseCancelled(reason="patient_request"), T0 + timedelta(days=1), None)
    finally_declined(rt, case_id, T0 + timedelta(days=2))
    assert status(rt, case_id) == "cancelled"
