"""From a record's commit to a consumer's fetch, on the stack's broker: the ceiling with nothing of
ours in between, and the outbox relay with Kafka's idempotent producer on and off (A/B).

- `ceiling`: a kafka-python producer (acks=all, one record at a time, each flushed) and a consumer
  assigned to a scratch topic; the figure is each record's send → its arrival in a poll, open loop
  at RATE records/s. `ceiling_broker_produce_to_fetch_p99_ms` (the consumer waiting at most
  FETCH_WAIT_MS per fetch) is what a commit → projection figure is compared to
  (docs/benchmarks.md); the same with the stack's consumers' wait says what that wait costs.
- `relay_ab`: the real `OutboxRelay` on a scratch outbox (its own schema and topic), with the
  stack's producer settings (`events.kafka.producer`) and only `idempotent` changed. Per variant:
  the relay's throughput over a backlog of THROUGHPUT_ROWS rows, then commit → fetch at RATE
  commits/s (one row a transaction, the relay woken by the NOTIFY, pacing as the stack's
  relays), with the broker's S3 requests per event. The variants alternate, ROUNDS times each,
  so a drift of the shared machine's load falls on both.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from uuid import uuid4

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from psycopg import sql

from bench import BenchFailed, Figures, percentiles, scaled
from bench.ceilings import _event_row
from bench.openloop import open_loop
from bench.storage import Requests, per_event
from events import kafka
from events.db import Pool, open_pool
from events.migrations import EVENT_STORE_MIGRATIONS, migrate
from events.relay import OutboxRelay
from events.store import outbox_channel

RATE = 100.0  # commits (records) per second, open loop
DURATION_S = 10.0
ROUNDS = 2
SCHEMA = "bench_relay_ab"
LINGER_S = 0.02  # the stack's relays' pacing (CASE_LEDGER_RELAY_LINGER_MS)
# Tansu does not answer a waiting fetch when data arrives: the wait sets the delay. Measured here
# (one run each, 100 records/s): p50 produce → fetch 94 / 71 / 207 / 356 ms with a wait of
# 20 / 100 / 500 / 1000 ms. The ceiling takes the fastest, and is measured again with the stack's
# consumers' wait (events/kafka.py) to show what that costs.
FETCH_WAIT_MS = 100
STACK_FETCH_WAIT_MS = 1000
# A scratch outbox row: the value about an envelope's size, the key the row's own id (16 bytes).
_INSERT = sql.SQL("INSERT INTO {}.outbox (event_id, topic, message_key, message) "
                  "SELECT gen_random_uuid(), %(topic)s, uuid_send(gen_random_uuid()), %(message)s "
                  "FROM generate_series(1, %(n)s) RETURNING message_key")


class _Arrivals:
    """A consumer assigned to every partition of a topic, from its end: when each key arrived."""

    def __init__(self, bootstrap: str, topic: str, partitions: int, wait_ms: int = FETCH_WAIT_MS) -> None:
        self.seen: dict[bytes, float] = {}
        self._stop = threading.Event()
        self._consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                       fetch_max_wait_ms=wait_ms, max_poll_records=5000)
        parts = [TopicPartition(topic, p) for p in range(partitions)]
        self._consumer.assign(parts)
        self._consumer.seek_to_end(*parts)
        for tp in parts:
            self._consumer.position(tp)  # resolved now, before anything is sent
        self._thread = threading.Thread(target=self._run, name="bench-arrivals", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for records in self._consumer.poll(timeout_ms=200).values():
                now = time.monotonic()
                for r in records:
                    self.seen.setdefault(bytes(r.key), now)

    def delays(self, sent: dict[bytes, float], wait_s: float = 30.0) -> list[float]:
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline and any(k not in self.seen for k in sent):
            time.sleep(0.05)
        missing = sum(1 for k in sent if k not in self.seen)
        if missing:
            raise BenchFailed(f"{missing} of {len(sent)} records not fetched within {wait_s:.0f}s")
        return [self.seen[k] - t for k, t in sent.items()]

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._consumer.close()


@contextlib.contextmanager
def _topic(bootstrap: str, partitions: int) -> Iterator[str]:
    name = f"bench-fetch-{uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
        yield name
    finally:
        with contextlib.suppress(Exception):  # a broker that cannot delete keeps a scratch topic: harmless
            admin.delete_topics([name])
        admin.close()


def _produce_to_fetch(bootstrap: str, partitions: int, wait_ms: int) -> list[float]:
    """Each record's send → its arrival in a consumer waiting at most wait_ms per fetch (s)."""
    value = _event_row(0)[3].encode()
    with _topic(bootstrap, partitions) as topic:
        arrivals = _Arrivals(bootstrap, topic, partitions, wait_ms)
        producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0, allow_auto_create_topics=False)
        sent: dict[bytes, float] = {}
        lock = threading.Lock()

        def send(_: int) -> None:
            key = uuid4().bytes
            at = time.monotonic()
            producer.send(topic, key=key, value=value).get(timeout=30)
            with lock:
                sent[key] = at

        try:
            open_loop(send, RATE, scaled(int(DURATION_S), 3), workers=4)
            return arrivals.delays(sent)
        finally:
            producer.close()
            arrivals.close()


