"""Optimistic concurrency on (stream, version), against the real PostgreSQL."""

import threading
from typing import Any
from uuid import uuid4

import psycopg
import pytest
from psycopg.rows import dict_row
from psycopg.sql import Composable

from events.contract import RecordsCompleted
from events.db import ConcurrencyConflict, open_pool
from events.migrations import EVENT_STORE_MIGRATIONS, migrate
from events.registry import build_registry
from events.store import EventStore, Pending, utc_now
from infra.stack import Stack
from services.common.actor import Actor, acting_as
from services.common.object_store import S3Objects
from services.common.settings import ObjectStoreSettings
from services.intake import application
from services.intake.bootstrap import bootstrap
from services.intake.settings import IntakeSettings
from tests.integration.conftest import Api, open_case, upload


@pytest.fixture(scope="module")
def store(db_url: str):
    pool = open_pool(db_url, max_size=4, name="test-store")
    schema = f"test_store_{uuid4().hex[:8]}"
    migrate(pool, schema, EVENT_STORE_MIGRATIONS)
    assert migrate(pool, schema, EVENT_STORE_MIGRATIONS) == []  # idempotent at every start
    yield pool, EventStore(schema, "test", build_registry())
    with pool.connection() as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")
    pool.close()


def test_two_writers_that_read_the_same_version_cannot_both_append(store):
    pool, es = store
    stream, case_id = f"case-{uuid4()}", uuid4()
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def writer() -> None:
        try:
            with pool.connection() as conn, conn.transaction():
                version = es.version(conn, stream)
                barrier.wait()
                es.append(conn, stream_id=stream, case_id=case_id, expected_version=version,
                          events=[Pending(RecordsCompleted(record_count=1), utc_now())])
            outcomes.append("appended")
        except ConcurrencyConflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=writer) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["appended", "conflict"]
    with pool.connection() as conn:
        assert es.version(conn, stream) == 1
        outbox = conn.execute(f"SELECT count(*) AS n FROM {es.schema}.outbox").fetchone()
        assert outbox["n"] == 1  # the loser's outbox row went with its transaction


def test_a_stale_expected_version_is_rejected(store):
    pool, es = store
    stream, case_id = f"case-{uuid4()}", uuid4()
    with pool.connection() as conn:
        es.append(conn, stream_id=stream, case_id=case_id, expected_version=0,
                  events=[Pending(RecordsCompleted(record_count=1), utc_now())])
        with pytest.raises(ConcurrencyConflict):
            es.append(conn, stream_id=stream, case_id=case_id, expected_version=0,
                      events=[Pending(RecordsCompleted(record_count=2), utc_now())])
        assert [d.event for d in es.load(conn, stream)] == [RecordsCompleted(record_count=1)]


def test_one_append_stores_its_events_and_queues_their_messages_in_version_order(store):
    pool, es = store
    stream, case_id = f"case-{uuid4()}", uuid4()
    events = [Pending(RecordsCompleted(record_count=n), utc_now()) for n in (1, 2, 3)]
    with pool.connection() as conn:
        appended = es.append(conn, stream_id=stream, case_id=case_id, expected_version=0, events=events)
        rows = conn.execute(f"SELECT event_id, message_key, message FROM {es.schema}.outbox "
                            "WHERE event_id = ANY(%s) ORDER BY id", ([e.event_id for e in appended],)).fetchall()
        assert [d.event for d in es.load(conn, stream)] == [p.event for p in events]
    # The relay publishes a case in outbox order, so the ids follow the versions; each message is
    # the envelope that was stored, keyed by the case.
    decoded = [es.registry.decode(bytes(r["message"])) for r in rows]
    assert [d.envelope.stream_version for d in decoded] == [1, 2, 3]
    assert [d.envelope for d in decoded] == appended
    assert {bytes(r["message_key"]) for r in rows} == {str(case_id).encode()}


def test_a_pooled_append_wakes_the_relay_only_after_its_transaction_committed(store):
    pool, _ = store
    # A schema of its own: the other tests' appends wake their channel a few milliseconds late.
    es = EventStore(f"test_wake_{uuid4().hex[:8]}", "test", build_registry())
    migrate(pool, es.schema, EVENT_STORE_MIGRATIONS)
    channel = f"outbox_{es.schema}"
    stream, case_id = f"case-{uuid4()}", uuid4()
    with psycopg.connect(pool.conninfo, autocommit=True) as listener:
        listener.execute(f'LISTEN "{channel}"')
        with pool.connection() as conn, conn.transaction():
            es.append(conn, stream_id=stream, case_id=case_id, expected_version=0,
                      events=[Pending(RecordsCompleted(record_count=1), utc_now())])
            # Inside the open transaction nothing is signalled: the row is not visible yet.
            assert list(listener.notifies(timeout=0.5, stop_after=1)) == []
        woken = list(listener.notifies(timeout=5, stop_after=1))
    with pool.connection() as conn:
        conn.execute(f"DROP SCHEMA {es.schema} CASCADE")
    assert [n.channel for n in woken] == [channel]


def test_a_stale_if_match_over_http_is_409_and_changes_nothing(api: Api):
    case_id = open_case(api)
    version = int(api.call("intake", "GET", f"/cases/{case_id}").headers["ETag"])
    first = upload(api, case_id, "imaging", headers={"If-Match": str(version)})
    assert first.status_code == 201 and first.headers["ETag"] == str(version + 1)
    stale = upload(api, case_id, "imaging", headers={"If-Match": str(version)})
    assert stale.status_code == 409
    assert stale.json()["code"] == "version_conflict"
    assert api.call("intake", "GET", f"/cases/{case_id}").json()["version"] == version + 1


class _CountingCursor(psycopg.Cursor[Any]):
    """Keeps the text of every statement the connection runs."""

    seen: list[str] = []

    def execute(self, query: Any, params: Any = None, **kw: Any) -> Any:
        _CountingCursor.seen.append(query.as_string(self.connection) if isinstance(query, Composable)
                                    else query.decode() if isinstance(query, bytes) else str(query))
        return super().execute(query, params, **kw)


def test_one_intake_command_reads_its_stream_once_on_the_real_database(api: Api, stack: Stack, db_url: str):
    case_id = open_case(api)
    # The runtime the intake API runs on, from its composition root and the stack's settings.
    rt = bootstrap(IntakeSettings.model_validate(stack.service_env("intake")),
                   objects=S3Objects(ObjectStoreSettings.model_validate(stack.s3_env())))
    try:
        with psycopg.connect(db_url, autocommit=True, row_factory=dict_row, cursor_factory=_CountingCursor) as conn:
            _CountingCursor.seen = []
            # Outside a request, as a coordinator: the kernel records every event's actor.
            with conn.transaction(), acting_as(Actor("0c6f3f7e-2b1d-4a59-9d1e-6c2a1f0b3e44", "coordinator")):
                done = application.request_records(rt, conn, case_id, utc_now(), None)
    finally:
        rt.close()
    stream_reads = [q for q in _CountingCursor.seen if 'FROM "intake".events WHERE stream_id' in q]
    assert len(stream_reads) == 1, _CountingCursor.seen
    # Read models: the case row, the delivery and the case's life (locked); then the event with its
    # outbox row (one statement), the notify (a connection of its own, so inside the transaction),
    # and the life with its answers, saved.
    assert len(_CountingCursor.seen) == 7, _CountingCursor.seen
    assert done.version == 3 and application.view(done.state)["checklist"]["open_request"] is not None
