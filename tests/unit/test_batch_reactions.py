"""A reacting consumer's batch: streams read at once, appends written at once, a failing case set aside.

The applier runs here on a transactional fake: a transaction that raises puts the in-memory store
back as it was, as PostgreSQL's rollback does. The real database's side is in
tests/integration/test_batch_reactions.py.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast
from uuid import UUID, uuid4

from kafka.consumer.fetcher import ConsumerRecord

from events.applier import Applier, Consumer
from events.contract import CaseExpired, Event, RecordsCompleted
from events.db import Conn, Connections
from events.memory import InMemoryEventStore
from events.registry import Decoded, build_registry
from services.common.kernel import Kernel, case_stream
from tests.unit.fakes import Upstream, memory_store

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)


class TxConn:
    """A connection whose outermost transaction restores the store when its block raises."""

    def __init__(self, store: InMemoryEventStore) -> None:
        self.store = store
        self.depth = 0
        self.commits = 0

    @contextmanager
    def pipeline(self) -> Iterator[None]:
        yield

    @contextmanager
    def transaction(self) -> Iterator[None]:
        saved = (copy.deepcopy(self.store.streams), copy.deepcopy(self.store.processed), list(self.store.published))
        self.depth += 1
        try:
            yield
        except BaseException:
            if self.depth == 1:
                self.store.streams, self.store.processed, self.store.published = saved
            raise
        finally:
            self.depth -= 1
        if self.depth == 0:
            self.commits += 1


class TxPool:
    def __init__(self, conn: TxConn) -> None:
        self.conn = conn

    @contextmanager
    def connection(self, timeout: float | None = None) -> Iterator[Conn]:
        yield cast(Conn, self.conn)

    def close(self) -> None:
        pass


@dataclass
class DeadLetters:
    sent: list[tuple[bytes, dict[str, bytes]]] = field(default_factory=list)

    def send(self, topic: str, *, key: bytes | None, value: bytes, headers: list[tuple[str, bytes]]) -> Any:
        self.sent.append((value, dict(headers)))
        return self

    def get(self, timeout: float) -> None:
        return None


@dataclass
class Reactor:
    """Answers each upstream CaseExpired with a RecordsCompleted on the same case, through the
    kernel; the cases in `poisoned` fail, the first `fails_left` times or always."""

    store: InMemoryEventStore
    poisoned: set[UUID] = field(default_factory=set)
    fails_left: int | None = None
    calls: list[UUID] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.kernel: Kernel[list[Event]] = Kernel(self.store, lambda conn, case_id: [],
                                                  lambda s, e, at: s.append(e))

    def consumer(self) -> Consumer:
        def on_received(conn: Conn, d: Decoded) -> None:
            self.calls.append(d.envelope.case_id)
            if d.envelope.case_id in self.poisoned and (self.fails_left is None or self.fails_left > 0):
                if self.fails_left is not None:
                    self.fails_left -= 1
                raise ValueError("poisoned case")
            self.kernel.handle(conn, d.envelope.case_id, lambda s: [RecordsCompleted(record_count=len(s) + 1)],
                               occurred_at=d.envelope.occurred_at, cause=d)

        return Consumer("probe", {"CaseExpired": on_received}, scope=self.kernel.batch)


def records(events: list[Decoded]) -> list[ConsumerRecord]:
    return [cast(ConsumerRecord, type("Record", (), {
        "topic": "case-events", "partition": 0, "offset": n, "key": str(d.envelope.case_id).encode(),
        "value": d.envelope.model_dump_json().encode()})) for n, d in enumerate(events)]


def applier(reactor: Reactor, dead: DeadLetters, conn: TxConn) -> Applier:
    return Applier(consumer=reactor.consumer(), service="test", group_id="test-probe",
                   pool=cast(Connections, TxPool(conn)), store=reactor.store, registry=build_registry(),
                   make_producer=lambda: cast(Any, dead), retry_delay=0)


def received(upstream: Upstream, case_id: UUID) -> Decoded:
    return upstream.emit(case_id, CaseExpired(dormant_days=30), T0)


def completions(store: InMemoryEventStore, case_id: UUID) -> list[int]:
    return [cast(RecordsCompleted, d.event).record_count for d in store.streams.get(case_stream(case_id), [])]


def batch_with_a_poisoned_case_in_the_middle() -> tuple[list[Decoded], UUID, UUID, UUID]:
    upstream, a, b, c = Upstream("intake"), uuid4(), uuid4(), uuid4()
    return [received(upstream, a), received(upstream, b), received(upstream, c), received(upstream, a)], a, b, c


def test_a_batch_reads_its_streams_once_and_appends_in_order_per_case():
    store = memory_store("probe")
    reactor, dead, conn = Reactor(store), DeadLetters(), TxConn(store)
    events, a, b, c = batch_with_a_poisoned_case_in_the_middle()
    applier(reactor, dead, conn).handle_batch(records(events))
    # Case a's second reaction saw its first (decided in the same batch, not yet written).
    assert completions(store, a) == [1, 2] and completions(store, b) == [1] and completions(store, c) == [1]
    assert store.loads == 1 and conn.commits == 1 and not dead.sent
    assert [e.stream_version for e in store.published if e.case_id == a] == [1, 2]


def test_a_case_that_keeps_failing_is_dead_lettered_and_the_others_are_applied_once():
    store = memory_store("probe")
    events, a, b, c = batch_with_a_poisoned_case_in_the_middle()
    reactor, dead, conn = Reactor(store, poisoned={b}), DeadLetters(), TxConn(store)
    applier(reactor, dead, conn).handle_batch(records(events))
    assert completions(store, a) == [1, 2] and completions(store, c) == [1]
    assert completions(store, b) == []
    assert len(store.published) == 3  # each good reaction once: the failed attempt left nothing
    [(value, headers)] = dead.sent
    assert value == events[1].envelope.model_dump_json().encode()
    assert headers["dlq.reason"] == b"handler_failed" and b"poisoned case" in headers["dlq.detail"]
    # The batch without b committed once; b's three tries alone committed nothing.
    assert store.processed["probe"] == {events[0].envelope.event_id, events[2].envelope.event_id,
                                        events[3].envelope.event_id}


def test_a_case_that_fails_once_is_set_aside_and_applied_alone_on_its_retry():
    store = memory_store("probe")
    events, a, b, c = batch_with_a_poisoned_case_in_the_middle()
    reactor, dead, conn = Reactor(store, poisoned={b}, fails_left=1), DeadLetters(), TxConn(store)
    applier(reactor, dead, conn).handle_batch(records(events))
    assert completions(store, a) == [1, 2] and completions(store, b) == [1] and completions(store, c) == [1]
    assert not dead.sent and len(store.published) == 4
    # Tried in the batch (failed), then the others alone in the redo, then b alone.
    assert reactor.calls == [a, b, a, c, a, b]


def test_a_redelivered_batch_changes_nothing():
    store = memory_store("probe")
    reactor, dead, conn = Reactor(store), DeadLetters(), TxConn(store)
    events, a, _, _ = batch_with_a_poisoned_case_in_the_middle()
    applier(reactor, dead, conn).handle_batch(records(events))
    applier(reactor, dead, conn).handle_batch(records(events))
    assert completions(store, a) == [1, 2] and len(store.published) == 4
