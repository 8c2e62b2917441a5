"""Intake's own tables beside its event store: cases, patients, erasures, files, deliveries.

They hold what must not travel in events (identity and the question, encrypted with the patient's
key, which the vault keeps: services/common/vault.py) and what intake learns from other services
(deliveries). One named query per method.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from uuid import UUID

from psycopg.types.json import Jsonb

from events.db import Conn, Queries

Row = dict[str, Any]


class IntakeRows(Protocol):
    def case(self, conn: Conn, case_id: UUID) -> Row | None: ...

    def insert_case(self, conn: Conn, case_id: UUID, patient_ref: str, question: bytes | None,
                    at: datetime, requested_by: str = "coordinator") -> None: ...

    def set_question(self, conn: Conn, case_id: UUID, question: bytes) -> None: ...

    def cases_of(self, conn: Conn, patient_ref: str) -> list[UUID]: ...

    def identity(self, conn: Conn, patient_ref: str) -> bytes | None: ...

    def save_identity(self, conn: Conn, patient_ref: str, identity: bytes) -> None: ...

    def record_erasure(self, conn: Conn, patient_ref: str, at: datetime) -> None: ...

    def erased(self, conn: Conn, patient_ref: str) -> bool: ...

    def add_record_file(self, conn: Conn, record_id: UUID, case_id: UUID, kind: str, sha256: str,
                        size_bytes: int, path: str) -> None: ...

    def delivery(self, conn: Conn, case_id: UUID) -> Row | None: ...  # payload and occurred_at

    def record_delivery(self, conn: Conn, case_id: UUID, event_id: UUID, at: datetime, payload: Row) -> None: ...

    def record_file(self, conn: Conn, case_id: UUID, record_id: UUID) -> Row | None: ...

    def record_access(self, conn: Conn, case_id: UUID, record_id: UUID | None, centre_id: str, at: datetime,
                      subject: str | None = None) -> None:
        ...

    def accesses(self, conn: Conn, case_id: UUID) -> list[Row]: ...

    def served_file(self, conn: Conn, record_id: UUID, recipe: str) -> Row | None: ...

    def save_served_file(self, conn: Conn, record_id: UUID, recipe: str, media_type: str, sha256: str | None,
                         size_bytes: int | None, held: str | None) -> None: ...


class PgIntakeRows:
    def __init__(self, schema: str = "intake") -> None:
        self._q = Queries(Path(__file__).with_name("queries.sql"), schema)

    def case(self, conn: Conn, case_id: UUID) -> Row | None:
        return conn.execute(self._q["case_row"], {"case_id": case_id}).fetchone()

    def insert_case(self, conn: Conn, case_id: UUID, patient_ref: str, question: bytes | None,
                    at: datetime, requested_by: str = "coordinator") -> None:
        conn.execute(self._q["insert_case"], {"case_id": case_id, "patient_ref": patient_ref, "question": question,
                                              "updated_at": at, "requested_by": requested_by})

    def set_question(self, conn: Conn, case_id: UUID, question: bytes) -> None:
        conn.execute(self._q["set_question"], {"case_id": case_id, "question": question})

    def cases_of(self, conn: Conn, patient_ref: str) -> list[UUID]:
        return [r["case_id"] for r in conn.execute(self._q["patient_cases"], {"patient_ref": patient_ref})]

    def identity(self, conn: Conn, patient_ref: str) -> bytes | None:
        row = conn.execute(self._q["patient"], {"patient_ref": patient_ref}).fetchone()
        return bytes(row["identity"]) if row else None

    def save_identity(self, conn: Conn, patient_ref: str, identity: bytes) -> None:
        conn.execute(self._q["upsert_patient"], {"patient_ref": patient_ref, "identity": identity})

    def record_erasure(self, conn: Conn, patient_ref: str, at: datetime) -> None:
        conn.execute(self._q["record_erasure"], {"patient_ref": patient_ref, "erased_at": at})

    def erased(self, conn: Conn, patient_ref: str) -> bool:
        return conn.execute(self._q["erased_at"], {"patient_ref": patient_ref}).fetchone() is not None

    def add_record_file(self, conn: Conn, record_id: UUID, case_id: UUID, kind: str, sha256: str,
                        size_bytes: int, path: str) -> None:
        conn.execute(self._q["insert_record_file"], {"record_id": record_id, "case_id": case_id, "kind": kind,
                                                     "sha256": sha256, "size_bytes": size_bytes, "path": path})

    def delivery(self, conn: Conn, case_id: UUID) -> Row | None:
        return conn.execute(self._q["delivery"], {"case_id": case_id}).fetchone()

    def record_delivery(self, conn: Conn, case_id: UUID, event_id: UUID, at: datetime, payload: Row) -> None:
        conn.execute(self._q["record_delivery"], {"case_id": case_id, "event_id": event_id, "occurred_at": at,
                                                  "payload": Jsonb(payload)})

    def record_file(self, conn: Conn, case_id: UUID, record_id: UUID) -> Row | None:
        return conn.execute(self._q["record_file"], {"case_id": case_id, "record_id": record_id}).fetchone()

    def record_access(self, conn: Conn, case_id: UUID, record_id: UUID | None, centre_id: str, at: datetime,
                      subject: str | None = None) -> None:
        conn.execute(self._q["record_access"], {"case_id": case_id, "record_id": record_id, "centre_id": centre_id,
                                                "subject": subject,
                                                "what": "package" if record_id is None else "record", "at": at})

    def accesses(self, conn: Conn, case_id: UUID) -> list[Row]:
        return conn.execute(self._q["accesses"], {"case_id": case_id}).fetchall()

    def served_file(self, conn: Conn, record_id: UUID, recipe: str) -> Row | None:
        return conn.execute(self._q["served_file"], {"record_id": record_id, "recipe": recipe}).fetchone()

    def save_served_file(self, conn: Conn, record_id: UUID, recipe: str, media_type: str, sha256: str | None,
                         size_bytes: int | None, held: str | None) -> None:
        conn.execute(self._q["save_served_file"], {"record_id": record_id, "recipe": recipe, "media_type": media_type,
                                                   "sha256": sha256, "size_bytes": size_bytes, "held": held})
