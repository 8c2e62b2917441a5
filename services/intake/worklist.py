"""The coordinators' worklist: a read model intake's `worklist` consumer keeps from the other services'
events, joined with intake's own cases and assignments, paged by a keyset cursor.

It also keeps the documents review stored (reports, versions, addenda) for the FHIR export.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal, Protocol
from uuid import UUID

from events.consumer import Consumer
from events.contract import (
    CaseDeclined,
    FollowUpAnswered,
    FollowUpAsked,
    ReportAmended,
    ReportUploaded,
    ReviewDelivered,
    SlaAtRisk,
    SlaBreached,
    SlaClockResumed,
    SlaClockStarted,
    SlaClockStopped,
)
from events.db import Conn, Queries
from events.registry import Decoded
from services.common.errors import InvalidInput

Row = dict[str, Any]
WaitingOn = Literal["patient", "centre", "coordinator", "billing", "nobody"]
SlaState = Literal["not_started", "on_track", "at_risk", "breached", "paused", "delivered_on_time", "delivered_late",
                   "calendar_unknown"]
MAX_PAGE = 200


@dataclass(frozen=True)
class Filters:
    status: str | None = None
    centre: str | None = None
    sla_state: str | None = None
    waiting_on: str | None = None


@dataclass(frozen=True)
class Cursor:
    """Where a page ended: the last row's deadline (None: no deadline) and case id."""

    deadline: date | None
    case_id: UUID

    def encode(self) -> str:
        raw = json.dumps({"d": self.deadline.isoformat() if self.deadline else None, "c": str(self.case_id)})
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        try:
            raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            return cls(date.fromisoformat(raw["d"]) if raw["d"] is not None else None, UUID(raw["c"]))
        except (ValueError, TypeError, KeyError, binascii.Error, UnicodeDecodeError):
            raise InvalidInput("cursor", "is not a cursor this list returned") from None


class Worklist(Protocol):
    def page(self, conn: Conn, filters: Filters, after: Cursor | None, limit: int) -> tuple[list[Row], Cursor | None]:
        ...

    def item(self, conn: Conn, case_id: UUID) -> Row | None: ...

    def documents(self, conn: Conn, case_id: UUID) -> list[Row]: ...

    def consumer(self) -> Consumer: ...


class PgWorklist:
    def __init__(self, schema: str = "intake") -> None:
        self._q = Queries(Path(__file__).with_name("worklist.sql"), schema)

    def page(self, conn: Conn, filters: Filters, after: Cursor | None, limit: int) -> tuple[list[Row], Cursor | None]:
        # A cursor after the rows without a deadline sorts as 'infinity', as the query orders them.
        after_deadline = (after.deadline.isoformat() if after.deadline else "infinity") if after else None
        rows = conn.execute(self._q["page"], {
            "status": filters.status, "centre": filters.centre, "sla_state": filters.sla_state,
            "waiting_on": filters.waiting_on, "after_deadline": after_deadline, "case_id": None,
            "after_case": after.case_id if after else None, "limit": limit + 1}).fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        last = rows[-1] if more else None
        return rows, Cursor(last["deadline"], last["case_id"]) if last else None

    def item(self, conn: Conn, case_id: UUID) -> Row | None:
        return conn.execute(self._q["page"], {
            "status": None, "centre": None, "sla_state": None, "waiting_on": None, "after_deadline": None,
            "after_case": None, "case_id": case_id, "limit": 1}).fetchone()

    def documents(self, conn: Conn, case_id: UUID) -> list[Row]:
        return conn.execute(self._q["documents"], {"case_id": case_id}).fetchall()

    def consumer(self) -> Consumer:
        q = self._q

        def at(decoded: Decoded) -> dict[str, Any]:
            return {"case_id": decoded.envelope.case_id, "at": decoded.envelope.occurred_at}

        def clock(conn: Conn, decoded: Decoded) -> None:
            e, base = decoded.event, at(decoded)
            conn.execute(q["touch"], base)
            state: str
            limit_due: date | None = None
            match e:
                case SlaClockStarted() | SlaClockResumed():
                    state, limit_due = "on_track", e.limit_due
                case SlaAtRisk():
                    state, limit_due = "at_risk", e.limit_due
                case SlaBreached():
                    state, limit_due = "breached", e.limit_due
                case SlaClockStopped():
                    state = "delivered_on_time" if e.within_limit else "delivered_late"
                case CaseDeclined():
                    state = "not_started"  # back to routing: the next centre's clock starts afresh
                case _:
                    state = "calendar_unknown"
            conn.execute(q["set_clock"], {**base, "sla_state": state, "limit_due": limit_due,
                                          "keep_due": isinstance(e, SlaAtRisk)})

        def information(is_open: bool) -> Any:
            def handle(conn: Conn, decoded: Decoded) -> None:
                conn.execute(q["touch"], at(decoded))
                conn.execute(q["set_information_open"], {**at(decoded), "open": is_open})
                if is_open:  # the main clock pauses while the centre waits on the patient
                    conn.execute(q["set_clock"], {**at(decoded), "sla_state": "paused", "limit_due": None,
                                                  "keep_due": False})
            return handle

        def payment(failed: bool) -> Any:
            def handle(conn: Conn, decoded: Decoded) -> None:
                conn.execute(q["touch"], at(decoded))
                conn.execute(q["set_payment_failed"], {**at(decoded), "failed": failed})
            return handle

        def finally_declined(conn: Conn, decoded: Decoded) -> None:
            conn.execute(q["touch"], at(decoded))
            conn.execute(q["set_finally_declined"], at(decoded))

        def follow_up_asked(conn: Conn, decoded: Decoded) -> None:
            e = decoded.event
            assert isinstance(e, FollowUpAsked)
            conn.execute(q["follow_up_asked"], {**at(decoded), "follow_up_id": e.follow_up_id, "due": e.due})

        def document(conn: Conn, decoded: Decoded) -> None:
            e = decoded.event
            assert isinstance(e, ReportUploaded | ReportAmended | FollowUpAnswered)
            kind, version = ("addendum", None) if isinstance(e, FollowUpAnswered) else \
                ("report", e.version if isinstance(e, ReportAmended) else None)
            conn.execute(q["document_stored"], {**at(decoded), "document_id": e.document_id, "kind": kind,
                                                "version": version, "sha256": e.sha256, "size_bytes": e.size_bytes,
                                                "page_count": e.page_count})
            if isinstance(e, FollowUpAnswered):
                conn.execute(q["follow_up_answered"], {"follow_up_id": e.follow_up_id})

        def delivered(conn: Conn, decoded: Decoded) -> None:
            e = decoded.event
            assert isinstance(e, ReviewDelivered)
            conn.execute(q["report_delivered"], {**at(decoded), "document_id": e.report_ref})

        return Consumer("worklist", {
            **{t: clock for t in ("SlaClockStarted", "SlaClockResumed", "SlaAtRisk", "SlaBreached",
                                  "SlaClockStopped", "SlaClockBlocked", "CaseDeclined")},
            "InformationRequested": information(True),
            "InformationReceived": information(False),
            "PaymentFailed": payment(True),
            "PaymentAuthorised": payment(False),
            "PaymentCaptured": payment(False),
            "CaseFinallyDeclined": finally_declined,
            "FollowUpAsked": follow_up_asked,
            "ReportUploaded": document,
            "ReportAmended": document,
            "FollowUpAnswered": document,
            "ReviewDelivered": delivered,
        })
