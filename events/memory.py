"""An in-memory event store behind the same protocol as the PostgreSQL one: a fake for unit tests.

It keeps the rules that matter to an application layer: versions start at 1 and have no gaps,
an append at a stale version is a conflict, what was appended is what a later load returns, and
an event is new to a consumer once. The connection argument is accepted and ignored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from events.contract import Envelope
from events.db import ConcurrencyConflict
from events.registry import Decoded, Registry, build_registry
from events.store import Appended, Clock, Pending, build_envelopes, utc_now


class InMemoryEventStore:
    def __init__(self, producer: str, clock: Clock = utc_now, registry: Registry | None = None) -> None:
        self.producer = producer
        self.schema = producer  # as a service names its schema after itself
        self.clock = clock
        self.registry = registry or build_registry()
        self.streams: dict[str, list[Decoded]] = {}
        self.published: list[Envelope] = []  # what the outbox would send, in order
        self.loads = 0
        self.processed: dict[str, set[UUID]] = {}  # by consumer

    def load(self, conn: Any, stream_id: str) -> list[Decoded]:
        self.loads += 1
        return list(self.streams.get(stream_id, []))

    def version(self, conn: Any, stream_id: str) -> int:
        return len(self.streams.get(stream_id, []))

    def append(self, conn: Any, *, stream_id: str, case_id: UUID, expected_version: int,
               events: Sequence[Pending], correlation_id: UUID | None = None,
               causation_id: UUID | None = None, version_checked: bool = False,
               actor: str | None = None, actor_role: str | None = None) -> list[Envelope]:
        if not events:
            return []
        stream = self.streams.setdefault(stream_id, [])
        if len(stream) != expected_version:
            raise ConcurrencyConflict(stream_id, expected_version, len(stream))
        envelopes = build_envelopes(self.producer, stream_id, case_id, expected_version, events, self.clock(),
                                    correlation_id, causation_id, actor, actor_role)
        # Stored as the PostgreSQL store keeps them: the envelope, decoded through the registry again.
        stream.extend(self.registry.decode(e.model_dump_json()) for e in envelopes)
        self.published.extend(envelopes)
        return envelopes

    def load_many(self, conn: Any, stream_ids: Sequence[str]) -> dict[str, list[Decoded]]:
        self.loads += 1  # one query for the batch, as PostgreSQL's store
        return {s: list(self.streams.get(s, [])) for s in stream_ids}

    def append_many(self, conn: Any, appends: Sequence[Appended]) -> None:
        # All or nothing, as the one statement: every stream is checked before any is written.
        ahead: dict[str, int] = {}
        for a in appends:
            at = ahead.get(a.stream_id, len(self.streams.get(a.stream_id, [])))
            if a.envelopes[0].stream_version != at + 1:
                raise ConcurrencyConflict(a.stream_id, a.envelopes[0].stream_version - 1, at)
            ahead[a.stream_id] = at + len(a.envelopes)
        for a in appends:
            self.streams.setdefault(a.stream_id, []).extend(self.decoded(e) for e in a.envelopes)
            self.published.extend(a.envelopes)

    def decoded(self, envelope: Envelope) -> Decoded:
        return self.registry.decode(envelope.model_dump_json())

    def mark_processed(self, conn: Any, consumer: str, event_id: UUID) -> bool:
        return bool(self.mark_processed_many(conn, consumer, [event_id]))

    def mark_processed_many(self, conn: Any, consumer: str, event_ids: Sequence[UUID]) -> set[UUID]:
        seen = self.processed.setdefault(consumer, set())
        fresh = set(event_ids) - seen
        seen |= fresh
        return fresh
