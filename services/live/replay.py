"""The source topic read again from its first record, outside the consumer group, in chunks.

The live tables are a function of the topic they were folded from. When the topic is another one
(recreated empty and republished, or an old log come back), what the table holds from the other
one is forgotten and the whole topic is folded again; this reads it. The consumer group's own
position is not moved: faust keeps reading where it was, and what it reads below the end found
here is skipped by its event ids.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from kafka import TopicPartition
from kafka.errors import KafkaError

from events.span import probe_consumer, readable_spans

CHUNK = 5_000
# A partition whose next record does not come for this long is taken as read to its end.
QUIET_S = 2.0


class TopicReader:
    """Reads each partition from its first readable record to its end as found at the start."""

    def __init__(self, bootstrap: str, client_id: str, topic: str, partitions: Sequence[int],
                 timeout_s: float = 30.0) -> None:
        self.topic = topic
        spans = readable_spans(bootstrap, client_id, topic, partitions, timeout_s)
        self.ends = {p: end for p, (_, end) in spans.items()}
        # Where the read got to: the end, or short of it when a partition went quiet first (faust
        # must then read on from there, not from the end).
        self.reached = {p: first for p, (first, _) in spans.items()}
        self._todo = [(p, first, end) for p, (first, end) in sorted(spans.items()) if end > first]
        self._consumer = probe_consumer(bootstrap, client_id)
        self._current: tuple[int, int] | None = None  # (partition, end) being read
        self._quiet_since = time.monotonic()

    def chunk(self) -> list[tuple[int, int, bytes | None]] | None:
        """The next (partition, offset, value) records, at most CHUNK; None once every partition is read."""
        while True:
            if self._current is None:
                if not self._todo:
                    self.close()
                    return None
                partition, first, end = self._todo.pop(0)
                tp = TopicPartition(self.topic, partition)
                self._consumer.assign([tp])
                self._consumer.seek(tp, first)
                self._current, self._quiet_since = (partition, end), time.monotonic()
            partition, end = self._current
            records = self._poll()
            if records:
                self._quiet_since = time.monotonic()
                taken = [(partition, r.offset, r.value) for r in records if r.offset < end]
                if taken:
                    self.reached[partition] = max(self.reached[partition], taken[-1][1] + 1)
                if len(taken) < len(records) or records[-1].offset + 1 >= end:
                    self._current = None
                if taken:
                    return taken
            elif time.monotonic() - self._quiet_since > QUIET_S:
                self._current = None

    def close(self) -> None:
        self._consumer.close()

    def _poll(self) -> list[Any]:
        try:
            polled = self._consumer.poll(timeout_ms=300, max_records=CHUNK)
        except KafkaError:  # out of range: the reset moves the position on, the next poll reads
            return []
        return sorted((r for records in polled.values() for r in records), key=lambda r: r.offset)
