"""The event store of one service: append with optimistic concurrency, outbox in the same transaction."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID, uuid4

import orjson
import psycopg

from events.contract import TOPIC, Envelope, Event
from events.db import ConcurrencyConflict, Conn, Queries
from events.registry import Decoded, Registry

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def outbox_channel(schema: str) -> str:
    return f"outbox_{schema}"


@dataclass(frozen=True)
class Appended:
    """One stream's events as a consumer batch decided them, to append with the others at the end."""

    stream_id: str
    case_id: UUID
    envelopes: list[Envelope]


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

    def version(self, conn: Conn, stream_id: str) -> int:
        row = conn.execute(self._q["stream_version"], {"stream_id": stream_id}).fetchone()
        return int(row["version"]) if row else 0

    def load(self, conn: Conn, stream_id: str) -> list[Decoded]:
        rows = conn.execute(self._q["load_stream"], {"stream_id": stream_id}).fetchall()
        # Stored envelopes go through the same registry (and upcasters) as messages, decoded once
        # from the text PostgreSQL sends.
        return [self.registry.decode(r["envelope"]) for r in rows]

    def append(
        self,
        conn: Conn,
        *,
        stream_id: str,
        case_id: UUID,
        expected_version: int,
        events: Sequence[Pending],
        correlation_id: UUID | None = None,
        causation_id: UUID | None = None,
        version_checked: bool = False,
        actor: str | None = None,
        actor_role: str | None = None,
    ) -> list[Envelope]:
        """Append events and their outbox rows; inside a caller's transaction they commit with it."""
        if not events:
            return []
        # A caller that has just read the stream in this transaction says so and saves the
        # query; the primary key still turns a racing writer into a conflict.
        if not version_checked:
            actual = self.version(conn, stream_id)
            if actual != expected_version:
                raise ConcurrencyConflict(stream_id, expected_version, actual)
        recorded_at = self.clock()
        envelopes = build_envelopes(self.producer, stream_id, case_id, expected_version, events, recorded_at,
                                    correlation_id, causation_id, actor, actor_role)
        # Inside the caller's transaction the statement commits or rolls back with it (a conflict
        # aborts that transaction, which every caller then ends); on an idle autocommit
        # connection it is a transaction of its own. Either way events and outbox rows land
        # together or not at all.
        rows = orjson.dumps([{
            "version": e.stream_version, "event_id": e.event_id, "event_type": e.event_type,
            "schema_version": e.schema_version, "occurred_at": e.occurred_at,
            "envelope": orjson.Fragment(e.model_dump_json()),
        } for e in envelopes]).decode()
        try:
            conn.execute(self._q["append"], {
                "stream_id": stream_id, "case_id": case_id, "recorded_at": recorded_at, "topic": TOPIC,
                "message_key": str(case_id).encode(), "rows": rows,
            })
        except psycopg.errors.UniqueViolation as exc:
            raise ConcurrencyConflict(stream_id, expected_version) from exc
        self._wake(conn)
        return envelopes

    def _wake(self, conn: Conn) -> None:
        wake = getattr(conn, "wake", None)
        if wake is not None:
            wake.add(outbox_channel(self.schema))  # the pool wakes the relay after the commit
        else:
            # A connection of its own (no pool to signal after the commit): NOTIFY is delivered
            # only if the transaction commits.
            conn.execute(self._q["notify_outbox"], {"channel": outbox_channel(self.schema)})

    def load_many(self, conn: Conn, stream_ids: Sequence[str]) -> dict[str, list[Decoded]]:
        """The streams of a consumer batch in one query; a stream with no event is an empty list."""
        found: dict[str, list[Decoded]] = {s: [] for s in stream_ids}
        for r in conn.execute(self._q["load_streams"], {"stream_ids": list(found)}).fetchall():
            found[r["stream_id"]].append(self.registry.decode(r["envelope"]))
        return found

    def append_many(self, conn: Conn, appends: Sequence[Appended]) -> None:
        """What a consumer batch decided for several streams, events and outbox rows in one statement;
        inside the batch's transaction. Each stream's versions were checked by the caller's read in
        this transaction; the primary key turns a racing writer into a conflict."""
        if not appends:
            return
        rows = orjson.dumps([{
            "stream_id": a.stream_id, "case_id": a.case_id, "version": e.stream_version, "event_id": e.event_id,
            "event_type": e.event_type, "schema_version": e.schema_version, "occurred_at": e.occurred_at,
            "envelope": orjson.Fragment(e.model_dump_json()),
        } for a in appends for e in a.envelopes]).decode()
        try:
            conn.execute(self._q["append_many"], {"recorded_at": appends[0].envelopes[0].recorded_at,
                                                  "topic": TOPIC, "rows": rows})
        except psycopg.errors.UniqueViolation as exc:
            raise ConcurrencyConflict(", ".join(a.stream_id for a in appends), -1) from exc
        self._wake(conn)

    def mark_processed_many(self, conn: Conn, consumer: str, event_ids: Sequence[UUID]) -> set[UUID]:
        rows = conn.execute(self._q["mark_processed_many"], {"consumer": consumer, "event_ids": list(event_ids)})
        return {r["event_id"] for r in rows.fetchall()}

    def mark_processed(self, conn: Conn, consumer: str, event_id: UUID) -> bool:
        return conn.execute(self._q["mark_processed"],
                            {"consumer": consumer, "event_id": event_id}).fetchone() is not None


def build_envelopes(producer: str, stream_id: str, case_id: UUID, expected_version: int,
                    events: Sequence[Pending], recorded_at: datetime, correlation_id: UUID | None,
                    causation_id: UUID | None, actor: str | None = None,
                    actor_role: str | None = None) -> list[Envelope]:
    # One command's events share a correlation id unless the caller continues another's.
    correlation = correlation_id or uuid4()
    return [
        Envelope(
            event_id=uuid4(),
            event_type=pending.event.event_type,
            schema_version=pending.event.schema_version,
            case_id=case_id,
            stream_id=stream_id,
            stream_version=expected_version + offset,
            occurred_at=_aware(pending.occurred_at),
            recorded_at=recorded_at,
            producer=producer,
            correlation_id=correlation,
            causation_id=causation_id,
            actor=actor,
            actor_role=actor_role,
            payload=pending.event.model_dump(mode="json"),
        )
        for offset, pending in enumerate(events, start=1)
    ]


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("occurred_at must be timezone-aware")
    return moment
