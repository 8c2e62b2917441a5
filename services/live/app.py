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
from faust.tables.table import Table
from faust.types import TP, EventT
from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from events.broker import Broker
from events.contract import TOPIC
from events.registry import DecodeError, Registry, build_registry
from events.span import readable_spans
from services.live import batches, fold, openapi, tables, windows
from services.live.metrics import (
    BAD_MESSAGES,
    BATCHES,
    CHANGELOG_WRITES,
    MESSAGES,
    REGISTRY,
    TOPIC_CHANGES,
    LiveCollector,
    Snapshot,
)
from services.live.settings import LiveSettings

log = logging.getLogger(__name__)
TABLE = "live"
# How often the source topic's id is asked while batches flow (and at once when a batch looks replayed).
TOPIC_CHECK_INTERVAL_S = 10.0
# How many more times (a second apart) a batch that looks replayed asks when the broker did not answer.
TOPIC_CHECK_RETRIES = 30


@dataclass(frozen=True)
class Folded:
    events: Sequence[EventT]
    batch: batches.Batch
    bad: list[str]


class PartitionedTable(Table):
    """A table whose keys name their source partition ("<partition>:..."), so a value is written to
    that changelog partition even outside an event's context (a batch holds several partitions)."""

    def partition_for_key(self, key: Any) -> int:
        return fold.key_partition(str(key))

    def apply_changelog_batch(self, batch: Iterable[EventT]) -> None:
        """Recovery keeps, per key, its latest value (by its write count `w`; by the source offset
        `o` for a value written before `w` existed), whatever order the changelog is read in. The
        embedded broker's compactor (infra/compactor.py) writes a merged object before deleting the
        ones it replaces, so a fetch in between returns records twice: an older value read again
        after a newer one would otherwise win. Offsets alone do not order two values written from
        two incarnations of the source topic (batches.py)."""
        best: dict[Any, EventT] = {}
        for event in batch:
            value = event.value
            if event.message.value is None or not isinstance(value, dict):
                continue  # the live table never deletes a key
            key = self._to_key(event.key)
            held: Any = best[key].value if key in best else self.data.get(key)
            if held is None or _order(value) >= _order(held):
                best[key] = event
        super().apply_changelog_batch(list(best.values()))


def _order(value: dict[str, Any]) -> tuple[int, int]:
    return value.get("w", 0), value.get("o", -1)


