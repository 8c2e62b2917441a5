"""A partition's readable span, read with fetches (events/span.py), on the real broker: after many
small batches and after the compactor merged them, where Tansu's ListOffsets was seen wrong."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from faust.types import TP
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic

from events.span import readable_spans
from infra.compactor import Compactor, CompactorSettings
from infra.stack import Stack


def list_offsets(bootstrap: str, topic: str) -> tuple[int, int]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    tp = TopicPartition(topic, 0)
    try:
        return consumer.beginning_offsets([tp])[tp], consumer.end_offsets([tp])[tp]
    finally:
        consumer.close()


LIVE: dict[str, Any] = {}


def live_recovery_bounds(bootstrap: str, topic: str) -> tuple[int, int]:
    """Where the live app's table recovery reads a changelog from and to (faust's -1 conventions undone)."""
    from services.live.app import Live
    from services.live.settings import LiveSettings

    if bootstrap not in LIVE:  # one app per process: it registers its exporter's collector
        LIVE[bootstrap] = Live(LiveSettings(KAFKA_BOOTSTRAP_SERVERS=bootstrap, app_id="test-span-live"))
    live = LIVE[bootstrap]
    tp = TP(topic, 0)

    async def ask() -> tuple[int, int]:
        earliest = await live.app.consumer.earliest_offsets(tp)
        highwaters = await live.app.consumer.highwaters(tp)
        return earliest[tp], highwaters[tp]

    return asyncio.run(ask())


def scratch_topic(bootstrap: str) -> str:
    topic = f"scratch-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(topic, 1, 1)])
    admin.close()
    return topic


def test_an_empty_partition_has_an_empty_span(env):
    bootstrap = env["KAFKA_BOOTSTRAP_SERVERS"]
    assert readable_spans(bootstrap, "test-span", scratch_topic(bootstrap), [0]) == {0: (0, 0)}


def test_the_span_is_every_record_there_is_after_small_batches_and_their_compaction(stack: Stack, env):
    bootstrap = env["KAFKA_BOOTSTRAP_SERVERS"]
    topic = scratch_topic(bootstrap)
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=20)
    for i in range(40):  # batches of four, then of one: a changelog's writes look like this
        future = producer.send(topic, key=f"k{i % 5}".encode(), value=str(i).encode(), partition=0)
        if i % 4 == 3 or i >= 32:
            future.get(timeout=10)
    producer.close()
    assert readable_spans(bootstrap, "test-span", topic, [0]) == {0: (0, 40)}
    print("ListOffsets (earliest, latest) after small batches:", list_offsets(bootstrap, topic))
    if stack.broker_storage != "s3":
        return  # the in-memory log has no objects to merge
    s3 = stack.s3_env()
    compactor = Compactor(CompactorSettings(
        S3_ENDPOINT=s3["S3_ENDPOINT"], S3_ACCESS_KEY_ID=s3["S3_ACCESS_KEY_ID"],
        S3_SECRET_ACCESS_KEY=s3["S3_SECRET_ACCESS_KEY"], S3_BROKER_BUCKET=s3["S3_BROKER_BUCKET"],
        CASE_LEDGER_COMPACTOR_SETTLE=1))
    stack.stop("broker-compactor")  # it would race this one over the same objects
    try:
        partition = f"clusters/tansu_cluster/topics/{topic}/partitions/0000000000/"
        for _ in range(2):
            time.sleep(1.2)
            compactor.compact_partition(partition)
            # Between the merge and the deletes and after them: every record, from the first to the last.
            assert readable_spans(bootstrap, "test-span", topic, [0]) == {0: (0, 40)}
            assert live_recovery_bounds(bootstrap, topic) == (0, 40)
            print("ListOffsets (earliest, latest) after a compaction pass:", list_offsets(bootstrap, topic))
    finally:
        stack.start("broker-compactor")
