"""The coordinators' worklist on the real stack: filters, whose move it is, nearest deadline first, cursors."""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

from tests.integration.conftest import (
    DELIVERY,
    Api,
    dated,
    day_before,
    make_ready,
    open_case,
    upload,
    uploaded_report,
    wait_for,
)

FUSCC = "CENTRE_FUSCC_TOKEN"


# The histories of the cases a test dates: opened and routed the day before its first dated answer.
JUNE = day_before("2026-06-01T09:00:00+08:00")


def at_fuscc(api: Api, routed_at: str | None = None) -> UUID:
    """A case routed to FUSCC at `routed_at` (the server's clock without one)."""
    case_id = open_case(api, **dated({"preferred_centre": "fuscc"}, routed_at))
    make_ready(api, case_id, ["fuscc"], routed_at)
    wait_for(lambda: api.call("review", "GET", f"/cases/{case_id}", token=FUSCC).status_code == 200,
             what="the assignment at FUSCC")
    return case_id


def everything(api: Api, limit: int, **filters: str) -> list[dict[str, Any]]:
    """Every page of the list, following the cursors."""
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(10_000):
        params: dict[str, Any] = {**filters, "limit": limit, **({"cursor": cursor} if cursor else {})}
        r = api.call("intake", "GET", "/cases", params=params)
        assert r.status_code == 200, r.text
        items += r.json()["items"]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("the cursors never ended")


def listed(api: Api, case_id: UUID, **filters: str) -> dict[str, Any] | None:
    return next((i for i in everything(api, 200, **filters) if i["case_id"] == str(case_id)), None)


def routing_of(api: Api, case_id: UUID) -> list[dict[str, Any]]:
    r = api.call("routing", "GET", f"/cases/{case_id}/routing")
    assert r.status_code == 200, r.text
    return list(r.json()["decisions"])


def test_each_case_shows_whose_move_it_is_and_its_deadline(api: Api):
    collecting = open_case(api)
    waiting_centre = at_fuscc(api)
    accepted = at_fuscc(api, JUNE)
    api.call("review", "POST", f"/cases/{accepted}/acceptance", token=FUSCC,
             json={"occurred_at": "2026-06-01T09:00:00+08:00"})
    asking = at_fuscc(api, JUNE)
    api.call("review", "POST", f"/cases/{asking}/acceptance", token=FUSCC,
             json={"occurred_at": "2026-06-01T09:00:00+08:00"})
    api.call("review", "POST", f"/cases/{asking}/information-requests", token=FUSCC,
             json={"topics": ["additional_imaging"], "occurred_at": "2026-06-02T09:00:00+08:00"})
    followed = at_fuscc(api, JUNE)
    api.call("review", "POST", f"/cases/{followed}/acceptance", token=FUSCC,
             json={"occurred_at": "2026-06-01T09:00:00+08:00"})
    api.call("review", "POST", f"/cases/{followed}/delivery", token=FUSCC,
             json={**DELIVERY,
                   "report_ref": uploaded_report(api, followed, FUSCC, occurred_at="2026-06-05T08:00:00+08:00"),
                   "occurred_at": "2026-06-05T09:00:00+08:00"})
    r = api.call("review", "POST", f"/cases/{followed}/follow-ups",
                 json={"question": "Would radiotherapy first change the plan?",
                       "occurred_at": "2026-06-05T10:00:00+08:00"})
    assert r.status_code == 201, r.text

    # Routed, not accepted yet: the centre's deadline to accept is the case's deadline.
    accept_by = routing_of(api, waiting_centre)[-1]["accept_by"]
    assert accept_by is not None
    expected = {
        collecting: ("collecting_records", "patient", "not_started", None),
        waiting_centre: ("ready_for_review", "centre", "not_started", accept_by),
        # Accepted Monday 1 June 2026: day 10 is Monday 15 June.
        accepted: ("ready_for_review", "centre", "on_track", "2026-06-15"),
        asking: ("ready_for_review", "patient", "paused", None),
        # Friday 5 June: three business days to Wednesday 10 June.
        followed: ("review_delivered", "centre", "delivered_on_time", "2026-06-10"),
    }
    def shown_as(case_id: UUID, want: tuple[str, str, str, str | None]) -> dict[str, Any] | None:
        # The consumers catch up in their own time: wait for the whole expected row.
        item = listed(api, case_id)
        return item if item and (item["status"], item["waiting_on"], item["sla_state"], item["deadline"]) == want \
            else None

    for case_id, want in expected.items():
        wait_for(functools.partial(shown_as, case_id, want), what=f"{case_id} in the worklist as {want}")
    # Once delivered with no follow-up open, the move is the patient's decision.
    api.call("review", "POST", f"/cases/{accepted}/delivery", token=FUSCC,
             json={**DELIVERY,
                   "report_ref": uploaded_report(api, accepted, FUSCC, occurred_at="2026-06-03T08:00:00+08:00"),
                   "occurred_at": "2026-06-03T09:00:00+08:00"})
    wait_for(lambda: (i := listed(api, accepted)) and i["waiting_on"] == "patient" and i["deadline"] is None,
             what="the delivered case waiting on the patient")


