"""Per-patient encryption (AES-256-GCM) with crypto-shredding.

Each patient has a random data key, stored wrapped by the service's master key. Destroying the
wrapped key makes every ciphertext of that patient unreadable, wherever it was copied.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from events.db import Conn, Queries

_NONCE = 12


class PatientErased(Exception):
    """The patient's key is gone: their personal data can no longer be read."""


class Vault:
    def __init__(self, master_key: bytes, schema: str = "intake") -> None:
        self._master = AESGCM(master_key)
        self._q = Queries(Path(__file__).with_name("queries.sql"), schema)

    def create_key(self, conn: Conn, patient_ref: str) -> None:
        nonce = os.urandom(_NONCE)
        # The patient ref is bound as associated data: a wrapped key cannot be moved to another patient.
        wrapped = nonce + self._master.encrypt(nonce, AESGCM.generate_key(bit_length=256), patient_ref.encode())
        conn.execute(self._q["insert_key"], {"patient_ref": patient_ref, "wrapped_key": wrapped})

    def _key(self, conn: Conn, patient_ref: str) -> AESGCM:
        row = conn.execute(self._q["wrapped_key"], {"patient_ref": patient_ref}).fetchone()
        if row is None:
            raise PatientErased(patient_ref)
        wrapped = bytes(row["wrapped_key"])
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
        conn.execute(self._q["delete_key"], {"patient_ref": patient_ref})
        conn.execute(self._q["record_erasure"], {"patient_ref": patient_ref, "erased_at": at})
