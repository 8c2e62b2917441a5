"""Rebuilds every table of schema `analytics` from the event stores, proves it identical, switches.

    python -m services.analytics.rebuild [--check]

Reads DATABASE_URL and the rest of AnalyticsSettings from the environment like the worker, and
runs the worker's bootstrap (so `analytics` exists and is migrated) but starts no consumer.

1. Build: in one snapshot of every event store (settings.rebuild_sources), create the scratch
   schema with the migrations that created `analytics`, and fold the stored events, in recorded
   order, by the live projector's own rules (services.analytics.facts); stream them through
   server-side cursors and write with COPY.
2. Compare: every table and view of `analytics` with its rebuild, by row count and checksum.
3. Switch (not with --check): in one transaction, lock the live tables against writes, compare
   again, and only if still identical rename `analytics` to `analytics_old` and the scratch schema
   to `analytics`, and drop `analytics_old`. The projector's next write lands in the rebuilt tables.

A difference means the live projector is behind (stored events it has not consumed yet) or ahead
(events appended after the snapshot), or that the projection is not reproducible from the stores.
The whole rebuild is then retried (settings.rebuild_attempts); if it still differs the command
exits 1 naming the relations, and leaves the rebuild in the scratch schema for inspection.
Exit 0: identical (--check) or switched. Exit 2: it could not run (the message says why).
"""

from __future__ import annotations

import argparse
import gc
import heapq
import sys
import time
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any, TextIO

import psycopg
from psycopg import sql
from psycopg.rows import DictRow, dict_row, tuple_row
from psycopg.types.json import Jsonb

from events.db import Conn, Connections, load_queries
from events.registry import Decoded, DecodeError, Registry
from services.analytics import ddl, facts
from services.analytics.bootstrap import bootstrap
from services.analytics.ddl import LIVE_SCHEMA
from services.analytics.settings import AnalyticsSettings

SCRATCH = "analytics_rebuild"
OLD = "analytics_old"
_SQL = Path(__file__).with_name("rebuild.sql")
# Any key other than the migrations' (crc32 of "migrate:<schema>") would do.
_REBUILD_LOCK = zlib.crc32(b"rebuild:analytics")


class RebuildError(Exception):
    """The rebuild cannot run, or cannot switch, however often it is retried."""


@dataclass(frozen=True)
class Fingerprint:
    rows: int
    checksum: str


@dataclass(frozen=True)
class Comparison:
    """One table or view: its fingerprint live and rebuilt (None where the schema lacks it)."""

    name: str
    kind: str
    live: Fingerprint | None
    rebuilt: Fingerprint | None

    @property
    def identical(self) -> bool:
        return self.live is not None and self.live == self.rebuilt

    @property
    def verdict(self) -> str:
        if self.live is None:
            return "only in the rebuild"
        if self.rebuilt is None:
            return "missing from the rebuild"
        return "identical" if self.identical else "DIFFERS"


class _Differs(Exception):
    """Raised inside the switch transaction, so it rolls back."""

    def __init__(self, comparisons: list[Comparison]) -> None:
        super().__init__(describe_differences(comparisons))
        self.comparisons = comparisons


_BEHIND_OR_AHEAD = ("The live projector may be behind or ahead of the event stores (retry when it has caught "
                    "up and traffic is quiet), or the projection does not reproduce from them.")


def _sql(name: str, **identifiers: sql.Composable) -> sql.Composed:
    return sql.SQL(load_queries(_SQL)[name]).format(**identifiers)


def _one(conn: Conn, query: sql.Composed, params: Mapping[str, Any] | None = None) -> DictRow:
    row = conn.execute(query, params).fetchone()
    if row is None:
        raise AssertionError("the statement returned no row")
    return row


# ---------------------------------------------------------------------------------------- build
# Events read per round trip from each store, and written per COPY: the memory the replay holds
# beyond the folded rows.
CHUNK = 2000


def _order(decoded: Decoded) -> tuple[Any, ...]:
    # A stream's events in version order; across streams and services by when they were recorded,
    # so a reaction comes after the event it reacted to (recorded, hence committed, before it).
    env = decoded.envelope
    return env.recorded_at, env.stream_id, env.stream_version


