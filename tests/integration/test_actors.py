"""Every fact says who acted: a person's opaque subject, a service, or the timer."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import psycopg

from infra.signin import Tokens, claims
from tests.integration.conftest import NEW_CASE, Api, delivered_case, open_case, wait_for, wait_until_projected

STORES = ("intake", "routing", "review", "billing")


def test_a_case_timeline_shows_which_user_of_which_centre_accepted_and_delivered_it(
        api: Api, tokens: Tokens, db: psycopg.Connection[dict[str, Any]]):
    coordinator = claims(tokens["COORDINATOR_TOKEN"])["sub"]
    reviewer = claims(tokens["CENTRE_FUSCC_TOKEN"])["sub"]
    assert coordinator != reviewer
    case_id = delivered_case(api)
    wait_until_projected(db)

    def delivered_on_timeline() -> list[dict[str, Any]] | None:
        r = api.call("analytics", "GET", f"/cases/{case_id}/timeline", token="ANALYST_TOKEN")
        rows: list[dict[str, Any]] = r.json() if r.status_code == 200 else []
        return rows if any(e["event_type"] == "ReviewDelivered" for e in rows) else None

    timeline = wait_for(delivered_on_timeline, what="the delivery on the timeline")
    by_type = {e["event_type"]: e for e in timeline}
    assert (by_type["CaseOpened"]["actor"], by_type["CaseOpened"]["actor_role"]) == (coordinator, "coordinator")
    for kind in ("ReviewAccepted", "ReviewDelivered", "ReportUploaded"):
        assert (by_type[kind]["actor"], by_type[kind]["actor_role"]) == (reviewer, "centre:fuscc"), kind
    # Reactions are the services'.
    assert (by_type["CaseRouted"]["actor"], by_type["CaseRouted"]["actor_role"]) == ("service:routing", "service")
    assert by_type["FeeInvoiced"]["actor"] == "service:billing"
    assert all(e["actor"] for e in timeline)

    # The access audit names the person who read the package, not only their centre.
    assert api.call("intake", "GET", f"/cases/{case_id}/package", token="CENTRE_FUSCC_TOKEN").status_code == 200
    reads = api.call("intake", "GET", f"/cases/{case_id}/accesses").json()
    assert reads and all((r["centre_id"], r["subject"]) == ("fuscc", reviewer) for r in reads), reads

    # Analysts see who did what, how often, per role.
    rows = db.execute("SELECT * FROM analytics.actions_by_actor WHERE actor = %s", (reviewer,)).fetchall()
    kinds = {r["event_type"]: r for r in rows}
    assert kinds["ReviewDelivered"]["actor_role"] == "centre:fuscc" and kinds["ReviewDelivered"]["kind"] == "person"
    assert kinds["ReviewDelivered"]["events"] >= 1 and kinds["ReviewDelivered"]["cases"] >= 1


def test_a_second_person_of_the_same_role_is_a_different_actor(api: Api, tokens: Tokens,
                                                               db: psycopg.Connection[dict[str, Any]]):
    key = {"Idempotency-Key": f"same-key-{uuid4()}"}
    first = api.call("intake", "POST", "/cases", token="coordinator", headers=key, json=NEW_CASE)
    second = api.call("intake", "POST", "/cases", token="coordinator2", headers=key, json=NEW_CASE)
    assert first.status_code == second.status_code == 201, (first.text, second.text)
    # The same key from two people is two acts, not a replay of the other's.
    assert "idempotent-replayed" not in second.headers and first.json()["case_id"] != second.json()["case_id"]
    actors = {str(r["case_id"]): r["actor"] for r in db.execute(
        "SELECT case_id, envelope->>'actor' AS actor FROM intake.events WHERE case_id = ANY(%s::uuid[])",
        ([first.json()["case_id"], second.json()["case_id"]],))}
    assert actors == {first.json()["case_id"]: claims(tokens["coordinator"])["sub"],
                      second.json()["case_id"]: claims(tokens["coordinator2"])["sub"]}


def test_every_stored_event_carries_its_actor_and_a_timer_acts_as_the_timer(
        api: Api, db: psycopg.Connection[dict[str, Any]]):
    delivered_case(api)
    # A dormant case gets a reminder from the timer, run here by an administrator.
    t0 = "2026-01-05T09:00:00+00:00"
    case_id = open_case(api, occurred_at=t0)
    api.call("intake", "POST", f"/cases/{case_id}/records-requests", json={"occurred_at": t0})
    run = api.call("intake", "POST", "/admin/timers", token="ADMIN_TOKEN", json={"now": "2026-01-09T10:00:00+00:00"})
    assert run.status_code == 200 and run.json()["appended"] >= 1
    reminders = db.execute("SELECT envelope->>'actor' AS actor, envelope->>'actor_role' AS role FROM intake.events "
                           "WHERE case_id = %s AND event_type = 'RecordsReminderSent'", (case_id,)).fetchall()
    assert reminders and all((r["actor"], r["role"]) == ("system:timer", "system") for r in reminders), reminders
    counts = {schema: db.execute(f"SELECT count(*) AS n, count(*) FILTER (WHERE envelope->>'actor' IS NULL) "
                                 f"AS missing FROM {schema}.events").fetchone() for schema in STORES}
    assert all(c is not None and c["n"] > 0 and c["missing"] == 0 for c in counts.values()), counts
    roles = {r["role"] for schema in STORES for r in db.execute(
        f"SELECT DISTINCT envelope->>'actor_role' AS role FROM {schema}.events")}
    assert {"coordinator", "centre:fuscc", "service", "system"} <= roles
