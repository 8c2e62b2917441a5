"""The routing board's fake for unit tests (tests/unit/fakes.py has the others)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, cast
from uuid import UUID

from events.db import Conn


class FakeRoutingBoard:
    def __init__(self) -> None:
        self.cases: dict[UUID, dict[str, Any]] = {}
        self.active: dict[str, int] = {}
        self.corrupt: set[UUID] = set()  # cases whose row cannot be read

    def remember(self, conn: Conn, case_id: UUID, tumour_site: str, rare_tumour: bool, preferred_centre: str | None,
                 opened_at: datetime, question_topics: Sequence[str]) -> None:
        self.cases.setdefault(case_id, {
            "case_id": case_id, "tumour_site": tumour_site, "rare_tumour": rare_tumour,
            "preferred_centre": preferred_centre, "opened_at": opened_at, "question_topics": list(question_topics),
            "records_complete": False, "processing_consent": False, "transfer_centres": [], "ended": False,
            "assigned_centre": None, "declined": [], "queued": False, "coordinator_pick": False, "attempts": 0,
            "accept_by": None, "accepted": False, "withdrawn_at": None, "withdrawal_reason": None,
            "reassign_to": None})

    def facts(self, conn: Conn, case_id: UUID) -> dict[str, Any] | None:
        if case_id in self.corrupt:
            raise RuntimeError("a corrupt row")
        row = self.cases.get(case_id)
        return dict(row) if row else None

    def records_complete(self, conn: Conn, case_id: UUID) -> None:
        self.cases[case_id]["records_complete"] = True

    def processing_consent(self, conn: Conn, case_id: UUID, given: bool) -> None:
        self.cases[case_id]["processing_consent"] = given

    def transfer_consent(self, conn: Conn, case_id: UUID, centres: Sequence[str]) -> None:
        self.cases[case_id]["transfer_centres"] = list(centres)

    def assigned(self, conn: Conn, case_id: UUID, centre_id: str, coordinator_pick: bool,
                 accept_by: date | None) -> None:
        row = self.cases[case_id]
        row.update(assigned_centre=centre_id, queued=False, attempts=row["attempts"] + 1,
                   coordinator_pick=coordinator_pick, accept_by=accept_by, accepted=False, **self._no_withdrawal)

    _no_withdrawal: dict[str, Any] = {"withdrawn_at": None, "withdrawal_reason": None, "reassign_to": None}

    def accepted(self, conn: Conn, case_id: UUID) -> None:
        self.cases[case_id].update(accepted=True, **self._no_withdrawal)

    def withdrawing(self, conn: Conn, case_id: UUID, at: datetime, reason: str, reassign_to: str | None) -> None:
        self.cases[case_id].update(withdrawn_at=at, withdrawal_reason=reason, reassign_to=reassign_to)

    def awaiting_acceptance(self, conn: Conn, today: date) -> list[UUID]:
        return sorted((r["case_id"] for r in self.cases.values()
                       if r["assigned_centre"] and not r["accepted"] and r["withdrawn_at"] is None
                       and not r["ended"] and r["accept_by"] is not None and r["accept_by"] < today),
                      key=lambda c: (self.cases[c]["accept_by"], str(c)))

    def declined(self, conn: Conn, case_id: UUID, centre_id: str) -> None:
        row = self.cases[case_id]
        row.update(declined=[*row["declined"], centre_id], assigned_centre=None, accepted=False,
                   **self._no_withdrawal)

    def queued(self, conn: Conn, case_id: UUID, queued: bool) -> None:
        self.cases[case_id]["queued"] = queued

    def ended(self, conn: Conn, case_id: UUID) -> None:
        if case_id in self.cases:
            self.cases[case_id].update(ended=True, queued=False)

    def release(self, conn: Conn, case_id: UUID) -> str | None:
        row = self.cases.get(case_id)
        if row is None or row["assigned_centre"] is None:
            return None
        centre, row["assigned_centre"] = row["assigned_centre"], None
        return cast(str, centre)

    def load(self, conn: Conn) -> dict[str, int]:
        return dict(self.active)

    def add_load(self, conn: Conn, centre_id: str) -> None:
        self.active[centre_id] = self.active.get(centre_id, 0) + 1

    def drop_load(self, conn: Conn, centre_id: str) -> None:
        assert self.active.get(centre_id, 0) > 0, "load never goes below zero (a CHECK in PostgreSQL)"
        self.active[centre_id] -= 1

    def queue(self, conn: Conn) -> list[dict[str, Any]]:
        return sorted((dict(r) for r in self.cases.values() if r["queued"] and not r["ended"]),
                      key=lambda r: r["opened_at"])

    def in_queue(self, conn: Conn, case_id: UUID) -> bool:
        row = self.cases.get(case_id)
        return bool(row and row["queued"] and not row["ended"])
