"""Table recovery on Tansu: the changelog read from its first record to its last, a key's latest write kept."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import Any

from faust.tables.table import Table
from faust.types import TP, EventT

from events.contract import TOPIC
from events.span import readable_spans
from services.live import fold


class PartitionedTable(Table):
    """A table whose keys name their source partition ("<partition>:..."), so a value is written to
    that changelog partition even outside an event's context (a batch holds several partitions)."""

    def partition_for_key(self, key: Any) -> int:
        return fold.key_partition(str(key))

    def apply_changelog_batch(self, batch: Iterable[EventT]) -> None:
        """Recovery keeps, per key, its latest value (by its write time `w`; by the source offset
        `o` for a value written before `w` existed), whatever order the changelog is read in. The
        embedded broker's compactor (infra/compactor.py) writes a merged object before deleting the
        ones it replaces, so a fetch in between returns records twice: an older value read again
        after a newer one would otherwise win. Offsets alone do not order two values written from
        two incarnations of the source topic (batches.py)."""
        best: dict[Any, EventT] = {}
        for event in batch:
            value = event.value
            if event.message.value is None or not isinstance(value, dict):
                continue  # the live table never deletes a key
            key = self._to_key(event.key)
            held: Any = best[key].value if key in best else self.data.get(key)
            if held is None or _order(value) >= _order(held):
                best[key] = event
        super().apply_changelog_batch(list(best.values()))


def _order(value: dict[str, Any]) -> tuple[int, int]:
    return value.get("w", 0), value.get("o", -1)


def true_highwaters(consumer: Any, bootstrap: str, client_id: str) -> None:
    """Table recovery reads each changelog partition from ListOffsets(earliest) to the high-water
    mark, and Tansu's answers are wrong both ways (events/span.py): earliest 4 while 0-3 were
    readable, measured after a compaction pass (the windows then lost every key written there),
    and a high-water mark past the last readable record (recovery waited eleven minutes for it).
    Both ends of a changelog are read with fetches instead: from its first record to its last."""
    stock_earliest = consumer.earliest_offsets

    async def spans(tps: Sequence[TP]) -> dict[TP, tuple[int, int]]:
        by_topic: dict[str, list[TP]] = {}
        for tp in tps:
            by_topic.setdefault(tp.topic, []).append(tp)
        found: dict[TP, tuple[int, int]] = {}
        for topic, parts in by_topic.items():
            read = await asyncio.to_thread(readable_spans, bootstrap, client_id, topic,
                                           [tp.partition for tp in parts], 10.0)
            found.update({tp: read[tp.partition] for tp in parts})
        return found

    async def highwaters(*tps: TP) -> dict[TP, int]:
        return {tp: end for tp, (_, end) in (await spans(tps)).items()}

    async def earliest_offsets(*tps: TP) -> dict[TP, int]:
        changelogs = [tp for tp in tps if tp.topic != TOPIC]
        found: dict[TP, int] = {tp: first for tp, (first, _) in (await spans(changelogs)).items()}
        rest = [tp for tp in tps if tp.topic == TOPIC]
        return {**found, **(await stock_earliest(*rest) if rest else {})}

    consumer.highwaters = highwaters
    consumer.earliest_offsets = earliest_offsets

