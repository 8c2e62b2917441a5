"""Billing's read model: what the fee credit waits for, and the double-entry journal."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol
from uuid import UUID

from events.codes import CentreId
from events.db import Conn, Queries


@dataclass(frozen=True)
class CreditFacts:
    """What the fee credit waits for, whichever arrives first: who reviewed, where it was booked."""

    reviewed_by: CentreId | None = None
    booked_centre: CentreId | None = None
    booking_event_id: UUID | None = None
    booked_at: datetime | None = None


class BillingBooks(Protocol):
    def ensure(self, conn: Conn, case_id: UUID) -> None: ...

    def reviewed(self, conn: Conn, case_id: UUID, centre_id: CentreId) -> None: ...

    def booked(self, conn: Conn, case_id: UUID, centre_id: CentreId, booking_event_id: UUID,
               booked_at: datetime) -> None: ...

    def credit_facts(self, conn: Conn, case_id: UUID) -> CreditFacts: ...

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

    def reviewed(self, conn: Conn, case_id: UUID, centre_id: CentreId) -> None:
        self.ensure(conn, case_id)
        conn.execute(self._q["reviewed"], {"case_id": case_id, "centre_id": centre_id.value})

    def booked(self, conn: Conn, case_id: UUID, centre_id: CentreId, booking_event_id: UUID,
               booked_at: datetime) -> None:
        self.ensure(conn, case_id)
        conn.execute(self._q["booked"], {"case_id": case_id, "centre_id": centre_id.value,
                                         "booking_event_id": booking_event_id, "booked_at": booked_at})

    def credit_facts(self, conn: Conn, case_id: UUID) -> CreditFacts:
        row = conn.execute(self._q["credit_facts"], {"case_id": case_id}).fetchone()
        if row is None:
            return CreditFacts()
        return CreditFacts(CentreId(row["reviewed_by"]) if row["reviewed_by"] else None,
                           CentreId(row["booked_centre"]) if row["booked_centre"] else None,
                           row["booking_event_id"], row["booked_at"])

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
