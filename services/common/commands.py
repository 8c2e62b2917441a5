"""Load a case stream, decide, append: the one way every service turns a command into events."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from uuid import UUID

from events import metrics
from events.contract import Envelope, Event
from events.db import ConcurrencyConflict, Conn
from events.registry import Decoded
from events.store import EventStore, Pending


def case_stream(case_id: UUID) -> str:
    return f"case-{case_id}"


def load_events(store: EventStore, conn: Conn, case_id: UUID) -> list[Event]:
    return [d.event for d in store.load(conn, case_stream(case_id))]


def timed(history: list[Decoded]) -> list[tuple[Event, datetime]]:
    """The history as (event, business time) pairs, for deciders that measure time."""
    return [(d.event, d.envelope.occurred_at) for d in history]


def events_of(history: list[Decoded]) -> list[Event]:
    return [d.event for d in history]


def decide_and_append(
    store: EventStore,
    conn: Conn,
    case_id: UUID,
    decide: Callable[[list[Decoded]], list[Event] | list[tuple[Event, datetime]]],
    *,
    occurred_at: datetime,
    expected_version: int | None = None,
    correlation_id: UUID | None = None,
    causation_id: UUID | None = None,
) -> tuple[int, list[Envelope]]:
    """Runs inside the caller's transaction. Returns the stream's new version and what was appended.

    `expected_version` is the client's If-Match; without one, the version we just read is used,
    so a writer racing us between read and append still gets a conflict, never an overwrite.
    """
    decoded = store.load(conn, case_stream(case_id))
    current = len(decoded)
    if expected_version is not None and expected_version != current:
        raise ConcurrencyConflict(case_stream(case_id), expected_version, current)
    # A decider returns events (all at `occurred_at`) or (event, business time) pairs.
    pending = [Pending(*e) if isinstance(e, tuple) else Pending(e, occurred_at) for e in decide(decoded)]
    envelopes = store.append(
        conn, stream_id=case_stream(case_id), case_id=case_id, expected_version=current,
        events=pending, version_checked=True,
        correlation_id=correlation_id, causation_id=causation_id,
    )
    for env in envelopes:
        metrics.EVENTS_APPENDED.labels(store.producer, env.event_type).inc()
    return current + len(envelopes), envelopes
