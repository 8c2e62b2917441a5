"""The pieces a service's composition root assembles, and its worker process entry."""

from __future__ import annotations

import functools
import gc
import logging
import signal
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import psycopg
from kafka import KafkaConsumer

from events import kafka, metrics
from events.applier import ProcessedEvents
from events.broker import Broker
from events.consumer import Consumer, ConsumerRunner
from events.contract import TOPIC
from events.db import Connections, open_pool
from events.heads import StoreHeads
from events.migrations import EVENT_STORE_MIGRATIONS, migrate
from events.registry import Registry, build_registry
from events.relay import OutboxRelay
from events.store import Clock, EventStore, utc_now
from events.threads import run_threads
from services.common.kernel import EventStream
from services.common.settings import ServiceSettings
from services.common.worker_health import WorkerHealth


class ServiceStore(EventStream, ProcessedEvents, Protocol):
    """A service's event store: the kernel's streams, and the schema its outbox, its consumers'
    processed events and its idempotency keys live in. `EventStore` in PostgreSQL; unit tests
    hand in events.memory's."""


SettingsT = TypeVar("SettingsT", bound=ServiceSettings)


@dataclass
class Runtime(Generic[SettingsT]):
    """What a service's commands, reactions, API and worker run on, with the service's own
    settings; its composition root (bootstrap.py) builds it through `build_runtime`."""

    service: str
    settings: SettingsT
    pool: Connections
    store: ServiceStore
    registry: Registry

    def database_ok(self) -> bool:
        # A fresh connection, not one from the pool: the pool may still be backing off its
        # reconnects after an outage, and readiness must say the database is back at once.
        try:
            with psycopg.connect(self.settings.database_url, connect_timeout=2, autocommit=True) as conn:
                conn.execute("SELECT 1")
            return True
        except psycopg.Error:
            return False

    def close(self) -> None:
        self.pool.close()


R = TypeVar("R", bound="Runtime[Any]")


def build_runtime(
    service: str, schema: str, settings: ServiceSettings, migrations: Sequence[Path],
    clock: Clock = utc_now, runtime_class: type[R] = Runtime,  # type: ignore[assignment]
    *, pool: Connections | None = None, store: ServiceStore | None = None, **extra: Any,
) -> R:
    """The service's runtime (a subclass with `extra` fields). Without `pool` it opens the real one
    and migrates the schema; without `store` it is the PostgreSQL event store on `clock`. A unit
    test hands in fakes of both, a pool whose schema its caller prepared."""
    registry = build_registry()
    if pool is None:
        pool = open_pool(settings.database_url, max_size=settings.db_pool_size, name=service)
        migrate(pool, schema, EVENT_STORE_MIGRATIONS, *migrations)
    # The series exists from the start, so the alert on it reads 0 rather than no data.
    metrics.TIMER_FAILURES.labels(service).inc(0)
    return runtime_class(service, settings, pool, store or EventStore(schema, service, registry, clock), registry,
                         **extra)


def _kafka_consumer(bootstrap: str, client_id: str, settings: ServiceSettings, group_id: str) -> KafkaConsumer:
    member = settings.consumer_member if settings.consumer_static else None
    return kafka.consumer(bootstrap, group_id, client_id, instance_id=instance_id(group_id, member),
                          cooperative=settings.consumer_cooperative,
                          fetch_max_wait_ms=settings.consumer_fetch_max_wait_ms,
                          session_timeout_ms=settings.consumer_session_timeout_ms)


def consumer_client_id(service: str, consumer: str, member: str | None) -> str:
    """The consumer's client.id: with its member's name, so a group's description tells its
    members apart (make chaos reads which partitions each one owns, chaos/cutoff.py)."""
    return f"{service}-{consumer}-{member}" if member else f"{service}-{consumer}"


def instance_id(group_id: str, member: str | None) -> str | None:
    """The member's group.instance.id: its group and its stable name, so it is the same at every
    restart of the process and differs between members and groups; None for dynamic membership."""
    return f"{group_id}.{member}" if member else None


def _not_a_slow_task_warning(record: logging.LogRecord) -> bool:
    # kafka-python's I/O thread warns when one of its steps took over 0.1 s. In a worker the
    # handlers' threads hold the GIL that long on a busy 2-core machine: nothing to act on, and
    # the consumer watchdog already reports a client that really stopped making progress.
    return "blocking the event loop" not in record.getMessage()


def _kafka_client_trouble_is_a_warning(record: logging.LogRecord) -> bool:
    # kafka-python logs a connection it lost, a request that timed out and even its own clean
    # close ("Metadata refresh: failed Cancelled" when a worker stops) at ERROR, some with a
    # traceback, and then reconnects and retries by itself. Whether that is an error is ours to
    # say: the relay counts and retries a failed publish, the consumer watchdog logs ERROR when a
    # client stops making progress, and alerts watch both. So its records stay, one line each,
    # at WARNING; all but one: a metadata refresh "failed Cancelled" is a client we closed on
    # purpose (the relay's and the watchdog's broker checks open and close one every few
    # seconds), which says nothing at all.
    if record.name == "kafka.cluster" and record.getMessage().endswith("failed Cancelled"):
        return False
    if record.name.startswith("kafka.") and record.levelno > logging.WARNING:
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        if record.exc_info and record.exc_info[1] is not None:
            record.msg, record.args = f"{record.getMessage()} ({record.exc_info[1]!r})", None
        record.exc_info = record.exc_text = None
    return True


