"""Reactions decided a batch at a time, on the real stack: a failing case in a backlog is set aside
and dead-lettered, every other case of the backlog is decided exactly once."""

from __future__ import annotations

from uuid import UUID

import psycopg
import pytest
from kafka import KafkaProducer

from events.contract import Envelope, RecordsCompleted
from infra.stack import Stack
from tests.integration.conftest import Api, forget_synthetic_events, make_ready, open_case, wait_for, worker_stopped
from tests.integration.test_delivery import dead_letters, send, synthetic


@pytest.fixture(scope="module", autouse=True)
def _forget_synthetic_events_afterwards(db_url: str):
    yield
    with psycopg.connect(db_url, autocommit=True) as conn:
        forget_synthetic_events(conn)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def producer(env: dict[str, str]):
    p = KafkaProducer(bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"], acks="all")
    yield p
    p.close()


def routed(db, case_id: UUID) -> int:
    return int(db.execute("SELECT count(*) AS n FROM routing.events WHERE case_id = %s AND event_type = 'CaseRouted'",
                          (case_id,)).fetchone()["n"])


def test_a_backlog_with_failing_cases_routes_every_other_case_once_and_dead_letters_the_bad(
        stack: Stack, api: Api, db, db_url: str, producer: KafkaProducer, env: dict[str, str]):
    first = [open_case(api) for _ in range(4)]
    second = [open_case(api) for _ in range(4)]
    orphans: list[Envelope] = []
    # Routing is down while the backlog builds: it comes back to batches that hold good cases on
    # both sides of the orphans (each orphan keyed like a good case, so in its partition).
    with worker_stopped(stack, db_url, "routing"):
        for case_id in first:
            make_ready(api, case_id)
        for case_id in first:
            orphan = synthetic(RecordsCompleted(record_count=1))  # a case routing never saw opened
            send(producer, case_id, orphan.model_dump_json().encode())
            orphans.append(orphan)
        for case_id in second:
            make_ready(api, case_id)
    for case_id in first + second:
        wait_for(lambda c=case_id: routed(db, c) or None, timeout=120, what=f"the routing of {case_id}")  # type: ignore[misc]

    def parked() -> set[UUID] | None:
        found = {Envelope.model_validate_json(m["value"]).event_id for m in dead_letters(env)
                 if m.get("dlq.consumer") == "routing.router" and m["dlq.reason"] == "handler_failed"}
        wanted = {o.event_id for o in orphans}
        return wanted if wanted <= found else None

    wait_for(parked, timeout=120, what="every orphan in the dead letters")
    assert [routed(db, c) for c in first + second] == [1] * 8
    # The orphans are not marked processed (they were not applied); every good case's facts are.
    marked = db.execute("SELECT count(*) AS n FROM routing.processed_events WHERE consumer = 'router' "
                        "AND event_id = ANY(%s)", ([o.event_id for o in orphans],)).fetchone()["n"]
    assert marked == 0
    outbox = db.execute("SELECT count(*) AS n FROM routing.outbox o JOIN routing.events e USING (event_id) "
                        "WHERE e.case_id = ANY(%s) AND e.event_type = 'CaseRouted'", (first + second,)).fetchone()
    assert outbox["n"] == 8  # one outbox row per decision: the bulk append wrote both together
