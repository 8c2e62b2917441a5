"""Optimistic concurrency on (stream, version), against the real PostgreSQL."""

import threading
from uuid import uuid4

import pytest

from events.contract import RecordsCompleted
from events.db import ConcurrencyConflict, open_pool
from events.migrations import EVENT_STORE_MIGRATIONS, migrate
from events.registry import build_registry
from events.store import EventStore, Pending, utc_now
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


def test_a_stale_if_match_over_http_is_409_and_changes_nothing(api: Api):
    case_id = open_case(api)
    version = int(api.call("intake", "GET", f"/cases/{case_id}").headers["ETag"])
    first = upload(api, case_id, "imaging", headers={"If-Match": str(version)})
    assert first.status_code == 201 and first.headers["ETag"] == str(version + 1)
    stale = upload(api, case_id, "imaging", headers={"If-Match": str(version)})
    assert stale.status_code == 409
    assert stale.json()["code"] == "version_conflict"
    assert api.call("intake", "GET", f"/cases/{case_id}").json()["version"] == version + 1
