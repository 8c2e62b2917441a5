"""The three read models of a case's SLA clock agree, whatever order the services' events arrive in.

Cases are driven through the real stack; each one's state is read from intake's worklist
(`GET /cases`), review's view (`GET /cases/{id}` at review) and `analytics.sla_cases`, which must
say the same. Some cases are driven with one service's worker stopped (its relay too), so its
events reach the others after facts of other services dated later.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from infra.stack import Stack
from services.common.calendar import CalendarUnknown, centre_date, load_calendar
from tests.integration.conftest import (
    AFTER_RESTART,
    DELIVERY,
    Api,
    dated,
    day_before,
    make_ready,
    open_case,
    uploaded_report,
    wait_for,
    worker_stopped,
)

FUSCC = "CENTRE_FUSCC_TOKEN"




def routed(api: Api, when: str | None = None) -> UUID:
    """A case routed to FUSCC at `when` (the server's clock without one)."""
    case_id = open_case(api, **dated({"preferred_centre": "fuscc"}, when))
    make_ready(api, case_id, ["fuscc"], when)
    wait_for(lambda: api.call("review", "GET", f"/cases/{case_id}", token=FUSCC).status_code == 200,
             timeout=AFTER_RESTART, what="the assignment at FUSCC")
    return case_id


def act(api: Api, service: str, path: str, token: str = FUSCC, **body: Any) -> dict[str, Any]:
    r = api.call(service, "POST", path, token=token, json=body)
    assert r.status_code in (200, 201), r.text
    return dict(r.json())


def accepted(api: Api, when: str | None) -> UUID:
    case_id = routed(api, day_before(when) if when else None)
    act(api, "review", f"/cases/{case_id}/acceptance", **({"occurred_at": when} if when else {}))
    return case_id


def deliver(api: Api, case_id: UUID, when: str) -> None:
    r = api.call("review", "POST", f"/cases/{case_id}/delivery", token=FUSCC,
                 json={**DELIVERY, "report_ref": uploaded_report(api, case_id, FUSCC, occurred_at=when),
                       "occurred_at": when})
    assert r.status_code == 200, r.text


def review_timers(api: Api, now: str) -> None:
    act(api, "review", "/admin/timers", token="ADMIN_TOKEN", now=now)


def worklist_item(api: Api, case_id: UUID) -> dict[str, Any] | None:
    cursor = None
    while True:
        params: dict[str, Any] = {"scope": "all", "limit": 200, **({"cursor": cursor} if cursor else {})}
        body = api.call("intake", "GET", "/cases", params=params).json()
        for item in body["items"]:
            if item["case_id"] == str(case_id):
                return dict(item)
        cursor = body["next_cursor"]
        if cursor is None:
            return None


def states(api: Api, db: Any, case_id: UUID) -> tuple[str | None, str | None, str | None]:
    item = worklist_item(api, case_id)
    view = api.call("review", "GET", f"/cases/{case_id}", token=FUSCC)
    sla = view.json()["sla"] if view.status_code == 200 else None
    row = db.execute("SELECT state FROM analytics.sla_cases WHERE case_id = %s", (case_id,)).fetchone()
    return (item["sla_state"] if item else None, sla["state"] if sla else None, row["state"] if row else None)


def agreeing(api: Api, db: Any, case_id: UUID, want: str) -> None:
    last: dict[str, Any] = {}

    def agreed() -> bool:
        last["states"] = states(api, db, case_id)
        return last["states"] == (want, want, want)

    try:
        wait_for(agreed, timeout=AFTER_RESTART, what=f"{case_id} {want} in all three")
    except AssertionError:
        raise AssertionError(f"worklist, review, analytics say {last['states']}, not {want}") from None


def on_track_or_unknown(accepted_on: datetime) -> str:
    """What a clock started now says: on track, unless its 10th day falls in a year the calendar lacks."""
    try:
        load_calendar().add_business_days(centre_date(accepted_on), 10)
    except CalendarUnknown:
        return "calendar_unknown"
    return "on_track"


def test_the_worklist_review_and_analytics_agree_on_every_clock(api: Api, db: Any, stack: Stack, db_url: str):
    # Accepted Monday 21 Dec 2026: day 7 is 30 Dec, day 10 in 2027, a year the seed calendar lacks.
    # At risk when day 8 (31 Dec) ends; the worklist used to say at_risk and sort it last.
    new_year = accepted(api, "2026-12-21T10:00:00+08:00")
    review_timers(api, "2027-01-01T00:00:01+08:00")
    kinds = [r["event_type"] for r in db.execute(
        "SELECT event_type FROM review.events WHERE case_id = %s ORDER BY version", (new_year,))]
    assert kinds == ["ReviewAccepted", "SlaClockBlocked", "SlaAtRisk"]

    withdrawn = accepted(api, "2026-06-01T09:00:00+08:00")
    act(api, "intake", f"/cases/{withdrawn}/withdrawal", token="COORDINATOR_TOKEN", reason="patient_request",
        occurred_at="2026-06-03T09:00:00+08:00")
    on_time = accepted(api, "2026-06-01T09:00:00+08:00")
    deliver(api, on_time, "2026-06-05T09:00:00+08:00")
    late = accepted(api, "2026-03-02T09:00:00+08:00")
    breached = accepted(api, "2026-04-01T09:00:00+08:00")
    review_timers(api, "2026-04-30T00:00:00+08:00")
    deliver(api, late, "2026-04-30T09:00:00+08:00")
    paused = accepted(api, "2026-06-01T09:00:00+08:00")
    act(api, "review", f"/cases/{paused}/information-requests", topics=["additional_imaging"],
        occurred_at="2026-06-02T09:00:00+08:00")
    running = accepted(api, None)  # today, on the server's clock
    not_started = routed(api)

    for case_id, want in ((new_year, "calendar_unknown"), (withdrawn, "stopped"), (on_time, "delivered_on_time"),
                          (late, "delivered_late"), (breached, "breached"), (paused, "paused"),
                          (running, on_track_or_unknown(datetime.now().astimezone()))):
        agreeing(api, db, case_id, want)
    assert states(api, db, not_started) == ("not_started", None, None)

    # The 2027 clock's limit is unknown, but its target (day 7, 30 December) is a known day: that
    # is its deadline, and it sorts among the others by it (it sorted last with no date before).
    everything: list[dict[str, Any]] = []
    cursor = None
    while True:
        body = api.call("intake", "GET", "/cases", params={"limit": 200, **({"cursor": cursor} if cursor else {})})
        everything += body.json()["items"]
        if (cursor := body.json()["next_cursor"]) is None:
            break
    item = next(i for i in everything if i["case_id"] == str(new_year))
    assert (item["deadline"], item["target_due"], item["limit_due"]) == ("2026-12-30", "2026-12-30", None)
    dated = [i["deadline"] for i in everything if i["deadline"] is not None]
    assert dated == sorted(dated)


def test_a_withdrawal_after_an_acceptance_review_had_not_published_yet_stops_the_clock_everywhere(
        api: Api, db: Any, stack: Stack, db_url: str):
    case_id = routed(api, day_before("2026-06-01T09:00:00+08:00"))
    with worker_stopped(stack, db_url, "review"):
        # The acceptance waits in review's store while intake records the withdrawal two days later.
        act(api, "review", f"/cases/{case_id}/acceptance", occurred_at="2026-06-01T09:00:00+08:00")
        act(api, "intake", f"/cases/{case_id}/withdrawal", token="COORDINATOR_TOKEN", reason="patient_request",
            occurred_at="2026-06-03T09:00:00+08:00")
        wait_for(lambda: (i := worklist_item(api, case_id)) and i["status"] == "withdrawn", what="the withdrawal")
    agreeing(api, db, case_id, "stopped")
    item = worklist_item(api, case_id)
    assert item is not None and (item["waiting_on"], item["deadline"]) == ("nobody", None)


def test_a_withdrawal_reaching_review_before_its_acceptance_is_published_changes_nothing(
        api: Api, db: Any, stack: Stack, db_url: str):
    # The other way round: intake's worker stopped, so the worklist hears of review's clock first.
    case_id = routed(api, day_before("2026-06-01T09:00:00+08:00"))
    with worker_stopped(stack, db_url, "intake"):
        act(api, "review", f"/cases/{case_id}/acceptance", occurred_at="2026-06-01T09:00:00+08:00")
        act(api, "intake", f"/cases/{case_id}/withdrawal", token="COORDINATOR_TOKEN", reason="patient_request",
            occurred_at="2026-06-03T09:00:00+08:00")
        wait_for(lambda: db.execute("SELECT 1 FROM analytics.sla_cases WHERE case_id = %s", (case_id,)).fetchone(),
                 what="analytics to hear of the acceptance")
    agreeing(api, db, case_id, "stopped")

