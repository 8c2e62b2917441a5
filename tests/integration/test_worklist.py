"""The coordinators' worklist on the real stack: filters, whose move it is, nearest deadline first, cursors."""

from __future__ import annotations

import functools
from datetime import date
from typing import Any
from uuid import UUID

from tests.integration.conftest import DELIVERY, Api, make_ready, open_case, upload, uploaded_report, wait_for

FUSCC = "CENTRE_FUSCC_TOKEN"


def at_fuscc(api: Api) -> UUID:
    case_id = open_case(api, preferred_centre="fuscc")
    make_ready(api, case_id, ["fuscc"])
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


def listed(api: Api, case_id: UUID) -> dict[str, Any] | None:
    return next((i for i in everything(api, 200) if i["case_id"] == str(case_id)), None)


def test_each_case_shows_whose_move_it_is_and_its_deadline(api: Api):
    collecting = open_case(api)
    waiting_centre = at_fuscc(api)
    accepted = at_fuscc(api)
    api.call("review", "POST", f"/cases/{accepted}/acceptance", token=FUSCC,
             json={"occurred_at": "2026-06-01T09:00:00+08:00"})
    asking = at_fuscc(api)
    api.call("review", "POST", f"/cases/{asking}/acceptance", token=FUSCC,
             json={"occurred_at": "2026-06-01T09:00:00+08:00"})
    api.call("review", "POST", f"/cases/{asking}/information-requests", token=FUSCC,
             json={"topics": ["additional_imaging"], "occurred_at": "2026-06-02T09:00:00+08:00"})
    followed = at_fuscc(api)
    api.call("review", "POST", f"/cases/{followed}/acceptance", token=FUSCC,
             json={"occurred_at": "2026-06-01T09:00:00+08:00"})
    api.call("review", "POST", f"/cases/{followed}/delivery", token=FUSCC,
             json={**DELIVERY, "report_ref": uploaded_report(api, followed, FUSCC),
                   "occurred_at": "2026-06-05T09:00:00+08:00"})
    r = api.call("review", "POST", f"/cases/{followed}/follow-ups",
                 json={"question": "Would radiotherapy first change the plan?",
                       "occurred_at": "2026-06-05T10:00:00+08:00"})
    assert r.status_code == 201, r.text

    expected = {
        collecting: ("collecting_records", "patient", "not_started", None),
        waiting_centre: ("ready_for_review", "centre", "not_started", None),
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
             json={**DELIVERY, "report_ref": uploaded_report(api, accepted, FUSCC),
                   "occurred_at": "2026-06-03T09:00:00+08:00"})
    wait_for(lambda: (i := listed(api, accepted)) and i["waiting_on"] == "patient" and i["deadline"] is None,
             what="the delivered case waiting on the patient")


def test_filters_combine_and_the_cursor_walks_every_case_once_nearest_deadline_first(api: Api):
    case_id = at_fuscc(api)
    api.call("review", "POST", f"/cases/{case_id}/acceptance", token=FUSCC,
             json={"occurred_at": "2026-07-01T09:00:00+08:00"})
    wait_for(lambda: (i := listed(api, case_id)) and i["sla_state"] == "on_track", what="the running clock")
    whole = everything(api, 200)
    paged = everything(api, 3)
    assert [i["case_id"] for i in paged] == [i["case_id"] for i in whole]
    assert len({i["case_id"] for i in whole}) == len(whole)
    keys = [date.fromisoformat(i["deadline"]) if i["deadline"] else date.max for i in whole]
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
    case_id = at_fuscc(api)
    api.call("review", "POST", f"/cases/{case_id}/acceptance", token=FUSCC,
             json={"occurred_at": "2026-06-01T09:00:00+08:00"})
    api.call("review", "POST", f"/cases/{case_id}/information-requests", token=FUSCC,
             json={"topics": ["additional_imaging"], "occurred_at": "2026-06-02T09:00:00+08:00"})
    wait_for(lambda: (i := listed(api, case_id)) and i["waiting_on"] == "patient", what="waiting on the patient")
    assert upload(api, case_id, "imaging").status_code == 201
    item = wait_for(lambda: (i := listed(api, case_id)) and i["sla_state"] == "on_track" and i,
                    what="the clock to resume in the worklist")
    assert item["waiting_on"] == "centre" and item["deadline"] is not None
