"""Server-side sessions: the browser holds a random id in an HttpOnly cookie, the tokens stay here.

A row per signed-in person (or per sign-in under way) in the stack's PostgreSQL, schema `console`,
keyed by the SHA-256 of the cookie's id, so a copy of the table opens no session. What a row holds
(the tokens, the PKCE verifier) is sealed with AES-GCM under a key derived from CONSOLE_SECRET_KEY:
a database dump gives no usable token either. A session lapses after session_idle_s without a
request and after session_max_s in any case; expired rows are swept as new ones are written.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from psycopg_pool import AsyncConnectionPool

DDL = """
CREATE SCHEMA IF NOT EXISTS console;
CREATE TABLE IF NOT EXISTS console.sessions (
    id_hash     text        PRIMARY KEY,
    sealed      bytea       NOT NULL,
    created_at  timestamptz NOT NULL,
    seen_at     timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_expiry ON console.sessions (expires_at);
"""


def new_id() -> str:
    return secrets.token_urlsafe(32)


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class Sealer:
    """AES-GCM under a key derived from the console's secret; the row's hash is the associated data."""

    def __init__(self, secret: str) -> None:
        self._aead = AESGCM(hmac.new(secret.encode(), b"console-session-v1", hashlib.sha256).digest())

    def seal(self, id_hash: str, data: dict[str, Any]) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, json.dumps(data).encode(), id_hash.encode())

    def open(self, id_hash: str, sealed: bytes) -> dict[str, Any]:
        found: dict[str, Any] = json.loads(self._aead.decrypt(sealed[:12], sealed[12:], id_hash.encode()))
        return found


@dataclass
class Session:
    id: str
    data: dict[str, Any] = field(default_factory=dict)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def signed_in(self) -> bool:
        return "access_token" in self.data


class SessionStore:
    def __init__(self, pool: AsyncConnectionPool, secret: str, idle_s: int, max_s: int) -> None:
        self.pool, self._sealer, self.idle_s, self.max_s = pool, Sealer(secret), idle_s, max_s

    async def migrate(self) -> None:
        async with self.pool.connection() as conn:
            # One console process migrates at a time.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('console.sessions'))")
            await conn.execute(DDL)

    async def load(self, session_id: str) -> Session | None:
        id_hash = _hash(session_id)
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "UPDATE console.sessions SET seen_at = now(), expires_at = least(created_at + %(max)s, "
                "now() + %(idle)s) WHERE id_hash = %(h)s AND expires_at > now() RETURNING sealed, created_at",
                {"h": id_hash, "idle": timedelta(seconds=self.idle_s), "max": timedelta(seconds=self.max_s)})
            row = await cur.fetchone()
        if row is None:
            return None
        try:
            return Session(session_id, self._sealer.open(id_hash, bytes(row[0])), row[1])
        except (InvalidTag, ValueError):  # sealed under another key (CONSOLE_SECRET_KEY changed): no session
            return None

    async def save(self, session: Session) -> None:
        id_hash, now = _hash(session.id), datetime.now(UTC)
        expires = min(session.created_at + timedelta(seconds=self.max_s), now + timedelta(seconds=self.idle_s))
        async with self.pool.connection() as conn:
            await conn.execute(
                "INSERT INTO console.sessions (id_hash, sealed, created_at, seen_at, expires_at) "
                "VALUES (%(h)s, %(s)s, %(c)s, %(n)s, %(e)s) ON CONFLICT (id_hash) DO UPDATE "
                "SET sealed = EXCLUDED.sealed, seen_at = EXCLUDED.seen_at, expires_at = EXCLUDED.expires_at",
                {"h": id_hash, "s": self._sealer.seal(id_hash, session.data), "c": session.created_at, "n": now,
                 "e": expires})
            if secrets.randbelow(50) == 0:
                await conn.execute("DELETE FROM console.sessions WHERE expires_at < now()")

    async def delete(self, session_id: str) -> None:
        async with self.pool.connection() as conn:
            await conn.execute("DELETE FROM console.sessions WHERE id_hash = %(h)s", {"h": _hash(session_id)})
