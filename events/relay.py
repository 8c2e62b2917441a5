"""Outbox relay: publishes a service's outbox to Kafka, marking rows only after the broker acked them.

Delivery is at least once: a crash between the broker's ack and our UPDATE republishes a row,
and consumers drop the duplicate by event id. Order per case holds because one stream's rows get
ids in commit order (an append must see the previous version committed) and one relay per schema
publishes them in id order, stopping at the first retriable failure.

The event store, not the broker, is the durable history. The relay records where each row landed
(partition, offset) and, at start and every `verify_interval`, asks the broker whether it still
holds the last row of each partition and whether the topic is still the one it published to. When
the broker lost data, those rows are published again, in id order; consumers de-duplicate.

A row that can never be published (over the broker's size limit, rejected as invalid) is parked
with its reason. It holds back only the later rows of its own case.
"""

from __future__ import annotations

import logging
import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import psycopg
from kafka import KafkaProducer
from kafka.errors import (
    CorruptRecordError,
    InvalidRecordError,
    KafkaError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
)

from events import metrics
from events.broker import Broker, Landed, TopicView
from events.contract import TOPIC
from events.db import Connections, Queries
from events.store import outbox_channel

log = logging.getLogger(__name__)
_SQL = Path(__file__).parent / "sql" / "relay.sql"
_TOPICS_SQL = Path(__file__).parent / "sql" / "topics.sql"
# The broker's answers that are about the record itself, so no retry can ever succeed.
ROW_ERRORS = (MessageSizeTooLargeError, RecordListTooLargeError, InvalidRecordError, CorruptRecordError)


