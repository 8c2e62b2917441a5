"""Thin psycopg 3 layer: an explicitly opened pool, named SQL blocks, our own exceptions."""

from __future__ import annotations

import logging
import re
import select
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import psycopg
from psycopg import sql
from psycopg.rows import DictRow, dict_row
from psycopg_pool import ConnectionPool

log = logging.getLogger(__name__)


Conn = psycopg.Connection[DictRow]


class PooledConn(psycopg.Connection[DictRow]):
    """A pooled connection that remembers which NOTIFY channels to signal once its work has committed.

    An append inside a transaction could NOTIFY there, but PostgreSQL serialises the commits of
    every transaction that notified, fsync included (the notification queue is held from
    pre-commit to the end of the commit): concurrent commands then commit one at a time. The
    pool signals after the caller's block instead, in a tiny transaction of its own.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.wake: set[str] = set()


class Connections(Protocol):
    """What code that runs SQL needs of a pool: a connection for a block, and closing them all.

    `Pool` is the real one; a unit test hands in a fake whose connection is never used."""

    def connection(self, timeout: float | None = None) -> AbstractContextManager[Conn]: ...

    def close(self) -> None: ...


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


class StreamRaced(ConcurrencyConflict):
    """A command that asked for no version lost a race to another writer of its stream: the
    version it read moved before its append. Run again on the new state, it may well pass."""


# The wake-up needs no durability: a listener that misses it looks again within its idle wait.
_WAKE = sql.SQL("SELECT set_config('synchronous_commit', 'off', true), pg_notify({}, '')")


class _Waker:
    """Sends the NOTIFYs a pool's connections asked for, from a thread and a connection of its own.

    Off the command's path: the command pays no round trip for it, and the wake-ups of the
    commands that commit within `coalesce_s` of each other go out as one.
    """

    coalesce_s = 0.005

    def __init__(self, conninfo: str, name: str) -> None:
        self._conninfo = conninfo
        self._name = name
        self._pending: set[str] = set()
        self._lock = threading.Lock()
        self._due = threading.Event()
        self._stopped = False
        self._thread: threading.Thread | None = None

    def wake(self, channels: set[str]) -> None:
        with self._lock:
            if self._stopped:
                return
            self._pending |= channels
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=f"{self._name}-waker", daemon=True)
                self._thread.start()
        self._due.set()

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            thread = self._thread
        self._due.set()
        if thread is not None:
            thread.join(timeout=5)

    def _run(self) -> None:
        conn: psycopg.Connection[Any] | None = None
        while True:
            self._due.wait()
            self._due.clear()
            with self._lock:
                if self._stopped:
                    break
                channels, self._pending = self._pending, set()
            try:
                if conn is None or conn.closed:
                    conn = psycopg.connect(self._conninfo, autocommit=True, connect_timeout=5)
                for channel in sorted(channels):
                    conn.execute(_WAKE.format(channel))
            except psycopg.Error as exc:
                # The listener looks again within its idle wait anyway; the next wake reconnects.
                log.info("could not wake %s: %s", sorted(channels), exc)
                if conn is not None:
                    conn.close()
                conn = None
            time.sleep(self.coalesce_s)
        if conn is not None:
            conn.close()


class Pool(ConnectionPool[PooledConn]):
    def __init__(self, conninfo: str, **kwargs: Any) -> None:
        super().__init__(conninfo, **kwargs)
        self._waker = _Waker(conninfo, self.name)

    @contextmanager
    def connection(self, timeout: float | None = None) -> Iterator[PooledConn]:
        with super().connection(timeout) as conn:
            try:
                yield conn
            finally:
                # After the caller's transactions ended; a rolled-back one wakes a listener for
                # nothing, which costs it one empty look.
                if conn.wake:
                    channels, conn.wake = conn.wake, set()
                    self._waker.wake(channels)

    def close(self, timeout: float = 5.0) -> None:
        self._waker.stop()
        super().close(timeout)

    @staticmethod
    def check_idle(conn: PooledConn) -> None:
        """The pool's check of a connection it hands out, without a round trip when it is sound.

        An idle connection has nothing to read: a server that shut down or restarted says so on
        the socket (its FATAL "terminating connection", or the end of the stream when the
        process died) and the socket turns readable. Only then is the full check (an empty
        query) made, which raises on a broken connection so the pool replaces it. The empty
        query on every take was a round trip per request, per consumer batch and per provider
        call: a sixth of billing's consumer time.
        """
        if conn.closed or conn.pgconn.status != psycopg.pq.ConnStatus.OK:
            Pool.check_connection(conn)
            return
        try:
            readable, _, _ = select.select([conn.fileno()], [], [], 0)
        except (OSError, ValueError):
            readable = [True]
        if readable:
            Pool.check_connection(conn)


def open_pool(url: str, *, min_size: int = 1, max_size: int = 8, name: str = "case-ledger") -> Pool:
    # check: a connection broken by a database restart is replaced when it is taken, not handed
    # to a request (`Pool.check_idle`: a round trip only when the socket says something
    # happened); timeout: a request waits 5 s for a connection, then answers 503;
    # reconnect_timeout: the pool's reconnect attempts back off exponentially (1, 2, 4, 8 s ...)
    # for this long, so after a long outage the next attempt could be a minute away. Giving up
    # after 2 s instead makes the next request start a fresh attempt: back within ~2 s.
    pool = Pool(
        url, connection_class=PooledConn, min_size=min_size, max_size=max_size, open=False, name=name,
        kwargs={"row_factory": dict_row, "autocommit": True}, check=Pool.check_idle,
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
def transaction(pool: Connections) -> Iterator[Conn]:
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
        self._bound: dict[str, bytes] = {}

    def __getitem__(self, name: str) -> bytes:
        # Rendered once: psycopg turns a Composed into bytes at every execute (a tenth of a
        # command's time), while bytes go straight to its cache of parsed queries.
        bound = self._bound.get(name)
        if bound is None:
            blocks = load_queries(self._path)
            # A block named "_x" is a fragment: `{_x}` in another block is replaced by it.
            fragments = {k: sql.SQL(v).format(schema=self._schema) for k, v in blocks.items() if k.startswith("_")}
            bound = sql.SQL(blocks[name]).format(schema=self._schema, **fragments).as_bytes(None)
            self._bound[name] = bound
        return bound
