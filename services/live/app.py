"""The live app's composition root: the faust App, its one table, its agent and its web pages.

Nothing happens at import: `create_app(settings)` builds everything; services/live/worker.py runs it.

- Source: `case-ledger` as raw bytes (value_serializer="raw"): we decode with our registry, so a
  message that is not a valid event is counted and skipped instead of crashing the agent.
- Table `live` (memory store, changelog topic `<app_id>-live-changelog` on the broker): per-case
  state and the event-time windows, every key prefixed by its source partition (batches.Batch says why).
- The agent takes batches (`take_events`): each batch writes each key it touched once, windows
  first, so the changelog carries one message per touched key per batch, not one per event.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import faust
from faust.types import TP, EventT
from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from events.broker import Broker
from events.contract import TOPIC
from events.registry import DecodeError, Registry, build_registry
from services.live import batches, openapi, recovery, replay, tables, windows
from services.live.metrics import (
    BAD_MESSAGES,
    BATCHES,
    CHANGELOG_WRITES,
    MESSAGES,
    REGISTRY,
    REPLAYS,
    TOPIC_CHANGES,
    LiveCollector,
    Snapshot,
)
from services.live.settings import LiveSettings

log = logging.getLogger(__name__)
TABLE = "live"
# How often the source topic's id is asked (and at once when a batch looks replayed).
TOPIC_CHECK_INTERVAL_S = 5.0
# How many more times (a second apart) a batch that looks replayed asks when the broker did not answer.
TOPIC_CHECK_RETRIES = 30


@dataclass(frozen=True)
class Folded:
    offsets: list[tuple[int, int]]  # (partition, offset) of every message taken
    batch: batches.Batch
    bad: list[str]


class Live:
    """The app and what its pages read: the table, the offsets applied, the clock."""

    def __init__(self, settings: LiveSettings, registry: Registry | None = None) -> None:
        self.settings = settings
        self.registry = registry or build_registry()
        self.applied: dict[int, int] = {}  # source partition -> last offset taken (applied or skipped)
        # The source topic's id as the broker last gave it (the offset guards hold on it only).
        self.topic_id: str | None = None
        self._learned = False  # the id was learned or changed: values of another topic must go
        self._lock = asyncio.Lock()  # the agent's batches and the topic's watch, one at a time
        self.broker = Broker(settings.kafka_bootstrap_servers, f"{settings.app_id}-topic")
        self.app = faust.App(
            settings.app_id,
            broker=settings.broker_urls(),
            store="memory://",  # no RocksDB: the changelog on the broker is the durable copy
            autodiscover=False,
            topic_partitions=settings.topic_partitions,
            topic_replication_factor=1,
            table_standby_replicas=0,
            consumer_auto_offset_reset="earliest",
            web_enabled=True,
            web_port=settings.port,
            web_bind=settings.bind,
            web_host=settings.bind,
            web_in_thread=False,
            # Rejoin in seconds: a dead member is noticed after session_timeout, a rebalance waits
            # rebalance_timeout for members at most (faust's 60 s defaults made it ~113 s on Tansu).
            broker_session_timeout=settings.session_timeout_s,
            broker_heartbeat_interval=settings.heartbeat_interval_s,
            broker_rebalance_timeout=settings.rebalance_timeout_s,
            broker_max_poll_interval=settings.max_poll_interval_s,
            broker_request_timeout=settings.request_timeout_s,
            consumer_group_instance_id=settings.group_instance_id,
            broker_max_poll_records=settings.max_poll_records,
            broker_commit_interval=settings.commit_interval_s,
            broker_commit_every=settings.commit_every,
            consumer_max_fetch_size=settings.max_fetch_bytes,
            stream_buffer_maxsize=settings.stream_buffer_maxsize,
            # By default faust waits for the agent's current event before a rebalance or shutdown.
            # A batch is applied without an await (it cannot stop half-way) and a batch cut short
            # comes again and is skipped where applied, so not waiting only shortens a rebalance.
            stream_wait_empty=False,
            # Faust sleeps 3 s after a rebalance before recovering, for more members to come; there
            # is one member.
            stream_recovery_delay=0.0,
            producer_acks=-1,
            producer_linger=settings.producer_linger_s,
            producer_max_batch_size=settings.producer_max_batch_bytes,
        )
        self.table = recovery.PartitionedTable(
            self.app, name=TABLE, default=None, partitions=settings.topic_partitions,
            schema=faust.Schema(key_serializer="json", value_serializer="json"), beacon=self.app.tables.beacon,
            help="per-case state and event-time windows of the live views")
        self.app.tables.add(self.table)
        self.source = self.app.topic(TOPIC, key_serializer="raw", value_serializer="raw",
                                     partitions=settings.topic_partitions)
        self.app.agent(self.source, name="live-fold")(self._agent)
        self.app.timer(TOPIC_CHECK_INTERVAL_S, name="live-topic-watch")(self._watch_topic)
        self._pages()
        recovery.true_highwaters(self.app.consumer, settings.kafka_bootstrap_servers, f"{settings.app_id}-recovery")
        REGISTRY.register(LiveCollector(self.snapshot))

    # ------------------------------------------------------------------ the agent
    async def _agent(self, stream: faust.StreamT[bytes]) -> None:
        # take_events is on faust's Stream, not on its StreamT protocol.
        batches = cast(faust.Stream[bytes], stream).take_events(self.settings.batch_max, self.settings.batch_within_s)
        async for events in batches:
            await self.take(events)

    async def take(self, events: Sequence[EventT]) -> None:
        """Folds a batch and writes it. A batch whose offsets the guards refused though its event ids
        were new was read from another topic than the guards were written on, or replayed after a
        crash: the broker is asked which before it is written."""
        messages = [(e.message.partition, e.message.offset, e.value) for e in events]
        async with self._lock:
            if self.topic_id is None:
                await self._check_topic()
            await self._realign_if_learned()
            folded = self.fold(messages)
            if folded.batch.suspect:
                # Written and committed, a refused message is not read again: the batch waits for
                # the broker's answer a while, then the guards hold as written (nothing counts twice).
                for _ in range(TOPIC_CHECK_RETRIES):
                    if await self._check_topic():
                        break
                    await asyncio.sleep(1.0)
                if await self._realign_if_learned():
                    folded = self.fold(messages)
            self.write(folded)

    async def _watch_topic(self) -> None:
        """Every few seconds, batches or none: a topic made again may stay empty below the position
        the group reads at (Tansu answers a fetch past the end with nothing), so no batch would come
        to tell."""
        if not self.source_partitions():
            return
        async with self._lock:
            await self._check_topic()
            await self._realign_if_learned()

    async def _check_topic(self) -> bool:
        """Asks the broker for the source topic's id; False when it did not say. An id learned or
        changed marks the table for _realign_if_learned."""
        try:
            view = await asyncio.to_thread(self.broker.describe, TOPIC)
        except Exception as exc:
            log.warning("the topic's id is unknown: %s", exc)
            return False
        if view is None or not view.topic_id:
            return False
        if view.topic_id != self.topic_id:
            if self.topic_id is not None:
                log.warning("topic %s is another (id %s, was %s)", TOPIC, view.topic_id, self.topic_id)
                TOPIC_CHANGES.inc()
            self.topic_id, self._learned = view.topic_id, True
        return True

    async def _realign_if_learned(self) -> bool:
        """Once the topic's id is learned or changes: values folded from another topic (or before
        its id was known) are reset, every assigned partition is folded again from its first record
        (services/live/replay.py), and the group's position moves to where that read got to. An
        offset or an event id of another topic says nothing of what this one holds."""
        if not self._learned:
            return False
        self._learned = False
        stale = [k for k, v in self.table.data.items() if isinstance(v, dict) and v.get("ti") != self.topic_id]
        # An empty table may be a changelog lost or made again while the group's offsets were kept:
        # folded again too (on a new stack the topic is empty or short).
        if not stale and self.table.data:
            return True
        tps = self.source_partitions()
        log.warning("folding %s again from its start, partitions %s (%d of the %d values held were of another topic)",
                    TOPIC, [tp.partition for tp in tps], len(stale), len(self.table.data))
        reset = batches.Batch(self.table, self.topic_id)
        for key in stale:
            reset.forget(key)
        reset.write()
        self.applied.clear()  # offsets of the other topic
        reader = await asyncio.to_thread(replay.TopicReader, self.settings.kafka_bootstrap_servers,
                                         f"{self.settings.app_id}-replay", TOPIC, [tp.partition for tp in tps])
        try:
            while (chunk := await asyncio.to_thread(reader.chunk)) is not None:
                self.write(self.fold(chunk))
        finally:
            reader.close()
        for tp in tps:  # faust reads on from there; what it had buffered below is skipped by its ids
            await self.app.consumer.seek(tp, reader.reached.get(tp.partition, 0))
        REPLAYS.inc()
        return True

    def fold(self, messages: Iterable[tuple[int, int, Any]]) -> Folded:
        batch = batches.Batch(self.table, self.topic_id)
        bad: list[str] = []
        offsets: list[tuple[int, int]] = []
        for partition, offset, raw in messages:
            offsets.append((partition, offset))
            try:
                if not isinstance(raw, bytes | str):
                    raise DecodeError("invalid_envelope", f"a {type(raw).__name__}, not bytes")
                decoded = self.registry.decode(raw)
            except DecodeError as exc:
                bad.append(exc.reason)
                continue
            try:
                batch.add(batches.Message(partition, offset, decoded))
            except Exception:  # a valid event the fold cannot take must not stop the views either
                log.exception("skipped %s at %s/%s", decoded.envelope.event_type, partition, offset)
                bad.append("unfoldable")
        return Folded(offsets, batch, bad)

    def write(self, folded: Folded) -> None:
        for partition, offset in folded.offsets:
            self.applied[partition] = max(self.applied.get(partition, -1), offset)
        writes = folded.batch.write()
        for reason in folded.bad:
            BAD_MESSAGES.labels(reason).inc()
        MESSAGES.labels("applied").inc(folded.batch.applied)
        MESSAGES.labels("duplicate").inc(folded.batch.duplicates)
        MESSAGES.labels("bad").inc(len(folded.bad))
        CHANGELOG_WRITES.inc(writes)
        BATCHES.inc()

    # ------------------------------------------------------------------ reading
    def snapshot(self) -> Snapshot:
        views = tables.views(self.table.data.items())
        if self.settings.event_clock:
            now = views.watermark if views.watermark is not None else time.time()
        else:
            now = time.time()
        return Snapshot(views, now, self.lag())

    def source_partitions(self) -> list[TP]:
        try:
            return sorted(tp for tp in self.app.consumer.assignment() if tp.topic == TOPIC)
        except Exception:  # the consumer is not started yet
            return []

    def committed(self) -> dict[int, int]:
        """Source partition -> the next offset its committed position will read (faust's own record)."""
        offsets = getattr(self.app.consumer, "_committed_offset", {})
        return {tp.partition: int(o) for tp, o in offsets.items() if tp.topic == TOPIC and o is not None}

    def lag(self) -> int | None:
        """From the fetches' high-water marks (Tansu's ListOffsets is wrong, see recovery.py)."""
        tps = self.source_partitions()
        if not tps:
            return None
        committed = self.committed()
        total = 0
        for tp in tps:
            highwater = self.app.consumer.highwater(tp)
            if highwater is None:
                return None
            done = self.applied[tp.partition] + 1 if tp.partition in self.applied else committed.get(tp.partition, 0)
            if done > highwater:
                return None  # read past the end: offsets of a topic that is no more (the watch notices)
            total += highwater - done
        return total

    def ready(self) -> bool:
        recovery = self.app.tables.recovery  # type: ignore[attr-defined]  # TableManager, not its protocol
        return bool(self.source_partitions()) and recovery.completed.is_set()

    def progress(self) -> dict[str, Any]:
        highwaters = {}
        for tp in self.source_partitions():
            highwaters[tp.partition] = self.app.consumer.highwater(tp)
        return {"ready": self.ready(), "applied": self.applied, "committed": self.committed(),
                "highwater": highwaters, "lag": self.lag(), "keys": len(self.table.data)}

    def windows(self) -> dict[str, Any]:
        return windows.document(tables.views(self.table.data.items()))

    # ------------------------------------------------------------------ pages
    def _pages(self) -> None:
        live = self

        class Metrics(View):
            async def get(self, request: Request) -> Response:
                return self.bytes(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST.split(";")[0])

        class Healthz(View):
            async def get(self, request: Request) -> Response:
                return self.json({"status": "ok"})

        class Readyz(View):
            async def get(self, request: Request) -> Response:
                ready = live.ready()
                return self.json({"ready": ready}, status=200 if ready else 503)

        class Progress(View):
            async def get(self, request: Request) -> Response:
                return self.json(live.progress())

        class Windows(View):
            async def get(self, request: Request) -> Response:
                return self.json(live.windows())

        class OpenApi(View):
            async def get(self, request: Request) -> Response:
                return self.json(openapi.document())

        for path, view in (("/metrics", Metrics), ("/healthz", Healthz), ("/readyz", Readyz),
                           ("/progress", Progress), ("/windows", Windows), ("/openapi.json", OpenApi)):
            self.app.page(path)(view)


def ensure_changelog(live: Live) -> None:
    """The changelog with a partition per source partition, before faust starts: a value goes to the
    changelog partition of its source partition, and Tansu makes a topic anyone asks for with a
    count of its own (a write that reached an in-memory broker just restarted, before faust declared
    it). The changelog holds only what the table can fold again, so a wrong one is made again."""
    name = live.table.changelog_topic.get_topic_name()
    Broker(live.settings.kafka_bootstrap_servers, f"{live.settings.app_id}-setup").ensure(
        [name], live.settings.topic_partitions, rebuildable=lambda _view: True)


def create_app(settings: LiveSettings | None = None) -> Live:
    return Live(settings or LiveSettings())
