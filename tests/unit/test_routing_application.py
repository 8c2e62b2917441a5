"""Routing's application layer on fakes: readiness, the decision, load, declines, the queue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast
from uuid import UUID, uuid4

import pytest

from events.codes import CentreId, ConsentKind, ReferralReason
from events.contract import (
    CaseCancelled,
    CaseDeclined,
    CaseOpened,
    ConsentGiven,
    ConsentWithdrawn,
    Event,
    RecordsCompleted,
    ReviewDelivered,
)
from events.registry import Decoded
from services.common.errors import NotFound, Rejected
from services.routing import application
from services.routing.bootstrap import bootstrap
from services.routing.settings import RoutingSettings
from tests.unit.fakes import CONN, Clock, FakePool, Upstream, deliver, memory_store
from tests.unit.fakes_routing import FakeRoutingBoard

T0 = datetime(2026, 3, 2, 1, tzinfo=UTC)
# After the history a ready case has (its events run to T0 + 20 min): a command may not predate it.
LATER = T0 + timedelta(hours=1)


def runtime() -> application.RoutingRuntime:
    return bootstrap(RoutingSettings.model_construct(), pool=FakePool(), store=memory_store("routing", Clock(T0)),
                     board=FakeRoutingBoard())


class Case:
    def __init__(self, rt: application.RoutingRuntime, site: str = "breast",
                 preferred: CentreId | None = CentreId.PKUCH, reasons: list[ReferralReason] | None = None) -> None:
        self.rt, self.case_id = rt, uuid4()
        self.consumer = application.router_consumer(rt)
        self.upstream = Upstream("intake")
        self.at = T0
        self.send(CaseOpened(patient_ref="pr_" + "2" * 32, tumour_site=site, rare_tumour=False, stage_group="II",
                             referral_reasons=reasons or [ReferralReason.STAGE_BORDERLINE], patient_country="GB",
                             language="en", preferred_centre=preferred))

    def send(self, event: Event, producer: Upstream | None = None) -> Decoded:
        self.at += timedelta(minutes=5)
        decoded = (producer or self.upstream).emit(self.case_id, event, self.at)
        deliver(self.consumer, decoded)
        return decoded

    def consent(self, *centres: CentreId) -> Decoded:
        self.send(ConsentGiven(consent=ConsentKind.HEALTH_DATA_PROCESSING, text_version="v1"))
        return self.send(ConsentGiven(consent=ConsentKind.TRANSFER_ABROAD, text_version="v1",
                                      centre_ids=list(centres)))

    def decisions(self) -> list[Event]:
        return application.decisions(self.rt, CONN, self.case_id)

    def board(self) -> FakeRoutingBoard:
        return cast(FakeRoutingBoard, self.rt.board)


def ready(rt: application.RoutingRuntime, *centres: CentreId, **kw: Any) -> Case:
    case = Case(rt, **kw)
    case.send(RecordsCompleted(record_count=6))
    case.consent(*(centres or tuple(CentreId)))
    return case


def test_the_last_condition_to_arrive_routes_the_case_once_to_the_preferred_fitting_centre():
    rt = runtime()
    case = Case(rt)
    case.send(RecordsCompleted(record_count=6))
    assert case.decisions() == []
    cause = case.consent(*CentreId)
    [routed] = case.decisions()
    assert routed.event_type == "CaseRouted" and routed.centre_id is CentreId.PKUCH  # type: ignore[attr-defined]
    envelope = rt.store.load(CONN, f"case-{case.case_id}")[0].envelope
    assert envelope.causation_id == cause.envelope.event_id and envelope.occurred_at == cause.envelope.occurred_at


def test_a_redelivered_or_repeated_fact_does_not_route_twice():
    rt = runtime()
    case = ready(rt)
    case.send(RecordsCompleted(record_count=6))
    case.consent(*CentreId)
    assert len(case.decisions()) == 1


def test_a_routed_case_holds_its_centre_until_delivery():
    rt = runtime()
    case = ready(rt)
    assert case.board().active == {"pkuch": 1}
    case.send(ReviewDelivered(centre_id=CentreId.PKUCH, pathology={"verdict": "agree"},
                              imaging={"verdict": "stage_confirmed"}, recommended_pathway="surgery",
                              rationale_codes=["guideline_concordant"], question_answer="answered",
                              diagnosis_change="concordant", treatment_change="refined", report_ref=uuid4(),
                              page_count=6), Upstream("review"))
    assert case.board().active == {"pkuch": 0}


def test_a_decline_reroutes_to_the_next_fitting_centre_and_moves_the_load():
    rt = runtime()
    case = ready(rt)
    case.send(CaseDeclined(centre_id=CentreId.PKUCH, reason="at_capacity"), Upstream("review"))
    kinds = [(e.event_type, getattr(e, "centre_id", None)) for e in case.decisions()]
    assert kinds[-1][0] == "CaseRouted" and kinds[-1][1] is not CentreId.PKUCH
    assert case.board().active[str(kinds[-1][1])] == 1 and case.board().active["pkuch"] == 0


def test_a_case_no_consented_centre_fits_waits_in_the_coordinator_queue():
    rt = runtime()
    case = ready(rt, CentreId.WCH)  # breast, but the patient consented to WCH (lung) only
    [blocked] = case.decisions()
    assert blocked.event_type == "CaseRoutingBlocked"
    assert [r["case_id"] for r in application.queue(rt)] == [case.case_id]


def test_the_coordinator_assigns_only_a_consented_centre_and_the_case_leaves_the_queue():
    rt = runtime()
    case = ready(rt, CentreId.WCH)
    with pytest.raises(Rejected):
        application.assign_by_coordinator(rt, CONN, case.case_id, CentreId.FUSCC, LATER)
    application.assign_by_coordinator(rt, CONN, case.case_id, CentreId.WCH, LATER)
    assert application.queue(rt) == [] and case.board().cases[case.case_id]["coordinator_pick"]
    # The coordinator's own pick declining is the final decline.
    case.send(CaseDeclined(centre_id=CentreId.WCH, reason="at_capacity"), Upstream("review"))
    assert case.decisions()[-1].event_type == "CaseFinallyDeclined"


def test_only_a_queued_case_can_be_finally_declined_and_an_unknown_case_is_not_found():
    rt = runtime()
    case = ready(rt)
    with pytest.raises(NotFound):
        application.decline_finally(rt, CONN, case.case_id, T0)
    with pytest.raises(NotFound):
        application.decline_finally(rt, CONN, uuid4(), T0)
    with pytest.raises(NotFound):
        application.assign_by_coordinator(rt, CONN, uuid4(), CentreId.PKUCH, T0)
    with pytest.raises(Rejected) as same:
        application.assign_by_coordinator(rt, CONN, case.case_id, CentreId.PKUCH, T0)
    assert same.value.code == "same_centre"


def test_a_final_decline_from_the_queue_ends_the_case():
    rt = runtime()
    case = ready(rt, CentreId.WCH)
    application.decline_finally(rt, CONN, case.case_id, LATER)
    assert case.decisions()[-1].event_type == "CaseFinallyDeclined" and application.queue(rt) == []


def test_an_ended_or_unconsented_case_is_not_routed():
    rt = runtime()
    ended = Case(rt)
    ended.send(RecordsCompleted(record_count=6))
    ended.send(CaseCancelled(reason="patient_request"))
    ended.consent(*CentreId)
    assert ended.decisions() == []
    withdrawn = Case(rt)
    withdrawn.send(ConsentGiven(consent=ConsentKind.HEALTH_DATA_PROCESSING, text_version="v1"))
    withdrawn.send(ConsentWithdrawn(consent=ConsentKind.HEALTH_DATA_PROCESSING))
    withdrawn.send(ConsentGiven(consent=ConsentKind.TRANSFER_ABROAD, text_version="v1", centre_ids=list(CentreId)))
    withdrawn.send(RecordsCompleted(record_count=6))
    assert withdrawn.decisions() == []


def test_a_fact_for_a_case_routing_never_saw_opened_is_an_error_not_a_guess():
    rt = runtime()
    stray: UUID = uuid4()
    with pytest.raises(LookupError):
        deliver(application.router_consumer(rt), Upstream("intake").emit(stray, RecordsCompleted(record_count=6), T0))
