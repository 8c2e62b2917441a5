"""The live app's windows when the topic it folds is deleted and made again while it runs: the
relays publish every event again on the new topic from offset 0, and the live app, which held
windows guarded by the old topic's offsets, must fold the new one again and equal the stores.
The old topic also carried messages that were not events (skipped by every reader), so the new
topic's offsets for the same events, and for the new ones after them, are below the old guards:
without the topic's id beside its offsets the app took the new cases for replays.

Every consumer of the session's stack then reads its whole history again (each skips it by its
event ids), which costs the next tests minutes: `make test-scale` runs it on a stack of its own,
`make test` leaves it out. `make chaos` does the same to an in-memory broker, and switches the
broker back onto its old S3 log after it.
"""

from __future__ import annotations

import pytest
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic

from events.contract import TOPIC
from infra.stack import Stack
from tests.integration.conftest import wait_for
from tests.integration.test_live import assert_equal_to_the_stores, metrics
from tests.integration.test_live_recovery import drive

pytestmark = [pytest.mark.integration, pytest.mark.scale]

NOT_EVENTS = 600


def test_the_live_windows_follow_the_topic_when_it_is_deleted_and_made_again(
        stack: Stack, db_url: str, env: dict[str, str], tokens: dict[str, str]):
    stack.wait_ready()
    _not_events(env["KAFKA_BOOTSTRAP_SERVERS"], stack.topic_partitions(), NOT_EVENTS)
    drive(stack, tokens, 3)  # counted at offsets past the messages that were not events
    assert_equal_to_the_stores(stack, db_url)
    replays_before = _replays(stack)  # one already, when the app began with an empty table
    admin = KafkaAdminClient(bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"], client_id="test-live-topic")
    try:
        admin.delete_topics([TOPIC])
        # Made again at once, as an operator would, with the partitions the stack gave it.
        wait_for(lambda: _create(admin, stack.topic_partitions()), 30, "the topic made again")
    finally:
        admin.close()

    wait_for(lambda: _replays(stack) > replays_before, 60, "the live app to fold the new topic from its start")
    drive(stack, tokens, 2)  # new cases at the new topic's offsets, below the old ones
    assert_equal_to_the_stores(stack, db_url)
    assert metrics(stack)[("case_ledger_live_topic_changes_total", ())] >= 1


def _not_events(bootstrap: str, partitions: int, n: int) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, client_id="test-live-topic")
    try:
        for i in range(n):
            producer.send(TOPIC, b"not an event", partition=i % partitions)
        producer.flush(30)
    finally:
        producer.close()


def _replays(stack: Stack) -> float:
    return metrics(stack).get(("case_ledger_live_replays_total", ()), 0.0)


def _create(admin: KafkaAdminClient, partitions: int) -> bool:
    try:
        admin.create_topics([NewTopic(TOPIC, num_partitions=partitions, replication_factor=1)])
    except Exception:  # still being deleted, or made already by a client's request
        return TOPIC in admin.list_topics()
    return True