class Live:
    """The app and what its pages read: the table, the offsets applied, the clock."""

    def __init__(self, settings: LiveSettings, registry: Registry | None = None) -> None:
        self.settings = settings
        self.registry = registry or build_registry()
        self.applied: dict[int, int] = {}  # source partition -> last offset taken (applied or skipped)
        # The source topic's id as the broker last gave it (the offset guards hold on it only).
        self.topic_id: str | None = None
        self._topic_checked_at = -float("inf")
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
        self.table = PartitionedTable(
            self.app, name=TABLE, default=None, partitions=settings.topic_partitions,
            schema=faust.Schema(key_serializer="json", value_serializer="json"), beacon=self.app.tables.beacon,
            help="per-case state and event-time windows of the live views")
        self.app.tables.add(self.table)
        self.source = self.app.topic(TOPIC, key_serializer="raw", value_serializer="raw",
                                     partitions=settings.topic_partitions)
        self.app.agent(self.source, name="live-fold")(self._agent)
        self._pages()
        self._true_highwaters()
        REGISTRY.register(LiveCollector(self.snapshot))

    def _true_highwaters(self) -> None:
        """Table recovery reads each changelog partition from ListOffsets(earliest) to the high-water
        mark, and Tansu's answers are wrong both ways (events/span.py): earliest 4 while 0-3 were
        readable, measured after a compaction pass (the windows then lost every key written there),
        and a high-water mark past the last readable record (recovery waited eleven minutes for it).
        Both ends of a changelog are read with fetches instead: from its first record to its last."""
        consumer = self.app.consumer
        stock_earliest = consumer.earliest_offsets
        bootstrap, client_id = self.settings.kafka_bootstrap_servers, f"{self.settings.app_id}-recovery"

        async def spans(tps: Sequence[TP]) -> dict[TP, tuple[int, int]]:
            by_topic: dict[str, list[TP]] = {}
            for tp in tps:
                by_topic.setdefault(tp.topic, []).append(tp)
            found: dict[TP, tuple[int, int]] = {}
            for topic, parts in by_topic.items():
                read = await asyncio.to_thread(readable_spans, bootstrap, client_id, topic,
                                               [tp.partition for tp in parts], 10.0)
                found.update({tp: read[tp.partition] for tp in parts})
            return found

        async def highwaters(*tps: TP) -> dict[TP, int]:
            return {tp: end for tp, (_, end) in (await spans(tps)).items()}

        async def earliest_offsets(*tps: TP) -> dict[TP, int]:
            changelogs = [tp for tp in tps if tp.topic != TOPIC]
            found: dict[TP, int] = {tp: first for tp, (first, _) in (await spans(changelogs)).items()}
            rest = [tp for tp in tps if tp.topic == TOPIC]
            return {**found, **(await stock_earliest(*rest) if rest else {})}

        consumer.highwaters = highwaters  # type: ignore[method-assign]
        consumer.earliest_offsets = earliest_offsets  # type: ignore[method-assign]

    # ------------------------------------------------------------------ the agent
    async def _agent(self, stream: faust.StreamT[bytes]) -> None:
        # take_events is on faust's Stream, not on its StreamT protocol.
        batches = cast(faust.Stream[bytes], stream).take_events(self.settings.batch_max, self.settings.batch_within_s)
        async for events in batches:
            await self.take(events)

    async def take(self, events: Sequence[EventT]) -> None:
        """Folds a batch and writes it. A batch whose offsets the guards refused though its event ids
        were new was read from another topic than the guards were written on, or replayed after a
        crash: the broker is asked which, and on a new topic the batch is folded again against it."""
        if time.monotonic() - self._topic_checked_at > TOPIC_CHECK_INTERVAL_S:
            await self._check_topic()
        folded = self.fold(events)
        if folded.batch.suspect:
            # Written and committed, a refused message is not read again: the batch waits for the
            # broker's answer a while, then the guards hold as written (nothing counts twice).
            moved = await self._check_topic()
            for _ in range(TOPIC_CHECK_RETRIES):
                if moved is not None:
                    break
                await asyncio.sleep(1.0)
                moved = await self._check_topic()
            if moved:
                folded = self.fold(events)
        self.write(folded)

    async def _check_topic(self) -> bool | None:
        """Asks the broker for the source topic's id: True when it is not the one held before, None
        when the broker did not say."""
        self._topic_checked_at = time.monotonic()
        try:
            view = await asyncio.to_thread(self.broker.describe, TOPIC)
        except Exception as exc:
            log.warning("the topic's id is unknown: %s", exc)
            return None
        if view is None or not view.topic_id:
            return None
        if view.topic_id == self.topic_id:
            return False
        moved = self.topic_id is not None
        if moved:
            log.warning("topic %s is new (id %s, was %s): offsets guard only what was read from it",
                        TOPIC, view.topic_id, self.topic_id)
            TOPIC_CHANGES.inc()
        self.topic_id = view.topic_id
        return moved

    def fold(self, events: Sequence[EventT]) -> Folded:
        batch = batches.Batch(self.table, self.topic_id)
        bad: list[str] = []
        for event in events:
            message = event.message
            try:
                raw = event.value
                if not isinstance(raw, bytes | str):
                    raise DecodeError("invalid_envelope", f"a {type(raw).__name__}, not bytes")
                decoded = self.registry.decode(raw)
            except DecodeError as exc:
                bad.append(exc.reason)
                continue
            try:
                batch.add(batches.Message(message.partition, message.offset, decoded))
            except Exception:  # a valid event the fold cannot take must not stop the views either
                log.exception("skipped %s at %s/%s", decoded.envelope.event_type, message.partition, message.offset)
                bad.append("unfoldable")
        return Folded(events, batch, bad)

    def write(self, folded: Folded) -> None:
        for event in folded.events:
            message = event.message
            self.applied[message.partition] = max(self.applied.get(message.partition, -1), message.offset)
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
        """From the fetches' high-water marks (Tansu's ListOffsets is wrong, see _true_highwaters)."""
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
            total += max(0, highwater - done)
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


def create_app(settings: LiveSettings | None = None) -> Live:
    return Live(settings or LiveSettings())
