"""What the broker holds, asked without trusting it: the topic's identity, its partitions, its ends.

The event stores are the durable history and the broker is the transport; the relay and the
consumers use this view to notice when the broker lost what it had acknowledged (a restart of an
in-memory broker, a topic deleted and created again) instead of carrying on as if it had not.

Tansu answers ListOffsets(latest) with a wrong figure, so the end of a partition is read from a
fetch's high-water mark instead: a short fetch at a known offset, with a consumer outside any group.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError, UnknownTopicOrPartitionError


@dataclass(frozen=True)
class TopicView:
    name: str
    topic_id: str | None
    partitions: int


@dataclass(frozen=True)
class Landed:
    """Where the broker acknowledged a record: what a probe must find there."""

    partition: int
    offset: int
    value: bytes


class Broker:
    def __init__(self, bootstrap: str, client_id: str) -> None:
        self.bootstrap = bootstrap
        self.client_id = client_id
        self._kept: KafkaAdminClient | None = None

    def _admin(self) -> KafkaAdminClient:
        return KafkaAdminClient(bootstrap_servers=self.bootstrap, client_id=self.client_id,
                                request_timeout_ms=10_000)

    def describe(self, topic: str) -> TopicView | None:
        """The topic as the broker describes it now. Asked every few seconds by each consumer's
        watchdog: one admin client is kept for it (a new one each time, with its bootstrap and
        version handshake, was most of an idle worker's work), and dropped after any failure."""
        if self._kept is None:
            self._kept = self._admin()
        try:
            return _describe(self._kept, topic)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._kept is not None:
            with contextlib.suppress(Exception):
                self._kept.close()
            self._kept = None

    def ensure(self, topics: Iterable[str], partitions: int,
               rebuildable: Callable[[TopicView], bool] = lambda _view: False) -> dict[str, TopicView]:
        """Creates the missing topics with `partitions`; returns what the broker then holds.

        A topic with another partition count was made by a client's request (Tansu creates a
        topic on any fetch, produce or metadata request for it, whatever the client asks, e.g.
        right after an in-memory broker restarted). When it holds nothing, or the caller says it
        is `rebuildable` (a topic the caller knows was recreated behind its back and whose records
        it publishes again), it is deleted and created again with ours. Any other one is left
        alone, for an operator; readiness and an alert report it.
        """
        topics = list(topics)
        admin = self._admin()
        try:
            for _attempt in range(5):
                existing = set(admin.list_topics())
                wanted = [NewTopic(t, num_partitions=partitions, replication_factor=1)
                          for t in topics if t not in existing]
                if wanted:
                    with contextlib.suppress(TopicAlreadyExistsError):
                        admin.create_topics(wanted)
                views = {t: _describe(admin, t) for t in topics}
                wrong = [t for t, v in views.items() if v is not None and v.partitions != partitions
                         and (rebuildable(v) or self._empty(t, v.partitions))]
                if not wrong:
                    return {t: v for t, v in views.items() if v is not None}
                # Delete and create at once: clients polling the topic would auto-create it again.
                admin.delete_topics(wrong)
                with contextlib.suppress(TopicAlreadyExistsError):
                    admin.create_topics([NewTopic(t, num_partitions=partitions, replication_factor=1)
                                         for t in wrong])
            # Still wrong after every attempt: report what the broker holds now.
            views = {t: _describe(admin, t) for t in topics}
            return {t: v for t, v in views.items() if v is not None}
        finally:
            admin.close()

    def _empty(self, topic: str, partitions: int) -> bool:
        ends = self.highwaters(topic, {p: 0 for p in range(partitions)})
        return len(ends) == partitions and not any(ends.values())

    def _probe_consumer(self) -> KafkaConsumer:
        return KafkaConsumer(bootstrap_servers=self.bootstrap, client_id=f"{self.client_id}-probe",
                             group_id=None, enable_auto_commit=False, auto_offset_reset="none",
                             allow_auto_create_topics=False, request_timeout_ms=10_000,
                             fetch_max_wait_ms=100, max_partition_fetch_bytes=2**20)

    def still_holds(self, topic: str, landed: Mapping[int, Landed], timeout_s: float = 5.0) -> dict[int, bool]:
        """For each partition, whether the record last acknowledged there is still there, unchanged."""
        result: dict[int, bool] = {}
        if not landed:
            return result
        consumer = self._probe_consumer()
        try:
            for partition, mark in landed.items():
                tp = TopicPartition(topic, partition)
                consumer.assign([tp])
                consumer.seek(tp, mark.offset)
                result[partition] = self._record_at(consumer, tp, mark, timeout_s)
        finally:
            consumer.close()
        return result

    @staticmethod
    def _record_at(consumer: KafkaConsumer, tp: TopicPartition, mark: Landed, timeout_s: float) -> bool:
        import time

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                batch = consumer.poll(timeout_ms=500, max_records=1)
            except KafkaError:
                # Offset out of range, unknown partition: the record is not there any more.
                return False
            for record in batch.get(tp, []):
                return record.offset == mark.offset and record.value == mark.value
            high = consumer.highwater(tp)
            if high is not None and high <= mark.offset:
                return False
        raise TimeoutError(f"no answer from the broker about {tp.topic}/{tp.partition} in {timeout_s}s")

    def highwaters(self, topic: str, positions: Mapping[int, int], timeout_s: float = 3.0) -> dict[int, int]:
        """The end of each partition, learnt from a fetch at `positions` (the caller's own offsets)."""
        import time

        consumer = self._probe_consumer()
        ends: dict[int, int] = {}
        try:
            tps = [TopicPartition(topic, p) for p in positions]
            consumer.assign(tps)
            for tp in tps:
                consumer.seek(tp, positions[tp.partition])
            deadline = time.monotonic() + timeout_s
            while len(ends) < len(tps) and time.monotonic() < deadline:
                try:
                    consumer.poll(timeout_ms=300, max_records=1)
                except KafkaError:
                    # The position is past the end: the partition was truncated or recreated.
                    for tp in tps:
                        ends.setdefault(tp.partition, 0)
                    break
                for tp in tps:
                    high = consumer.highwater(tp)
                    if high is not None:
                        ends[tp.partition] = high
        finally:
            consumer.close()
        return ends


def _describe(admin: KafkaAdminClient, topic: str) -> TopicView | None:
    try:
        described = admin.describe_topics([topic])
    except UnknownTopicOrPartitionError:
        return None
    for t in described:
        if t.get("name") == topic and not t.get("error_code"):
            return TopicView(topic, str(t.get("topic_id") or "") or None, len(t.get("partitions") or []))
    return None
