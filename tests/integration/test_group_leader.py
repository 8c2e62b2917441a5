"""A group whose leader stops while the group is forming forms again, on the real broker.

Tansu kept the leader of a forming group when that leader sent LeaveGroup, so every later member
joined as a follower and waited for an assignment nobody would send (events/kafka.py,
`never_leave`). Here a second member joins a formed group, which starts a rebalance with the first
member still its leader, and the first member stops before rejoining: the second must end up with
every partition.

It runs in `make test-scale`, on a stack of its own: in one of two full `make test` runs, after the
fault tests had killed the session's broker, its first member waited over 60 s for its first
assignment (not understood), and the suite is at its 15-minute budget.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest
from kafka.admin import KafkaAdminClient, NewTopic

from events import kafka
from tests.integration.conftest import wait_for

pytestmark = pytest.mark.scale

PARTITIONS = 2


def _member(bootstrap: str, group: str, topic: str, name: str) -> Any:
    kc = kafka.consumer(bootstrap, group, f"{group}-{name}")
    kc.subscribe([topic])
    return kc


def _owns_all(kc: Any) -> bool | None:
    kc.poll(timeout_ms=1000)  # a join takes seconds on Tansu: poll long enough to finish one
    return len(kc.assignment()) == PARTITIONS or None


def _polling(kc: Any, stop: threading.Event) -> threading.Thread:
    def loop() -> None:
        while not stop.is_set():
            kc.poll(timeout_ms=1000)
    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    return thread


def test_a_group_forms_again_when_its_leader_stops_during_a_rebalance(env: dict[str, str]) -> None:
    bootstrap = env["KAFKA_BOOTSTRAP_SERVERS"]
    topic, group = f"scratch-leader-{uuid.uuid4().hex[:8]}", f"scratch-leader-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(topic, PARTITIONS, 1)])
    admin.close()

    first = _member(bootstrap, group, topic, "first")
    wait_for(lambda: _owns_all(first), 60, "the first member owns both partitions")

    second, stop = _member(bootstrap, group, topic, "second"), threading.Event()
    poller = _polling(second, stop)
    try:
        # Joined: the broker gave it a generation, so the group is forming with `first` its leader.
        wait_for(lambda: second._coordinator._generation.generation_id >= 0 or None, 60,
                 "the second member's join")
        first.close(autocommit=False)  # stops without rejoining, mid-rebalance
        owned = wait_for(lambda: second.assignment() if len(second.assignment()) == PARTITIONS else None,
                         60, "the second member owns both partitions")
        assert {tp.partition for tp in owned} == set(range(PARTITIONS))
    finally:
        stop.set()
        poller.join(timeout=5)
        second.close(autocommit=False)
