"""Per-owner encryption (AES-256-GCM) with crypto-shredding: a patient at intake, a case at review.

Each owner has a random data key, stored wrapped by the service's master key in the table
`owner_keys` of the service's own schema. Shredding the wrapped key makes every ciphertext of
that owner unreadable, wherever it was copied.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from events.db import Conn, Queries

_NONCE = 12
_SQL = Path(__file__).with_name("vault.sql")


class OwnerKeys(Protocol):
    """Wrapped data keys by owner (a patient ref at intake, a case id at review)."""

    def insert(self, conn: Conn, owner: str, wrapped_key: bytes) -> None:
        """Keeps the owner's first key: a second one for the same owner changes nothing."""
        ...

    def get(self, conn: Conn, owner: str) -> bytes | None: ...

    def shred(self, conn: Conn, owner: str) -> None: ...


class PgOwnerKeys:
    """The owner keys of one service, in `owner_keys` of its schema (one migration per service makes it)."""

    def __init__(self, schema: str) -> None:
        self._q = Queries(_SQL, schema)

    def insert(self, conn: Conn, owner: str, wrapped_key: bytes) -> None:
        conn.execute(self._q["insert_key"], {"owner": owner, "wrapped_key": wrapped_key})

    def get(self, conn: Conn, owner: str) -> bytes | None:
        row = conn.execute(self._q["wrapped_key"], {"owner": owner}).fetchone()
        return bytes(row["wrapped_key"]) if row else None

    def shred(self, conn: Conn, owner: str) -> None:
        conn.execute(self._q["shred_key"], {"owner": owner})


class KeyShredded(Exception):
    """The owner's key was shredded (an erasure): what was encrypted with it can no longer be read."""


class Vault:
    def __init__(self, master_key: bytes, keys: OwnerKeys) -> None:
        self._master = AESGCM(master_key)
        self._keys = keys

    def create_key(self, conn: Conn, owner: str) -> None:
        nonce = os.urandom(_NONCE)
        # The owner is bound as associated data: a wrapped key cannot be moved to another owner.
        wrapped = nonce + self._master.encrypt(nonce, AESGCM.generate_key(bit_length=256), owner.encode())
        self._keys.insert(conn, owner, wrapped)

    def _key(self, conn: Conn, owner: str) -> AESGCM:
        wrapped = self._keys.get(conn, owner)
        if wrapped is None:
            raise KeyShredded(owner)
        return AESGCM(self._master.decrypt(wrapped[:_NONCE], wrapped[_NONCE:], owner.encode()))

    def encrypt(self, conn: Conn, owner: str, plaintext: bytes, context: str) -> bytes:
        nonce = os.urandom(_NONCE)
        return nonce + self._key(conn, owner).encrypt(nonce, plaintext, context.encode())

    def decrypt(self, conn: Conn, owner: str, blob: bytes, context: str) -> bytes:
        key = self._key(conn, owner)
        try:
            return key.decrypt(blob[:_NONCE], blob[_NONCE:], context.encode())
        except InvalidTag as exc:
            raise ValueError(f"ciphertext for {context} does not match its key") from exc

    def shred(self, conn: Conn, owner: str) -> None:
        self._keys.shred(conn, owner)
