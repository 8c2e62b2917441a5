"""The pool's check of a connection it hands out (events.db.Pool.check_idle), on the real PostgreSQL."""

from __future__ import annotations

import time

import psycopg
import pytest

from events.db import Conn, Pool, open_pool


def backend_pid(conn: Conn) -> int:
    row = conn.execute("SELECT pg_backend_pid() AS pid").fetchone()
    assert row is not None
    return int(row["pid"])


def test_a_sound_idle_connection_passes_and_one_the_server_ended_is_refused(db_url: str):
    pool = open_pool(db_url, min_size=1, max_size=1, name="check-probe")
    try:
        with pool.connection() as conn:
            pid = backend_pid(conn)
            Pool.check_idle(conn)  # idle and sound: passes
            with psycopg.connect(db_url, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            deadline = time.monotonic() + 5
            with pytest.raises(psycopg.OperationalError):  # the server said it ended it: refused
                while time.monotonic() < deadline:
                    Pool.check_idle(conn)
                    time.sleep(0.05)
        # The pool replaces it: the next connection it hands out works.
        with pool.connection() as conn:
            assert backend_pid(conn) != pid
    finally:
        pool.close()
