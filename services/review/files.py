"""What review keeps beside its events: reports and addenda (PDFs) and the follow-up questions' text.

PDFs go to the object store under `reports/<case_id>/<sha256>`, encrypted with the case's data key
(services.common.vault); the texts stay in review's database, encrypted the same way. The events
carry only the document ids, hashes and page counts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol
from uuid import UUID

from events.db import Conn, Queries
from services.common.object_store import ObjectStore
from services.common.vault import Vault


class CaseFiles(Protocol):
    def store(self, conn: Conn, case_id: UUID, sha256: str, content: bytes) -> None: ...

    def read(self, conn: Conn, case_id: UUID, sha256: str) -> bytes: ...

    def keep_text(self, conn: Conn, case_id: UUID, follow_up_id: UUID, text: str) -> None: ...

    def texts(self, conn: Conn, case_id: UUID) -> dict[UUID, str]: ...

    def shred(self, conn: Conn, case_id: UUID) -> None: ...


class PgCaseFiles:
    """`vault` keeps a key per case (the owner is the case id), which erasure shreds."""

    def __init__(self, vault: Vault, objects: ObjectStore, schema: str = "review") -> None:
        self._q = Queries(Path(__file__).with_name("queries.sql"), schema)
        self._vault = vault
        self._objects = objects

    @staticmethod
    def object_key(case_id: UUID, sha256: str) -> str:
        return f"reports/{case_id}/{sha256}"

    def store(self, conn: Conn, case_id: UUID, sha256: str, content: bytes) -> None:
        # The key is made on first use: cases assigned before reports existed have none yet.
        self._vault.create_key(conn, str(case_id))
        blob = self._vault.encrypt(conn, str(case_id), content, f"report:{sha256}")
        self._objects.put(self.object_key(case_id, sha256), blob)

    def read(self, conn: Conn, case_id: UUID, sha256: str) -> bytes:
        blob = self._objects.get(self.object_key(case_id, sha256))
        return self._vault.decrypt(conn, str(case_id), blob, f"report:{sha256}")

    def keep_text(self, conn: Conn, case_id: UUID, follow_up_id: UUID, text: str) -> None:
        self._vault.create_key(conn, str(case_id))
        blob = self._vault.encrypt(conn, str(case_id), text.encode(), f"follow-up:{follow_up_id}")
        conn.execute(self._q["insert_text"], {"follow_up_id": follow_up_id, "case_id": case_id, "ciphertext": blob})

    def texts(self, conn: Conn, case_id: UUID) -> dict[UUID, str]:
        rows = conn.execute(self._q["texts"], {"case_id": case_id}).fetchall()
        return {r["follow_up_id"]: self._vault.decrypt(conn, str(case_id), bytes(r["ciphertext"]),
                                                       f"follow-up:{r['follow_up_id']}").decode()
                for r in rows}

    def shred(self, conn: Conn, case_id: UUID) -> None:
        self._vault.shred(conn, str(case_id))
        conn.execute(self._q["delete_texts"], {"case_id": case_id})