def ceiling(bootstrap: str, summary: dict[str, Any], partitions: int) -> Figures:
    figures: Figures = []
    for wait_ms in (FETCH_WAIT_MS, STACK_FETCH_WAIT_MS):
        p = percentiles(_produce_to_fetch(bootstrap, partitions, wait_ms), (50, 99))
        if wait_ms == FETCH_WAIT_MS:
            summary["ceiling_broker_produce_to_fetch_p99_ms"] = p[99] * 1000
        else:
            summary["broker_produce_to_fetch_p99_ms_at_stack_fetch_wait"] = p[99] * 1000
        figures += [(f"produce → fetch, {RATE:.0f} records/s, fetch wait {wait_ms} ms: p50", p[50] * 1000, "ms"),
                    (f"produce → fetch, fetch wait {wait_ms} ms: p99", p[99] * 1000, "ms")]
    return figures


def _scratch(pool: Pool) -> None:
    with pool.connection() as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(SCHEMA)))
    migrate(pool, SCHEMA, EVENT_STORE_MIGRATIONS)


def _relay(pool: Pool, database_url: str, bootstrap: str, idempotent: bool) -> OutboxRelay:
    return OutboxRelay(pool, database_url, SCHEMA, "bench-relay-ab",
                       lambda: kafka.producer(bootstrap, "bench-relay-ab", idempotent), linger=LINGER_S)


def _throughput(pool: Pool, relay: OutboxRelay, topic: str, rows: int) -> float:
    with pool.connection() as conn:
        conn.execute(_INSERT.format(sql.Identifier(SCHEMA)), {"topic": topic, "message": _event_row(0)[3].encode(),
                                                              "n": rows})
    start = time.perf_counter()
    published = 0
    while (n := relay.publish_batch()) > 0:
        published += n
    if published != rows:
        raise BenchFailed(f"the relay published {published} of {rows} rows")
    return rows / (time.perf_counter() - start)


def _commit_to_fetch(pool: Pool, relay: OutboxRelay, bootstrap: str, topic: str, partitions: int,
                     requests: Callable[[], Requests | None]) -> tuple[list[float], Figures]:
    arrivals = _Arrivals(bootstrap, topic, partitions)
    stop = threading.Event()
    runner = threading.Thread(target=relay.run, args=(stop,), name="bench-relay-ab", daemon=True)
    sent: dict[bytes, float] = {}
    lock = threading.Lock()
    message = _event_row(0)[3].encode()
    insert = _INSERT.format(sql.Identifier(SCHEMA))
    notify = sql.SQL("SELECT pg_notify({}, '')").format(sql.Literal(outbox_channel(SCHEMA)))

    def commit(_: int) -> None:
        with pool.connection() as conn, conn.transaction():
            row = conn.execute(insert, {"topic": topic, "message": message, "n": 1}).fetchone()
            conn.execute(notify)
        at = time.monotonic()
        assert row is not None
        with lock:
            sent[bytes(row["message_key"])] = at

    before = requests()
    runner.start()
    try:
        open_loop(commit, RATE, scaled(int(DURATION_S), 3), workers=4)
        delays = arrivals.delays(sent)
    finally:
        stop.set()
        runner.join()
        arrivals.close()
    return delays, per_event(before, requests(), len(sent))


def relay_ab(database_url: str, bootstrap: str, summary: dict[str, Any], partitions: int,
             requests: Callable[[], Requests | None] = lambda: None) -> Figures:
    pool = open_pool(database_url, max_size=6, name="bench-relay-ab")
    rates: dict[bool, list[float]] = {True: [], False: []}
    delays: dict[bool, list[float]] = {True: [], False: []}
    storage: dict[bool, Figures] = {}
    try:
        _scratch(pool)
        for _ in range(ROUNDS):
            for idempotent in (True, False):
                relay = _relay(pool, database_url, bootstrap, idempotent)
                with _topic(bootstrap, partitions) as topic:
                    rates[idempotent].append(_throughput(pool, relay, topic, scaled(6000, 500)))
                    got, storage[idempotent] = _commit_to_fetch(pool, relay, bootstrap, topic, partitions, requests)
                    delays[idempotent] += got
    finally:
        with pool.connection() as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(SCHEMA)))
        pool.close()
    figures: Figures = []
    for idempotent, name in ((True, "idempotent"), (False, "plain")):
        p = percentiles(delays[idempotent], (50, 99))
        rate = sum(rates[idempotent]) / len(rates[idempotent])
        summary[f"relay_{name}_events_per_s"] = rate
        summary[f"relay_{name}_commit_to_fetch_p99_ms"] = p[99] * 1000
        figures += [(f"{name}: relay over a backlog (mean of {ROUNDS})", rate, "events/s"),
                    (f"{name}: commit → fetch p50 at {RATE:.0f} commits/s", p[50] * 1000, "ms"),
                    (f"{name}: commit → fetch p99", p[99] * 1000, "ms"),
                    *((f"{name}: {label} (last round)", v, u) for label, v, u in storage[idempotent])]
    return figures
