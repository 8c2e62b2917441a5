"""Review's read model: which centre each case is assigned to, its phase, and what stopped it."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from uuid import UUID

from events.db import Conn, Queries

Row = dict[str, Any]


class AssignmentBook(Protocol):
    def get(self, conn: Conn, case_id: UUID) -> Row | None: ...

    def of_centre(self, conn: Conn, centre_id: str) -> list[Row]: ...

    def with_running_clock(self, conn: Conn) -> list[UUID]: ...

    def assign(self, conn: Conn, case_id: UUID, centre_id: str, routed_at: datetime, attempt: int) -> None: ...

    def stop(self, conn: Conn, case_id: UUID, event_type: str) -> None: ...

    def set_phase(self, conn: Conn, case_id: UUID, phase: str) -> None: ...


class Assignments:
    """The PostgreSQL book, one named query per method."""

    def __init__(self, schema: str = "review") -> None:
        self._q = Queries(Path(__file__).with_name("queries.sql"), schema)

    def get(self, conn: Conn, case_id: UUID) -> Row | None:
        return conn.execute(self._q["assignment"], {"case_id": case_id}).fetchone()

    def of_centre(self, conn: Conn, centre_id: str) -> list[Row]:
        return conn.execute(self._q["centre_cases"], {"centre_id": centre_id}).fetchall()

    def with_running_clock(self, conn: Conn) -> list[UUID]:
        return [r["case_id"] for r in conn.execute(self._q["clock_running"]).fetchall()]

    def assign(self, conn: Conn, case_id: UUID, centre_id: str, routed_at: datetime, attempt: int) -> None:
        conn.execute(self._q["assign"], {"case_id": case_id, "centre_id": centre_id, "routed_at": routed_at,
                                         "attempt": attempt})

    def stop(self, conn: Conn, case_id: UUID, event_type: str) -> None:
        conn.execute(self._q["stop"], {"case_id": case_id, "event_type": event_type})

    def set_phase(self, conn: Conn, case_id: UUID, phase: str) -> None:
        conn.execute(self._q["set_phase"], {"case_id": case_id, "phase": phase})
