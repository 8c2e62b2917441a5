"""Outbox relay: publishes a service's outbox to Kafka, marking rows only after the broker acked them.

Delivery is at least once: a crash between the broker's ack and our UPDATE republishes a row,
and consumers drop the duplicate by event id. Order per case holds because one stream's rows get
ids in commit order (an append must see the previous version committed) and one relay per schema
publishes them in id order, stopping at the first failure.
"""

from __future__ import annotations

import logging
import threading
import zlib
from collections.abc import Callable
from pathlib import Path

import psycopg
from kafka import KafkaProducer
from kafka.errors import KafkaError

from events import metrics
from events.db import Pool, Queries
from events.store import outbox_channel

log = logging.getLogger(__name__)
_SQL = Path(__file__).parent / "sql" / "relay.sql"


class OutboxRelay:
    def __init__(
        self,
        pool: Pool,
        db_url: str,
        schema: str,
        service: str,
        make_producer: Callable[[], KafkaProducer],
        *,
        batch_size: int = 1000,
        idle_wait: float = 1.0,
        ack_timeout: float = 30.0,
    ) -> None:
        self.pool = pool
        self.db_url = db_url
        self.schema = schema
        self.service = service
        self.make_producer = make_producer
        self.batch_size = batch_size
        self.idle_wait = idle_wait
        self.ack_timeout = ack_timeout
        self._q = Queries(_SQL, schema)
        self._producer: KafkaProducer | None = None
        metrics.RELAY_FAILURES.labels(service).inc(0)
        metrics.EVENTS_PUBLISHED.labels(service).inc(0)

    def run(self, stop: threading.Event) -> None:
        backoff = 0.2
        while not stop.is_set():
            try:
                self._run_as_leader(stop)
                backoff = 0.2
            except (psycopg.OperationalError, KafkaError, OSError) as exc:
                metrics.RELAY_FAILURES.labels(self.service).inc()
                log.warning("relay %s: %s; retrying in %.1fs", self.schema, exc, backoff)
                self._drop_producer()
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
            while not stop.is_set():
                published = self.publish_batch()
                if published < self.batch_size:
                    # Wait for the append's NOTIFY (or time out and look again anyway).
                    for _ in listen_conn.notifies(timeout=self.idle_wait, stop_after=1):
                        pass

    def publish_batch(self) -> int:
        with self.pool.connection() as conn:
            rows = conn.execute(self._q["unpublished"], {"limit": self.batch_size}).fetchall()
        if not rows:
            metrics.OUTBOX_BACKLOG.labels(self.service).set(0)
            return 0
        producer = self._get_producer()
        futures = [producer.send(r["topic"], key=bytes(r["message_key"]), value=bytes(r["message"]))
                   for r in rows]
        producer.flush(timeout=self.ack_timeout)
        acked: list[int] = []
        failure: Exception | None = None
        for row, future in zip(rows, futures, strict=True):
            if not future.is_done or future.failed():
                failure = future.exception if future.is_done else TimeoutError("no ack in time")
                break
            acked.append(row["id"])
        if acked:
            with self.pool.connection() as conn:
                conn.execute(self._q["mark_published"], {"ids": acked})
            metrics.EVENTS_PUBLISHED.labels(self.service).inc(len(acked))
        self._update_backlog()
        if failure is not None:
            raise KafkaError(f"publish failed after {len(acked)} of {len(rows)}: {failure}")
        return len(acked)

    def _update_backlog(self) -> None:
        with self.pool.connection() as conn:
            row = conn.execute(self._q["backlog"]).fetchone()
        metrics.OUTBOX_BACKLOG.labels(self.service).set(row["backlog"] if row else 0)

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

