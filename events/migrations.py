"""Versioned SQL migrations, applied idempotently at start.

Files are named NNNN_what.sql and may use {schema}; each is applied once per schema, in its own
transaction, under an advisory lock so an API and a worker starting together do not race.
"""

from __future__ import annotations

import zlib
from pathlib import Path

from psycopg import sql

from events.db import Connections

EVENT_STORE_MIGRATIONS = Path(__file__).with_name("migrations")


def migrate(pool: Connections, schema: str, *dirs: Path) -> list[str]:
    files = sorted(
        ((d.name if d != EVENT_STORE_MIGRATIONS else "events", f) for d in dirs for f in d.glob("*.sql")),
        key=lambda pair: (pair[0] != "events", pair[1].name),
    )
    ident = sql.Identifier(schema)
    applied_now: list[str] = []
    lock_key = zlib.crc32(f"migrate:{schema}".encode())
    with pool.connection() as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (lock_key,))
        try:
            with conn.transaction():
                conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(ident))
                conn.execute(sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {}.schema_migrations ("
                    " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
                ).format(ident))
            done = {r["name"] for r in conn.execute(
                sql.SQL("SELECT name FROM {}.schema_migrations").format(ident)).fetchall()}
            for owner, path in files:
                name = f"{owner}/{path.name}"
                if name in done:
                    continue
                body = sql.SQL(path.read_text(encoding="utf-8")).format(schema=ident)
                with conn.transaction():
                    conn.execute(body)
                    conn.execute(sql.SQL("INSERT INTO {}.schema_migrations (name) VALUES (%s)").format(ident),
                                 (name,))
                applied_now.append(name)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (lock_key,))
    return applied_now
