"""`python -m services.migrate`: every schema migrated, the records bucket and the topics made, once per rollout.

Each service also migrates its own schema when it starts (idempotent, under an advisory lock), so
the embedded stack needs no step of its own. A cluster runs this as a Job (deploy/k8s, the
migration Job) so that one process does the DDL, once per release, before the new pods start;
`--wait` is what each pod's init container runs: it returns once every migration this image
knows is recorded in the database, so a pod of a new version never starts on an old schema.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import time
import zlib
from collections.abc import Iterable
from pathlib import Path

import psycopg
from psycopg import sql

from events.migrations import EVENT_STORE_MIGRATIONS
from services.analytics import ddl

# Each service with the schema its migrations are recorded in, in the order they are applied.
SERVICES = ("intake", "routing", "review", "billing", "analytics")
_ROOT = Path(__file__).resolve().parent


def recorded_names(*dirs: Path) -> set[str]:
    """The names events.migrations.migrate records for these directories' files."""
    return {f"{'events' if d == EVENT_STORE_MIGRATIONS else d.name}/{f.name}" for d in dirs for f in d.glob("*.sql")}


def expected() -> dict[str, set[str]]:
    """Every schema and the migrations this code records in it once it has run."""
    wanted = {name: recorded_names(EVENT_STORE_MIGRATIONS, _ROOT / name / "migrations")
              for name in SERVICES if name != "analytics"}
    # The projector's own bookkeeping schema records the projection's migrations and the views' checksum.
    wanted["analytics_state"] = recorded_names(EVENT_STORE_MIGRATIONS) | {
        f"{ddl.MIGRATIONS.name}/{p.name}" for p in ddl.files()} | {
        f"{ddl.VIEWS.name}@{zlib.crc32(ddl.VIEWS.read_bytes()):08x}"}
    return wanted


def missing(database_url: str, wanted: dict[str, set[str]]) -> dict[str, set[str]]:
    """What each schema still lacks; a schema that does not exist yet lacks everything."""
    lacking: dict[str, set[str]] = {}
    with psycopg.connect(database_url, connect_timeout=5, autocommit=True) as conn:
        for schema, names in wanted.items():
            # -- name: recorded_migrations (a schema not made yet has no table: everything is missing)
            exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL",
                                  (f"{schema}.schema_migrations",)).fetchone()
            done: set[str] = set()
            if exists and exists[0]:
                done = {r[0] for r in conn.execute(
                    sql.SQL("SELECT name FROM {}.schema_migrations").format(sql.Identifier(schema)))}
            if names - done:
                lacking[schema] = names - done
    return lacking


def run(services: Iterable[str] = SERVICES) -> None:
    """Migrates each service's schema through its own composition root, then makes the topics."""
    from events import kafka

    settings = None
    for name in services:
        runtime = importlib.import_module(f"services.{name}.bootstrap").bootstrap()
        runtime.close()
        settings = runtime.settings
        logging.info("migrated %s", name)
    from services.common.object_store import S3Objects
    from services.common.settings import ObjectStoreSettings

    if S3Objects(ObjectStoreSettings()).ensure_bucket():
        logging.info("made the records bucket")
    if settings is not None:
        # Automatic topic creation is off on a real cluster: the topics get our partitions here.
        kafka.ensure_topics(settings.kafka_bootstrap_servers, settings.topic_partitions)
        logging.info("topics ready with %d partitions", settings.topic_partitions)


def wait(database_url: str, timeout: float, interval: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout
    wanted = expected()
    while True:
        try:
            lacking = missing(database_url, wanted)
        except psycopg.Error as exc:
            lacking = {"(database)": {str(exc).strip()}}
        if not lacking:
            return True
        if time.monotonic() > deadline:
            for schema, names in sorted(lacking.items()):
                print(f"{schema}: not migrated yet: {', '.join(sorted(names))}", file=sys.stderr)
            return False
        time.sleep(interval)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m services.migrate")
    parser.add_argument("--wait", action="store_true",
                        help="only wait until every migration of this code is in the database")
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if args.wait:
        url = os.environ.get("DATABASE_URL")
        if not url:
            raise SystemExit("DATABASE_URL is not set")
        raise SystemExit(0 if wait(url, args.timeout) else 1)
    run()


if __name__ == "__main__":
    main()
