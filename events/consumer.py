"""Consumer runtime: decode, apply and record the event as processed in one PostgreSQL transaction.

Kafka offsets are committed after the batches, at most every `commit_interval`, but they are only
a hint: the `processed_events` row written with the effect is what makes a redelivered event
change nothing (events/applier.py applies a batch and dead-letters what cannot be applied).

Because offsets are only a hint, a consumer rewinds rather than skips whenever they stop meaning
anything: when the topic was deleted and created again (its id changed) it reads the new one from
the start, and an offset past a partition's end resets to the earliest (auto_offset_reset). A
watchdog gives the consumer a new client when it has a backlog and has handled nothing for
`stall_timeout`; the lag it reports comes from a fetch's high-water mark, even right after a
reconnect, when the client itself knows none yet.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import psycopg
from kafka import KafkaConsumer, KafkaProducer, errors
from kafka.consumer.fetcher import ConsumerRecord
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.errors import KafkaError
from kafka.structs import MemberState

from events import failover, metrics
from events.applier import DLQ_REASONS, Applier, BatchHandler, Consumer, Handler, ProcessedEvents
from events.broker import Broker
from events.contract import TOPIC
from events.db import Connections, Queries
from events.gaps import GapGuard
from events.membership import OthersWatch
from events.registry import Registry

__all__ = ["DLQ_REASONS", "BatchHandler", "Consumer", "ConsumerRunner", "Handler", "Stalled"]
log = logging.getLogger(__name__)
_TOPICS_SQL = Path(__file__).parent / "sql" / "topics.sql"


class Stalled(Exception):
    """The consumer has a backlog and handled nothing for too long: its client is replaced."""


class ConsumerRunner:
    def __init__(
        self,
        *,
        consumer: Consumer,
        service: str,
        pool: Connections,
        store: ProcessedEvents,
        registry: Registry,
        make_kafka_consumer: Callable[[str], KafkaConsumer],
        make_producer: Callable[[], KafkaProducer],
        max_attempts: int = 3,
        retry_delay: float = 0.2,
        broker: Broker | None = None,
        stall_timeout: float = 30.0,
        check_interval: float = 5.0,
        commit_interval: float = 5.0,
        fetch_interval: float = 0.0,
        gap_wait: float = 15.0,
        heads: Callable[[Iterable[int]], Mapping[int, int]] | None = None,
    ) -> None:
        self.consumer = consumer
        self.service = service
        self.pool = pool
        self.store = store
        self.make_kafka_consumer = make_kafka_consumer
        self.applier = Applier(consumer=consumer, service=service, group_id=self.group_id_of(service, consumer),
                               pool=pool, store=store, registry=registry, make_producer=make_producer,
                               max_attempts=max_attempts, retry_delay=retry_delay)
        self.broker = broker
        self.stall_timeout = stall_timeout
        self.check_interval = check_interval
        self.commit_interval = commit_interval
        self.fetch_interval = fetch_interval
        # Where the relays say each partition's head is (events/heads.py): the stall watchdog's
        # measure of a backlog, since the client's own high-water mark can be stale.
        self.heads = heads
        self._past_end: dict[int, int] = {}  # partition -> checks in a row it sat past the end
        self.beat = time.monotonic()  # the loop's last turn: a loop blocked inside a call stops it
        self._gaps = GapGuard(gap_wait, on_skipped=lambda n: metrics.CONSUMER_OFFSET_GAPS.labels(
            service, consumer.name, "passed").inc())
        self._topics_q = Queries(_TOPICS_SQL, store.schema)
        self._topic_id: str | None = None  # the topic this client's positions refer to
        self._recorded_topic_id: str | None = None  # the one recorded with the last commit
        # A rewind decided while no partition was assigned (mid-rebalance) is carried out at the
        # next poll that has partitions; until then nothing is committed or recorded.
        self._rewind_pending = False
        self._others = OthersWatch(TOPIC, stall_timeout)
        self._last_progress = time.monotonic()
        self._checked_at = time.monotonic()
        self._zero_series(service, consumer)

    @staticmethod
    def _zero_series(service: str, consumer: Consumer) -> None:
        """Series exist from the start, so dashboards and alerts see 0 rather than no data."""
        for outcome in ("applied", "duplicate", "ignored"):
            metrics.EVENTS_CONSUMED.labels(service, consumer.name, outcome).inc(0)
        for reason in DLQ_REASONS:
            metrics.DLQ_MESSAGES.labels(service, consumer.name, reason).inc(0)
        metrics.CONSUMER_LAG.labels(service, consumer.name).set(0)
        for reason in ("topic_recreated", "past_the_end"):
            metrics.CONSUMER_REWINDS.labels(service, consumer.name, reason).inc(0)
        for reason in ("error", "stalled"):
            metrics.CONSUMER_RESTARTS.labels(service, consumer.name, reason).inc(0)
        for outcome in ("fetched_again", "passed"):
            metrics.CONSUMER_OFFSET_GAPS.labels(service, consumer.name, outcome).inc(0)

    @staticmethod
    def group_id_of(service: str, consumer: Consumer) -> str:
        return f"{service}.{consumer.name}"

    @property
    def group_id(self) -> str:
        return self.group_id_of(self.service, self.consumer)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            kc: KafkaConsumer | None = None
            self.beat = time.monotonic()
            try:
                kc = self.make_kafka_consumer(self.group_id)
                # Subscribed here, with a listener: at every assignment the committed offsets are
                # checked against the topic they were committed on before anything is fetched.
                kc.subscribe([TOPIC], listener=_Assignments(self, kc))
                self._topic_id = None
                self._gaps.forget()
                self._progress()
                uncommitted, committed_at = False, time.monotonic()
                fetched_at = float("-inf")
                while not stop.is_set():
                    self.beat = time.monotonic()
                    # While events flow, one fetch per fetch_interval: on Tansu's S3 log every
                    # fetch that finds data lists all of the partition's objects, so many small
                    # fetches cost far more than fewer larger ones. The first event after a quiet
                    # spell is fetched at once.
                    pause = fetched_at + max(self.fetch_interval, _HOLE_REFETCH if self._gaps.waiting else 0)
                    if (pause := pause - time.monotonic()) > 0:
                        stop.wait(pause)
                    batch, kept = poll_following_on(kc, self._gaps, 500, self._refetching)
                    fetched_at = time.monotonic() if batch else float("-inf")
                    if self._rewind_pending and kc.assignment():
                        self._seek_to_start(kc, kc.assignment())
                        continue  # the batch was fetched from positions the rewind replaces
                    if batch and self._topic_recreated(kc):
                        continue  # the batch came from the new topic at old offsets: read it from the start
                    for records in kept.values():
                        self.handle_batch(records)
                    if batch and not self._rewind_pending:
                        uncommitted = True
                        self._progress()
                    # Offsets are a hint (the processed-events rows make a redelivery change
                    # nothing), and each commit is a write per partition to the broker's durable
                    # log: commit at most every commit_interval.
                    if (uncommitted and not self._rewind_pending
                            and time.monotonic() - committed_at >= self.commit_interval):
                        uncommitted = not self._commit(kc)
                        committed_at = time.monotonic()
                    if time.monotonic() - self._checked_at >= self.check_interval:
                        self._check(kc)
            except Stalled as exc:
                metrics.CONSUMER_RESTARTS.labels(self.service, self.consumer.name, "stalled").inc()
                log.error("consumer %s: %s; restarting its client", self.group_id, exc)
            except (KafkaError, psycopg.OperationalError, OSError, TimeoutError) as exc:
                metrics.CONSUMER_RESTARTS.labels(self.service, self.consumer.name, "error").inc()
                log.warning("consumer %s: %s; reconnecting", self.group_id, exc)
                stop.wait(1.0)
            finally:
                if kc is not None:
                    try:
                        kc.close(autocommit=False)
                    except Exception:
                        log.debug("consumer close failed", exc_info=True)

    def _commit(self, kc: KafkaConsumer) -> bool:
        """False when the group refused the commit because it rebalances. The client stays: its next
        poll rejoins, and positions are only a hint. Replacing it made a new member mid-rebalance,
        and with two members each one started the rebalance again (docs/operators.md)."""
        try:
            kc.commit()
        except (errors.CommitFailedError, errors.RebalanceInProgressError, errors.IllegalGenerationError,
                errors.UnknownMemberIdError) as exc:
            log.info("consumer %s: commit refused while the group rebalances (%s); rejoining", self.group_id,
                     type(exc).__name__)
            return False
        self._committed()
        return True

    def _progress(self) -> None:
        self._last_progress = time.monotonic()
        metrics.CONSUMER_LAST_PROGRESS.labels(self.service, self.consumer.name).set(time.time())

    def _check(self, kc: KafkaConsumer) -> None:
        """Every check_interval: the topic's identity, the lag, and the stall watchdog."""
        self._checked_at = time.monotonic()
        failover.check(kc)  # its brokers gone and another listed one up: a new client (events/failover.py)
        view = None
        if self.broker is not None:
            view = self.broker.describe(TOPIC)
            if view is not None and view.topic_id and self._moved_to(view.topic_id):
                self._rewind(kc, kc.assignment())
                return
        assigned = kc.assignment()
        if not assigned:
            # A member in the middle of a rebalance is given longer: replacing it makes a new
            # member, and the broker starts the group's rebalance again.
            limit = self.stall_timeout * (_REBALANCING_GRACE if _rebalancing(kc) else 1)
            if time.monotonic() - self._last_progress > limit:
                raise Stalled(f"no partitions assigned for {limit:.0f}s")
            return
        # A share of the partitions left to a member that no longer reads (a client the broker
        # failed to expire) is never consumed: a group of several members is judged by its
        # committed offsets (events/membership.py), not by how many this member owns.
        if self.broker is not None and view is not None and len(assigned) < view.partitions:
            broker = self.broker
            unread = self._others.check(kc, view.partitions, assigned, lambda c: broker.highwaters(TOPIC, c))
            if unread:
                self._others.forget()
                raise Stalled(f"partitions {unread} have events and no reader for {self.stall_timeout:.0f}s")
        else:
            self._others.forget()
        lag = self._lag(kc, assigned)
        metrics.CONSUMER_LAG.labels(self.service, self.consumer.name).set(lag)
        if lag == 0:
            self._progress()  # caught up: idle is not stalled
        elif time.monotonic() - self._last_progress > self.stall_timeout:
            raise Stalled(f"{lag} messages waiting and none handled for {self.stall_timeout:.0f}s")

    def _lag(self, kc: KafkaConsumer, assigned: set[Any]) -> int:
        """Messages between the position and the head: the broker's high-water mark or, when it is
        further, the stores' head (what the relays recorded as acknowledged, events/heads.py)."""
        positions = {tp.partition: kc.position(tp, timeout_ms=2000) for tp in assigned}
        ends = {tp.partition: kc.highwater(tp) for tp in assigned}
        unknown = {p: pos for p, pos in positions.items() if ends[p] is None and pos is not None}
        if unknown and self.broker is not None:
            # Right after a (re)connect the client has fetched nothing yet: ask the broker.
            ends.update(self.broker.highwaters(TOPIC, unknown))
        self._rewind_past_the_end(kc, assigned, positions, ends)
        heads = self.heads(positions) if self.heads is not None else {}
        return sum(max(ends[p] or 0, heads.get(p, 0), pos) - pos for p, pos in positions.items() if pos is not None)

    def _rewind_past_the_end(self, kc: KafkaConsumer, assigned: set[Any], positions: Mapping[int, int | None],
                             ends: Mapping[int, int | None]) -> None:
        """A position past the partition's end, twice in a row, is moved back to the end.

        Tansu answers a fetch past the end with no records and no OFFSET_OUT_OF_RANGE, so the
        client's reset never fires: it would wait, lag 0, until the partition grew past its
        position, and then skip what was written in between. That happens when the broker's log
        lost its tail (its object store killed, the last objects never written): the relays
        publish those rows again from the broker's end, which is where the consumer must read."""
        for tp in assigned:
            pos, end = positions.get(tp.partition), ends.get(tp.partition)
            if pos is None or end is None or pos <= end:
                self._past_end.pop(tp.partition, None)
                continue
            self._past_end[tp.partition] = seen = self._past_end.get(tp.partition, 0) + 1
            if seen < 2:
                continue  # a high-water mark read a moment before new records landed
            log.error("consumer %s: position %d is past the end (%d) of partition %d; reading from the end",
                      self.group_id, pos, end, tp.partition)
            metrics.CONSUMER_REWINDS.labels(self.service, self.consumer.name, "past_the_end").inc()
            self._gaps.forget(tp)
            kc.seek(tp, end)
            self._past_end.pop(tp.partition, None)

    def _topic_recreated(self, kc: KafkaConsumer) -> bool:
        current = kc._client.cluster.topic_id(TOPIC)  # from the metadata the batch was fetched with
        if current is None or not self._moved_to(str(current)):
            return False
        self._rewind(kc, kc.assignment())
        return True

    def _moved_to(self, topic_id: str) -> bool:
        """True when the topic is not the one this client's positions refer to (it was recreated)."""
        if self._topic_id is None:
            self._topic_id = topic_id
            return False
        if self._topic_id == topic_id:
            return False
        self._topic_id = topic_id
        return True

    def _committed_on(self) -> str | None:
        """The topic id the group's committed offsets refer to, as this consumer last recorded it."""
        with self.pool.connection() as conn:
            key = {"observer": self.consumer.name, "topic": TOPIC}
            row = conn.execute(self._topics_q["seen_topic"], key).fetchone()
        return row["topic_id"] if row else None

    def _committed(self) -> None:
        # Recorded only after a commit: until then the group's offsets still belong to the old
        # topic, and a restart (or a rebalance) must rewind again.
        if self._rewind_pending:
            return
        if self._topic_id is not None and self._topic_id != self._recorded_topic_id:
            with self.pool.connection() as conn:
                conn.execute(self._topics_q["see_topic"], {"observer": self.consumer.name, "topic": TOPIC,
                                                           "topic_id": self._topic_id})
            self._recorded_topic_id = self._topic_id

    def on_assigned(self, kc: KafkaConsumer, assigned: list[Any]) -> None:
        if not assigned:
            return
        current = kc._client.cluster.topic_id(TOPIC)
        if current is None and self.broker is not None:
            view = self.broker.describe(TOPIC)
            current = view.topic_id if view else None
        if current is None:
            return
        self._topic_id = str(current)
        if self._recorded_topic_id is None:
            self._recorded_topic_id = self._committed_on()
        if self._recorded_topic_id is None:
            self._committed()  # first run: these offsets are this topic's
        elif self._recorded_topic_id != self._topic_id:
            # The group's committed offsets were made on a topic that no longer exists.
            self._rewind(kc, set(assigned))

    def _rewind(self, kc: KafkaConsumer, assigned: set[Any]) -> None:
        log.error("consumer %s: topic %s was created anew; reading it from the start", self.group_id, TOPIC)
        metrics.CONSUMER_REWINDS.labels(self.service, self.consumer.name, "topic_recreated").inc()
        self._rewind_pending = True
        if assigned:
            self._seek_to_start(kc, assigned)

    def _seek_to_start(self, kc: KafkaConsumer, assigned: set[Any]) -> None:
        self._gaps.forget()
        kc.seek_to_beginning(*assigned)
        self._rewind_pending = False

    def _refetching(self, tp: Any, hole: int) -> None:
        metrics.CONSUMER_OFFSET_GAPS.labels(self.service, self.consumer.name, "fetched_again").inc()
        log.info("consumer %s: offset %d of partition %d not readable yet; fetching again",
                 self.group_id, hole, tp.partition)

    def handle_batch(self, records: list[ConsumerRecord]) -> None:
        self.applier.handle_batch(records)

    def dead_letter(self, record: ConsumerRecord, reason: str, detail: str) -> None:
        self.applier.dead_letter(record, reason, detail)


