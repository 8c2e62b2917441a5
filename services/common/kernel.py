"""One way to handle a command: load the case stream once, fold it once, decide, append, update.

A service configures a `Kernel` with how its state starts (it may seed it from the service's own
read model) and evolves, and an `on_appended` hook for its own read-model writes. Everything runs
in the caller's transaction, so the events, their outbox rows and the read model commit together
or not at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, Protocol, TypeVar
from uuid import UUID

from events import metrics
from events.contract import Envelope, Event
from events.db import ConcurrencyConflict, Conn, StreamRaced
from events.registry import Decoded
from events.store import Appended, Clock, Pending, build_envelopes
from services.common import actor

# Set while a command runs again after losing a race to another writer of its case (idempotency.py).
queue_behind_writers: ContextVar[bool] = ContextVar("queue_behind_writers", default=False)

S = TypeVar("S")
# A decider returns events (all at the command's time) or (event, business time) pairs.
Decision = Sequence[Event] | Sequence[tuple[Event, datetime]]


class EventStream(Protocol):
    """What the kernel needs of an event store: PostgreSQL's in production, a fake in unit tests."""

    producer: str
    clock: Clock

    def load(self, conn: Conn, stream_id: str) -> list[Decoded]: ...

    def load_many(self, conn: Conn, stream_ids: Sequence[str]) -> dict[str, list[Decoded]]: ...

    def append_many(self, conn: Conn, appends: Sequence[Appended]) -> None: ...

    def append(self, conn: Conn, *, stream_id: str, case_id: UUID, expected_version: int,
               events: Sequence[Pending], correlation_id: UUID | None = None,
               causation_id: UUID | None = None, version_checked: bool = False,
               actor: str | None = None, actor_role: str | None = None) -> list[Envelope]: ...


def case_stream(case_id: UUID) -> str:
    return f"case-{case_id}"


@dataclass
class Handled(Generic[S]):
    """The state after a command, its stream version, and what the command appended."""

    state: S
    version: int
    appended: list[Decoded] = field(default_factory=list)


@dataclass
class _Batch:
    """A consumer batch's streams as read at its start plus what the batch decided, and the appends
    it will write at its end."""

    histories: dict[str, list[Decoded]]
    appends: list[Appended] = field(default_factory=list)


class Kernel(Generic[S]):
    def __init__(self, store: EventStream, start: Callable[[Conn, UUID], S],
                 evolve: Callable[[S, Event, datetime], None],
                 on_appended: Callable[[Conn, S, list[Decoded]], None] | None = None,
                 witness: Callable[[S, Decoded], None] | None = None) -> None:
        """`witness` sees every event with its envelope, the history's and the new ones: what a state
        keeps per producer and stream version (intake's events.lifecycle) needs more than the event."""
        self.store = store
        self._start = start
        self._evolve = evolve
        self._on_appended = on_appended
        self._witness = witness
        # The batch open on each connection (a consumer thread's), by the connection's id: the API's
        # commands run on other connections and never see one.
        self._batches: dict[int, _Batch] = {}

    @contextmanager
    def batch(self, conn: Conn, events: Sequence[Decoded]) -> Iterator[None]:
        """Commands on `conn` inside this block are a consumer batch's: the streams of the batch's
        cases are read in one query at its start, and every append is written in one statement at
        its end, in the caller's transaction. Each command still folds its state afresh (from the
        service's read model and the history so far): only the round trips go."""
        streams = list(dict.fromkeys(case_stream(d.envelope.case_id) for d in events))
        batch = _Batch(self.store.load_many(conn, streams))
        self._batches[id(conn)] = batch
        try:
            yield
            self.store.append_many(conn, batch.appends)
        finally:
            del self._batches[id(conn)]

    def _history(self, conn: Conn, stream_id: str) -> list[Decoded]:
        batch = self._batches.get(id(conn))
        if batch is None:
            return self.store.load(conn, stream_id)
        if stream_id not in batch.histories:  # a stream of another case than the batch's events
            batch.histories[stream_id] = self.store.load(conn, stream_id)
        return batch.histories[stream_id]

    def _append(self, conn: Conn, case_id: UUID, version: int, pending: list[Pending],
                cause: Decoded | None) -> list[Envelope]:
        who = self._actor(cause)
        correlation = cause.envelope.correlation_id if cause else None
        causation = cause.envelope.event_id if cause else None
        batch = self._batches.get(id(conn))
        if batch is None:
            return self.store.append(conn, stream_id=case_stream(case_id), case_id=case_id, expected_version=version,
                                     events=pending, version_checked=True, correlation_id=correlation,
                                     causation_id=causation, actor=who.id, actor_role=who.role)
        if not pending:
            return []
        envelopes = build_envelopes(self.store.producer, case_stream(case_id), case_id, version, pending,
                                    self.store.clock(), correlation, causation, who.id, who.role)
        batch.appends.append(Appended(case_stream(case_id), case_id, envelopes))
        return envelopes

    def load(self, conn: Conn, case_id: UUID) -> Handled[S]:
        history = self._history(conn, case_stream(case_id))
        state = self._start(conn, case_id)
        for d in history:
            self._evolve(state, d.event, d.envelope.occurred_at)
            if self._witness is not None:
                self._witness(state, d)
        return Handled(state, len(history))

    def handle(self, conn: Conn, case_id: UUID, decide: Callable[[S], Decision], *, occurred_at: datetime,
               expected_version: int | None = None, cause: Decoded | None = None) -> Handled[S]:
        """`expected_version` is the client's If-Match; without one, the version just read is used,
        so a writer racing us between read and append still gets a conflict, never an overwrite.
        `cause` is the event a reaction answers: its correlation carries on, and it is the cause."""
        if expected_version is None and queue_behind_writers.get():
            # A retry after a lost race waits its turn: racers that retried freely lost again
            # (one of eight parallel uploads lost five times in a row).
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (case_stream(case_id),))
        current = self.load(conn, case_id)
        if expected_version is not None and expected_version != current.version:
            raise ConcurrencyConflict(case_stream(case_id), expected_version, current.version)
        pending = [Pending(*e) if isinstance(e, tuple) else Pending(e, occurred_at) for e in decide(current.state)]
        try:
            envelopes = self._append(conn, case_id, current.version, pending, cause)
        except ConcurrencyConflict as exc:
            if expected_version is not None:
                raise
            raise StreamRaced(exc.stream_id, exc.expected, exc.actual) from exc
        # The state moves on by the events just decided: no second read, no second decode.
        appended = [Decoded(env, p.event) for env, p in zip(envelopes, pending, strict=True)]
        if id(conn) in self._batches:  # the batch's next command on this case reads them
            self._batches[id(conn)].histories[case_stream(case_id)].extend(appended)
        for d in appended:
            self._evolve(current.state, d.event, d.envelope.occurred_at)
            if self._witness is not None:
                self._witness(current.state, d)
            metrics.EVENTS_APPENDED.labels(self.store.producer, d.envelope.event_type).inc()
        if appended and self._on_appended is not None:
            self._on_appended(conn, current.state, appended)
        return Handled(current.state, current.version + len(appended), appended)

    def _actor(self, cause: Decoded | None) -> actor.Actor:
        """Who this command's events say acted: the bound actor, or, for a reaction, this service."""
        bound = actor.current()
        if bound is not None:
            return bound
        if cause is not None:
            return actor.service(self.store.producer)
        raise RuntimeError("an event needs an actor: run the command in a request, a sweep or a reaction")
