"""Kafka clients configured the way the ledger needs them."""

from __future__ import annotations

import contextlib

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from events.contract import DLQ_TOPIC, TOPIC


def producer(bootstrap: str, client_id: str) -> KafkaProducer:
    # acks=all + idempotence: a retried send is not duplicated and per-partition order holds.
    return KafkaProducer(
        bootstrap_servers=bootstrap, client_id=client_id, acks="all", enable_idempotence=True,
        linger_ms=5, request_timeout_ms=10_000, max_block_ms=10_000, retries=5,
    )


def consumer(bootstrap: str, group_id: str, client_id: str) -> KafkaConsumer:
    # A short max_poll_interval makes group joins take ~3 s instead of ~20 s on this broker.
    return KafkaConsumer(
        TOPIC, bootstrap_servers=bootstrap, group_id=group_id, client_id=client_id,
        enable_auto_commit=False, auto_offset_reset="earliest",
        max_poll_interval_ms=10_000, session_timeout_ms=10_000, heartbeat_interval_ms=1_000,
        max_poll_records=500,
        # The broker answers a fetch as soon as data arrives or after this wait: it bounds the
        # delay an idle consumer adds between a commit and its projection.
        fetch_max_wait_ms=50,
    )


def ensure_topics(bootstrap: str, partitions: int = 6) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="case-ledger-admin")
    try:
        existing = set(admin.list_topics())
        wanted = [NewTopic(t, num_partitions=partitions, replication_factor=1)
                  for t in (TOPIC, DLQ_TOPIC) if t not in existing]
        if wanted:
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(wanted)
    finally:
        admin.close()
