"""Review's application layer on fakes: commands, visibility, timers and reactions, no server."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any, cast
from uuid import UUID, uuid4

import pytest

from events.codes import CentreId, DeclineReason, InformationTopic
from events.contract import CaseRouted, CaseWithdrawn, PatientDataErased, RecordsReceived
from events.db import ConcurrencyConflict
from services.common.calendar import load_calendar
from services.common.errors import InvalidInput, NotFound, Rejected
from services.review import application
from services.review.bootstrap import bootstrap
from services.review.settings import ReviewSettings
from tests.unit.fakes import (
    CONN,
    Clock,
    FakeAssignments,
    FakeCaseFiles,
    FakePool,
    Upstream,
    deliver,
    in_memory,
    memory_store,
)

SHANGHAI = timezone(timedelta(hours=8))
ACCEPTED = datetime(2026, 2, 11, 10, tzinfo=SHANGHAI)  # Wednesday before the Spring Festival
CALENDAR = load_calendar()


def runtime(**settings: Any) -> application.ReviewRuntime:
    return bootstrap(ReviewSettings.model_construct(**settings), pool=FakePool(),
                     store=memory_store("review", Clock(ACCEPTED)), assignments=FakeAssignments(),
                     files=FakeCaseFiles())


def routed(rt: application.ReviewRuntime, centre: CentreId = CentreId.PKUCH, case_id: UUID | None = None,
           attempt: int = 1) -> UUID:
    case_id = case_id or uuid4()
    deliver(application.reactions(rt), Upstream("routing").emit(case_id, CaseRouted(
        centre_id=centre, reason_codes=["specialty_fit"], attempt=attempt), ACCEPTED - timedelta(days=1)))
    return case_id


def delivery(report_ref: UUID, **extra: Any) -> dict[str, Any]:
    return {"pathology": {"verdict": "agree"}, "imaging": {"verdict": "stage_confirmed"},
            "recommended_pathway": "surgery", "rationale_codes": ["guideline_concordant"],
            "question_answer": "answered", "diagnosis_change": "concordant", "treatment_change": "refined",
            "report_ref": report_ref, **extra}


def upload(rt: application.ReviewRuntime, case_id: UUID, pages: int = 6, reason: str | None = None,
           at: datetime = ACCEPTED, content: bytes | None = None) -> UUID:
    content = content or f"report of {pages} pages {uuid4()}".encode()
    digest = f"{hash(content) % 10**8:064d}"
    _, document_id = application.upload_report(rt, CONN, case_id, CentreId.PKUCH, content, digest, pages, reason, at)
    return document_id


def delivered(rt: application.ReviewRuntime, at: datetime = ACCEPTED + timedelta(days=6)) -> UUID:
    case_id = routed(rt)
    application.accept(rt, CONN, case_id, CentreId.PKUCH, ACCEPTED)
    application.deliver(rt, CONN, case_id, CentreId.PKUCH, delivery(upload(rt, case_id)), at)
    return case_id


ERASED = PatientDataErased(patient_ref="pr_" + "0" * 32)


def kinds(rt: application.ReviewRuntime, case_id: UUID) -> list[str]:
    return [d.envelope.event_type for d in rt.store.load(CONN, f"case-{case_id}")]


def test_accepting_starts_the_clock_and_moves_the_phase_in_one_command():
    rt = runtime()
    case_id = routed(rt)
    done = application.accept(rt, CONN, case_id, CentreId.PKUCH, ACCEPTED)
    assert [d.envelope.event_type for d in done.appended] == ["ReviewAccepted", "SlaClockStarted"]
    assert done.version == 2 and done.state.review.centre is CentreId.PKUCH
    assert rt.assignments.get(CONN, case_id)["phase"] == "accepted"  # type: ignore[index]


def test_a_command_reads_its_stream_once():
    rt = runtime()
    case_id = routed(rt)
    store = in_memory(rt.store)
    before = store.loads
    application.accept(rt, CONN, case_id, CentreId.PKUCH, ACCEPTED)
    assert store.loads - before == 1


def test_the_view_after_a_command_comes_from_the_state_it_produced():
    rt = runtime()
    case_id = routed(rt)
    done = application.accept(rt, CONN, case_id, CentreId.PKUCH, ACCEPTED)
    view = application.describe(rt, done.state, ACCEPTED)
    assert view == application.get_case(rt, CONN, case_id, CentreId.PKUCH)
    # Day 7: Thu 12, Fri 13, Sat 14 (make-up day), then 24-27 Feb after the Spring Festival.
    assert view["sla"]["target_due"].isoformat() == "2026-02-27"
    # Accepted this moment: no business day used yet, the whole limit left, the clock running.
    assert (view["sla"]["business_days_used"], view["sla"]["business_days_left"]) == (0, 10)
    assert view["sla"]["paused"] is False


def test_another_centres_case_does_not_exist_for_a_reviewer():
    rt = runtime()
    case_id = routed(rt, CentreId.PKUCH)
    with pytest.raises(NotFound):
        application.accept(rt, CONN, case_id, CentreId.WCH, ACCEPTED)
    with pytest.raises(NotFound):
        application.get_case(rt, CONN, case_id, CentreId.WCH)
    assert kinds(rt, case_id) == []


def test_an_unassigned_case_is_not_found():
    with pytest.raises(NotFound):
        application.accept(runtime(), CONN, uuid4(), CentreId.PKUCH, ACCEPTED)


def test_a_stale_expected_version_is_a_conflict_and_appends_nothing():
    rt = runtime()
    case_id = routed(rt)
    with pytest.raises(ConcurrencyConflict):
        application.accept(rt, CONN, case_id, CentreId.PKUCH, ACCEPTED, expected=3)
    assert kinds(rt, case_id) == []


def test_a_stopped_case_rejects_the_centre_but_not_the_services_own_reactions():
    rt = runtime()
    case_id = routed(rt)
    application.accept(rt, CONN, case_id, CentreId.PKUCH, ACCEPTED)
    withdrawn = Upstream("intake").emit(case_id, CaseWithdrawn(reason="patient_request"), ACCEPTED)
    deliver(application.reactions(rt), withdrawn)
    with pytest.raises(Rejected) as stopped:
        application.request_information(rt, CONN, case_id, CentreId.PKUCH, [InformationTopic.ADDITIONAL_IMAGING],
                                        ACCEPTED)
    assert stopped.value.code == "processing_stopped"


def test_the_clock_of_a_case_that_ended_before_delivery_shows_stopped_and_a_verdict_stays():
    rt = runtime()
    ended, kept = routed(rt), delivered(rt)
    application.accept(rt, CONN, ended, CentreId.PKUCH, ACCEPTED)
    for case_id in (ended, kept):
        deliver(application.reactions(rt), Upstream("intake").emit(case_id, CaseWithdrawn(reason="patient_request"),
                                                                   ACCEPTED + timedelta(days=7)))
    later = ACCEPTED + timedelta(days=60)  # past the limit: had the clock run on, it would say breached
    assert application.describe(rt, rt.kernel.load(CONN, ended).state, later)["sla"]["state"] == "stopped"
    assert application.describe(rt, rt.kernel.load(CONN, kept).state, later)["sla"]["state"] == "delivered_on_time"


def test_declining_shows_declined_to_that_centre():
    rt = runtime()
    case_id = routed(rt)
    done = application.decline(rt, CONN, case_id, CentreId.PKUCH, DeclineReason.OUTSIDE_EXPERTISE, ACCEPTED)
    assert application.describe(rt, done.state, ACCEPTED)["state"] == "declined"
    assert rt.assignments.get(CONN, case_id)["phase"] == "declined"  # type: ignore[index]


def test_a_reroute_after_a_decline_assigns_the_next_centre_afresh():
    rt = runtime()
    case_id = routed(rt)
    application.decline(rt, CONN, case_id, CentreId.PKUCH, DeclineReason.OUTSIDE_EXPERTISE, ACCEPTED)
    routed(rt, CentreId.FUSCC, case_id, attempt=2)
    assert rt.assignments.get(CONN, case_id)["centre_id"] == "fuscc"  # type: ignore[index]
    assert application.get_case(rt, CONN, case_id, CentreId.FUSCC)["state"] == "assigned"


def test_an_information_request_pauses_and_new_records_resume_the_clock():
    rt = runtime()
    case_id = routed(rt)
    application.accept(rt, CONN, case_id, CentreId.PKUCH, ACCEPTED)
    application.request_information(rt, CONN, case_id, CentreId.PKUCH, [InformationTopic.ADDITIONAL_IMAGING],
                                    ACCEPTED + timedelta(days=1))
    assert rt.assignments.get(CONN, case_id)["phase"] == "awaiting_information"  # type: ignore[index]
    record = RecordsReceived(record_id=uuid4(), kind="imaging")
    cause = Upstream("intake").emit(case_id, record, ACCEPTED + timedelta(days=2))
    deliver(application.reactions(rt), cause)
    history = rt.store.load(CONN, f"case-{case_id}")
    assert [d.envelope.event_type for d in history][-2:] == ["InformationReceived", "SlaClockResumed"]
    # The reaction continues the records' correlation and names them as its cause.
    assert history[-1].envelope.causation_id == cause.envelope.event_id
    assert history[-1].envelope.correlation_id == cause.envelope.correlation_id


def test_records_sent_before_the_centre_asked_do_not_answer_its_request():
    # Intake's relay was ahead of review's: a record uploaded before the request reached review
    # after it. It is not the answer; the clock stays paused until a record dated after the request.
    rt = runtime()
    case_id = routed(rt)
    application.accept(rt, CONN, case_id, CentreId.PKUCH, ACCEPTED)
    application.request_information(rt, CONN, case_id, CentreId.PKUCH, [InformationTopic.ADDITIONAL_IMAGING],
                                    ACCEPTED + timedelta(days=2))
    upstream = Upstream("intake")
    earlier = RecordsReceived(record_id=uuid4(), kind="imaging")
    deliver(application.reactions(rt), upstream.emit(case_id, earlier, ACCEPTED + timedelta(days=1)))
    assert kinds(rt, case_id)[-1] == "InformationRequested"
    later = RecordsReceived(record_id=uuid4(), kind="imaging")
    deliver(application.reactions(rt), upstream.emit(case_id, later, ACCEPTED + timedelta(days=3)))
    assert kinds(rt, case_id)[-2:] == ["InformationReceived", "SlaClockResumed"]


def test_records_without_an_open_request_or_assignment_change_nothing():
    rt = runtime()
    case_id = routed(rt)
    application.accept(rt, CONN, case_id, CentreId.PKUCH, ACCEPTED)
    upstream = Upstream("intake")
    for case in (case_id, uuid4()):
        deliver(application.reactions(rt), upstream.emit(case, RecordsReceived(record_id=uuid4(), kind="imaging"),
                                                         ACCEPTED))
    assert kinds(rt, case_id) == ["ReviewAccepted", "SlaClockStarted"]


def test_the_timers_emit_at_risk_then_breach_once_each():
    rt = runtime()
    case_id = routed(rt)
    application.accept(rt, CONN, case_id, CentreId.PKUCH, ACCEPTED)
    assert application.run_timers(rt, datetime(2026, 3, 1, 8, tzinfo=SHANGHAI)) == 1
    assert application.run_timers(rt, datetime(2026, 3, 2, 8, tzinfo=SHANGHAI)) == 0
    assert application.run_timers(rt, datetime(2026, 3, 4, 0, 30, tzinfo=SHANGHAI)) == 1
    assert kinds(rt, case_id)[-2:] == ["SlaAtRisk", "SlaBreached"]


def test_delivery_stops_the_clock_and_the_timers_leave_the_case_alone():
    rt = runtime()
    case_id = routed(rt)
    application.accept(rt, CONN, case_id, CentreId.PKUCH, ACCEPTED)
    report = upload(rt, case_id)
    done = application.deliver(rt, CONN, case_id, CentreId.PKUCH, delivery(report), ACCEPTED + timedelta(days=6))
    assert [d.envelope.event_type for d in done.appended] == ["ReviewDelivered", "SlaClockStopped"]
    assert rt.assignments.get(CONN, case_id)["phase"] == "delivered"  # type: ignore[index]
    assert application.run_timers(rt, datetime(2026, 4, 1, tzinfo=SHANGHAI)) == 0


def test_a_delivery_before_acceptance_is_rejected_and_appends_nothing():
    rt = runtime()
    case_id = routed(rt)
    with pytest.raises(Rejected):
        application.deliver(rt, CONN, case_id, CentreId.PKUCH, delivery(uuid4()), ACCEPTED)
    assert kinds(rt, case_id) == []


def test_a_centre_lists_only_its_own_cases():
    rt = runtime()
    mine, _theirs = routed(rt, CentreId.PKUCH), routed(rt, CentreId.WCH)
    assert [c["case_id"] for c in application.list_cases(rt, CentreId.PKUCH)] == [mine]


def test_video_steps_follow_their_order():
    rt = runtime()
    case_id = routed(rt)
    application.accept(rt, CONN, case_id, CentreId.PKUCH, ACCEPTED)
    with pytest.raises(Rejected):
        application.video(rt, CONN, case_id, CentreId.PKUCH, "held", None, ACCEPTED)
    application.video(rt, CONN, case_id, CentreId.PKUCH, "request", None, ACCEPTED)
    done = application.video(rt, CONN, case_id, CentreId.PKUCH, "schedule", ACCEPTED + timedelta(days=3), ACCEPTED)
    assert done.state.review.video == "scheduled"


# ------------------------------------------------------------------ the report

def test_a_delivery_must_reference_a_report_the_centre_uploaded():
    rt = runtime()
    case_id = routed(rt)
    application.accept(rt, CONN, case_id, CentreId.PKUCH, ACCEPTED)
    with pytest.raises(InvalidInput) as missing:
        application.deliver(rt, CONN, case_id, CentreId.PKUCH, delivery(uuid4()), ACCEPTED)
    assert missing.value.field == "report_ref"
    assert kinds(rt, case_id) == ["ReviewAccepted", "SlaClockStarted"]


def test_the_delivery_carries_the_uploaded_reports_page_count():
    rt = runtime()
    case_id = routed(rt)
    application.accept(rt, CONN, case_id, CentreId.PKUCH, ACCEPTED)
    report = upload(rt, case_id, pages=7)
    with pytest.raises(InvalidInput) as wrong:
        application.deliver(rt, CONN, case_id, CentreId.PKUCH, delivery(report, page_count=6), ACCEPTED)
    assert wrong.value.field == "page_count"
    done = application.deliver(rt, CONN, case_id, CentreId.PKUCH, delivery(report), ACCEPTED)
    event = done.appended[0].event
    assert (event.report_ref, event.page_count) == (report, 7)  # type: ignore[attr-defined]


def test_a_report_outside_five_to_eight_pages_needs_a_reason_and_stores_nothing_without_one():
    rt = runtime()
    case_id = routed(rt)
    application.accept(rt, CONN, case_id, CentreId.PKUCH, ACCEPTED)
    with pytest.raises(InvalidInput) as short:
        upload(rt, case_id, pages=4)
    assert short.value.field == "page_count_reason"
    assert cast(FakeCaseFiles, rt.files).blobs == {}
    report = upload(rt, case_id, pages=4, reason="single_question_answered")
    assert application.document(rt, CONN, case_id, CentreId.PKUCH, document_id=report)[0].page_count_reason == \
        "single_question_answered"


def test_uploading_before_acceptance_is_rejected():
    rt = runtime()
    case_id = routed(rt)
    with pytest.raises(Rejected) as early:
        upload(rt, case_id)
    assert early.value.code == "not_accepted"


def test_a_corrected_report_is_a_new_version_and_the_first_stays_readable():
    rt = runtime()
    case_id = delivered(rt)
    first, first_bytes = application.document(rt, CONN, case_id, "coordinator")
    amended = upload(rt, case_id, pages=8, content=b"corrected", at=ACCEPTED + timedelta(days=7))
    assert kinds(rt, case_id)[-1] == "ReportAmended"
    latest, latest_bytes = application.document(rt, CONN, case_id, CentreId.PKUCH)
    assert (latest.document_id, latest.version, latest_bytes) == (amended, 2, b"corrected")
    again, again_bytes = application.document(rt, CONN, case_id, "coordinator", version=1)
    assert (again.document_id, again_bytes, first.version) == (first.document_id, first_bytes, 1)
    with pytest.raises(NotFound):
        application.document(rt, CONN, case_id, "coordinator", version=3)


def test_only_the_assigned_centre_and_the_coordinator_read_the_report():
    rt = runtime()
    case_id = delivered(rt)
    with pytest.raises(NotFound):
        application.document(rt, CONN, case_id, CentreId.WCH)
    assert application.document(rt, CONN, case_id, "coordinator")[1]


def test_after_withdrawal_the_centre_loses_the_report_and_after_erasure_everyone_does():
    rt = runtime()
    case_id = delivered(rt)
    upstream = Upstream("intake")
    deliver(application.reactions(rt), upstream.emit(case_id, CaseWithdrawn(reason="patient_request"), ACCEPTED))
    with pytest.raises(NotFound):
        application.document(rt, CONN, case_id, CentreId.PKUCH)
    assert application.document(rt, CONN, case_id, "coordinator")[1]
    deliver(application.reactions(rt), upstream.emit(case_id, ERASED, ACCEPTED))
    assert case_id in cast(FakeCaseFiles, rt.files).shredded
    with pytest.raises(Rejected) as erased:
        application.document(rt, CONN, case_id, "coordinator")
    assert erased.value.code == "erased"


# ------------------------------------------------------------------ follow-up questions

def test_follow_ups_come_after_delivery_up_to_the_limit():
    rt = runtime(follow_up_limit=3, follow_up_business_days=3)
    case_id = routed(rt)
    application.accept(rt, CONN, case_id, CentreId.PKUCH, ACCEPTED)
    with pytest.raises(Rejected) as early:
        application.ask_follow_up(rt, CONN, case_id, "Is adjuvant therapy needed?", ACCEPTED)
    assert early.value.code == "not_delivered"
    application.deliver(rt, CONN, case_id, CentreId.PKUCH, delivery(upload(rt, case_id)), ACCEPTED + timedelta(days=6))
    for n in range(3):
        application.ask_follow_up(rt, CONN, case_id, f"question {n}", ACCEPTED + timedelta(days=20))
    with pytest.raises(Rejected) as fourth:
        application.ask_follow_up(rt, CONN, case_id, "a fourth", ACCEPTED + timedelta(days=20))
    assert fourth.value.code == "follow_up_limit"
    listed = application.follow_ups(rt, CONN, case_id, CentreId.PKUCH)
    assert [(f["number"], f["question"]) for f in listed] == [(1, "question 0"), (2, "question 1"), (3, "question 2")]


def test_the_follow_up_limit_is_a_setting():
    rt = runtime(follow_up_limit=1, follow_up_business_days=3)
    case_id = delivered(rt)
    application.ask_follow_up(rt, CONN, case_id, "one", ACCEPTED + timedelta(days=20))
    with pytest.raises(Rejected):
        application.ask_follow_up(rt, CONN, case_id, "two", ACCEPTED + timedelta(days=20))


def test_a_follow_up_has_its_own_business_day_clock_with_at_risk_and_breach():
    rt = runtime(follow_up_limit=3, follow_up_business_days=3)
    case_id = delivered(rt)
    asked = datetime(2026, 3, 6, 10, tzinfo=SHANGHAI)  # a Friday: days 1-3 are Mon 9 to Wed 11 March
    done, follow_up = application.ask_follow_up(rt, CONN, case_id, "Is radiotherapy needed?", asked)
    assert done.state.review.follow_ups[follow_up].due.isoformat() == "2026-03-11"  # type: ignore[union-attr]
    assert rt.assignments.get(CONN, case_id)["phase"] == "answering_follow_up"  # type: ignore[index]
    assert application.run_timers(rt, datetime(2026, 3, 10, 23, tzinfo=SHANGHAI)) == 0
    assert application.run_timers(rt, datetime(2026, 3, 11, 0, 5, tzinfo=SHANGHAI)) == 1  # end of day 2: at risk
    assert application.run_timers(rt, datetime(2026, 3, 12, 0, 5, tzinfo=SHANGHAI)) == 1  # end of day 3: breached
    assert application.run_timers(rt, datetime(2026, 3, 13, tzinfo=SHANGHAI)) == 0
    assert kinds(rt, case_id)[-2:] == ["FollowUpAtRisk", "FollowUpBreached"]
    answered, _ = application.answer_follow_up(rt, CONN, case_id, CentreId.PKUCH, follow_up, b"addendum", "a" * 64, 1,
                                               datetime(2026, 3, 12, 9, tzinfo=SHANGHAI))
    assert answered.appended[0].event.within_limit is False  # type: ignore[attr-defined]
    assert rt.assignments.get(CONN, case_id)["phase"] == "delivered"  # type: ignore[index]
    assert application.follow_ups(rt, CONN, case_id, "coordinator")[0]["state"] == "answered_late"


def test_an_answer_in_time_is_within_the_limit_and_a_follow_up_is_answered_once():
    rt = runtime(follow_up_limit=3, follow_up_business_days=3)
    case_id = delivered(rt)
    asked = datetime(2026, 3, 6, 10, tzinfo=SHANGHAI)
    _, follow_up = application.ask_follow_up(rt, CONN, case_id, "Which trial?", asked)
    at = datetime(2026, 3, 11, 23, tzinfo=SHANGHAI)
    done, addendum = application.answer_follow_up(rt, CONN, case_id, CentreId.PKUCH, follow_up, b"pdf", "b" * 64, 2, at)
    # In time, but after the last-but-one day: the at-risk moment no sweep recorded comes first.
    assert [(d.envelope.event_type, d.envelope.occurred_at) for d in done.appended[:-1]] == [
        ("FollowUpAtRisk", datetime(2026, 3, 11, tzinfo=SHANGHAI))]
    assert done.appended[-1].event.within_limit is True  # type: ignore[attr-defined]
    assert application.document(rt, CONN, case_id, "coordinator", document_id=addendum)[0].kind == "addendum"
    with pytest.raises(Rejected) as twice:
        application.answer_follow_up(rt, CONN, case_id, CentreId.PKUCH, follow_up, b"pdf", "b" * 64, 2, at)
    assert twice.value.code == "follow_up_answered"


def test_erasure_shreds_the_follow_up_questions():
    rt = runtime(follow_up_limit=3, follow_up_business_days=3)
    case_id = delivered(rt)
    application.ask_follow_up(rt, CONN, case_id, "private question", ACCEPTED + timedelta(days=20))
    deliver(application.reactions(rt), Upstream("intake").emit(case_id, ERASED, ACCEPTED))
    assert cast(FakeCaseFiles, rt.files).questions == {}
    with pytest.raises(Rejected):
        application.follow_ups(rt, CONN, case_id, "coordinator")


def test_a_centre_cannot_deliver_on_the_report_a_centre_that_declined_uploaded():
    rt = runtime()
    case_id = routed(rt)
    application.accept(rt, CONN, case_id, CentreId.PKUCH, ACCEPTED)
    left_behind = upload(rt, case_id)
    application.decline(rt, CONN, case_id, CentreId.PKUCH, DeclineReason.OUTSIDE_EXPERTISE, ACCEPTED)
    routed(rt, CentreId.FUSCC, case_id, attempt=2)
    application.accept(rt, CONN, case_id, CentreId.FUSCC, ACCEPTED)
    with pytest.raises(InvalidInput) as theirs:
        application.deliver(rt, CONN, case_id, CentreId.FUSCC, delivery(left_behind), ACCEPTED)
    assert theirs.value.field == "report_ref"


# ------------------------------------------------------------------ what no timer saw, and endings

def test_a_late_delivery_with_no_sweep_in_between_carries_its_at_risk_and_breach_dated_when_due():
    # Accepted Wednesday 2026-02-11: the Spring Festival holidays lie inside the ten days.
    rt = runtime()
    case_id = routed(rt)
    application.accept(rt, CONN, case_id, CentreId.PKUCH, ACCEPTED)
    late = ACCEPTED + timedelta(days=40)
    done = application.deliver(rt, CONN, case_id, CentreId.PKUCH, delivery(upload(rt, case_id)), late)
    kinds_at = [(d.envelope.event_type, d.envelope.occurred_at) for d in done.appended]
    assert [k for k, _ in kinds_at] == ["SlaAtRisk", "SlaBreached", "ReviewDelivered", "SlaClockStopped"]
    at_risk, breached = kinds_at[0][1], kinds_at[1][1]
    assert at_risk < breached < late and breached.astimezone(SHANGHAI).hour == 0
    stopped = done.appended[-1].event
    assert stopped.within_limit is False  # type: ignore[attr-defined]
    # Exactly once: a sweep afterwards finds nothing more to say.
    assert application.run_timers(rt, late + timedelta(days=30)) == 0
    assert kinds(rt, case_id).count("SlaBreached") == 1


def test_a_delivery_after_a_sweep_recorded_the_breach_does_not_repeat_it():
    rt = runtime()
    case_id = routed(rt)
    application.accept(rt, CONN, case_id, CentreId.PKUCH, ACCEPTED)
    application.run_timers(rt, ACCEPTED + timedelta(days=35))
    done = application.deliver(rt, CONN, case_id, CentreId.PKUCH,
                               delivery(upload(rt, case_id, at=ACCEPTED + timedelta(days=36))),
                               ACCEPTED + timedelta(days=40))
    assert [d.envelope.event_type for d in done.appended] == ["ReviewDelivered", "SlaClockStopped"]
    assert kinds(rt, case_id).count("SlaAtRisk") == kinds(rt, case_id).count("SlaBreached") == 1


def test_a_late_follow_up_answer_carries_its_missed_at_risk_and_breach():
    rt = runtime(follow_up_limit=3, follow_up_business_days=3)
    case_id = delivered(rt)
    asked = datetime(2026, 3, 6, 10, tzinfo=SHANGHAI)
    _, follow_up = application.ask_follow_up(rt, CONN, case_id, "Which trial?", asked)
    done, _ = application.answer_follow_up(rt, CONN, case_id, CentreId.PKUCH, follow_up, b"pdf", "c" * 64, 1,
                                           datetime(2026, 3, 20, 10, tzinfo=SHANGHAI))
    assert [(d.envelope.event_type, d.envelope.occurred_at) for d in done.appended] == [
        ("FollowUpAtRisk", datetime(2026, 3, 11, tzinfo=SHANGHAI)),
        ("FollowUpBreached", datetime(2026, 3, 12, tzinfo=SHANGHAI)),
        ("FollowUpAnswered", datetime(2026, 3, 20, 10, tzinfo=SHANGHAI))]
    assert application.run_timers(rt, datetime(2026, 4, 30, tzinfo=SHANGHAI)) == 0


def end_case(rt: application.ReviewRuntime, case_id: UUID, at: datetime, event: Any = None) -> Any:
    ending = Upstream("intake").emit(case_id, event or CaseWithdrawn(reason="patient_request"), at)
    deliver(application.reactions(rt), ending)
    [ended] = [d.event for d in rt.store.load(CONN, f"case-{case_id}") if d.envelope.event_type == "ReviewEnded"]
    return ended


def test_review_answers_an_ending_with_the_acceptance_in_force_at_its_moment():
    rt = runtime()
    case_id = routed(rt)
    application.accept(rt, CONN, case_id, CentreId.PKUCH, ACCEPTED)
    ended = end_case(rt, case_id, ACCEPTED + timedelta(days=3))
    assert (ended.ending, ended.centre_id, ended.accepted_at) == ("CaseWithdrawn", CentreId.PKUCH, ACCEPTED)
    assert ended.delivered_at is None and ended.video_held_at is None


def test_an_acceptance_dated_after_the_ending_is_not_reported_in_force():
    rt = runtime()
    case_id = routed(rt)
    application.accept(rt, CONN, case_id, CentreId.PKUCH, ACCEPTED + timedelta(days=2))
    ended = end_case(rt, case_id, ACCEPTED + timedelta(days=1))
    assert ended.centre_id is None and ended.accepted_at is None


def test_a_decline_dated_after_the_ending_leaves_the_acceptance_in_force_at_the_ending():
    rt = runtime()
    case_id = routed(rt)
    application.accept(rt, CONN, case_id, CentreId.PKUCH, ACCEPTED)
    application.decline(rt, CONN, case_id, CentreId.PKUCH, DeclineReason.OUTSIDE_EXPERTISE,
                        ACCEPTED + timedelta(days=3))
    ended = end_case(rt, case_id, ACCEPTED + timedelta(days=2))
    assert ended.accepted_at == ACCEPTED


def test_an_ending_that_reaches_review_before_the_routing_keeps_the_case_from_the_centre():
    rt = runtime()
    case_id = uuid4()
    ended = end_case(rt, case_id, ACCEPTED - timedelta(days=2))
    assert ended.centre_id is None
    routed(rt, case_id=case_id)  # routing had routed it before it learned of the ending
    with pytest.raises(Rejected) as refused:
        application.accept(rt, CONN, case_id, CentreId.PKUCH, ACCEPTED)
    assert refused.value.code == "processing_stopped"
    assert rt.assignments.with_running_clock(CONN) == []


def test_review_answers_only_the_first_ending():
    rt = runtime()
    case_id = routed(rt)
    end_case(rt, case_id, ACCEPTED)
    deliver(application.reactions(rt), Upstream("intake").emit(case_id, ERASED, ACCEPTED + timedelta(days=1)))
    assert kinds(rt, case_id).count("ReviewEnded") == 1


def test_an_acceptance_that_lost_to_routings_withdrawal_was_never_in_force():
    rt = runtime()
    case_id = routed(rt)
    application.accept(rt, CONN, case_id, CentreId.PKUCH, ACCEPTED)
    application.command(rt, CONN, case_id, None,
                        lambda r: application.domain.decline(r, CentreId.PKUCH, DeclineReason.NO_ANSWER, None),
                        ACCEPTED + timedelta(days=2))
    ended = end_case(rt, case_id, ACCEPTED + timedelta(days=1))
    assert ended.accepted_at is None


def test_an_acceptance_whose_limit_falls_in_an_unknown_year_still_gives_its_known_target():
    rt = runtime()
    case_id = routed(rt)
    done = application.accept(rt, CONN, case_id, CentreId.PKUCH, datetime(2026, 12, 21, 10, tzinfo=SHANGHAI))
    blocked = done.appended[-1].event
    assert (blocked.event_type, blocked.year, blocked.target_due) == (  # type: ignore[attr-defined]
        "SlaClockBlocked", 2027, date(2026, 12, 30))


def test_a_delivery_dated_before_its_acceptance_is_refused_by_its_date_and_appends_nothing():
    rt = runtime()
    case_id = routed(rt)
    application.accept(rt, CONN, case_id, CentreId.PKUCH, ACCEPTED)
    report = upload(rt, case_id)
    before = kinds(rt, case_id)
    with pytest.raises(InvalidInput) as refused:
        application.deliver(rt, CONN, case_id, CentreId.PKUCH, delivery(report), ACCEPTED - timedelta(hours=1))
    assert refused.value.field == "occurred_at"
    assert kinds(rt, case_id) == before
    application.deliver(rt, CONN, case_id, CentreId.PKUCH, delivery(report), ACCEPTED + timedelta(days=2))
    assert "ReviewDelivered" in kinds(rt, case_id)[len(before):]
