"""Redelivery, poison messages and failing handlers, through the real broker."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from events.contract import DLQ_TOPIC, TOPIC, Envelope, RecordsCompleted, RecordsReceived
from tests.integration.conftest import (
    Api,
    forget_synthetic_events,
    open_case,
    projected_counts,
    wait_for,
    wait_until_projected,
)


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


def synthetic(event: Any, case_id: UUID | None = None) -> Envelope:
    now = datetime.now(UTC)
    return Envelope(event_id=uuid4(), event_type=event.event_type, schema_version=event.schema_version,
                    case_id=case_id or uuid4(), stream_id="test", stream_version=1, occurred_at=now,
                    recorded_at=now, producer="test", correlation_id=uuid4(),
                    payload=event.model_dump(mode="json"))


def send(producer: KafkaProducer, key: UUID, value: bytes) -> None:
    producer.send(TOPIC, key=str(key).encode(), value=value).get(timeout=10)


def in_timeline(db, event_id: UUID) -> bool:
    return db.execute("SELECT 1 FROM analytics.case_timeline WHERE event_id = %s", (event_id,)).fetchone() is not None


def dead_letters(env: dict[str, str]) -> list[dict[str, Any]]:
    consumer = KafkaConsumer(bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"], enable_auto_commit=False)
    try:
        parts = [TopicPartition(DLQ_TOPIC, p) for p in consumer.partitions_for_topic(DLQ_TOPIC) or []]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        out = []
        for batch in consumer.poll(timeout_ms=2000, max_records=10_000).values():
            for m in batch:
                out.append({"value": m.value, **{k: v.decode() for k, v in m.headers}})
        return out
    finally:
        consumer.close()


def test_a_redelivered_event_is_applied_once(api: Api, db, producer):
    case_id = open_case(api)
    # Billing's reaction (its invoice) must exist before we take the "before" picture.
    wait_for(lambda: invoice_count(db, case_id), what="the invoice")
    wait_until_projected(db)
    before = projected_counts(db)
    row = db.execute("SELECT message FROM intake.outbox o JOIN intake.events e USING (event_id) "
                     "WHERE e.case_id = %s AND e.event_type = 'CaseOpened'", (case_id,)).fetchone()
    original = bytes(row["message"])
    for _ in range(3):
        send(producer, case_id, original)
    # A marker behind the duplicates in the same partition: once it is projected, so were they.
    marker = synthetic(RecordsReceived(record_id=uuid4(), kind="imaging"), case_id)
    send(producer, case_id, marker.model_dump_json().encode())
    wait_for(lambda: in_timeline(db, marker.event_id), what="the marker")
    assert projected_counts(db) == before
    assert invoice_count(db, case_id) == 1


def test_a_new_event_sent_twice_in_a_row_is_applied_once(db, producer):
    # Both copies are new to every consumer and usually arrive in one batch: the batch's single
    # processed-events statement must let only the first copy through.
    def applied() -> int:
        row = db.execute("SELECT coalesce(sum(events), 0)::int AS n FROM analytics.event_counts "
                         "WHERE producer = 'test' AND event_type = 'RecordsReceived'").fetchone()
        return int(row["n"])

    case_id = uuid4()
    before = applied()
    twice = synthetic(RecordsReceived(record_id=uuid4(), kind="imaging"), case_id).model_dump_json().encode()
    send(producer, case_id, twice)
    send(producer, case_id, twice)
    marker = synthetic(RecordsReceived(record_id=uuid4(), kind="imaging"), case_id)
    send(producer, case_id, marker.model_dump_json().encode())
    wait_for(lambda: in_timeline(db, marker.event_id), what="the marker")
    assert applied() - before == 2  # the event once, the marker once


def invoice_count(db, case_id: UUID) -> int:
    return int(db.execute("SELECT count(*) AS n FROM billing.events WHERE case_id = %s AND "
                          "event_type = 'FeeInvoiced'", (case_id,)).fetchone()["n"])


def test_a_poison_message_goes_to_the_dlq_and_the_next_message_is_processed(db, producer, env):
    key = uuid4()
    send(producer, key, b"\x00\xffthis is not an event")
    good = synthetic(RecordsReceived(record_id=uuid4(), kind="imaging"), key)
    send(producer, key, good.model_dump_json().encode())
    wait_for(lambda: in_timeline(db, good.event_id), what="the good message after the poison one")
    groups = {"intake.deliveries", "intake.worklist_life", "routing.router",
              "review.assignments", "billing.billing", "analytics.timeline"}

    def letters() -> dict[str, str]:
        found = {m["dlq.consumer"]: m["dlq.reason"] for m in dead_letters(env)
                 if m["value"].startswith(b"\x00\xffthis is not")}
        return found if set(found) == groups else {}
    # Every consumer group saw it and parked it, none stopped (each in its own time).
    reasons = wait_for(letters, what="a dead letter from every consumer")
    assert set(reasons.values()) == {"invalid_envelope"}


def test_a_handler_that_keeps_failing_sends_the_message_to_the_dlq(db, producer, env):
    # RecordsCompleted for a case routing never saw opened: its handler fails on every attempt.
    orphan = synthetic(RecordsCompleted(record_count=1))
    send(producer, orphan.case_id, orphan.model_dump_json().encode())
    letters = wait_for(lambda: [m for m in dead_letters(env) if m.get("dlq.consumer") == "routing.router"
                                and m["dlq.reason"] == "handler_failed"
                                and Envelope.model_validate_json(m["value"]).event_id == orphan.event_id],
                       what="the dead letter")
    assert letters[0]["dlq.reason"] == "handler_failed"
    assert "LookupError" in letters[0]["dlq.detail"]
    # The analytics projector, a separate consumer, still applied it.
    wait_for(lambda: in_timeline(db, orphan.event_id), what="the timeline row")