def _stored(conn: Conn, registry: Registry, schema: str, counted: dict[str, int]) -> Iterator[Decoded]:
    """One store's events in _order, through a server-side cursor: never the whole history at once."""
    counted[schema] = 0
    with conn.cursor(name=f"replay_{schema}", row_factory=tuple_row) as cursor:
        cursor.itersize = CHUNK
        cursor.execute(_sql("stored_events", store=sql.Identifier(schema, "events")))
        for (envelope,) in cursor:
            try:
                # Stored envelopes go through the same registry (and upcasters) as messages, and
                # are decoded once, from the text PostgreSQL sends.
                decoded = registry.decode(envelope)
            except DecodeError as exc:
                raise RebuildError(f"a stored event of {schema}.events does not decode: {exc}") from exc
            counted[schema] += 1
            yield decoded


def history(conn: Conn, registry: Registry, sources: Sequence[str], counted: dict[str, int]) -> Iterator[Decoded]:
    """Every stored event of every source, decoded like a message, in one deterministic order."""
    for schema in sources:
        if not _one(conn, _sql("store_exists"), {"schema": schema})["present"]:
            raise RebuildError(f"there is no event store {schema}.events (sources: ANALYTICS_REBUILD_SOURCES)")
    # heapq.merge is stable: exact ties across sources keep the order of `sources`.
    return heapq.merge(*(_stored(conn, registry, schema, counted) for schema in sources), key=_order)


