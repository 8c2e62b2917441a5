"""The command kernel on the in-memory store: one read, optimistic concurrency, causation, the hook."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast
from uuid import UUID, uuid4

import pytest

from events.contract import Event, RecordsCompleted
from events.db import ConcurrencyConflict, Conn
from events.registry import Decoded
from events.store import Pending
from services.common import actor
from services.common.kernel import Kernel, case_stream
from tests.unit.fakes import CONN, Upstream, in_memory, memory_store

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)


def counting_kernel(hook_calls: list[tuple[int, list[str]]] | None = None) -> Kernel[list[Event]]:
    def on_appended(conn: Conn, state: list[Event], appended: list[Decoded]) -> None:
        assert hook_calls is not None
        hook_calls.append((len(state), [d.envelope.event_type for d in appended]))

    return Kernel(memory_store("test"), lambda conn, case_id: [], lambda s, e, at: s.append(e),
                  on_appended if hook_calls is not None else None)


def completed(n: int = 1) -> RecordsCompleted:
    return RecordsCompleted(record_count=n)


def test_handle_returns_the_evolved_state_and_the_new_version():
    kernel = counting_kernel()
    case_id = uuid4()
    kernel.handle(CONN, case_id, lambda s: [completed(1)], occurred_at=T0)
    done = kernel.handle(CONN, case_id, lambda s: [completed(len(s) + 1), completed(len(s) + 2)], occurred_at=T0)
    assert done.version == 3 and [e.record_count for e in cast(list[RecordsCompleted], done.state)] == [1, 2, 3]
    assert [d.envelope.stream_version for d in done.appended] == [2, 3]


def test_the_hook_sees_the_state_after_the_append_and_is_skipped_when_nothing_is_decided():
    calls: list[tuple[int, list[str]]] = []
    kernel = counting_kernel(calls)
    case_id = uuid4()
    kernel.handle(CONN, case_id, lambda s: [completed()], occurred_at=T0)
    kernel.handle(CONN, case_id, lambda s: [], occurred_at=T0)
    assert calls == [(1, ["RecordsCompleted"])]


def test_an_expected_version_that_is_not_the_streams_is_a_conflict():
    kernel = counting_kernel()
    case_id = uuid4()
    kernel.handle(CONN, case_id, lambda s: [completed()], occurred_at=T0)
    with pytest.raises(ConcurrencyConflict):
        kernel.handle(CONN, case_id, lambda s: [completed()], occurred_at=T0, expected_version=0)


def test_a_writer_racing_between_read_and_append_gets_a_conflict_not_an_overwrite():
    kernel = counting_kernel()
    case_id = uuid4()
    store = in_memory(kernel.store)

    def decide_while_another_writer_appends(s: list[Event]) -> list[Event]:
        store.append(CONN, stream_id=case_stream(case_id), case_id=case_id, expected_version=0,
                     events=[Pending(completed(9), T0)])
        return [completed()]

    with pytest.raises(ConcurrencyConflict):
        kernel.handle(CONN, case_id, decide_while_another_writer_appends, occurred_at=T0)
    assert [d.event for d in store.load(CONN, case_stream(case_id))] == [completed(9)]


def test_a_reaction_carries_its_causes_correlation_and_names_it_as_cause():
    kernel = counting_kernel()
    case_id = uuid4()
    cause = Upstream("intake").emit(case_id, completed(), T0)
    done = kernel.handle(CONN, case_id, lambda s: [completed(2)], occurred_at=T0, cause=cause)
    [env] = [d.envelope for d in done.appended]
    assert (env.correlation_id, env.causation_id) == (cause.envelope.correlation_id, cause.envelope.event_id)


def test_a_decider_may_stamp_each_event_with_its_own_business_time():
    kernel = counting_kernel()
    later = datetime(2026, 3, 5, tzinfo=UTC)
    done = kernel.handle(CONN, uuid4(), lambda s: [(completed(), later)], occurred_at=T0)
    assert done.appended[0].envelope.occurred_at == later


def test_a_naive_business_time_is_refused():
    kernel = counting_kernel()
    with pytest.raises(ValueError):
        kernel.handle(CONN, uuid4(), lambda s: [completed()], occurred_at=datetime(2026, 3, 2))


def test_the_stream_is_read_once_per_command():
    kernel = counting_kernel()
    store = in_memory(kernel.store)
    case_id: UUID = uuid4()
    kernel.handle(CONN, case_id, lambda s: [completed()], occurred_at=T0)
    assert store.loads == 1


def test_each_event_records_the_bound_actor_and_a_reaction_the_service():
    kernel = counting_kernel()
    case_id = uuid4()
    with actor.acting_as(actor.Actor("5b0e6c7e-81a2-4c1e-9d3c-0f6a2b7d9e11", "centre:fuscc")):
        done = kernel.handle(CONN, case_id, lambda s: [completed(), completed(2)], occurred_at=T0)
    assert {(d.envelope.actor, d.envelope.actor_role) for d in done.appended} == \
        {("5b0e6c7e-81a2-4c1e-9d3c-0f6a2b7d9e11", "centre:fuscc")}
    cause = Upstream("intake").emit(case_id, completed(), T0)
    token = actor._current.set(None)  # outside any request: a consumer's thread
    try:
        reaction = kernel.handle(CONN, case_id, lambda s: [completed(3)], occurred_at=T0, cause=cause)
        [env] = [d.envelope for d in reaction.appended]
        assert (env.actor, env.actor_role) == ("service:test", "service")
        # No actor and no cause: the kernel refuses to record an act of nobody.
        with pytest.raises(RuntimeError, match="needs an actor"):
            kernel.handle(CONN, case_id, lambda s: [completed(4)], occurred_at=T0)
    finally:
        actor._current.reset(token)


def test_events_stored_before_actors_decode_with_none():
    from events.registry import build_registry

    old = {"event_id": str(uuid4()), "event_type": "RecordsCompleted", "schema_version": 1, "case_id": str(uuid4()),
           "stream_id": "case-x", "stream_version": 2, "occurred_at": T0.isoformat(), "recorded_at": T0.isoformat(),
           "producer": "intake", "correlation_id": str(uuid4()), "causation_id": None,
           "payload": {"record_count": 6}}
    import json

    decoded = build_registry().decode(json.dumps(old))
    assert (decoded.envelope.actor, decoded.envelope.actor_role) == (None, None)
    with pytest.raises(Exception, match="actor"):
        build_registry().decode(json.dumps({**old, "actor": "someone@example.org"}))