def test_filters_combine_and_the_cursor_walks_every_case_once_nearest_deadline_first(api: Api):
    case_id = at_fuscc(api, day_before("2026-07-01T09:00:00+08:00"))
    api.call("review", "POST", f"/cases/{case_id}/acceptance", token=FUSCC,
             json={"occurred_at": "2026-07-01T09:00:00+08:00"})
    wait_for(lambda: (i := listed(api, case_id)) and i["sla_state"] == "on_track", what="the running clock")
    whole = everything(api, 200)
    paged = everything(api, 3)
    assert [i["case_id"] for i in paged] == [i["case_id"] for i in whole]
    assert len({i["case_id"] for i in whole}) == len(whole)
    # Nearest deadline first; a running clock whose dates the calendar cannot tell before all, none last.
    keys = [date.fromisoformat(i["deadline"]) if i["deadline"] else date.min if i["sla_state"] == "calendar_unknown"
            and i["status"] == "ready_for_review" else date.max for i in whole]
    assert keys == sorted(keys)
    mine = everything(api, 2, centre="fuscc", waiting_on="centre", sla_state="on_track")
    assert str(case_id) in {i["case_id"] for i in mine}
    assert all((i["centre_id"], i["waiting_on"], i["sla_state"]) == ("fuscc", "centre", "on_track") for i in mine)
    assert all(i["status"] == "collecting_records" for i in everything(api, 50, status="collecting_records"))


def test_bad_filters_and_cursors_are_refused_and_centres_have_no_worklist(api: Api):
    for params, field in (({"status": "bogus"}, "status"), ({"waiting_on": "pharmacy"}, "waiting_on"),
                          ({"cursor": "bm90LWEtY3Vyc29y"}, "cursor"), ({"limit": 0}, "limit"),
                          ({"limit": 201}, "limit"), ({"cursor": "not a cursor!"}, "cursor")):
        r = api.call("intake", "GET", "/cases", params=params)
        assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json", (params, r.text)
        assert field in r.text, (params, r.text)
    assert api.call("intake", "GET", "/cases", token=FUSCC).status_code == 403


def test_a_records_request_answered_by_an_upload_resumes_the_clock_in_the_worklist(api: Api):
    case_id = at_fuscc(api, JUNE)
    api.call("review", "POST", f"/cases/{case_id}/acceptance", token=FUSCC,
             json={"occurred_at": "2026-06-01T09:00:00+08:00"})
    api.call("review", "POST", f"/cases/{case_id}/information-requests", token=FUSCC,
             json={"topics": ["additional_imaging"], "occurred_at": "2026-06-02T09:00:00+08:00"})
    wait_for(lambda: (i := listed(api, case_id)) and i["waiting_on"] == "patient", what="waiting on the patient")
    assert upload(api, case_id, "imaging").status_code == 201
    item = wait_for(lambda: (i := listed(api, case_id)) and i["sla_state"] == "on_track" and i,
                    what="the clock to resume in the worklist")
    assert item["waiting_on"] == "centre" and item["deadline"] is not None


def accepted_at_fuscc(api: Api, when: str) -> UUID:
    case_id = at_fuscc(api, day_before(when))
    r = api.call("review", "POST", f"/cases/{case_id}/acceptance", token=FUSCC, json={"occurred_at": when})
    assert r.status_code == 200, r.text
    return case_id


def test_ended_cases_are_listed_only_when_asked_for_and_a_clock_they_stopped_says_stopped(api: Api):
    case_id = accepted_at_fuscc(api, "2026-06-01T09:00:00+08:00")
    wait_for(lambda: (i := listed(api, case_id)) and i["sla_state"] == "on_track", what="the running clock")
    r = api.call("intake", "POST", f"/cases/{case_id}/withdrawal",
                 json={"reason": "patient_request", "occurred_at": "2026-06-03T09:00:00+08:00"})
    assert r.status_code == 200, r.text
    item = wait_for(lambda: listed(api, case_id, scope="ended"), what="the withdrawn case among the ended ones")
    assert (item["status"], item["sla_state"], item["waiting_on"], item["deadline"]) == \
        ("withdrawn", "stopped", "nobody", None)
    assert item["waiting_since"].startswith("2026-06-03T01:00:00")  # the withdrawal, in UTC
    assert listed(api, case_id) is None  # the default: open cases only
    assert listed(api, case_id, scope="all") is not None
    # A filter only ended cases match asks for them: no 422 for the state analytics also reports.
    for asked in ({"sla_state": "stopped"}, {"status": "withdrawn"}, {"waiting_on": "nobody"}):
        assert listed(api, case_id, **asked) is not None, asked
    assert listed(api, case_id, sla_state="stopped", scope="open") is None
    r = api.call("intake", "GET", "/cases", params={"scope": "closed"})
    assert r.status_code == 422 and "scope" in r.text and r.headers["content-type"] == "application/problem+json"


