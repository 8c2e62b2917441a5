"""Kafka clients configured the way the ledger needs them.

No client ever creates a topic by asking for it (allow_auto_create_topics=False): a topic made
that way gets the broker's default partitions, not ours. Our tooling creates topics, with the
configured partitions, and a wrong count is a readiness failure.
"""

from __future__ import annotations

from kafka import KafkaConsumer, KafkaProducer
from kafka.coordinator.assignors.cooperative_sticky import CooperativeStickyAssignor
from kafka.coordinator.assignors.range import RangePartitionAssignor
from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor

from events.broker import Broker, TopicView
from events.contract import DLQ_TOPIC, TOPIC

TOPICS = (TOPIC, DLQ_TOPIC)


def producer(bootstrap: str, client_id: str, idempotent: bool = True) -> KafkaProducer:
    # acks=all: a record is acknowledged once the broker has it. Idempotent: a send the client
    # retries by itself is not stored twice. Without it, one request in flight per connection
    # keeps per-partition order across those retries (a retried batch cannot land behind the next
    # one). The relay's producer may turn it off (CASE_LEDGER_RELAY_IDEMPOTENT, docs/broker.md):
    # its delivery is at least once anyway and every consumer applies an event once by its id.
    order = {"enable_idempotence": True} if idempotent else {"enable_idempotence": False,
                                                              "max_in_flight_requests_per_connection": 1}
    return KafkaProducer(
        bootstrap_servers=bootstrap, client_id=client_id, acks="all", **order,
        linger_ms=5, request_timeout_ms=10_000, max_block_ms=10_000, retries=5,
        # The relay hands over up to a page of the outbox at once: one request per partition
        # carries it, instead of a request per 16 KiB.
        batch_size=256 * 1024,
        allow_auto_create_topics=False,
    )


SESSION_TIMEOUT_MS = 10_000


def consumer_timeouts(session_timeout_ms: int = SESSION_TIMEOUT_MS) -> dict[str, int]:
    """The group timings every member uses (bench/rebalance.py measures a restart with them)."""
    # A short max_poll_interval makes group joins take ~3 s instead of ~20 s on this broker: it is
    # the rebalance timeout, how long the broker waits for every member to join again. The session
    # timeout is what a restart waits for the member it replaces to expire (never_leave below).
    return {"max_poll_interval_ms": max(10_000, session_timeout_ms), "session_timeout_ms": session_timeout_ms,
            "heartbeat_interval_ms": 1_000}


def consumer(bootstrap: str, group_id: str, client_id: str, instance_id: str | None = None,
             cooperative: bool = False, fetch_max_wait_ms: int = 1000,
             session_timeout_ms: int = SESSION_TIMEOUT_MS) -> KafkaConsumer:
    # Not subscribed here: the runner subscribes with its rebalance listener.
    # `instance_id` is the member's group.instance.id (KIP-345, static membership): a member that
    # restarts with the same one within the session timeout is meant to get its partitions back
    # without a rebalance of the whole group; `cooperative` assigns with the cooperative-sticky
    # assignor (KIP-429). What either does on Tansu: docs/operators.md, "Members and restarts".
    strategy = (CooperativeStickyAssignor,) if cooperative else (RangePartitionAssignor,
                                                                          RoundRobinPartitionAssignor)
    kc = KafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group_id, client_id=client_id,
        group_instance_id=instance_id, partition_assignment_strategy=strategy,
        enable_auto_commit=False, auto_offset_reset="earliest", allow_auto_create_topics=False,
        max_poll_records=500,
        # How long the broker may hold a fetch that finds nothing (CASE_LEDGER_CONSUMER_FETCH_MAX_WAIT_MS).
        # At 50 ms every idle consumer sent 20 empty fetches a second, which kept an idle worker at
        # 4-7% of a core and the broker busy answering them, so it is 1000. It was taken to cost
        # no latency (20-35 ms from produce to poll with a 2 s wait, measured once), but measured
        # 2026-12-08 (bench phase ceiling_broker, kafka-python alone, 100 records/s) Tansu 0.6.0
        # did not answer a held fetch when data arrived: produce → fetch p50 71 ms with a 100 ms
        # wait, 356 ms with 1000 ms (docs/broker.md).
        fetch_max_wait_ms=fetch_max_wait_ms,
        # Fresh metadata carries the topic's id: a recreated topic is noticed within seconds.
        metadata_max_age_ms=5_000,
        **consumer_timeouts(session_timeout_ms),
    )
    never_leave(kc)
    return kc


def never_leave(kc: KafkaConsumer) -> None:
    """The member never sends LeaveGroup: on close, on a restart by the watchdog, or when its poll
    interval ran out. The broker expires it after `session_timeout_ms` instead.

    Tansu (0.6.0) keeps a group's leader when that leader leaves while the group is forming (a
    join or sync in flight: after a broker restart, a rebalance, a second member): the leader
    stays a member id nobody holds, every later member joins as a follower, and its SyncGroup
    answers REBALANCE_IN_PROGRESS for ever. Measured: after `make chaos`'s broker kill the group
    got no partition for 15 minutes. Expiry by the session timeout clears that leader (Tansu's
    missed-heartbeat path does), so the next member to join leads: a restart costs at most the
    session timeout (10 s by default) more, against a group that never forms again. docs/broker.md.
    """
    coordinator = kc._coordinator

    async def forget_the_generation(reason: str | None = None, timeout_ms: int | None = None) -> None:
        coordinator.reset_generation()  # what leaving does to the client, without telling the broker

    coordinator.maybe_leave_group_async = forget_the_generation


def ensure_topics(bootstrap: str, partitions: int = 6) -> dict[str, TopicView]:
    return Broker(bootstrap, "case-ledger-admin").ensure(TOPICS, partitions)
