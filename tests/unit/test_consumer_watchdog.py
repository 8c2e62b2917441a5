"""The consumer's watchdog and lag, with a fake Kafka client and a fake broker view (no I/O)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from kafka import TopicPartition
from kafka.errors import RebalanceInProgressError
from kafka.structs import MemberState

from events.consumer import Consumer, ConsumerRunner, Stalled
from events.contract import TOPIC
from events.registry import build_registry
from events.store import EventStore


class FakeCoordinator:
    state = MemberState.STABLE


class FakeClient:
    def __init__(self, positions: dict[int, int], highwaters: dict[int, int | None]) -> None:
        self.positions, self.highwaters = positions, highwaters
        self._coordinator = FakeCoordinator()
        self.commits = 0

    def commit(self) -> None:
        if self._coordinator.state == MemberState.REBALANCING:
            raise RebalanceInProgressError()
        self.commits += 1

    def assignment(self) -> set[TopicPartition]:
        return {TopicPartition(TOPIC, p) for p in self.positions}

    def position(self, tp: TopicPartition, timeout_ms: int | None = None) -> int:
        return self.positions[tp.partition]

    def highwater(self, tp: TopicPartition) -> int | None:
        return self.highwaters[tp.partition]


class FakeBroker:
    def __init__(self, ends: dict[int, int]) -> None:
        self.ends = ends
        self.asked: list[dict[int, int]] = []

    def describe(self, topic: str) -> None:
        return None  # no topic id to compare: the identity check is the integration tests'

    def highwaters(self, topic: str, positions: dict[int, int], timeout_s: float = 3.0) -> dict[int, int]:
        self.asked.append(dict(positions))
        return {p: self.ends[p] for p in positions}


def runner(broker: FakeBroker, stall_timeout: float = 30.0) -> ConsumerRunner:
    registry = build_registry()
    return ConsumerRunner(consumer=Consumer("probe", {}), service="test", pool=None,  # type: ignore[arg-type]
                          store=EventStore("test", "test", registry), registry=registry,
                          make_kafka_consumer=lambda _: None, make_producer=lambda: None,
                          broker=broker, stall_timeout=stall_timeout)  # type: ignore[arg-type]


def test_lag_right_after_a_reconnect_comes_from_the_broker_not_zero():
    broker = FakeBroker({0: 50, 1: 7})
    r = runner(broker)
    client: Any = FakeClient({0: 40, 1: 7}, {0: None, 1: None})
    assert r._lag(client, client.assignment()) == 10
    assert broker.asked == [{0: 40, 1: 7}]


def test_a_backlog_without_progress_past_the_timeout_restarts_the_client():
    r = runner(FakeBroker({0: 50}), stall_timeout=30.0)
    client: Any = FakeClient({0: 40}, {0: 50})
    r._last_progress = time.monotonic() - 31
    with pytest.raises(Stalled):
        r._check(client)


def test_an_idle_consumer_that_is_caught_up_is_not_stalled():
    r = runner(FakeBroker({0: 50}), stall_timeout=30.0)
    client: Any = FakeClient({0: 50}, {0: 50})
    r._last_progress = time.monotonic() - 3600
    r._check(client)
    assert time.monotonic() - r._last_progress < 5


def test_a_consumer_never_assigned_a_partition_is_stalled_too():
    r = runner(FakeBroker({}), stall_timeout=30.0)
    client: Any = FakeClient({}, {})
    r._last_progress = time.monotonic() - 31
    with pytest.raises(Stalled):
        r._check(client)


def test_a_member_in_the_middle_of_a_rebalance_is_given_three_stall_timeouts_to_get_partitions():
    r = runner(FakeBroker({}), stall_timeout=30.0)
    client: Any = FakeClient({}, {})
    client._coordinator.state = MemberState.REBALANCING
    r._last_progress = time.monotonic() - 31
    r._check(client)  # not replaced: a new member would start the group's rebalance again
    r._last_progress = time.monotonic() - 91
    with pytest.raises(Stalled):
        r._check(client)


def test_a_commit_refused_because_the_group_rebalances_keeps_the_client_and_is_tried_again():
    r = runner(FakeBroker({}))
    client: Any = FakeClient({0: 5}, {0: 5})
    client._coordinator.state = MemberState.REBALANCING
    assert r._commit(client) is False  # no exception: the run loop keeps this client
    client._coordinator.state = MemberState.STABLE
    assert r._commit(client) is True and client.commits == 1


class SeekingClient(FakeClient):
    def __init__(self, positions: dict[int, int]) -> None:
        super().__init__(positions, {p: None for p in positions})
        self.sought: list[set[TopicPartition]] = []

    def seek_to_beginning(self, *tps: TopicPartition) -> None:
        self.sought.append(set(tps))


def test_a_rewind_decided_mid_rebalance_waits_for_partitions_and_blocks_recording_until_then():
    r = runner(FakeBroker({}))
    unassigned: Any = SeekingClient({})
    r._rewind(unassigned, set())
    assert r._rewind_pending and unassigned.sought == []
    r._topic_id = "new-topic"
    r._committed()  # no database touched: nothing may be recorded while the rewind is pending
    assert r._recorded_topic_id is None
    assigned: Any = SeekingClient({0: 40, 1: 7})
    r._seek_to_start(assigned, assigned.assignment())
    assert not r._rewind_pending and assigned.sought == [assigned.assignment()]


def test_a_group_left_with_partitions_no_one_reads_gets_a_new_client():
    from events.broker import TopicView

    class SixPartitions(FakeBroker):
        def describe(self, topic: str) -> TopicView:  # type: ignore[override]
            return TopicView(topic, None, 6)

    class Member(FakeClient):
        """Owns partitions 0-3; another member of the group owns 4 and 5 and commits them."""

        committed_offsets = {4: 5, 5: 5}

        def committed(self, tp: TopicPartition) -> int:
            return self.committed_offsets[tp.partition]

    broker = SixPartitions({p: 5 for p in range(6)})
    r = runner(broker, stall_timeout=30.0)
    client: Any = Member({p: 5 for p in range(4)}, {p: 5 for p in range(4)})
    r._check(client)
    for partition, (offset, since) in list(r._others._seen.items()):
        r._others._seen[partition] = (offset, since - 31)
    r._check(client)  # the other member's partitions are read to their end: a group of two is fine
    broker.ends[4] = 9  # events arrive on partition 4, and its committed offset stays where it was
    r._check(client)
    assert 4 in r._others._seen
    r._others._seen[4] = (5, r._others._seen[4][1] - 31)
    with pytest.raises(Stalled, match=r"partitions \[4\] have events and no reader"):
        r._check(client)


def test_a_partition_whose_reader_commits_is_never_taken_for_unread():
    from events.membership import OthersWatch

    now = [0.0]
    watch = OthersWatch(TOPIC, 30.0, clock=lambda: now[0])
    assert watch.unread({4: 5}, {4: 9}) == []
    now[0] = 31.0
    assert watch.unread({4: 7}, {4: 9}) == []  # it moved: a reader is at work
    now[0] = 62.0
    assert watch.unread({4: 7}, {4: 9}) == [4]  # still for 31 s with events after it
    assert watch.unread({}, {}) == [] and watch._seen == {}  # now ours: forgotten


def heads_runner(heads: dict[int, int], stall_timeout: float = 30.0) -> ConsumerRunner:
    registry = build_registry()
    return ConsumerRunner(consumer=Consumer("probe", {}), service="test", pool=None,  # type: ignore[arg-type]
                          store=EventStore("test", "test", registry), registry=registry,
                          make_kafka_consumer=lambda _: None, make_producer=lambda: None,
                          broker=None, stall_timeout=stall_timeout,
                          heads=lambda partitions: {p: heads[p] for p in partitions if p in heads})


def test_a_client_whose_high_water_mark_went_stale_is_stalled_when_the_stores_grew():
    # What an object store kill -9 left: the client's fetches no longer answered, its high-water
    # mark stuck at its position (lag 0), while the relays had 961 more rows acknowledged.
    r = heads_runner({0: 1128})
    client: Any = FakeClient({0: 167}, {0: 167})
    assert r._lag(client, client.assignment()) == 1128 - 167
    r._last_progress = time.monotonic() - 31
    with pytest.raises(Stalled, match="961 messages waiting"):
        r._check(client)


def test_the_stores_heads_behind_the_broker_do_not_hide_its_backlog():
    r = heads_runner({0: 40})
    client: Any = FakeClient({0: 40}, {0: 50})
    assert r._lag(client, client.assignment()) == 10


class SeekClient(FakeClient):
    def __init__(self, positions: dict[int, int], highwaters: dict[int, int | None]) -> None:
        super().__init__(positions, highwaters)
        self.sought: list[tuple[int, int]] = []

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.sought.append((tp.partition, offset))
        self.positions[tp.partition] = offset


def test_a_position_past_the_end_twice_in_a_row_is_moved_back_to_the_end():
    # Tansu answers a fetch past the end with nothing and no OFFSET_OUT_OF_RANGE: lag 0 for ever.
    r = heads_runner({})
    client: Any = SeekClient({0: 100}, {0: 5})
    r._check(client)
    assert client.sought == []  # once may be a high-water mark read just before new records landed
    r._check(client)
    assert client.sought == [(0, 5)]
    r._check(client)
    assert client.sought == [(0, 5)]


def test_a_thread_whose_loop_stopped_turning_stops_the_worker():
    import threading

    from events.threads import run_threads

    stop, never = threading.Event(), threading.Event()
    started = time.monotonic()
    # The thread is alive but blocked in a call: only its beat (its loop's last turn) tells.
    # A short join: the blocked thread never ends, and the worker must return without it anyway.
    run_threads({"blocked": lambda s: never.wait()}, stop, {"blocked": lambda: started - 200}, wedged_after=120,
                join_timeout=0.5)
    assert stop.is_set() and time.monotonic() - started < 15