def test_each_item_says_the_tumour_site_the_centre_and_how_long_it_has_waited_on_whom(api: Api, db: Any):
    case_id = at_fuscc(api, JUNE)
    routed_at = db.execute("SELECT occurred_at FROM routing.events WHERE case_id = %s AND event_type = 'CaseRouted'",
                           (case_id,)).fetchone()["occurred_at"]
    assert routed_at == datetime.fromisoformat(JUNE)  # routing dates its decision by the fact that made it
    item = wait_for(lambda: (i := listed(api, case_id)) and i["centre_id"] and i, what="the routed case")
    assert (item["tumour_site"], item["centre_id"], item["centre_name"]) == \
        ("breast", "fuscc", "Fudan University Shanghai Cancer Centre")
    assert (item["waiting_on"], item["accept_by"]) == ("centre", routing_of(api, case_id)[-1]["accept_by"])
    assert datetime.fromisoformat(item["waiting_since"]) == routed_at
    # Waited from its routing to the server's now (the wall clock, well after the simulated June).
    waited = (datetime.now(UTC) - routed_at).total_seconds() / 86400
    assert abs(float(item["waited_days"]) - waited) < 1
    api.call("review", "POST", f"/cases/{case_id}/acceptance", token=FUSCC,
             json={"occurred_at": "2026-06-01T09:00:00+08:00"})
    api.call("review", "POST", f"/cases/{case_id}/information-requests", token=FUSCC,
             json={"topics": ["additional_imaging"], "occurred_at": "2026-06-02T09:00:00+08:00"})
    item = wait_for(lambda: (i := listed(api, case_id)) and i["waiting_on"] == "patient" and i,
                    what="the case waiting on the patient")
    assert item["accept_by"] is None  # accepted: no deadline to accept any more
    assert item["waiting_since"].startswith("2026-06-02T01:00:00") and float(item["waited_days"]) > 100


def test_a_walk_lists_each_case_once_while_deadlines_move(api: Api):
    # The earliest limit of the list (accepted on the first Monday of 2026): on the first page.
    early = accepted_at_fuscc(api, "2026-01-05T09:00:00+08:00")
    # Accepted the next day and waiting on the patient at once: no deadline, listed last.
    later = accepted_at_fuscc(api, "2026-01-06T09:00:00+08:00")
    r = api.call("review", "POST", f"/cases/{later}/information-requests", token=FUSCC,
                 json={"topics": ["additional_imaging"], "occurred_at": "2026-01-06T09:30:00+08:00"})
    assert r.status_code == 200, r.text
    request_id = r.json()["open_information_request"]["request_id"]
    wait_for(lambda: (i := listed(api, early)) and i["deadline"] == "2026-01-19", what="the early limit")
    wait_for(lambda: (i := listed(api, later)) and i["waiting_on"] == "patient", what="the paused clock")
    first = api.call("intake", "GET", "/cases", params={"limit": 3}).json()
    seen = [i["case_id"] for i in first["items"]]
    assert str(early) in seen and str(later) not in seen and first["next_cursor"]
    # Mid-walk: the listed case's deadline goes (a pause), the unlisted one's comes back, before the cursor.
    api.call("review", "POST", f"/cases/{early}/information-requests", token=FUSCC,
             json={"topics": ["additional_imaging"], "occurred_at": "2026-01-06T09:00:00+08:00"})
    r = api.call("review", "POST", f"/cases/{later}/information-requests/{request_id}/resolution", token=FUSCC,
                 json={"occurred_at": "2026-01-06T10:00:00+08:00"})
    assert r.status_code == 200, r.text
    wait_for(lambda: (i := listed(api, early)) and i["deadline"] is None, what="the pause")
    wait_for(lambda: (i := listed(api, later)) and i["deadline"] == "2026-01-20", what="the new limit")
    cursor = first["next_cursor"]
    while cursor:
        page = api.call("intake", "GET", "/cases", params={"limit": 3, "cursor": cursor}).json()
        seen += [i["case_id"] for i in page["items"]]
        cursor = page["next_cursor"]
    assert len(seen) == len(set(seen)), "a case was listed twice"
    assert seen.count(str(early)) == 1 and seen.count(str(later)) == 1
    # A cursor continues its own walk only.
    other = api.call("intake", "GET", "/cases", params={"limit": 3, "cursor": first["next_cursor"],
                                                        "waiting_on": "centre"})
    assert other.status_code == 422 and "cursor" in other.text
