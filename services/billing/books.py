"""Billing's read model: what it knows of each review, and the double-entry journal."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal, Protocol
from uuid import UUID

from events.db import Conn, Queries
from services.billing.domain import ReviewFacts

Fact = Literal["accepted", "declined", "delivered", "video_held"]


class BillingBooks(Protocol):
    def ensure(self, conn: Conn, case_id: UUID) -> None: ...

    def note(self, conn: Conn, case_id: UUID, fact: Fact, centre_id: str | None = None) -> None: ...

    def facts(self, conn: Conn, case_id: UUID) -> ReviewFacts: ...

    def journal(self, conn: Conn, event_id: UUID, case_id: UUID, account: str, cents: int,
                occurred_at: datetime) -> None: ...

    def balances(self, conn: Conn, case_id: UUID) -> dict[str, int]: ...

    def total(self, conn: Conn) -> dict[str, int]: ...


class Books:
    """The PostgreSQL books, one named query per step."""

    def __init__(self, schema: str = "billing") -> None:
        self._q = Queries(Path(__file__).with_name("queries.sql"), schema)

    def ensure(self, conn: Conn, case_id: UUID) -> None:
        conn.execute(self._q["ensure_facts"], {"case_id": case_id})

    def note(self, conn: Conn, case_id: UUID, fact: Fact, centre_id: str | None = None) -> None:
        self.ensure(conn, case_id)
        conn.execute(self._q[fact], {"case_id": case_id, "centre_id": centre_id})

    def facts(self, conn: Conn, case_id: UUID) -> ReviewFacts:
        row = conn.execute(self._q["facts"], {"case_id": case_id}).fetchone()
        return ReviewFacts(**row) if row else ReviewFacts()

    def journal(self, conn: Conn, event_id: UUID, case_id: UUID, account: str, cents: int,
                occurred_at: datetime) -> None:
        conn.execute(self._q["journal_line"], {"event_id": event_id, "case_id": case_id, "account": account,
                                               "cents": cents, "occurred_at": occurred_at})

    def balances(self, conn: Conn, case_id: UUID) -> dict[str, int]:
        return {r["account"]: r["cents"] for r in conn.execute(self._q["case_balances"], {"case_id": case_id})}

    def total(self, conn: Conn) -> dict[str, int]:
        row = conn.execute(self._q["ledger_total"]).fetchone()
        assert row is not None
        return {"total_cents": int(row["total"]), "cases": int(row["cases"])}
