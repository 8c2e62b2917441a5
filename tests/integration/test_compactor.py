"""The broker's log compaction against the real Tansu on its S3 log: fewer objects, the same records."""

from __future__ import annotations

import time
import uuid

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic

from infra.compactor import Compactor, CompactorSettings
from infra.stack import Stack


def _read(bootstrap: str, topic: str, start: int) -> list[tuple]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    tp = TopicPartition(topic, 0)
    consumer.assign([tp])
    consumer.seek(tp, start)
    got: list[tuple] = []
    idle_until = time.monotonic() + 3
    while time.monotonic() < idle_until:
        for batch in consumer.poll(timeout_ms=300).values():
            got += [(r.offset, r.timestamp, r.key, r.value, tuple(r.headers)) for r in batch]
            idle_until = time.monotonic() + 1.5
    consumer.close()
    return got


def test_compaction_merges_small_batches_and_every_fetch_still_serves_the_same_records(stack: Stack, env):
    if stack.broker_storage != "s3":
        return  # the in-memory log has no objects to merge
    bootstrap = env["KAFKA_BOOTSTRAP_SERVERS"]
    s3 = stack.s3_env()
    compactor = Compactor(CompactorSettings(
        S3_ENDPOINT=s3["S3_ENDPOINT"], S3_ACCESS_KEY_ID=s3["S3_ACCESS_KEY_ID"],
        S3_SECRET_ACCESS_KEY=s3["S3_SECRET_ACCESS_KEY"], S3_BROKER_BUCKET=s3["S3_BROKER_BUCKET"],
        CASE_LEDGER_COMPACTOR_SETTLE=1))
    # The stack's own compactor would race this one over the same objects: it waits meanwhile.
    stack.stop("broker-compactor")
    try:
        _merge_and_read(compactor, bootstrap)
    finally:
        stack.start("broker-compactor")


def _merge_and_read(compactor: Compactor, bootstrap: str) -> None:
    topic = f"scratch-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(topic, 1, 1)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    for i in range(30):  # one batch, so one object, each
        producer.send(topic, key=f"case-{i % 4}".encode(), value=f"event {i}".encode(), partition=0,
                      headers=[("n", str(i).encode())] if i % 3 else []).get(timeout=10)
    whole, from_inside = _read(bootstrap, topic, 0), _read(bootstrap, topic, 13)
    assert [r[0] for r in whole] == list(range(30))
    partition = f"clusters/tansu_cluster/topics/{topic}/partitions/0000000000/"
    time.sleep(1.2)  # settled
    assert compactor.compact_partition(partition) == (0, 30)  # merged; the others stay a while
    # Meanwhile a fetch may serve records twice, never lose one.
    assert sorted(set(_read(bootstrap, topic, 0))) == whole
    time.sleep(1.2)  # the merge has settled: fetches that listed before it are done
    assert compactor.compact_partition(partition) == (29, 1)
    # From the start and from an offset inside the merged batch: the same records, nothing twice.
    assert _read(bootstrap, topic, 0) == whole
    assert _read(bootstrap, topic, 13) == from_inside == whole[13:]
    # The log goes on after the merged batch, and later passes merge what came since into it.
    producer.send(topic, value=b"after", partition=0).get(timeout=10)
    producer.close()
    assert [(r[0], r[3]) for r in _read(bootstrap, topic, 29)] == [(29, b"event 29"), (30, b"after")]
    time.sleep(1.2)
    assert compactor.compact_partition(partition) == (0, 2)
    time.sleep(1.2)
    assert compactor.compact_partition(partition) == (1, 1)
    assert [(r[0], r[3]) for r in _read(bootstrap, topic, 0)] == [(r[0], r[3]) for r in whole] + [(30, b"after")]
