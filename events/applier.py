"""Applying what a consumer fetched: decode, apply with the processed-events row in one PostgreSQL
transaction, and dead-letter what cannot be applied. The consumer runtime (events/consumer.py)
fetches, commits and watches; this is the part that touches the database for each batch.

Undecodable messages, and those whose handler keeps failing, go to the dead-letter topic with the
reason, and the consumer goes on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from typing import Protocol
from uuid import UUID

import orjson
import psycopg
from kafka import KafkaProducer
from kafka.consumer.fetcher import ConsumerRecord

from events import metrics
from events.contract import DLQ_TOPIC
from events.db import Conn, Connections
from events.registry import Decoded, DecodeError, Registry

log = logging.getLogger("events.consumer")

Handler = Callable[[Conn, Decoded], None]
BatchHandler = Callable[[Conn, list[Decoded]], None]
# What a reacting consumer's batch runs inside: the kernel's batch (streams read at once, appends
# written at once), in the batch's transaction.
BatchScope = Callable[[Conn, list[Decoded]], AbstractContextManager[object]]
DLQ_REASONS = ("invalid_envelope", "unknown_event_type", "unknown_schema_version", "no_upcaster",
               "invalid_payload", "handler_failed")


class ProcessedEvents(Protocol):
    """Where a consumer records what it applied, in the transaction that applies it: the event
    store of the service's schema (`EventStore`)."""

    schema: str

    def mark_processed(self, conn: Conn, consumer: str, event_id: UUID) -> bool:
        """Whether the event is new to the consumer (and now marked)."""
        ...

    def mark_processed_many(self, conn: Conn, consumer: str, event_ids: Sequence[UUID]) -> set[UUID]:
        """Those of the events that are new to the consumer (and now marked)."""
        ...


class CaseFailed(Exception):
    """A handler failed on one event: the batch is redone without that event's case."""

    def __init__(self, decoded: Decoded, cause: Exception) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.decoded = decoded
        self.cause = cause


class Consumer:
    """One named consumer (its own group and processed-events namespace) and what it applies.

    `handlers` name the event types it applies, one handler each. A projection that folds a
    batch's new events at once and writes each table once is `Consumer.batched` instead: the
    runner hands it a batch's new events of `event_types`, in order.
    """

    def __init__(self, name: str, handlers: Mapping[str, Handler], scope: BatchScope | None = None) -> None:
        """`scope`: what a reaction's batch runs in (the service kernel's `batch`)."""
        self.name = name
        self.handlers = dict(handlers)
        self.event_types = frozenset(self.handlers)
        self._batch: BatchHandler | None = None
        self._scope = scope

    @classmethod
    def batched(cls, name: str, event_types: Iterable[str], batch: BatchHandler) -> Consumer:
        consumer = cls(name, {})
        consumer.event_types = frozenset(event_types)
        consumer._batch = batch
        return consumer

    def apply(self, conn: Conn, events: list[Decoded]) -> None:
        """Applies `events`; a handler's failure is raised as it was."""
        try:
            self.apply_naming_failures(conn, events)
        except CaseFailed as failed:
            raise failed.cause from None

    def apply_naming_failures(self, conn: Conn, events: list[Decoded]) -> None:
        """Applies `events`; a handler's failure is raised as `CaseFailed`, naming its event."""
        if self._batch is not None:
            self._batch(conn, events)
            return
        with self._scope(conn, events) if self._scope is not None else nullcontext():
            for decoded in events:
                try:
                    self.handlers[decoded.envelope.event_type](conn, decoded)
                except psycopg.OperationalError:
                    raise
                except Exception as exc:
                    # Named so the applier can set this event's case aside and redo the rest.
                    raise CaseFailed(decoded, exc) from exc


