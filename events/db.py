"""Thin psycopg 3 layer: an explicitly opened pool, named SQL blocks, our own exceptions."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.rows import DictRow, dict_row
from psycopg_pool import ConnectionPool

Conn = psycopg.Connection[DictRow]
Pool = ConnectionPool[Conn]


class StoreError(Exception):
    """Base of the storage errors that leave this layer."""


class DatabaseUnavailable(StoreError):
    pass


class ConcurrencyConflict(StoreError):
    """The stream moved on since the caller read it: `expected` is stale."""

    def __init__(self, stream_id: str, expected: int, actual: int | None = None) -> None:
        super().__init__(f"stream {stream_id}: expected version {expected}, found {actual}")
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual


def open_pool(url: str, *, min_size: int = 1, max_size: int = 8, name: str = "case-ledger") -> Pool:
    # check: a connection broken by a database restart is replaced when it is taken, not handed
    # to a request; timeout: a request waits 5 s for a connection, then answers 503;
    # reconnect_timeout: the pool's reconnect attempts back off exponentially (1, 2, 4, 8 s ...)
    # for this long, so after a long outage the next attempt could be a minute away. Giving up
    # after 2 s instead makes the next request start a fresh attempt: back within ~2 s.
    pool = ConnectionPool(
        url, connection_class=Conn, min_size=min_size, max_size=max_size, open=False, name=name,
        kwargs={"row_factory": dict_row, "autocommit": True}, check=ConnectionPool.check_connection,
        timeout=5, reconnect_timeout=2,
    )
    try:
        pool.open(wait=True, timeout=20)
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(str(exc)) from exc
    except Exception as exc:  # PoolTimeout has no common base with OperationalError
        raise DatabaseUnavailable(str(exc)) from exc
    return pool


@contextmanager
def transaction(pool: Pool) -> Iterator[Conn]:
    try:
        with pool.connection() as conn, conn.transaction():
            yield conn
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(str(exc)) from exc


_BLOCK = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)


@cache
def load_queries(path: Path) -> dict[str, str]:
    """Parse a .sql file of `-- name: x` blocks; comments under a name document that block."""
    text = path.read_text(encoding="utf-8")
    parts = _BLOCK.split(text)
    queries: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in queries:
            raise ValueError(f"{path}: query {name} declared twice")
        queries[name] = body.strip()
    return queries


class Queries:
    """Named queries of one file, bound to one PostgreSQL schema."""

    def __init__(self, path: Path, schema: str) -> None:
        self._path = path
        self._schema = sql.Identifier(schema)
        self._bound: dict[str, sql.Composed] = {}

    def __getitem__(self, name: str) -> sql.Composed:
        bound = self._bound.get(name)
        if bound is None:
            raw = load_queries(self._path)[name]
            bound = sql.SQL(raw).format(schema=self._schema)
            self._bound[name] = bound
        return bound
