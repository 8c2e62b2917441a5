"""Review's application layer on fakes: commands, visibility, timers and reactions, no server."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, cast
from uuid import UUID, uuid4

import pytest

from events.codes import CentreId, DeclineReason, InformationTopic
from events.contract import CaseRouted, CaseWithdrawn, RecordsReceived, ReviewDelivered
from events.db import ConcurrencyConflict
from services.common.errors import NotFound, Rejected
from services.review import application as app
from services.review.calendar import load_calendar
from services.review.settings import ReviewSettings
from tests.unit.fakes import CONN, Clock, FakeAssignments, FakePool, Upstream, deliver, memory_store

SHANGHAI = timezone(timedelta(hours=8))
ACCEPTED = datetime(2026, 2, 11, 10, tzinfo=SHANGHAI)  # Wednesday before the Spring Festival
CALENDAR = load_calendar()


def runtime() -> app.ReviewRuntime:
    store = memory_store("review", Clock(ACCEPTED))
    return app.ReviewRuntime(service="review", settings=ReviewSettings.model_construct(),
                             pool=cast(Any, FakePool()), store=cast(Any, store), registry=store.registry,
                             calendar=CALENDAR, assignments=FakeAssignments())


def routed(rt: app.ReviewRuntime, centre: CentreId = CentreId.PKUCH, case_id: UUID | None = None,
           attempt: int = 1) -> UUID:
    case_id = case_id or uuid4()
    deliver(app.reactions(rt), Upstream("routing").emit(case_id, CaseRouted(
        centre_id=centre, reason_codes=["specialty_fit"], attempt=attempt), ACCEPTED - timedelta(days=1)))
    return case_id


def delivery(centre: CentreId = CentreId.PKUCH) -> ReviewDelivered:
    return ReviewDelivered(centre_id=centre, pathology={"verdict": "agree"}, imaging={"verdict": "stage_confirmed"},
                           recommended_pathway="surgery", rationale_codes=["guideline_concordant"],
                           question_answer="answered", diagnosis_change="concordant", treatment_change="refined",
                           report_ref=uuid4(), page_count=6)


def kinds(rt: app.ReviewRuntime, case_id: UUID) -> list[str]:
    return [d.envelope.event_type for d in rt.store.load(CONN, f"case-{case_id}")]


def test_accepting_starts_the_clock_and_moves_the_phase_in_one_command():
    rt = runtime()
    case_id = routed(rt)
    done = app.accept(rt, CONN, case_id, CentreId.PKUCH, ACCEPTED)
    assert [d.envelope.event_type for d in done.appended] == ["ReviewAccepted", "SlaClockStarted"]
    assert done.version == 2 and done.state.review.centre is CentreId.PKUCH
    assert rt.assignments.get(CONN, case_id)["phase"] == "accepted"  # type: ignore[index]


def test_a_command_reads_its_stream_once():
    rt = runtime()
    case_id = routed(rt)
    store = cast(Any, rt.store)
    before = store.loads
    app.accept(rt, CONN, case_id, CentreId.PKUCH, ACCEPTED)
    assert store.loads - before == 1


def test_the_view_after_a_command_comes_from_the_state_it_produced():
    rt = runtime()
    case_id = routed(rt)
    done = app.accept(rt, CONN, case_id, CentreId.PKUCH, ACCEPTED)
    view = app.describe(rt, done.state, ACCEPTED)
    assert view == app.get_case(rt, CONN, case_id, CentreId.PKUCH)
    # Day 7: Thu 12, Fri 13, Sat 14 (make-up day), then 24-27 Feb after the Spring Festival.
    assert view["sla"].target_due.isoformat() == "2026-02-27"


def test_another_centres_case_does_not_exist_for_a_reviewer():
    rt = runtime()
    case_id = routed(rt, CentreId.PKUCH)
    with pytest.raises(NotFound):
        app.accept(rt, CONN, case_id, CentreId.WCH, ACCEPTED)
    with pytest.raises(NotFound):
        app.get_case(rt, CONN, case_id, CentreId.WCH)
    assert kinds(rt, case_id) == []


def test_an_unassigned_case_is_not_found():
    with pytest.raises(NotFound):
        app.accept(runtime(), CONN, uuid4(), CentreId.PKUCH, ACCEPTED)


def test_a_stale_expected_version_is_a_conflict_and_appends_nothing():
    rt = runtime()
    case_id = routed(rt)
    with pytest.raises(ConcurrencyConflict):
        app.accept(rt, CONN, case_id, CentreId.PKUCH, ACCEPTED, expected=3)
    assert kinds(rt, case_id) == []


def test_a_stopped_case_rejects_the_centre_but_not_the_services_own_reactions():
    rt = runtime()
    case_id = routed(rt)
    app.accept(rt, CONN, case_id, CentreId.PKUCH, ACCEPTED)
    deliver(app.reactions(rt), Upstream("intake").emit(case_id, CaseWithdrawn(reason="patient_request"), ACCEPTED))
    with pytest.raises(Rejected) as stopped:
        app.request_information(rt, CONN, case_id, CentreId.PKUCH, [InformationTopic.ADDITIONAL_IMAGING], ACCEPTED)
    assert stopped.value.code == "processing_stopped"


def test_declining_shows_declined_to_that_centre():
    rt = runtime()
    case_id = routed(rt)
    done = app.decline(rt, CONN, case_id, CentreId.PKUCH, DeclineReason.OUTSIDE_EXPERTISE, ACCEPTED)
    assert app.describe(rt, done.state, ACCEPTED)["state"] == "declined"
    assert rt.assignments.get(CONN, case_id)["phase"] == "declined"  # type: ignore[index]


def test_a_reroute_after_a_decline_assigns_the_next_centre_afresh():
    rt = runtime()
    case_id = routed(rt)
    app.decline(rt, CONN, case_id, CentreId.PKUCH, DeclineReason.OUTSIDE_EXPERTISE, ACCEPTED)
    routed(rt, CentreId.FUSCC, case_id, attempt=2)
    assert rt.assignments.get(CONN, case_id)["centre_id"] == "fuscc"  # type: ignore[index]
    assert app.get_case(rt, CONN, case_id, CentreId.FUSCC)["state"] == "assigned"


def test_an_information_request_pauses_and_new_records_resume_the_clock():
    rt = runtime()
    case_id = routed(rt)
    app.accept(rt, CONN, case_id, CentreId.PKUCH, ACCEPTED)
    app.request_information(rt, CONN, case_id, CentreId.PKUCH, [InformationTopic.ADDITIONAL_IMAGING],
                            ACCEPTED + timedelta(days=1))
    assert rt.assignments.get(CONN, case_id)["phase"] == "awaiting_information"  # type: ignore[index]
    record = RecordsReceived(record_id=uuid4(), kind="imaging")
    cause = Upstream("intake").emit(case_id, record, ACCEPTED + timedelta(days=2))
    deliver(app.reactions(rt), cause)
    history = rt.store.load(CONN, f"case-{case_id}")
    assert [d.envelope.event_type for d in history][-2:] == ["InformationReceived", "SlaClockResumed"]
    # The reaction continues the records' correlation and names them as its cause.
    assert history[-1].envelope.causation_id == cause.envelope.event_id
    assert history[-1].envelope.correlation_id == cause.envelope.correlation_id


def test_records_without_an_open_request_or_assignment_change_nothing():
    rt = runtime()
    case_id = routed(rt)
    app.accept(rt, CONN, case_id, CentreId.PKUCH, ACCEPTED)
    upstream = Upstream("intake")
    deliver(app.reactions(rt), upstream.emit(case_id, RecordsReceived(record_id=uuid4(), kind="imaging"), ACCEPTED))
    deliver(app.reactions(rt), upstream.emit(uuid4(), RecordsReceived(record_id=uuid4(), kind="imaging"), ACCEPTED))
    assert kinds(rt, case_id) == ["ReviewAccepted", "SlaClockStarted"]


def test_the_timers_emit_at_risk_then_breach_once_each():
    rt = runtime()
    case_id = routed(rt)
    app.accept(rt, CONN, case_id, CentreId.PKUCH, ACCEPTED)
    assert app.run_timers(rt, datetime(2026, 3, 1, 8, tzinfo=SHANGHAI)) == 1
    assert app.run_timers(rt, datetime(2026, 3, 2, 8, tzinfo=SHANGHAI)) == 0
    assert app.run_timers(rt, datetime(2026, 3, 4, 0, 30, tzinfo=SHANGHAI)) == 1
    assert kinds(rt, case_id)[-2:] == ["SlaAtRisk", "SlaBreached"]


def test_delivery_stops_the_clock_and_the_timers_leave_the_case_alone():
    rt = runtime()
    case_id = routed(rt)
    app.accept(rt, CONN, case_id, CentreId.PKUCH, ACCEPTED)
    done = app.deliver(rt, CONN, case_id, CentreId.PKUCH, delivery(), ACCEPTED + timedelta(days=6))
    assert [d.envelope.event_type for d in done.appended] == ["ReviewDelivered", "SlaClockStopped"]
    assert rt.assignments.get(CONN, case_id)["phase"] == "delivered"  # type: ignore[index]
    assert app.run_timers(rt, datetime(2026, 4, 1, tzinfo=SHANGHAI)) == 0


def test_a_delivery_before_acceptance_is_rejected_and_appends_nothing():
    rt = runtime()
    case_id = routed(rt)
    with pytest.raises(Rejected):
        app.deliver(rt, CONN, case_id, CentreId.PKUCH, delivery(), ACCEPTED)
    assert kinds(rt, case_id) == []


def test_a_centre_lists_only_its_own_cases():
    rt = runtime()
    mine, _theirs = routed(rt, CentreId.PKUCH), routed(rt, CentreId.WCH)
    assert [c["case_id"] for c in app.list_cases(rt, CentreId.PKUCH)] == [mine]


def test_video_steps_follow_their_order():
    rt = runtime()
    case_id = routed(rt)
    app.accept(rt, CONN, case_id, CentreId.PKUCH, ACCEPTED)
    with pytest.raises(Rejected):
        app.video(rt, CONN, case_id, CentreId.PKUCH, "held", None, ACCEPTED)
    app.video(rt, CONN, case_id, CentreId.PKUCH, "request", None, ACCEPTED)
    done = app.video(rt, CONN, case_id, CentreId.PKUCH, "schedule", ACCEPTED + timedelta(days=3), ACCEPTED)
    assert done.state.review.video == "scheduled"
