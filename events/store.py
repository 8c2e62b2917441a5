"""The event store of one service: append with optimistic concurrency, outbox in the same transaction."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID, uuid4

import psycopg
from psycopg.types.json import Jsonb

from events.contract import TOPIC, Envelope, Event
from events.db import ConcurrencyConflict, Queries
from events.registry import Decoded, Registry

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def outbox_channel(schema: str) -> str:
    return f"outbox_{schema}"


@dataclass(frozen=True)
class Pending:
    """An event to append, with the business time it happened at."""

    event: Event
    occurred_at: datetime


class EventStore:
    def __init__(self, schema: str, producer: str, registry: Registry, clock: Clock = utc_now) -> None:
        self.schema = schema
        self.producer = producer
        self.registry = registry
        self.clock = clock
        self._q = Queries(Path(__file__).parent / "sql" / "store.sql", schema)

    def version(self, conn: psycopg.Connection, stream_id: str) -> int:
        row = conn.execute(self._q["stream_version"], {"stream_id": stream_id}).fetchone()
        return int(row["version"]) if row else 0  # type: ignore[call-overload]

    def load(self, conn: psycopg.Connection, stream_id: str) -> list[Decoded]:
        rows = conn.execute(self._q["load_stream"], {"stream_id": stream_id}).fetchall()
        return [self._decode(r["envelope"]) for r in rows]  # type: ignore[call-overload]

    def load_all(self, conn: psycopg.Connection) -> list[Decoded]:
        rows = conn.execute(self._q["load_all"]).fetchall()
        return [self._decode(r["envelope"]) for r in rows]  # type: ignore[call-overload]

    def _decode(self, envelope: dict[str, object]) -> Decoded:
        # Stored envelopes go through the same registry (and upcasters) as messages.
        return self.registry.decode(json.dumps(envelope))

    def append(
        self,
        conn: psycopg.Connection,
        *,
        stream_id: str,
        case_id: UUID,
        expected_version: int,
        events: Sequence[Pending],
        correlation_id: UUID | None = None,
        causation_id: UUID | None = None,
    ) -> list[Envelope]:
        """Append inside the caller's transaction; the caller's commit publishes to the outbox."""
        if not events:
            return []
        actual = self.version(conn, stream_id)
        if actual != expected_version:
            raise ConcurrencyConflict(stream_id, expected_version, actual)
        recorded_at = self.clock()
        envelopes: list[Envelope] = []
        for offset, pending in enumerate(events, start=1):
            if pending.occurred_at.tzinfo is None:
                raise ValueError("occurred_at must be timezone-aware")
            event_id = uuid4()
            envelope = Envelope(
                event_id=event_id,
                event_type=pending.event.event_type,
                schema_version=pending.event.schema_version,
                case_id=case_id,
                stream_id=stream_id,
                stream_version=expected_version + offset,
                occurred_at=pending.occurred_at,
                recorded_at=recorded_at,
                producer=self.producer,
                correlation_id=correlation_id or event_id,
                causation_id=causation_id,
                payload=pending.event.model_dump(mode="json"),
            )
            message = envelope.model_dump_json().encode()
            try:
                # A savepoint keeps the caller's transaction usable for its own error handling.
                with conn.transaction():
                    conn.execute(self._q["insert_event"], {
                        "stream_id": stream_id, "version": envelope.stream_version,
                        "event_id": event_id, "event_type": envelope.event_type,
                        "schema_version": envelope.schema_version, "case_id": case_id,
                        "occurred_at": envelope.occurred_at, "recorded_at": recorded_at,
                        "envelope": Jsonb(envelope.model_dump(mode="json")),
                    })
            except psycopg.errors.UniqueViolation as exc:
                raise ConcurrencyConflict(stream_id, expected_version) from exc
            conn.execute(self._q["insert_outbox"], {
                "event_id": event_id, "topic": TOPIC, "message_key": str(case_id).encode(),
                "message": message,
            })
            envelopes.append(envelope)
        conn.execute(self._q["notify_outbox"], {"channel": outbox_channel(self.schema)})
        return envelopes

    def mark_processed(self, conn: psycopg.Connection, consumer: str, event_id: UUID) -> bool:
        return conn.execute(self._q["mark_processed"],
                            {"consumer": consumer, "event_id": event_id}).fetchone() is not None


def new_case_id() -> UUID:
    return uuid4()