def _copy(conn: Conn, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    statement = _sql("copy_in", table=sql.Identifier(SCRATCH, table),
                     columns=sql.SQL(", ").join(map(sql.Identifier, columns)))
    with conn.cursor().copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


def build(pool: Connections, registry: Registry, sources: Sequence[str]) -> tuple[int, dict[str, int]]:
    """Replaces the scratch schema with a rebuild; returns how many events were folded in.

    The timeline and the money movements (a row per event or per component) are copied in as
    the history streams by; the rows that events update (cases, counts) are folded in memory
    and copied at the end. Memory grows with the cases, not with the events.
    """
    # The replay makes millions of objects that live on (the folded rows) or die young (decoded
    # events), none in cycles: the cyclic collector would only rescan the growing heap, which
    # measured at 6x the cost of decoding itself. Reference counting still frees the dead.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _build(pool, registry, sources)
    finally:
        if collecting:
            gc.enable()


def _build(pool: Connections, registry: Registry, sources: Sequence[str]) -> tuple[int, dict[str, int]]:
    fold = facts.Fold()
    per_source: dict[str, int] = {}
    applied = 0
    with pool.connection() as conn, conn.transaction():
        conn.execute(_sql("snapshot"))
        conn.execute(_sql("drop_scratch", scratch=sql.Identifier(SCRATCH)))
        ddl.create(conn, SCRATCH)
        replay = history(conn, registry, sources, per_source)
        # A chunk is read (the cursors' FETCHes) before it is written (a COPY): one connection
        # cannot do both at once, and both must be in this transaction's snapshot.
        while chunk := list(islice(replay, CHUNK)):
            for decoded in chunk:
                fold.add(decoded)
            _copy(conn, "case_timeline", facts.TIMELINE_COLUMNS, map(facts.timeline_row, chunk))
            _copy(conn, "money_movements", facts.MONEY_COLUMNS, fold.take_money())
            applied += len(chunk)
        _copy(conn, "cases", facts.CASE_COLUMNS, fold.case_rows(as_json=Jsonb))
        _copy(conn, "quotes", facts.QUOTE_COLUMNS, fold.quotes.values())
        _copy(conn, "event_counts", facts.COUNT_COLUMNS, fold.count_rows())
    return applied, per_source


def drop_scratch(pool: Connections) -> None:
    with pool.connection() as conn:
        conn.execute(_sql("drop_scratch", scratch=sql.Identifier(SCRATCH)))


# -------------------------------------------------------------------------------------- compare
def relations(conn: Conn, schema: str) -> list[DictRow]:
    return conn.execute(_sql("relations"), {"schema": schema}).fetchall()


def fingerprints(conn: Conn, schema: str) -> dict[str, tuple[str, Fingerprint]]:
    found: dict[str, tuple[str, Fingerprint]] = {}
    for rel in relations(conn, schema):
        row = _one(conn, _sql("checksum", relation=sql.Identifier(schema, rel["name"])))
        found[rel["name"]] = (rel["kind"], Fingerprint(int(row["row_count"]), row["checksum"]))
    return found


def compare(conn: Conn) -> list[Comparison]:
    """Live against rebuilt; in the caller's transaction, so both sides share a session's settings."""
    live, rebuilt = fingerprints(conn, LIVE_SCHEMA), fingerprints(conn, SCRATCH)
    return [
        Comparison(name, (live.get(name) or rebuilt[name])[0],
                   live[name][1] if name in live else None, rebuilt[name][1] if name in rebuilt else None)
        for name in sorted(live.keys() | rebuilt.keys())
    ]


def describe_differences(comparisons: Sequence[Comparison]) -> str:
    parts = []
    for c in comparisons:
        if c.identical:
            continue
        sides = ", ".join(f"{side} {fp.rows} rows {fp.checksum}" for side, fp in
                          (("live", c.live), ("rebuilt", c.rebuilt)) if fp is not None)
        parts.append(f"{LIVE_SCHEMA}.{c.name} {c.verdict} ({sides})")
    return "; ".join(parts)


def print_comparisons(comparisons: Sequence[Comparison], out: TextIO) -> None:
    head = ("relation", "kind", "live rows", "live checksum", "rebuilt rows", "rebuilt checksum", "")
    lines = [head] + [
        (f"{LIVE_SCHEMA}.{c.name}", c.kind,
         str(c.live.rows) if c.live else "-", c.live.checksum if c.live else "-",
         str(c.rebuilt.rows) if c.rebuilt else "-", c.rebuilt.checksum if c.rebuilt else "-", c.verdict)
        for c in comparisons
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    for line in lines:
        print("  " + "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip(), file=out)


# --------------------------------------------------------------------------------------- switch
def switch(pool: Connections, lock_timeout_s: float) -> list[Comparison]:
    """Swaps the rebuild in, in one transaction, if the live tables still match it under lock."""
    with pool.connection() as conn, conn.transaction():
        if _one(conn, _sql("schema_exists"), {"schema": OLD})["present"]:
            raise RebuildError(f"schema {OLD} exists, and the switch renames {LIVE_SCHEMA} to that name: "
                               "inspect it, then drop or rename it")
        conn.execute(_sql("lock_timeout"), {"timeout": f"{round(lock_timeout_s * 1000)}ms"})
        live_tables = [r["name"] for r in relations(conn, LIVE_SCHEMA) if r["kind"] == "table"]
        if live_tables:
            conn.execute(_sql("lock_live_tables", tables=_identifiers(LIVE_SCHEMA, live_tables)))
        # Under the lock nothing can write the live tables until commit: equal now means equal
        # at the switch, and the projector's next event lands on a copy of what it wrote so far.
        comparisons = compare(conn)
        if not all(c.identical for c in comparisons):
            raise _Differs(comparisons)
        conn.execute(_sql("rename_schema", schema=sql.Identifier(LIVE_SCHEMA), new_name=sql.Identifier(OLD)))
        conn.execute(_sql("rename_schema", schema=sql.Identifier(SCRATCH), new_name=sql.Identifier(LIVE_SCHEMA)))
        old = relations(conn, OLD)
        views = [r["name"] for r in old if r["kind"] == "view"]
        tables = [r["name"] for r in old if r["kind"] == "table"]
        try:
            if views:
                conn.execute(_sql("drop_views", views=_identifiers(OLD, views)))
            if tables:
                conn.execute(_sql("drop_tables", tables=_identifiers(OLD, tables)))
            conn.execute(_sql("drop_schema", schema=sql.Identifier(OLD)))
        except psycopg.errors.DependentObjectsStillExist as exc:
            raise RebuildError(f"objects the analytics migrations did not create depend on {LIVE_SCHEMA} "
                               f"or live in it: {exc}") from exc
    return comparisons


def _identifiers(schema: str, names: Sequence[str]) -> sql.Composed:
    return sql.SQL(", ").join(sql.Identifier(schema, name) for name in names)


# ----------------------------------------------------------------------------------------- main
def rebuild(pool: Connections, registry: Registry, settings: AnalyticsSettings, *, check: bool, out: TextIO) -> int:
    attempts, delay = settings.rebuild_attempts, settings.rebuild_retry_delay_s
    problem = hint = ""
    for attempt in range(1, attempts + 1):
        print(f"attempt {attempt} of {attempts}: rebuilding {LIVE_SCHEMA} into {SCRATCH} "
              f"from the event stores of {', '.join(settings.rebuild_sources)}", file=out)
        applied, per_source = build(pool, registry, settings.rebuild_sources)
        counts = ", ".join(f"{schema} {n}" for schema, n in per_source.items())
        print(f"  replayed {sum(per_source.values())} stored events ({counts}); {applied} projected", file=out)
        with pool.connection() as conn, conn.transaction():
            comparisons = compare(conn)
        print_comparisons(comparisons, out)
        if not all(c.identical for c in comparisons):
            problem, hint = f"not identical: {describe_differences(comparisons)}", _BEHIND_OR_AHEAD
        elif check:
            drop_scratch(pool)
            print(f"identical: every table and view of {LIVE_SCHEMA} matches its rebuild", file=out)
            return 0
        else:
            try:
                comparisons = switch(pool, settings.rebuild_lock_timeout_s)
            except _Differs as exc:
                print("  recomputed with the live tables locked:", file=out)
                print_comparisons(exc.comparisons, out)
                problem, hint = f"not identical: {exc}", _BEHIND_OR_AHEAD
            except (psycopg.errors.LockNotAvailable, psycopg.errors.DeadlockDetected) as exc:
                problem = f"could not lock the live tables: {str(exc).strip()}"
                hint = "Long transactions on them (analysts' queries) kept the switch waiting; retry later."
            else:
                print("  recomputed with the live tables locked:", file=out)
                print_comparisons(comparisons, out)
                print(f"identical and switched: {LIVE_SCHEMA} now holds the rebuilt tables; "
                      "the previous ones are dropped", file=out)
                return 0
        print(f"  {problem}", file=out)
        if attempt < attempts:
            print(f"  retrying in {delay:g}s", file=out)
            time.sleep(delay)
    tries = f"{attempts} attempt{'s' if attempts > 1 else ''}"
    print(f"rebuild {'check failed' if check else 'failed, nothing switched,'} after {tries}: {problem}. "
          f"{hint} The last rebuild is left in schema {SCRATCH} for inspection.", file=sys.stderr)
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.analytics.rebuild",
        description=f"Rebuild schema {LIVE_SCHEMA} from the event stores, prove it identical, switch to it.")
    parser.add_argument("--check", action="store_true",
                        help="only compare the rebuild with the live tables; switch nothing")
    args = parser.parse_args(argv)
    settings = AnalyticsSettings()
    runtime = bootstrap(settings)  # migrations included; no consumer, no relay
    try:
        # The rebuild lock lives on a connection of its own, held for the whole run.
        with psycopg.connect(settings.database_url, autocommit=True, row_factory=dict_row) as guard:
            if not _one(guard, _sql("take_rebuild_lock"), {"key": _REBUILD_LOCK})["locked"]:
                print("another rebuild is running (its advisory lock is held); nothing done", file=sys.stderr)
                return 2
            try:
                return rebuild(runtime.pool, runtime.registry, settings, check=args.check, out=sys.stdout)
            except RebuildError as exc:
                print(f"rebuild failed, nothing switched: {exc}", file=sys.stderr)
                return 2
            finally:
                guard.execute(_sql("release_rebuild_lock"), {"key": _REBUILD_LOCK})
    finally:
        runtime.close()


if __name__ == "__main__":
    sys.exit(main())
