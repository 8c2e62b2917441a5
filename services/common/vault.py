"""Per-owner encryption (AES-256-GCM) with crypto-shredding: a patient at intake, a case at review.

Each owner has a random data key, stored wrapped by the service's master key. Destroying the
wrapped key makes every ciphertext of that owner unreadable, wherever it was copied.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from events.db import Conn

_NONCE = 12


class KeyStore(Protocol):
    """Wrapped data keys by owner (a patient ref at intake, a case id at review)."""

    def insert_key(self, conn: Conn, patient_ref: str, wrapped_key: bytes) -> None: ...

    def wrapped_key(self, conn: Conn, patient_ref: str) -> bytes | None: ...

    def shred_key(self, conn: Conn, patient_ref: str, at: datetime) -> None: ...


class PatientErased(Exception):
    """The patient's key is gone: their personal data can no longer be read."""


class Vault:
    def __init__(self, master_key: bytes, keys: KeyStore) -> None:
        self._master = AESGCM(master_key)
        self._keys = keys

    def create_key(self, conn: Conn, patient_ref: str) -> None:
        nonce = os.urandom(_NONCE)
        # The patient ref is bound as associated data: a wrapped key cannot be moved to another patient.
        wrapped = nonce + self._master.encrypt(nonce, AESGCM.generate_key(bit_length=256), patient_ref.encode())
        self._keys.insert_key(conn, patient_ref, wrapped)

    def _key(self, conn: Conn, patient_ref: str) -> AESGCM:
        wrapped = self._keys.wrapped_key(conn, patient_ref)
        if wrapped is None:
            raise PatientErased(patient_ref)
        return AESGCM(self._master.decrypt(wrapped[:_NONCE], wrapped[_NONCE:], patient_ref.encode()))

    def encrypt(self, conn: Conn, patient_ref: str, plaintext: bytes, context: str) -> bytes:
        nonce = os.urandom(_NONCE)
        return nonce + self._key(conn, patient_ref).encrypt(nonce, plaintext, context.encode())

    def decrypt(self, conn: Conn, patient_ref: str, blob: bytes, context: str) -> bytes:
        key = self._key(conn, patient_ref)
        try:
            return key.decrypt(blob[:_NONCE], blob[_NONCE:], context.encode())
        except InvalidTag as exc:
            raise ValueError(f"ciphertext for {context} does not match its key") from exc

    def shred(self, conn: Conn, patient_ref: str, at: datetime) -> None:
        self._keys.shred_key(conn, patient_ref, at)
