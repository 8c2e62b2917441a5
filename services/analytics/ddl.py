"""The projection schema's DDL: one set of migrations, applied to a target schema.

The files in migrations/ use {target} for the projection schema. Live, the target is `analytics`
and each file is applied once, recorded in the worker's own schema (analytics_state) under the
name events.migrations gave it when it applied these files itself (`migrations/0001_...sql`), so
databases migrated before the target became a parameter see nothing new to apply. A rebuild
applies every file, in the same order, to its scratch schema: the rebuilt tables are the live
ones' twins by construction, not by a second copy of the DDL. The views (views.sql) are not
migrations: when the file has changed since it was last applied (its checksum is recorded beside
the migrations' names), the run drops and creates them all again after the tables' migrations.
"""

from __future__ import annotations

import zlib
from pathlib import Path

from psycopg import sql

from events.db import Conn, Connections, Queries

# What analysts query; services.analytics.rebuild swaps a rebuilt copy in under this name.
LIVE_SCHEMA = "analytics"

MIGRATIONS = Path(__file__).with_name("migrations")
VIEWS = Path(__file__).with_name("views.sql")
_BOOKKEEPING = Path(__file__).with_name("ddl.sql")


def files() -> list[Path]:
    return sorted(MIGRATIONS.glob("*.sql"))


def render(path: Path, target: str) -> sql.Composed:
    return sql.SQL(path.read_text(encoding="utf-8")).format(target=sql.Identifier(target))


def create(conn: Conn, target: str) -> None:
    """Applies every migration and the views to `target`, inside the caller's transaction."""
    for path in files():
        conn.execute(render(path, target))
    conn.execute(render(VIEWS, target))


def migrate(pool: Connections, state_schema: str, target: str) -> list[str]:
    """Applies the migrations not yet recorded in `state_schema` to `target`, each in its own transaction."""
    q = Queries(_BOOKKEEPING, state_schema)
    # Same key as events.migrations.migrate for this schema (see lock_migrations).
    key = {"key": zlib.crc32(f"migrate:{state_schema}".encode())}
    applied_now: list[str] = []
    with pool.connection() as conn:
        conn.execute(q["lock_migrations"], key)
        try:
            done = {r["name"] for r in conn.execute(q["applied_migrations"]).fetchall()}
            for path in files():
                name = f"{MIGRATIONS.name}/{path.name}"
                if name in done:
                    continue
                with conn.transaction():
                    conn.execute(render(path, target))
                    conn.execute(q["record_migration"], {"name": name})
                applied_now.append(name)
            # Views hold nothing: whenever views.sql changes they are made again from it, so every
            # database has its current views whatever it was migrated from.
            views = f"{VIEWS.name}@{zlib.crc32(VIEWS.read_bytes()):08x}"
            if views not in done:
                with conn.transaction():
                    conn.execute(render(VIEWS, target))
                    conn.execute(q["forget_views"])
                    conn.execute(q["record_migration"], {"name": views})
                applied_now.append(views)
        finally:
            conn.execute(q["unlock_migrations"], key)
    return applied_now
