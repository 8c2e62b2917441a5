"""Applying messages to the live app's table in batches, guarded by offsets and event ids.

An offset means something only on the topic it was read from: a topic deleted and created again,
or an in-memory broker restarted empty, numbers its messages from 0 again while the relays publish
the stores' events anew. Every value therefore records the topic's id beside its offset (`ti`), and
its guard holds only on that topic; on another, the event ids alone decide what was applied.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from events.lifecycle import Life
from events.registry import Decoded
from services.live.fold import (
    Count,
    add_count,
    apply,
    case_key,
    key_kind,
    life_of,
    new_case,
    store_life,
    window_key,
)


@dataclass(frozen=True)
class Message:
    """A decoded message with where it came from."""

    partition: int
    offset: int
    decoded: Decoded


class Batch:
    """Applies messages to a table (any mutable mapping of key -> JSON value), guarded by offsets.

    Every value records the last source offset applied to it; a message whose offset is not newer
    than a value's is not applied to that value again. Redelivered messages (faust is at-least-once:
    after a crash, everything after the last committed offset comes again) so change nothing, even
    when the crash fell between the writes of one batch.

    `dirty()` gives the keys to write, windows before cases: the writes of one source partition go
    to one changelog partition, in order, so a case whose new value was persisted implies that the
    windows its events counted in were persisted too (a replay then finds it has nothing to redo).
    """

    def __init__(self, table: MutableMapping[str, Any], topic_id: str | None = None) -> None:
        self.table = table
        # The id of the topic the messages come from; None while the broker has not told it, and
        # then every guard holds as written (a replay must never count twice for want of an id).
        self.topic_id = topic_id
        self._windows: dict[str, dict[str, Any]] = {}
        self._cases: dict[str, dict[str, Any]] = {}
        self._lives: dict[str, Life] = {}
        self.applied = 0
        self.duplicates = 0
        # Messages an offset guard refused that their event ids did not: a replay after a crash, or
        # a topic that is not the one the guards were written on (the caller asks the broker).
        self.suspect = 0
        self._now_ms = time.time_ns() // 1_000_000

    def add(self, message: Message) -> list[Count]:
        key = case_key(message.partition, message.decoded.envelope.case_id)
        # Always a copy (lists inside are replaced, never mutated): an event the fold fails on
        # leaves the batch as it was.
        source = self._cases.get(key)
        if source is None:
            source = self.table.get(key)
        case = dict(source) if source is not None else new_case()
        # The parsed life stays with the batch: it is written as JSON once per case and batch.
        life = self._lives.get(key) or life_of(case)
        event_id = str(message.decoded.envelope.event_id)
        # The offset guard covers a redelivery; the event id covers the same event published
        # again at a new offset (a relay that resent it after a broker crash), which the other
        # consumers drop by its id too.
        if event_id in case.get("ids", ()):
            self.duplicates += 1
            return []
        if message.offset <= self._guard(case):
            self.duplicates += 1
            self.suspect += 1
            return []
        before, seen = dict(case), dict(life.seen)
        counts = apply(case, message.decoded, life)
        applied: list[Count] = []
        by_key: dict[str, list[Count]] = {}
        for count in counts:
            by_key.setdefault(window_key(message.partition, count), []).append(count)
        for wkey, own in by_key.items():
            window = self._windows.get(wkey)
            if window is None:
                stored = self.table.get(wkey)
                window = _copy_window(stored) if stored is not None else {"o": -1, "n": {}}
            # One message may add several counts to one window (a booking: decided and travelled).
            if message.offset > self._guard(window):
                for count in own:
                    add_count(window, count)
                self._stamp(window, message.offset)
                self._windows[wkey] = window
                applied += own
            else:
                self.suspect += 1
        # The life moves with every event it takes (its per-producer versions), even one that changes
        # none of the answers the views read.
        if case != before or applied or life.seen != seen:
            self._stamp(case, message.offset)
            case["ids"] = [*case.get("ids", ()), event_id]
            self._cases[key] = case
            self._lives[key] = life
        self.applied += 1
        return applied

    def forget(self, key: str) -> None:
        """Resets a key to a value nothing was applied to, on this batch's topic (a reset written,
        not a key deleted: recovery then keeps the reset over the forgotten value)."""
        if key_kind(key) == "c":
            case = new_case()
            self._stamp(case, -1)
            self._cases[key], self._lives[key] = case, life_of(case)
        else:
            window: dict[str, Any] = {"o": -1, "n": {}}
            self._stamp(window, -1)
            self._windows[key] = window

    def _guard(self, value: Mapping[str, Any]) -> int:
        """The offset below which a message was applied to `value` already, on this topic."""
        if self.topic_id is None or value.get("ti") in (None, self.topic_id):
            return int(value["o"])
        return -1

    def _stamp(self, value: dict[str, Any], offset: int) -> None:
        value["o"] = offset
        if self.topic_id is not None:
            value["ti"] = self.topic_id

    def dirty(self) -> Iterator[tuple[str, dict[str, Any]]]:
        for key, window in self._windows.items():
            yield key, self._written(key, window)
        for key, case in self._cases.items():
            store_life(case, self._lives[key])
            yield key, self._written(key, case)

    def _written(self, key: str, value: dict[str, Any]) -> dict[str, Any]:
        # `w` orders a key's writes: recovery keeps a key's latest value by it, as offsets of two
        # topics do not compare (recovery.PartitionedTable.apply_changelog_batch). It is the write's
        # time in ms (and above the key's last), not a count: a process that began with an empty
        # table counts from 1 again, and an old changelog come back would then outrank its writes.
        stored = self.table.get(key)
        before = stored.get("w", 0) if stored is not None else 0
        value["w"] = max(before + 1, self._now_ms)
        return value

    def write(self) -> int:
        n = 0
        for key, value in self.dirty():
            self.table[key] = value
            n += 1
        return n


def _copy_window(value: Mapping[str, Any]) -> dict[str, Any]:
    return {**value, "n": dict(value["n"])}
