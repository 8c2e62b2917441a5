"""Where a partition's readable records begin and end, read with fetches, not asked with ListOffsets.

Tansu's ListOffsets was measured wrong both ways: earliest 26 while offsets 0-25 were readable (the
live app's recovery then began at offset 81 of 82 and its windows counted 26 of 63 events), and
its fetch high-water mark can sit past the last record a fetch returns (512 readable, high-water
514: recovery waited for 513 for eleven minutes). A table recovered from a changelog must read from
the first record there is to the last record there is, so both ends are found by reading.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

# How far back from the high-water mark the end is looked for first; doubled while nothing is found.
TAIL_WINDOW = 2_000


def probe_consumer(bootstrap: str, client_id: str) -> KafkaConsumer:
    return KafkaConsumer(bootstrap_servers=bootstrap, client_id=client_id, group_id=None,
                         enable_auto_commit=False, auto_offset_reset="earliest", allow_auto_create_topics=False,
                         request_timeout_ms=10_000, fetch_max_wait_ms=100, max_partition_fetch_bytes=2**20)


def readable_spans(bootstrap: str, client_id: str, topic: str, partitions: Iterable[int],
                   timeout_s: float = 10.0) -> dict[int, tuple[int, int]]:
    """Each partition's (first readable offset, last readable offset + 1); (n, n) when none is readable."""
    consumer = probe_consumer(bootstrap, client_id)
    try:
        return {p: _span(consumer, TopicPartition(topic, p), timeout_s) for p in partitions}
    finally:
        consumer.close()


def _poll(consumer: KafkaConsumer, tp: TopicPartition, max_records: int) -> list[int]:
    try:
        return [r.offset for r in consumer.poll(timeout_ms=300, max_records=max_records).get(tp, [])]
    except KafkaError:  # out of range: the auto reset moves the position on, the next poll reads
        return []


def _first(consumer: KafkaConsumer, tp: TopicPartition, timeout_s: float) -> tuple[int | None, int]:
    """The first record's offset from a fetch at 0 (None when none came) and the high-water mark."""
    consumer.assign([tp])
    consumer.seek(tp, 0)
    deadline = time.monotonic() + timeout_s
    answered_at: float | None = None
    while time.monotonic() < deadline:
        offsets = _poll(consumer, tp, 1)
        high = consumer.highwater(tp)
        if offsets:
            return min(offsets), max(high or 0, max(offsets) + 1)
        if high == 0:
            return None, 0
        if high is not None:
            # The broker answers, with nothing readable below its mark: a bounded wait, then none.
            answered_at = answered_at or time.monotonic()
            if time.monotonic() - answered_at > 2.0:
                return None, high
    raise TimeoutError(f"no answer from the broker about {tp.topic}/{tp.partition} in {timeout_s}s")


def _last(consumer: KafkaConsumer, tp: TopicPartition, start: int, high: int) -> int | None:
    """The last record's offset from `start` on: reads until the mark or until a second brings nothing."""
    consumer.seek(tp, start)
    last: int | None = None
    quiet_since = time.monotonic()
    while time.monotonic() - quiet_since < 1.0:
        offsets = _poll(consumer, tp, 500)
        if offsets:
            last = max(offsets) if last is None else max(last, *offsets)
            quiet_since = time.monotonic()
            if last + 1 >= high:
                break
    return last


def _span(consumer: KafkaConsumer, tp: TopicPartition, timeout_s: float) -> tuple[int, int]:
    first, high = _first(consumer, tp, timeout_s)
    if first is None:
        return high, high
    window = TAIL_WINDOW
    while True:
        start = max(first, high - window)
        last = _last(consumer, tp, start, high)
        if last is not None:
            return first, last + 1
        if start == first:
            return first, first + 1  # the first record is all there is
        window *= 2
