"""Routing's read model: each case's routing facts, the coordinator queue and every centre's load."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol
from uuid import UUID

from events.db import Conn, Queries

Row = dict[str, Any]


class RoutingBoard(Protocol):
    def remember(self, conn: Conn, case_id: UUID, tumour_site: str, rare_tumour: bool, preferred_centre: str | None,
                 opened_at: datetime, question_topics: Sequence[str]) -> None: ...

    def facts(self, conn: Conn, case_id: UUID) -> Row | None:
        """The case's row, locked for this transaction."""
        ...

    def records_complete(self, conn: Conn, case_id: UUID) -> None: ...

    def processing_consent(self, conn: Conn, case_id: UUID, given: bool) -> None: ...

    def transfer_consent(self, conn: Conn, case_id: UUID, centres: Sequence[str]) -> None: ...

    def assigned(self, conn: Conn, case_id: UUID, centre_id: str, coordinator_pick: bool,
                 accept_by: date | None) -> None: ...

    def accepted(self, conn: Conn, case_id: UUID) -> None: ...

    def withdrawing(self, conn: Conn, case_id: UUID, at: datetime, reason: str, reassign_to: str | None) -> None: ...

    def awaiting_acceptance(self, conn: Conn, today: date) -> list[UUID]:
        """Cases whose centre has not answered by the end of a deadline day before `today`."""
        ...

    def declined(self, conn: Conn, case_id: UUID, centre_id: str) -> None: ...

    def queued(self, conn: Conn, case_id: UUID, queued: bool) -> None: ...

    def ended(self, conn: Conn, case_id: UUID) -> None: ...

    def release(self, conn: Conn, case_id: UUID) -> str | None:
        """Frees the case's centre, if it holds one, and returns it."""
        ...

    def load(self, conn: Conn) -> dict[str, int]: ...

    def add_load(self, conn: Conn, centre_id: str) -> None: ...

    def drop_load(self, conn: Conn, centre_id: str) -> None: ...

    def queue(self, conn: Conn) -> list[Row]: ...

    def in_queue(self, conn: Conn, case_id: UUID) -> bool: ...


class PgRoutingBoard:
    def __init__(self, schema: str = "routing") -> None:
        self._q = Queries(Path(__file__).with_name("queries.sql"), schema)

    def remember(self, conn: Conn, case_id: UUID, tumour_site: str, rare_tumour: bool, preferred_centre: str | None,
                 opened_at: datetime, question_topics: Sequence[str]) -> None:
        conn.execute(self._q["remember_case"], {
            "case_id": case_id, "tumour_site": tumour_site, "rare_tumour": rare_tumour,
            "preferred_centre": preferred_centre, "opened_at": opened_at, "question_topics": list(question_topics)})

    def facts(self, conn: Conn, case_id: UUID) -> Row | None:
        return conn.execute(self._q["case_facts"], {"case_id": case_id}).fetchone()

    def records_complete(self, conn: Conn, case_id: UUID) -> None:
        conn.execute(self._q["records_complete"], {"case_id": case_id})

    def processing_consent(self, conn: Conn, case_id: UUID, given: bool) -> None:
        conn.execute(self._q["processing_consent"], {"case_id": case_id, "given": given})

    def transfer_consent(self, conn: Conn, case_id: UUID, centres: Sequence[str]) -> None:
        conn.execute(self._q["transfer_consent"], {"case_id": case_id, "centres": list(centres)})

    def assigned(self, conn: Conn, case_id: UUID, centre_id: str, coordinator_pick: bool,
                 accept_by: date | None) -> None:
        conn.execute(self._q["assigned"], {"case_id": case_id, "centre_id": centre_id,
                                           "coordinator_pick": coordinator_pick, "accept_by": accept_by})

    def accepted(self, conn: Conn, case_id: UUID) -> None:
        conn.execute(self._q["accepted"], {"case_id": case_id})

    def withdrawing(self, conn: Conn, case_id: UUID, at: datetime, reason: str, reassign_to: str | None) -> None:
        conn.execute(self._q["withdrawing"], {"case_id": case_id, "at": at, "reason": reason,
                                              "reassign_to": reassign_to})

    def awaiting_acceptance(self, conn: Conn, today: date) -> list[UUID]:
        return [r["case_id"] for r in conn.execute(self._q["awaiting_acceptance"], {"today": today}).fetchall()]

    def declined(self, conn: Conn, case_id: UUID, centre_id: str) -> None:
        conn.execute(self._q["declined"], {"case_id": case_id, "centre_id": centre_id})

    def queued(self, conn: Conn, case_id: UUID, queued: bool) -> None:
        conn.execute(self._q["queued"], {"case_id": case_id, "queued": queued})

    def ended(self, conn: Conn, case_id: UUID) -> None:
        conn.execute(self._q["ended"], {"case_id": case_id})

    def release(self, conn: Conn, case_id: UUID) -> str | None:
        row = conn.execute(self._q["release"], {"case_id": case_id}).fetchone()
        return row["centre_id"] if row else None

    def load(self, conn: Conn) -> dict[str, int]:
        return {r["centre_id"]: r["active"] for r in conn.execute(self._q["load"]).fetchall()}

    def add_load(self, conn: Conn, centre_id: str) -> None:
        conn.execute(self._q["add_load"], {"centre_id": centre_id})

    def drop_load(self, conn: Conn, centre_id: str) -> None:
        conn.execute(self._q["drop_load"], {"centre_id": centre_id})

    def queue(self, conn: Conn) -> list[Row]:
        return conn.execute(self._q["queue"]).fetchall()

    def in_queue(self, conn: Conn, case_id: UUID) -> bool:
        return conn.execute(self._q["in_queue"], {"case_id": case_id}).fetchone() is not None
