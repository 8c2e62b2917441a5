"""A hole in the broker's log (a batch not readable yet) on the real Tansu: the consumer waits for it.

Tansu can serve a later batch while a lower offset's object is not written yet. We make that hole
ourselves by moving one batch object out of the broker's bucket, and back.
"""

from __future__ import annotations

import threading
import time
import uuid

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic

from events.consumer import poll_following_on
from events.gaps import GapGuard
from infra.stack import Stack
from tests.integration.conftest import records_bucket


def _topic_with(bootstrap: str, n: int) -> str:
    topic = f"scratch-gaps-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(topic, 1, 1)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for i in range(n):  # one batch, so one object, each
        producer.send(topic, value=f"event {i}".encode(), partition=0).get(timeout=10)
    producer.close()
    return topic


def _read(bootstrap: str, topic: str, guard: GapGuard, quiet_s: float, during: float = 0.0,
          then: object = None) -> list[int]:
    kc = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    tp = TopicPartition(topic, 0)
    kc.assign([tp])
    kc.seek(tp, 0)
    got: list[int] = []
    started = time.monotonic()
    idle_until = started + quiet_s
    while time.monotonic() < idle_until:
        batch, kept = poll_following_on(kc, guard, 300)
        got += [r.offset for records in kept.values() for r in records]
        if batch or guard.waiting:
            idle_until = time.monotonic() + quiet_s
        if callable(then) and during and time.monotonic() - started > during:
            then()
            then = None
    kc.close()
    return got


def test_a_consumer_waits_for_a_batch_not_readable_yet_instead_of_skipping_it(stack: Stack, env):
    if stack.broker_storage != "s3":
        return  # the in-memory log has no objects to move
    bootstrap = env["KAFKA_BOOTSTRAP_SERVERS"]
    s3, _ = records_bucket(stack)
    bucket = stack.s3_env()["S3_BROKER_BUCKET"]
    stack.stop("broker-compactor")  # it would merge the scratch topic's objects meanwhile
    try:
        topic = _topic_with(bootstrap, 10)
        key = f"clusters/tansu_cluster/topics/{topic}/partitions/0000000000/records/{4:020d}.batch"
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        s3.delete_object(Bucket=bucket, Key=key)
        # Without the guard the consumer takes what it is served and moves past offset 4 for good.
        assert 4 not in _read(bootstrap, topic, GapGuard(0), 1.5)
        # With it, it fetches the hole again until the batch is there.
        put_back = threading.Event()

        def restore() -> None:
            s3.put_object(Bucket=bucket, Key=key, Body=body)
            put_back.set()

        got = _read(bootstrap, topic, GapGuard(30), 1.5, during=2.0, then=restore)
        assert put_back.is_set() and got == list(range(10))
        # A hole that never fills is passed after the wait, and counted.
        s3.delete_object(Bucket=bucket, Key=key)
        passed: list[int] = []
        assert _read(bootstrap, topic, GapGuard(2, on_skipped=passed.append), 1.0) == [0, 1, 2, 3, 5, 6, 7, 8, 9]
        assert passed == [1]
    finally:
        stack.start("broker-compactor")