class Applier:
    """Applies one consumer's batches; `group_id` names it in dead letters."""

    def __init__(self, *, consumer: Consumer, service: str, group_id: str, pool: Connections, store: ProcessedEvents,
                 registry: Registry, make_producer: Callable[[], KafkaProducer], max_attempts: int = 3,
                 retry_delay: float = 0.2, max_set_aside: int = 4) -> None:
        self.consumer = consumer
        self.service = service
        self.group_id = group_id
        self.pool = pool
        self.store = store
        self.registry = registry
        self.make_producer = make_producer
        self.max_attempts = max_attempts
        self.retry_delay = retry_delay
        # How many failing cases a batch sets aside before it goes one message at a time.
        self.max_set_aside = max_set_aside
        self._dlq: KafkaProducer | None = None

    def _decode(self, record: ConsumerRecord) -> Decoded | None:
        """The event, or None when it was dead-lettered or is not for this consumer."""
        # Every consumer sees every event of the topic and applies a few types: a plain JSON
        # peek at the type spares the full validation of the rest. A message that is not a JSON
        # object with a known type string still takes the full path below (and the DLQ).
        try:
            peeked = orjson.loads(record.value or b"")
        except orjson.JSONDecodeError:
            peeked = None
        wanted = self.consumer.event_types
        if (isinstance(peeked, dict) and isinstance(peeked.get("event_type"), str)
                and peeked["event_type"] not in wanted and self.registry.knows(peeked["event_type"])):
            metrics.EVENTS_CONSUMED.labels(self.service, self.consumer.name, "ignored").inc()
            return None
        try:
            decoded = self.registry.decode(record.value)
        except DecodeError as exc:
            self.dead_letter(record, exc.reason, exc.detail)
            return None
        if decoded.envelope.event_type not in wanted:
            metrics.EVENTS_CONSUMED.labels(self.service, self.consumer.name, "ignored").inc()
            return None
        return decoded

    def handle_batch(self, records: list[ConsumerRecord]) -> None:
        """Applies a partition's batch in one transaction, setting aside the cases that fail.

        A transaction per batch instead of per message is what lets a projection keep up with
        thousands of events per second; the processed-events rows are in the same transaction,
        so a batch is applied entirely or not at all. When a handler fails on one case's event,
        the transaction is redone without that case (nothing of the first attempt committed, so
        nothing is applied twice), and the case's events are then retried alone and dead-lettered
        as before. Not a savepoint per event: that would sync the pipeline twice per event, and
        past 64 subtransactions PostgreSQL's snapshots of every session slow down.
        """
        work = [(r, d) for r in records if (d := self._decode(r)) is not None]
        if not work:
            return
        aside: set[UUID] = set()
        while True:
            todo = [(r, d) for r, d in work if d.envelope.case_id not in aside]
            try:
                outcomes = self._apply_together([d for _, d in todo]) if todo else []
                break
            except psycopg.OperationalError:
                raise
            except CaseFailed as failed:
                case_id = failed.decoded.envelope.case_id
                log.info("consumer %s: case %s failed in a batch of %d (%s); redoing the others",
                         self.consumer.name, case_id, len(todo), failed)
                aside.add(case_id)
                if len(aside) <= self.max_set_aside:
                    continue
            except Exception as exc:  # not one case's (the batch's own statements): no case to set aside
                log.info("consumer %s: batch of %d failed (%s)", self.consumer.name, len(todo), exc)
            # Too many failures to be one case's: one message at a time, as before.
            for record, decoded in work:
                self.handle_one(record, decoded)
            return
        for outcome, decoded in outcomes:
            self._count(outcome, decoded)
        for record, decoded in work:
            if decoded.envelope.case_id in aside:
                self.handle_one(record, decoded)

    def _apply_together(self, batch: list[Decoded]) -> list[tuple[str, Decoded]]:
        """One transaction: the processed-events rows, then the new events applied in order."""
        outcomes: list[tuple[str, Decoded]] = []
        # Pipeline mode sends a handler's writes without waiting for each reply; a read that
        # needs its answer (the processed-events RETURNING) syncs, so the semantics are unchanged.
        with self.pool.connection() as conn, conn.pipeline(), conn.transaction():
            # One statement marks the whole batch: a sync per event was most of a batch's time.
            fresh = self.store.mark_processed_many(conn, self.consumer.name, [d.envelope.event_id for d in batch])
            new: list[Decoded] = []
            for decoded in batch:
                if decoded.envelope.event_id not in fresh:
                    outcomes.append(("duplicate", decoded))
                    continue
                fresh.discard(decoded.envelope.event_id)  # a second copy in this batch is a duplicate
                new.append(decoded)
                outcomes.append(("applied", decoded))
            if new:
                self.consumer.apply_naming_failures(conn, new)
        return outcomes

    def _count(self, outcome: str, decoded: Decoded) -> None:
        metrics.EVENTS_CONSUMED.labels(self.service, self.consumer.name, outcome).inc()
        if outcome == "applied":
            delay = (datetime.now(UTC) - decoded.envelope.recorded_at).total_seconds()
            metrics.PROJECTION_DELAY.labels(self.service, self.consumer.name).observe(max(delay, 0.0))

    def handle(self, record: ConsumerRecord) -> None:
        decoded = self._decode(record)
        if decoded is not None:
            self.handle_one(record, decoded)

    def handle_one(self, record: ConsumerRecord, decoded: Decoded) -> None:
        name = self.consumer.name
        last_error: Exception | None = None
        for attempt in range(1, self.max_attempts + 1):
            try:
                with self.pool.connection() as conn, conn.transaction():
                    if not self.store.mark_processed(conn, name, decoded.envelope.event_id):
                        self._count("duplicate", decoded)
                        return
                    self.consumer.apply(conn, [decoded])
                self._count("applied", decoded)
                return
            except psycopg.OperationalError:
                # The database is away: not the message's fault; let run() back off and retry.
                raise
            except Exception as exc:
                last_error = exc
                log.warning("consumer %s: handler failed (attempt %d) on %s: %s",
                            name, attempt, decoded.envelope.event_id, exc)
                time.sleep(self.retry_delay * attempt)
        self.dead_letter(record, "handler_failed", f"{type(last_error).__name__}: {last_error}")

    def dead_letter(self, record: ConsumerRecord, reason: str, detail: str) -> None:
        log.error("consumer %s: dead-lettering %s@%s: %s %s", self.consumer.name,
                  record.partition, record.offset, reason, detail)
        headers: list[tuple[str, bytes]] = [
            ("dlq.reason", reason.encode()),
            ("dlq.detail", detail[:1000].encode()),
            ("dlq.consumer", self.group_id.encode()),
            ("dlq.source", f"{record.topic}/{record.partition}/{record.offset}".encode()),
        ]
        if self._dlq is None:
            self._dlq = self.make_producer()
        # Wait for the ack: the source offset is committed after this returns, so an unacked
        # dead letter would be a lost message.
        self._dlq.send(DLQ_TOPIC, key=record.key, value=record.value or b"", headers=headers).get(timeout=30)
        metrics.DLQ_MESSAGES.labels(self.service, self.consumer.name, reason).inc()
