"""The watchdog's view of the partitions a consumer does not own, for groups of several members.

A group of one member must own every partition, and the watchdog once restarted any member that
owned fewer for `stall_timeout`: with two members each owns half, so each was restarted every
30 s, and every restart was a rebalance of the whole group on Tansu (the throughput a second
member cost, docs/benchmarks.md). What that check was for is a share left to a member that no
longer reads (a client the broker failed to expire). Tansu's DescribeGroups names no member's
partitions (measured: empty assignments), so the group cannot be asked who owns what; but every
member can read the group's committed offsets. A partition this member does not own, with
events past its committed offset and that offset still for `stall_timeout`, has no live reader:
the member rejoins, and the rebalance hands the partition to a member that reads.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from kafka import TopicPartition

Ends = Callable[[Mapping[int, int]], Mapping[int, int]]


class OthersWatch:
    def __init__(self, topic: str, stall_timeout: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.topic = topic
        self.stall_timeout = stall_timeout
        self.clock = clock
        self._seen: dict[int, tuple[int, float]] = {}  # partition -> (committed offset, since)

    def forget(self) -> None:
        self._seen.clear()

    def unread(self, committed: Mapping[int, int], ends: Mapping[int, int]) -> list[int]:
        """The partitions whose committed offset stood still for stall_timeout with events after it."""
        now, stuck = self.clock(), []
        for partition, offset in committed.items():
            before = self._seen.get(partition)
            if before is None or before[0] != offset or ends.get(partition, 0) <= offset:
                self._seen[partition] = (offset, now)  # moved, new, or nothing to read: not stuck
            elif now - before[1] > self.stall_timeout:
                stuck.append(partition)
        for partition in set(self._seen) - set(committed):
            del self._seen[partition]  # owned by this member now: its own watchdog covers it
        return sorted(stuck)

    def check(self, kc: Any, partitions: int, assigned: set[Any], ends: Ends) -> list[int]:
        """Reads the group's committed offsets of the partitions not assigned here, and judges them."""
        mine = {tp.partition for tp in assigned}
        others = [TopicPartition(self.topic, p) for p in range(partitions) if p not in mine]
        if not others:
            self.forget()
            return []
        committed = {tp.partition: kc.committed(tp) or 0 for tp in others}
        return self.unread(committed, ends(committed))
