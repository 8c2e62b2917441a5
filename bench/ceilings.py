"""The ceilings the pipeline is compared to, measured in the same run on the same stack: how fast
PostgreSQL takes event-sized rows (COPY in one transaction; executemany, 50 rows a transaction)
and how fast kafka-python produces (acks=all, idempotent, as the relay) and consumes."""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any
from uuid import uuid4

import psycopg
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

from bench import BenchFailed, Figures, scaled

SCHEMA = "bench_ceiling"
BATCH = 50


def _event_row(i: int) -> tuple[Any, ...]:
    # About the size and shape of a stored envelope.
    payload = {"event_id": str(uuid4()), "event_type": "CaseOpened", "schema_version": 2, "case_id": str(uuid4()),
               "payload": {"patient_ref": f"pr_{uuid4().hex}", "tumour_site": "breast", "stage_group": "II",
                           "referral_reasons": ["stage_borderline"], "patient_country": "GB", "language": "en"}}
    return (f"case-{uuid4()}", 1, "CaseOpened", json.dumps(payload), "2026-03-01T09:00:00+00:00")


def _table(conn: psycopg.Connection[Any]) -> None:
    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    conn.execute(f"DROP TABLE IF EXISTS {SCHEMA}.events")
    conn.execute(f"CREATE TABLE {SCHEMA}.events (stream_id text, version int, event_type text, payload jsonb, "
                 f"occurred_at timestamptz, PRIMARY KEY (stream_id, version))")


def postgres(database_url: str, summary: dict[str, Any]) -> Figures:
    n = scaled(20_000, 1000)
    rows = [_event_row(i) for i in range(n)]
    with psycopg.connect(database_url) as conn:
        _table(conn)
        conn.commit()
        start = time.perf_counter()
        with conn.cursor() as cur, cur.copy(f"COPY {SCHEMA}.events FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        conn.commit()
        copy_rate = n / (time.perf_counter() - start)
        _table(conn)
        conn.commit()
        start = time.perf_counter()
        for i in range(0, n, BATCH):
            with conn.cursor() as cur:
                cur.executemany(f"INSERT INTO {SCHEMA}.events VALUES (%s, %s, %s, %s, %s)", rows[i:i + BATCH])
            conn.commit()
        many_rate = n / (time.perf_counter() - start)
        conn.execute(f"DROP SCHEMA {SCHEMA} CASCADE")
        conn.commit()
    summary["ceiling_pg_copy_events_per_s"] = copy_rate
    summary["ceiling_pg_executemany_events_per_s"] = many_rate
    return [(f"PostgreSQL COPY, {n:,} rows in 1 transaction", copy_rate, "rows/s"),
            (f"PostgreSQL executemany, {BATCH} rows a transaction", many_rate, "rows/s")]


def kafka(bootstrap: str, summary: dict[str, Any]) -> Figures:
    n = scaled(30_000, 1000)
    topic = f"bench-ceiling-{uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(topic, num_partitions=6, replication_factor=1)])
        value = _event_row(0)[3].encode()
        producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5,
                                 allow_auto_create_topics=False)
        try:
            start = time.perf_counter()
            futures = [producer.send(topic, key=uuid4().bytes, value=value) for _ in range(n)]
            producer.flush(timeout=120)
            produce_rate = n / (time.perf_counter() - start)
            failed = sum(1 for f in futures if not f.is_done or f.failed())
        finally:
            producer.close()
        if failed:
            raise BenchFailed(f"kafka ceiling: {failed} of {n} sends not acknowledged")
        consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, max_poll_records=5000)
        try:
            parts = [TopicPartition(topic, p) for p in range(6)]
            consumer.assign(parts)
            consumer.seek_to_beginning(*parts)
            got, start = 0, time.perf_counter()
            deadline = start + 120
            while got < n and time.perf_counter() < deadline:
                got += sum(len(batch) for batch in consumer.poll(timeout_ms=500).values())
            consume_rate = got / (time.perf_counter() - start)
        finally:
            consumer.close()
        if got < n:
            raise BenchFailed(f"kafka ceiling: consumed {got} of {n} messages in 120 s")
    finally:
        with contextlib.suppress(Exception):  # a broker that cannot delete keeps a scratch topic: harmless
            admin.delete_topics([topic])
        admin.close()
    summary["ceiling_kafka_produce_msgs_per_s"] = produce_rate
    summary["ceiling_kafka_consume_msgs_per_s"] = consume_rate
    return [(f"kafka-python produce, {n:,} messages, acks=all", produce_rate, "msg/s"),
            ("kafka-python consume", consume_rate, "msg/s")]
