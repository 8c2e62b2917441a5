"""The acceptance deadline over the real stack: a silent centre loses the case, an acceptance dated
before the deadline wins even when it reaches routing late, and the coordinator re-routes a case not
yet accepted. And routing's final decline ends the case at intake, whichever service told it first."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from infra.stack import Stack
from services.common.calendar import end_of_centre_day
from tests.integration.conftest import AFTER_RESTART, Api, make_ready, open_case, wait_for, worker_stopped

GASTRIC_CENTRES = ["pkuch", "fuscc", "sysucc"]


def token(centre: str) -> str:
    return f"CENTRE_{centre.upper()}_TOKEN"




def decisions(api: Api, case_id: UUID, count: int = 1) -> list[dict[str, Any]]:
    return wait_for(lambda: (r := api.call("routing", "GET", f"/cases/{case_id}/routing")).status_code == 200
                    and len(r.json()["decisions"]) >= count and r.json()["decisions"], timeout=AFTER_RESTART,
                    what=f"{count} routing decisions")


def at_centre(api: Api, case_id: UUID, centre: str) -> dict[str, Any]:
    return wait_for(lambda: (r := api.call("review", "GET", f"/cases/{case_id}", token=token(centre)))
                    .status_code == 200 and r.json(), timeout=AFTER_RESTART, what=f"the case at {centre}")


def routed_gastric(api: Api) -> tuple[UUID, dict[str, Any]]:
    case_id = open_case(api, tumour_site="gastric")
    make_ready(api, case_id, GASTRIC_CENTRES)
    [routed] = decisions(api, case_id)
    assert routed["event_type"] == "CaseRouted" and routed["accept_by"] is not None
    at_centre(api, case_id, routed["centre_id"])
    return case_id, routed


def lapse_moment(routed: dict[str, Any]) -> datetime:
    return end_of_centre_day(date.fromisoformat(routed["accept_by"]))


def routing_timers(api: Api, now: datetime) -> int:
    r = api.call("routing", "POST", "/admin/timers", token="ADMIN_TOKEN", json={"now": now.isoformat()})
    assert r.status_code == 200, r.text
    return int(r.json()["appended"])


def test_a_centre_that_does_not_answer_by_its_deadline_loses_the_case_to_the_next(api: Api, db: Any):
    case_id, routed = routed_gastric(api)
    first = routed["centre_id"]
    routing_timers(api, lapse_moment(routed) - timedelta(minutes=1))
    assert len(decisions(api, case_id)) == 1  # not yet
    routing_timers(api, lapse_moment(routed) + timedelta(minutes=1))
    withdrawn, rerouted = decisions(api, case_id, 3)[1:3]
    assert (withdrawn["event_type"], withdrawn["centre_id"], withdrawn["reason"]) == \
        ("AssignmentWithdrawn", first, "no_answer")
    assert rerouted["event_type"] == "CaseRouted" and rerouted["centre_id"] != first
    assert "rerouted_after_no_answer" in rerouted["reason_codes"] and rerouted["attempt"] == 2
    declined = db.execute("SELECT envelope->'payload'->>'reason' AS reason, occurred_at FROM review.events "
                          "WHERE case_id = %s AND event_type = 'CaseDeclined'", (case_id,)).fetchone()
    assert (declined["reason"], declined["occurred_at"]) == ("no_answer", lapse_moment(routed))
    at_centre(api, case_id, rerouted["centre_id"])
    late = api.call("review", "POST", f"/cases/{case_id}/acceptance", token=token(first), json={})
    assert late.status_code in (404, 409) and late.headers["content-type"] == "application/problem+json"
    # The worklist shows the next centre's own deadline to accept.
    item = wait_for(lambda: next((i for i in api.call("intake", "GET", "/cases", params={"limit": 200}).json()["items"]
                                  if i["case_id"] == str(case_id) and i["centre_id"] == rerouted["centre_id"]), None),
                    what="the worklist at the next centre")
    assert item["accept_by"] == rerouted["accept_by"] and item["deadline"] == rerouted["accept_by"]
    # A centre may not claim the system's reason for itself.
    r = api.call("review", "POST", f"/cases/{case_id}/decline", token=token(rerouted["centre_id"]),
                 json={"reason": "no_answer"})
    assert r.status_code == 422 and "reason" in r.text


def test_an_acceptance_dated_before_the_deadline_wins_though_routing_hears_of_it_after(api: Api, db: Any,
                                                                                      stack: Stack, db_url: str):
    case_id, routed = routed_gastric(api)
    centre = routed["centre_id"]
    with worker_stopped(stack, db_url, "review"):
        # The centre accepts a minute before its deadline; review's relay holds the acceptance back.
        r = api.call("review", "POST", f"/cases/{case_id}/acceptance", token=token(centre),
                     json={"occurred_at": (lapse_moment(routed) - timedelta(minutes=1)).isoformat()})
        assert r.status_code == 200, r.text
        assert routing_timers(api, lapse_moment(routed) + timedelta(hours=1)) >= 1
        assert decisions(api, case_id, 2)[1]["event_type"] == "AssignmentWithdrawn"
    # Routing learns of the acceptance only now: it wins; no decline, no re-route.
    wait_for(lambda: api.call("routing", "POST", f"/queue/{case_id}/assignment",
                              json={"centre_id": next(c for c in GASTRIC_CENTRES if c != centre)}).json()
             .get("code") == "already_accepted", timeout=AFTER_RESTART, what="routing to know of the acceptance")
    routing_timers(api, lapse_moment(routed) + timedelta(days=30))  # accepted: never withdrawn again
    assert [d["event_type"] for d in decisions(api, case_id)] == ["CaseRouted", "AssignmentWithdrawn"]
    assert db.execute("SELECT count(*) AS n FROM review.events WHERE case_id = %s AND event_type = 'CaseDeclined'",
                      (case_id,)).fetchone()["n"] == 0
    assert at_centre(api, case_id, centre)["state"] == "accepted"


def test_the_coordinator_reroutes_a_case_its_centre_has_not_accepted(api: Api):
    case_id, routed = routed_gastric(api)
    first = routed["centre_id"]
    pick = next(c for c in GASTRIC_CENTRES if c != first)
    r = api.call("routing", "POST", f"/queue/{case_id}/assignment", json={"centre_id": pick})
    assert r.status_code == 202, r.text
    moved = decisions(api, case_id, 3)[2]
    assert (moved["event_type"], moved["centre_id"], moved["reason_codes"]) == \
        ("CaseRouted", pick, ["coordinator_assignment"])
    at_centre(api, case_id, pick)
    assert api.call("review", "GET", f"/cases/{case_id}", token=token(first)).status_code == 404
    api.call("review", "POST", f"/cases/{case_id}/acceptance", token=token(pick), json={})
    refused = wait_for(lambda: (r := api.call("routing", "POST", f"/queue/{case_id}/assignment",
                                              json={"centre_id": first})).json().get("code") == "already_accepted"
                       and r, what="the accepted case refused")
    assert refused.status_code == 409 and refused.headers["content-type"] == "application/problem+json"


def intake_case(api: Api, case_id: UUID) -> dict[str, Any]:
    return dict(api.call("intake", "GET", f"/cases/{case_id}").json())


def test_the_final_decline_ends_the_case_at_intake_and_a_later_cancellation_is_refused(api: Api, db: Any):
    # Breast, but the patient consented to WCH (a lung centre) only: the coordinator queue.
    case_id = open_case(api, tumour_site="breast")
    make_ready(api, case_id, ["wch"])
    assert decisions(api, case_id)[0]["event_type"] == "CaseRoutingBlocked"
    assert api.call("routing", "POST", f"/queue/{case_id}/final-decline", json={}).status_code == 200
    wait_for(lambda: intake_case(api, case_id)["status"] == "declined_by_all_centres", what="intake to end the case")
    assert intake_case(api, case_id)["ending"] == "CaseFinallyDeclined"
    r = api.call("intake", "POST", f"/cases/{case_id}/cancellation", json={"reason": "patient_request"})
    assert (r.status_code, r.json()["code"]) == (409, "case_declined_by_all_centres")
    assert r.headers["content-type"] == "application/problem+json"
    item = next(i for i in api.call("intake", "GET", "/cases", params={"status": "declined_by_all_centres",
                                                                       "limit": 200}).json()["items"]
                if i["case_id"] == str(case_id))
    assert (item["waiting_on"], item["deadline"]) == ("nobody", None)


def test_a_final_decline_dated_before_a_cancellation_intake_accepted_first_is_the_ending(api: Api, db: Any,
                                                                                        stack: Stack, db_url: str):
    case_id = open_case(api, tumour_site="breast")
    make_ready(api, case_id, ["wch"])
    decisions(api, case_id)
    now = datetime.now().astimezone()
    with worker_stopped(stack, db_url, "routing"):
        # Routing's relay holds the final decline back; intake, not knowing, accepts a cancellation.
        r = api.call("routing", "POST", f"/queue/{case_id}/final-decline",
                     json={"occurred_at": (now + timedelta(hours=1)).isoformat()})
        assert r.status_code == 200, r.text
        r = api.call("intake", "POST", f"/cases/{case_id}/cancellation",
                     json={"reason": "patient_request", "occurred_at": (now + timedelta(hours=2)).isoformat()})
        assert r.status_code == 200, r.text
    # The first ending in event time stands at intake and in analytics, whichever arrived first.
    wait_for(lambda: intake_case(api, case_id)["status"] == "declined_by_all_centres", timeout=AFTER_RESTART,
             what="intake to take routing's earlier ending")
    row = wait_for(lambda: db.execute("SELECT ending, stage FROM analytics.case_funnel WHERE case_id = %s AND "
                                      "ending = 'declined_by_all_centres'", (case_id,)).fetchone(),
                   timeout=AFTER_RESTART, what="analytics to take the earlier ending")
    assert row["stage"] == "ended_declined_by_all_centres"
