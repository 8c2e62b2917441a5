"""The worklist's pure parts: the SLA state its lives give, its cursor, its filters."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from uuid import UUID, uuid4

import pytest

from events import lifecycle
from events.codes import CENTRE_NAMES, CentreId
from events.contract import (
    CaseDeclined,
    Event,
    InformationReceived,
    InformationRequested,
    ReviewAccepted,
    ReviewDelivered,
    SlaAtRisk,
    SlaBreached,
    SlaClockBlocked,
    SlaClockResumed,
    SlaClockStarted,
    SlaClockStopped,
)
from events.lifecycle import Life
from services.common.errors import InvalidInput
from services.intake.worklist import Cursor, Filters
from tests.unit.histories import Script

T0 = datetime(2026, 6, 1, 1, tzinfo=UTC)
REQUEST = uuid4()


def folded(*events: Event) -> Life:
    s = Script(lambda strategy: 60)
    s.at = T0
    for e in events:
        s.add("billing" if e.event_type.startswith("Payment") else "review", e)
    return lifecycle.fold(s.events)


ACCEPTED = ReviewAccepted(centre_id=CentreId.FUSCC)
STARTED = SlaClockStarted(target_due=date(2026, 6, 10), limit_due=date(2026, 6, 15))
DELIVERY = ReviewDelivered(centre_id=CentreId.FUSCC, pathology={"verdict": "agree"},
                           imaging={"verdict": "stage_confirmed"}, recommended_pathway="surgery",
                           rationale_codes=["guideline_concordant"], question_answer="answered",
                           diagnosis_change="concordant", treatment_change="refined", report_ref=uuid4(), page_count=6)


@pytest.mark.parametrize(("events", "state"), [
    ((), "not_started"),
    ((ACCEPTED, STARTED), "on_track"),
    ((ACCEPTED, STARTED, SlaAtRisk(business_days_left=2, limit_due=date(2026, 6, 15))), "at_risk"),
    ((ACCEPTED, STARTED, InformationRequested(request_id=REQUEST, topics=["additional_imaging"])), "paused"),
    # A breach stands through a pause and a resumption: review's clock and analytics say so too.
    ((ACCEPTED, STARTED, SlaBreached(limit_due=date(2026, 6, 15)),
      InformationRequested(request_id=REQUEST, topics=["additional_imaging"]), InformationReceived(request_id=REQUEST),
      SlaClockResumed(target_due=date(2026, 6, 20), limit_due=date(2026, 6, 25), paused_business_days=2)),
     "breached"),
    # Limit in a year the calendar does not know: blocked at acceptance, at risk on known days.
    ((ACCEPTED, SlaClockBlocked(year=2027), SlaAtRisk(business_days_left=2, limit_due=None)), "calendar_unknown"),
    ((ACCEPTED, STARTED, DELIVERY, SlaClockStopped(business_days_used=4, paused_business_days=0,
                                                    within_target=True, within_limit=True)), "delivered_on_time"),
    ((ACCEPTED, STARTED, DELIVERY, SlaClockStopped(business_days_used=None, paused_business_days=None,
                                                    within_target=False, within_limit=False)), "delivered_late"),
    # Delivered while the calendar lacks the year its verdict needs.
    ((ACCEPTED, SlaClockBlocked(year=2027), DELIVERY), "calendar_unknown"),
    ((ACCEPTED, STARTED, CaseDeclined(centre_id=CentreId.FUSCC, reason="no_answer")), "not_started"),
])
def test_the_sla_state_follows_reviews_clock(events: tuple[Event, ...], state: str):
    assert folded(*events).sla_state == state


def test_an_at_risk_event_without_a_date_keeps_the_limit_known_and_a_block_lasts_until_a_new_acceptance():
    life = folded(ACCEPTED, STARTED, SlaAtRisk(business_days_left=2, limit_due=None))
    assert life.clock.limit_due == date(2026, 6, 15)
    resumed = SlaClockResumed(target_due=date(2027, 1, 8), limit_due=date(2027, 1, 13), paused_business_days=0)
    assert folded(ACCEPTED, SlaClockBlocked(year=2027), resumed).sla_state == "calendar_unknown"
    assert folded(ACCEPTED, SlaClockBlocked(year=2027), CaseDeclined(centre_id=CentreId.FUSCC, reason="other"),
                  ACCEPTED, STARTED).sla_state == "on_track"


def test_a_cursor_round_trips_and_one_the_list_did_not_return_is_bad_input():
    for position, fixed in ((1, False), (250, True)):
        cursor = Cursor(uuid4(), position, fixed, "f" * 16)
        assert Cursor.decode(cursor.encode()) == cursor
    bad_position = Cursor(UUID(int=7), 1, True, "f").encode().replace("MSw", "MCw")  # position 0
    for token in ("", "x", "bm90LWEtY3Vyc29y", "eyJkIjogMX0", "eyJkIjogbnVsbCwgImMiOiAiMSJ9", bad_position):
        with pytest.raises(InvalidInput) as bad:
            Cursor.decode(token)
        assert bad.value.field == "cursor"


def test_open_cases_by_default_and_a_filter_only_ended_cases_match_includes_them():
    assert Filters().params()["scope"] == "open"
    assert Filters(status="ready_for_review").params()["scope"] == "open"
    for asks_ended in (Filters(status="cancelled"), Filters(sla_state="stopped"), Filters(waiting_on="nobody")):
        assert asks_ended.params()["scope"] == "all"
    assert Filters(sla_state="stopped", scope="open").params()["scope"] == "open"
    assert Filters(scope="ended").fingerprint() != Filters().fingerprint()


def test_the_centres_names_are_the_registrys():
    registry = json.loads(Path("services/routing/centres.json").read_text())
    assert {CentreId(c["id"]): c["name"] for c in registry["centres"]} == CENTRE_NAMES
