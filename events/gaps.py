"""Holes in what a fetch returned: offsets skipped because the broker served a later batch first.

Our topic has no compaction and no transactions, so its offsets are contiguous: a record missing
between the position a fetch asked from and the records it returned is a record not yet readable,
not one that does not exist. Tansu's S3 log shows this under concurrent producers (the relays of
four services write one partition): the batch of one producer can be listed before the batch of
another that took a lower offset is written. A consumer that took what it was given moved past the
lower offset for good; the analytics projection lost a `RecordsReceived` that way (stored 814,
projected 813) while review's consumer, fetching a moment later, had it.

The guard keeps what follows on without a hole and asks the caller to fetch again from the hole.
A hole that is still there after `wait_s` is taken as real (a produce the broker numbered and never
wrote: the producer was not acknowledged and sent the record again at a later offset), counted,
and passed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar


class HasOffset(Protocol):
    @property
    def offset(self) -> int: ...


R = TypeVar("R", bound=HasOffset)


@dataclass
class GapGuard:
    wait_s: float
    clock: Callable[[], float] = time.monotonic
    on_skipped: Callable[[int], None] = lambda missing: None
    # partition -> (the missing offset, when it was first seen missing)
    _holes: dict[Hashable, tuple[int, float]] = field(default_factory=dict)

    @property
    def waiting(self) -> bool:
        return bool(self._holes)

    def forget(self, partition: Hashable | None = None) -> None:
        """After a seek, a rebalance or a new client the positions mean something else."""
        if partition is None:
            self._holes.clear()
        else:
            self._holes.pop(partition, None)

    def admit(self, partition: Hashable, expected: int | None, records: Sequence[R]) -> tuple[list[R], int | None]:
        """The records that follow `expected` without a hole, and the offset to fetch again from
        (None: nothing to fetch again). `expected` None: the position was not known, nothing to check."""
        if expected is None:
            return list(records), None
        kept: list[R] = []
        following = expected
        for record in records:
            if record.offset > following and not self._passed(partition, following, record.offset):
                return kept, following
            kept.append(record)
            following = max(following, record.offset + 1)
        self._holes.pop(partition, None)
        return kept, None

    def _passed(self, partition: Hashable, missing: int, found: int) -> bool:
        now = self.clock()
        hole = self._holes.get(partition)
        if hole is None or hole[0] != missing:
            self._holes[partition] = (missing, now)
            return False
        if now - hole[1] < self.wait_s:
            return False
        del self._holes[partition]
        self.on_skipped(found - missing)
        return True