def live_timers(period_s: float, sweep: Callable[[], object]) -> dict[str, Callable[[threading.Event], None]]:
    """The live timer sweep as a worker thread; none when the period is 0 (a simulator drives time)."""
    if not period_s:
        return {}

    def timers(stop: threading.Event) -> None:
        # The live clock drives the sweep here; a simulator drives it through POST /admin/timers.
        while not stop.wait(period_s):
            try:
                sweep()
            except Exception:
                logging.getLogger(__name__).exception("timer sweep failed; retrying next period")

    return {"timers": timers}


def worker_parts(targets: Mapping[str, Callable[[threading.Event], None]],
                 only: Sequence[str]) -> dict[str, Callable[[threading.Event], None]]:
    """The parts of a worker that this process runs (CASE_LEDGER_WORKER_ONLY); all of them by default.

    Names with a leading "-" say what not to run instead ("-relay,-timers": a second member of the
    worker's consumer groups), and may name parts this worker does not have."""
    if not only:
        return dict(targets)
    if all(name.startswith("-") for name in only):
        return {name: fn for name, fn in targets.items() if f"-{name}" not in only}
    unknown = sorted(set(only) - set(targets))
    if unknown:
        raise SystemExit(f"CASE_LEDGER_WORKER_ONLY names {unknown}; this worker has {sorted(targets)}")
    return {name: fn for name, fn in targets.items() if name in only}


def run_worker(runtime: Runtime, consumers: Sequence[Consumer], *, relay: bool = True,
               extra: Mapping[str, Callable[[threading.Event], None]] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # kafka-python logs every connection at INFO; the relay's and watchdog's probes open many.
    logging.getLogger("kafka").setLevel(logging.WARNING)
    logging.getLogger("kafka.net.selector").addFilter(_not_a_slow_task_warning)
    for handler in logging.getLogger().handlers:  # a handler's filter sees every logger's records
        handler.addFilter(_kafka_client_trouble_is_a_warning)
    settings = runtime.settings
    bootstrap = settings.kafka_bootstrap_servers
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    kafka.ensure_topics(bootstrap, settings.topic_partitions)
    # What the start made (modules, models, the pool) lives as long as the process: frozen, the
    # cyclic collector stops rescanning it each time a batch's short-lived objects trigger it.
    gc.freeze()
    targets: dict[str, Callable[[threading.Event], None]] = {}
    if relay:
        relay_obj = OutboxRelay(
            runtime.pool, settings.database_url, runtime.store.schema, runtime.service,
            lambda: kafka.producer(bootstrap, f"{runtime.service}-relay", settings.relay_idempotent),
            broker=Broker(bootstrap, f"{runtime.service}-relay-check"), topics=kafka.TOPICS,
            partitions=settings.topic_partitions, ack_timeout=settings.relay_ack_timeout_s,
            max_message_bytes=settings.kafka_max_message_bytes, verify_interval=settings.relay_verify_interval_s,
            linger=settings.relay_linger_ms / 1000,
        )
        targets["relay"] = relay_obj.run
    beats: dict[str, Callable[[], float]] = {}
    heads = StoreHeads(runtime.pool, TOPIC)
    for c in consumers:
        client_id = consumer_client_id(runtime.service, c.name, settings.consumer_member)
        runner = ConsumerRunner(
            consumer=c, service=runtime.service, pool=runtime.pool, store=runtime.store,
            registry=runtime.registry,
            make_kafka_consumer=functools.partial(_kafka_consumer, bootstrap, client_id, settings),
            make_producer=lambda: kafka.producer(bootstrap, f"{runtime.service}-dlq"),
            broker=Broker(bootstrap, f"{runtime.service}-{c.name}-check"),
            stall_timeout=settings.consumer_stall_timeout_s,
            commit_interval=settings.consumer_commit_interval_s,
            fetch_interval=settings.consumer_fetch_interval_ms / 1000,
            gap_wait=settings.consumer_gap_wait_s, heads=heads,
        )
        targets[f"consumer-{c.name}"] = runner.run
        beats[f"consumer-{c.name}"] = functools.partial(getattr, runner, "beat")
    targets.update(extra or {})
    targets = worker_parts(targets, settings.worker_only)
    if settings.worker_health_port:
        from services.common.app_factory import broker_reachable  # it imports this module

        health = WorkerHealth(settings.worker_health_port, {
            "database": runtime.database_ok, "broker": lambda: broker_reachable(bootstrap)},
            multiproc=settings.prometheus_multiproc_dir is not None)
        targets["health"] = health.serve
    try:
        run_threads(targets, stop, beats, wedged_after=max(120.0, 4 * settings.consumer_stall_timeout_s))
    finally:
        runtime.close()
