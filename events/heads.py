"""How far the event topic really is: the offsets the relays recorded for what the broker acknowledged.

A consumer cannot learn that from the broker alone. Tansu answers ListOffsets(latest) with the base
offset of a partition's last batch + 1, and a client's high-water mark is only as fresh as the last
fetch the broker answered: a client whose fetches stopped being answered (after an object store
kill -9 an intake consumer sat at offset 167 for minutes while the stores reached 1,128) keeps the
old mark, its lag reads 0, and a watchdog that trusts it sees an idle consumer, not a stalled one.

The event stores are the truth. Every relay records in its own outbox the partition and offset the
broker acknowledged for each row (events/relay.py); the highest of those over every service's
outbox is where each partition's head is. Read with one index probe per schema and partition.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from psycopg import sql

from events.db import Connections

# Every schema with a relay's outbox (a service's event store): found in the catalogue, so a new
# service is counted without a list to keep in step.
_OUTBOXES = """
SELECT table_schema FROM information_schema.columns
WHERE table_name = 'outbox' AND column_name = 'kafka_offset' ORDER BY 1
"""
_HEAD = """
SELECT kafka_offset FROM {}.outbox
WHERE kafka_partition = %(partition)s AND kafka_offset IS NOT NULL AND topic = %(topic)s
ORDER BY kafka_offset DESC LIMIT 1
"""


class StoreHeads:
    """Per partition, the offset after the highest one any relay recorded as acknowledged."""

    def __init__(self, pool: Connections, topic: str, rediscover_s: float = 300.0) -> None:
        self.pool = pool
        self.topic = topic
        self.rediscover_s = rediscover_s
        self._schemas: list[str] = []
        self._found_at = float("-inf")

    def __call__(self, partitions: Iterable[int]) -> dict[int, int]:
        heads: dict[int, int] = {}
        with self.pool.connection() as conn:
            if time.monotonic() - self._found_at > self.rediscover_s:
                self._schemas = [r["table_schema"] for r in conn.execute(_OUTBOXES).fetchall()]
                self._found_at = time.monotonic()
            for schema in self._schemas:
                query = sql.SQL(_HEAD).format(sql.Identifier(schema))
                for partition in partitions:
                    row = conn.execute(query, {"partition": partition, "topic": self.topic}).fetchone()
                    if row is not None:
                        heads[partition] = max(heads.get(partition, 0), int(row["kafka_offset"]) + 1)
        return heads