class OutboxRelay:
    def __init__(
        self,
        pool: Connections,
        db_url: str,
        schema: str,
        service: str,
        make_producer: Callable[[], KafkaProducer],
        *,
        broker: Broker | None = None,
        topics: tuple[str, ...] = (),
        partitions: int = 6,
        batch_size: int = 1000,
        idle_wait: float = 1.0,
        ack_timeout: float = 30.0,
        max_message_bytes: int = 1_000_000,
        verify_interval: float = 10.0,
        linger: float = 0.0,
    ) -> None:
        self.pool = pool
        self.db_url = db_url
        self.schema = schema
        self.service = service
        self.make_producer = make_producer
        self.broker = broker
        self.topics = topics
        self.partitions = partitions
        self.batch_size = batch_size
        self.idle_wait = idle_wait
        self.ack_timeout = ack_timeout
        self.max_message_bytes = max_message_bytes
        self.verify_interval = verify_interval
        self.linger = linger
        self._q = Queries(_SQL, schema)
        self._topics_q = Queries(_TOPICS_SQL, schema)
        self._producer: KafkaProducer | None = None
        self._verified_at = float("-inf")
        metrics.RELAY_FAILURES.labels(service).inc(0)
        metrics.EVENTS_PUBLISHED.labels(service).inc(0)
        metrics.EVENTS_REPUBLISHED.labels(service).inc(0)
        for reason in ("topic_recreated", "records_lost"):
            metrics.RELAY_RECOVERIES.labels(service, reason).inc(0)
        metrics.OUTBOX_PARKED.labels(service).set(0)

    def run(self, stop: threading.Event) -> None:
        backoff = 0.2
        while not stop.is_set():
            try:
                self._run_as_leader(stop)
                backoff = 0.2
            except (psycopg.OperationalError, KafkaError, OSError, TimeoutError) as exc:
                metrics.RELAY_FAILURES.labels(self.service).inc()
                log.warning("relay %s: %s; retrying in %.1fs", self.schema, exc, backoff)
                self._drop_producer()
                # After any failure the broker may have restarted: check it before publishing on.
                self._verified_at = float("-inf")
                stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)
        self._drop_producer()

    def _run_as_leader(self, stop: threading.Event) -> None:
        # A session advisory lock makes one relay per schema the publisher; a second instance
        # waits, so rows are never published out of order by two relays racing.
        with psycopg.connect(self.db_url, autocommit=True) as listen_conn:
            key = zlib.crc32(f"relay:{self.schema}".encode())
            while not stop.is_set():
                row = listen_conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
                if row and row[0]:
                    break
                stop.wait(1.0)
            listen_conn.execute(f'LISTEN "{outbox_channel(self.schema)}"')
            flowing_since = float("-inf")  # the start of the last round that published rows
            while not stop.is_set():
                if time.monotonic() - self._verified_at >= self.verify_interval:
                    self.verify()
                # While rows flow, at most one round per linger: the rows committed meanwhile
                # go out together, one larger batch per partition, instead of a produce (and an
                # object in the broker's log) per command. The first row after a quiet spell
                # goes at once.
                pause = flowing_since + self.linger - time.monotonic()
                if pause > 0:
                    stop.wait(pause)
                started = time.monotonic()
                published = self.publish_batch()
                flowing_since = started if published else float("-inf")
                if published < self.batch_size:
                    # Wait for the append's NOTIFY (or time out and look again anyway).
                    for _ in listen_conn.notifies(timeout=self.idle_wait, stop_after=1):
                        pass

    # ------------------------------------------------------------------ publishing
    def publish_batch(self) -> int:
        with self.pool.connection() as conn:
            rows = conn.execute(self._q["unpublished"], {"limit": self.batch_size}).fetchall()
        if not rows:
            self._update_backlog()
            return 0
        sendable = []
        held: set[bytes] = set()
        for r in rows:
            key = bytes(r["message_key"])
            if key in held:
                continue  # behind a row of its case parked in this very batch
            if len(r["message"]) + len(key) > self.max_message_bytes:
                self._park(r["id"], f"message_too_large: {len(r['message'])} bytes")
                held.add(key)
                continue
            sendable.append(r)
        producer = self._get_producer()
        futures = [producer.send(r["topic"], key=bytes(r["message_key"]), value=bytes(r["message"]))
                   for r in sendable]
        producer.flush(timeout=self.ack_timeout)
        acked: list[tuple[int, int, int]] = []
        failure: Exception | None = None
        for row, future in zip(sendable, futures, strict=True):
            if not future.is_done:
                failure = TimeoutError("no ack in time")
                break
            if future.failed():
                exc = future.exception
                if isinstance(exc, ROW_ERRORS):
                    # This row will never pass (too large, invalid): park it, keep the others flowing.
                    # Any other error (the producer's id, the connection) is the producer's, not
                    # the row's: retried with a new producer.
                    self._park(row["id"], f"{type(exc).__name__}: {exc}")
                    continue
                failure = exc
                break
            meta = future.value
            if meta.offset is None or meta.offset < 0:
                # An idempotent producer's retry answered "duplicate" by a restarted broker comes
                # back with offset -1, and Tansu may say so for a record it never kept: not an
                # ack we can check later. A new producer (a new producer id) sends it again.
                failure = KafkaError(f"acknowledged without an offset (partition {meta.partition})")
                break
            acked.append((row["id"], meta.partition, meta.offset))
        if acked:
            with self.pool.connection() as conn:
                conn.execute(self._q["mark_published"], {"ids": [a[0] for a in acked],
                                                         "partitions": [a[1] for a in acked],
                                                         "offsets": [a[2] for a in acked]})
            metrics.EVENTS_PUBLISHED.labels(self.service).inc(len(acked))
        self._update_backlog()
        if failure is not None:
            raise KafkaError(f"publish failed after {len(acked)} of {len(sendable)}: {failure}")
        return len(rows)

    def _park(self, row_id: int, reason: str) -> None:
        log.error("relay %s: parking outbox row %s: %s", self.schema, row_id, reason)
        with self.pool.connection() as conn:
            conn.execute(self._q["park"], {"id": row_id, "reason": reason[:500]})
        metrics.ROWS_PARKED.labels(self.service).inc()

    def _update_backlog(self) -> None:
        with self.pool.connection() as conn:
            row = conn.execute(self._q["backlog"]).fetchone()
        metrics.OUTBOX_BACKLOG.labels(self.service).set(row["backlog"] if row else 0)
        metrics.OUTBOX_PARKED.labels(self.service).set(row["parked"] if row else 0)

    # ------------------------------------------------------------------ verification
    def verify(self) -> int:
        """Checks the broker still holds what it acknowledged; queues what it lost again. Returns rows queued."""
        if self.broker is None:
            self._verified_at = time.monotonic()
            return 0
        started = time.monotonic()
        queued = 0
        views = self.broker.ensure(self.topics, self.partitions, rebuildable=self._recreated_behind_us)
        for topic in self.topics:
            view = views.get(topic)
            if view is None:
                raise KafkaError(f"topic {topic} is missing and could not be created")
            metrics.TOPIC_PARTITIONS.labels(self.service, topic).set(view.partitions)
            misconfigured = view.partitions != self.partitions
            metrics.TOPIC_MISCONFIGURED.labels(self.service, topic).set(int(misconfigured))
            if misconfigured:
                log.error("relay %s: topic %s has %d partitions, %d configured", self.schema, topic,
                          view.partitions, self.partitions)
            queued += self._verify_topic(topic, view.topic_id, view.partitions)
        self._verified_at = time.monotonic()
        if queued:
            metrics.RECOVERY_DURATION.labels(self.service).observe(self._verified_at - started)
        return queued

    def _recreated_behind_us(self, view: TopicView) -> bool:
        # The event topic holds only copies of outbox rows, and one this relay has not seen before
        # was made by a client after the broker lost ours: remaking it loses nothing, since every
        # relay republishes once it sees the new identity. A topic we made stays, whatever its count.
        if view.name != TOPIC or not view.topic_id:
            return False
        with self.pool.connection() as conn:
            seen = conn.execute(self._topics_q["seen_topic"], {"observer": "relay", "topic": view.name}).fetchone()
        return seen is not None and seen["topic_id"] != view.topic_id

    def _verify_topic(self, topic: str, topic_id: str | None, partitions: int) -> int:
        assert self.broker is not None
        with self.pool.connection() as conn:
            seen = conn.execute(self._topics_q["seen_topic"], {"observer": "relay", "topic": topic}).fetchone()
            if topic_id and seen and seen["topic_id"] != topic_id:
                with conn.transaction():
                    n = conn.execute(self._q["republish_topic"], {"topic": topic}).rowcount
                    conn.execute(self._topics_q["see_topic"],
                                 {"observer": "relay", "topic": topic, "topic_id": topic_id})
                self._recovered("topic_recreated", topic, n)
                return n
            if topic_id and not seen:
                conn.execute(self._topics_q["see_topic"], {"observer": "relay", "topic": topic, "topic_id": topic_id})
            landed: dict[int, Landed] = {}
            for partition in range(partitions):
                row = conn.execute(self._q["last_landed"], {"topic": topic, "partition": partition}).fetchone()
                if row:
                    landed[partition] = Landed(partition, row["kafka_offset"], bytes(row["message"]))
        held = self.broker.still_holds(topic, landed)
        lost = [p for p, ok in held.items() if not ok]
        if not lost:
            return 0
        ends = self.broker.highwaters(topic, {p: 0 for p in lost})
        n = 0
        with self.pool.connection() as conn, conn.transaction():
            for partition in lost:
                # Records below the partition's current end survived (unless the topic was
                # recreated, which the identity check above catches); the rest goes again.
                n += conn.execute(self._q["republish_partition"], {
                    "topic": topic, "partition": partition, "from_offset": ends.get(partition, 0)}).rowcount
        self._recovered("records_lost", topic, n)
        return n

    def _recovered(self, reason: str, topic: str, rows: int) -> None:
        log.error("relay %s: the broker lost acknowledged records of %s (%s); republishing %d rows",
                  self.schema, topic, reason, rows)
        metrics.RELAY_RECOVERIES.labels(self.service, reason).inc()
        metrics.EVENTS_REPUBLISHED.labels(self.service).inc(rows)

    # ------------------------------------------------------------------ producer
    def _get_producer(self) -> KafkaProducer:
        if self._producer is None:
            self._producer = self.make_producer()
        return self._producer

    def _drop_producer(self) -> None:
        if self._producer is not None:
            try:
                self._producer.close(timeout=0)
            except Exception:  # closing a producer whose broker vanished may fail; we drop it anyway
                log.debug("producer close failed", exc_info=True)
            self._producer = None
