"""Open a case, then add a record: our event store vs the `eventsourcing` library, same PostgreSQL.

Both sides run in this process, at concurrency 1 and then CONCURRENCY threads (each side with a
pool of that many connections), one transaction per command, and load the case from the
database before adding the record (no aggregate cache on either side). Each side
writes to a schema of its own: ours is not intake's, so no relay or consumer of the stack wakes
up and competes for the CPU while one side runs. Rounds alternate A B B A to spread drift.
Ours does more per command than theirs: pydantic validation, an outbox row and a NOTIFY.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version
from typing import Any, Protocol
from uuid import UUID, uuid4

import psycopg
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from psycopg.conninfo import conninfo_to_dict

from bench import Figures, scaled
from bench.pipeline import BENCH_ACTOR, new_case_opened
from events.codes import RecordKind
from events.contract import RecordsReceived
from events.db import open_pool, transaction
from events.migrations import EVENT_STORE_MIGRATIONS, migrate
from events.registry import build_registry
from events.store import EventStore, utc_now
from services.common import actor
from services.common.kernel import Kernel
from services.intake import domain

CASES = 1000
WARMUP = 50
ROUNDS = 4
CONCURRENCY = 8
OUR_SCHEMA = "bench_ledger"
THEIR_SCHEMA = "bench_eventsourcing"


class Side(Protocol):
    def case(self) -> None: ...
    def close(self) -> None: ...


class Ours:
    def __init__(self, database_url: str, connections: int = 1) -> None:
        self.pool = open_pool(database_url, max_size=connections, name="bench-ours")
        migrate(self.pool, OUR_SCHEMA, EVENT_STORE_MIGRATIONS)
        self.store = EventStore(OUR_SCHEMA, "intake", build_registry())
        # Intake's fold and deciders on the kernel, without intake's own tables.
        self.kernel = Kernel(self.store, lambda conn, case_id: domain.Case(case_id),
                             lambda case, event, at: case.apply(event, at))

    def case(self) -> None:
        case_id, opened = uuid4(), new_case_opened()
        # Every event records an actor, as a coordinator's command through the API would.
        with actor.acting_as(BENCH_ACTOR):
            with transaction(self.pool) as conn:
                self.kernel.handle(conn, case_id, lambda _: domain.open_case(opened, with_question=False),
                                   occurred_at=utc_now(), expected_version=0)
            record = RecordsReceived(record_id=uuid4(), kind=RecordKind.PATHOLOGY_REPORT)
            at = utc_now()
            with transaction(self.pool) as conn:
                self.kernel.handle(conn, case_id, lambda case: domain.receive_record(case, record, at),
                                   occurred_at=at)

    def close(self) -> None:
        self.pool.close()


class Case(Aggregate):
    @event("Opened")
    def __init__(self, patient_ref: str, tumour_site: str, stage_group: str, referral_reasons: list[str],
                 patient_country: str, language: str) -> None:
        self.patient_ref = patient_ref
        self.tumour_site = tumour_site
        self.stage_group = stage_group
        self.referral_reasons = referral_reasons
        self.patient_country = patient_country
        self.language = language
        self.records: list[tuple[str, str]] = []

    @event("RecordAdded")
    def add_record(self, record_id: str, kind: str) -> None:
        self.records.append((record_id, kind))


class CaseLedgerBench(Application[UUID]):
    def open_case(self) -> UUID:
        o = new_case_opened()
        case = Case(o.patient_ref, o.tumour_site, o.stage_group, list(o.referral_reasons),
                    o.patient_country, o.language)
        self.save(case)
        return case.id

    def add_record(self, case_id: UUID, kind: str) -> None:
        case: Case = self.repository.get(case_id)
        case.add_record(str(uuid4()), kind)
        self.save(case)


class Theirs:
    def __init__(self, database_url: str, connections: int = 1) -> None:
        params = conninfo_to_dict(database_url)
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{THEIR_SCHEMA}"')
        self.app = CaseLedgerBench(env={
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": str(params.get("dbname", "postgres")),
            # A directory as host means libpq's unix socket, as in the embedded server's URL.
            "POSTGRES_HOST": str(params.get("host", "localhost")),
            "POSTGRES_PORT": str(params.get("port", "5432")),
            "POSTGRES_USER": str(params.get("user", "postgres")),
            "POSTGRES_PASSWORD": str(params.get("password", "")),
            "POSTGRES_SCHEMA": THEIR_SCHEMA,
            "POSTGRES_POOL_SIZE": str(connections),
            "POSTGRES_MAX_OVERFLOW": "0",
        })

    def case(self) -> None:
        self.app.add_record(self.app.open_case(), RecordKind.PATHOLOGY_REPORT.value)

    def close(self) -> None:
        self.app.close()


def _timed(side: Side, cases: int, threads: int = 1) -> float:
    start = time.perf_counter()
    if threads == 1:
        for _ in range(cases):
            side.case()
    else:
        def share() -> None:
            for _ in range(cases // threads):
                side.case()

        with ThreadPoolExecutor(threads) as pool:
            for f in [pool.submit(share) for _ in range(threads)]:
                f.result()
    return time.perf_counter() - start


def _compare(database_url: str, cases: int, threads: int) -> tuple[float, float]:
    ours, theirs = Ours(database_url, threads), Theirs(database_url, threads)
    elapsed = {"ours": 0.0, "theirs": 0.0}
    per_round = max(threads, cases // ROUNDS // threads * threads)
    try:
        _timed(ours, WARMUP)
        _timed(theirs, WARMUP)
        for i in range(ROUNDS):
            order = ("ours", "theirs") if i % 2 == 0 else ("theirs", "ours")
            for name in order:
                elapsed[name] += _timed(ours if name == "ours" else theirs, per_round, threads)
    finally:
        ours.close()
        theirs.close()
    ops = 2 * per_round * ROUNDS  # an open and an add-record per case
    return ops / elapsed["ours"], ops / elapsed["theirs"]


def run(database_url: str, summary: dict[str, Any]) -> Figures:
    cases = scaled(CASES, 50)
    figures: Figures = []
    for threads in (1, CONCURRENCY):
        ours, theirs = _compare(database_url, cases, threads)
        figures += [(f"concurrency {threads}: ours (event store)", ours, "ops/s"),
                    (f"concurrency {threads}: theirs (eventsourcing {version('eventsourcing')})", theirs, "ops/s"),
                    (f"concurrency {threads}: ratio ours/theirs", ours / theirs, "x")]
        suffix = "" if threads == CONCURRENCY else "_concurrency_1"
        summary[f"store_ops_per_s{suffix}"] = ours
        summary[f"eventsourcing_ops_per_s{suffix}"] = theirs
    return figures