_HOLE_REFETCH = 0.2  # seconds between fetches while a hole waits to be filled
_REBALANCING_GRACE = 3  # stall timeouts a rebalancing member waits for partitions before its restart


def _rebalancing(kc: KafkaConsumer) -> bool:
    return bool(kc._coordinator.state == MemberState.REBALANCING)


def poll_following_on(kc: KafkaConsumer, gaps: GapGuard, timeout_ms: int,
                      refetching: Callable[[Any, int], None] = lambda tp, hole: None,
                      ) -> tuple[dict[Any, list[ConsumerRecord]], dict[Any, list[ConsumerRecord]]]:
    """One poll: what it returned, and of that what follows on from each position without a hole.
    At a hole the partition is fetched again from it (events/gaps.py)."""
    before = _positions(kc)
    batch = kc.poll(timeout_ms=timeout_ms)
    kept: dict[Any, list[ConsumerRecord]] = {}
    for tp, records in batch.items():
        following, hole = gaps.admit(tp, before.get(tp), records)
        if following:
            kept[tp] = following
        if hole is not None:
            refetching(tp, hole)
            kc.seek(tp, hole)
    return batch, kept


def _positions(kc: KafkaConsumer) -> dict[Any, int]:
    """Where the next poll returns from, per assigned partition whose position is known: read from the
    client's state, since `KafkaConsumer.position` would block to look an unknown one up."""
    out: dict[Any, int] = {}
    for tp, state in kc._subscription.assignment.items():
        if state.has_valid_position:
            out[tp] = state.position.offset
    return out


class _Assignments(ConsumerRebalanceListener):
    def __init__(self, runner: ConsumerRunner, kc: KafkaConsumer) -> None:
        self.runner = runner
        self.kc = kc

    def on_partitions_revoked(self, revoked: Any) -> None:
        for tp in revoked:
            self.runner._gaps.forget(tp)

    def on_partitions_assigned(self, assigned: Any) -> None:
        self.runner.on_assigned(self.kc, list(assigned))
